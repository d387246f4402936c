"""Statistics against hand-computed values: Wilson, Jeffreys, Newcombe, homogeneity, summaries."""

from __future__ import annotations

import math

import pytest

from scalinglab.errors import DataError
from scalinglab.evals import Summary, homogeneity_test, jeffreys_interval, summarize, wilson_interval
from scalinglab.evals.stats import newcombe_interval

Z = 1.959963984540054


def test_wilson_bounds_by_hand():
    # 5/10: center 0.5, half = z sqrt(0.025 + z^2/400) / (1 + z^2/10) = 0.2634069
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2365931, abs=1e-6) and hi == pytest.approx(0.7634069, abs=1e-6)
    # 0/10: upper = z^2 / (n + z^2) = 3.8414588 / 13.8414588
    assert wilson_interval(0, 10) == (0.0, pytest.approx(Z**2 / (10 + Z**2), abs=1e-12))
    assert wilson_interval(10, 10) == (pytest.approx(10 / (10 + Z**2), abs=1e-12), 1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo90, hi90 = wilson_interval(5, 10, level=0.90)
    assert lo90 > lo and hi90 < hi
    with pytest.raises(DataError):
        wilson_interval(11, 10)


def test_jeffreys_interval():
    lo, hi = jeffreys_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2172, abs=1e-4)  # Brown, Cai, DasGupta (2001)
    lo, hi = jeffreys_interval(3, 20)
    lo2, hi2 = jeffreys_interval(17, 20)
    assert lo == pytest.approx(1 - hi2) and hi == pytest.approx(1 - lo2)  # symmetric in k <-> n-k


def test_newcombe_difference_interval_matches_the_paper_example():
    # Newcombe (1998) Stat. Med. 17:873, example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339
    lo, hi = newcombe_interval(56, 70, 48, 80)
    assert lo == pytest.approx(0.0524, abs=1e-4) and hi == pytest.approx(0.3339, abs=1e-4)


def test_chi_square_homogeneity_with_a_known_p_value():
    # k = 5, 10, 15 of 20 each: pooled 0.5, expected 10 in every cell, chi2 = 4 * 25/10 = 10 on 2 dof;
    # the chi-square(2) survival function is exp(-x/2), so p = exp(-5)
    t = homogeneity_test([5, 10, 15], [20, 20, 20])
    assert t.method == "chi2" and t.dof == 2
    assert t.statistic == pytest.approx(10.0) and t.p_value == pytest.approx(math.exp(-5), rel=1e-9)


def test_exact_homogeneity_for_small_counts_matches_enumeration():
    # 1/8 vs 6/8: expected 3.5 < 5, so "auto" uses the exact test. Conditional on the margins the
    # correct count of group 1 is hypergeometric(16, 7, 8); tables as extreme (k1 in 0, 1, 6, 7)
    # have probability (8 + 224 + 224 + 8) / C(16, 7) = 464 / 11440
    t = homogeneity_test([1, 6], [8, 8], seed=1)
    assert t.method == "exact-mc" and t.min_expected == pytest.approx(3.5)
    assert t.p_value == pytest.approx(464 / 11440, abs=0.005)


def test_homogeneity_edge_cases():
    assert homogeneity_test([4, 4], [4, 4]).method == "degenerate"
    assert homogeneity_test([0, 0, 0], [5, 5, 5]).p_value == 1.0
    with pytest.raises(DataError):
        homogeneity_test([1], [2])
    with pytest.raises(DataError):
        homogeneity_test([3, 1], [2, 2])


def _records(model, family, prompt_type, per_variation, kind="problem"):
    out = []
    for v, (k, n) in per_variation.items():
        for t in range(n):
            out.append({"model": model, "prompt_id": f"{family}/{v}/{prompt_type}", "family": family,
                        "variation": v, "prompt_type": prompt_type, "kind": kind, "trial": t,
                        "correct": t < k, "parse_status": "parsed" if t < n - 1 else "unparsed",
                        "right_answer": 7, "prompt_sha": f"{family}{v}{prompt_type}", "upstream_id": None})
    return out


def test_summary_by_hand():
    recs = (_records("m", "aiw", "thinking_v2", {"1": (2, 10), "2": (6, 10), "3": (10, 10), "4": (0, 10)})
            + _records("m", "aiw_light_family", "thinking_v2", {"1": (9, 10), "2": (10, 10)}, "control"))
    s = summarize(recs)
    (f,) = s.family("aiw", model="m")
    assert (f.k, f.n, f.n_variations) == (18, 40, 4)
    assert f.pooled_rate == pytest.approx(0.45)
    assert (f.pooled_low, f.pooled_high) == pytest.approx(wilson_interval(18, 40))
    assert f.macro_mean == pytest.approx(0.45)
    # rates 0.2, 0.6, 1.0, 0.0: deviations -0.25, 0.15, 0.55, -0.45; SS = 0.59; SD = sqrt(0.59 / 3)
    assert f.sd == pytest.approx(math.sqrt(0.59 / 3)) and f.range == pytest.approx(1.0)
    assert f.homogeneity.method == "exact-mc" and f.homogeneity.p_value < 1e-3  # expected 4.5 < 5
    assert f.n_unparsed == 4
    p1 = next(p for p in s.prompts if p.prompt_id == "aiw/1/thinking_v2")
    assert (p1.k, p1.n, p1.rate) == (2, 10, 0.2) and (p1.low, p1.high) == pytest.approx(wilson_interval(2, 10))
    (g,) = s.gaps
    assert (g.family, g.control) == ("aiw", "aiw_light_family")
    assert g.gap == pytest.approx(0.45 - 0.95)
    assert (g.low, g.high) == pytest.approx(newcombe_interval(18, 40, 19, 20))
    text = s.as_text()
    assert "18/40" in text and "aiw_light_family" in text and "2/10" in text
    assert "<table>" in s.as_html()


def test_summary_round_trips_and_guards(tmp_path):
    recs = _records("m", "aiw", "standard", {"1": (3, 5), "2": (1, 5)})
    s = summarize(recs, interval="jeffreys")
    back = Summary.load(s.save(tmp_path / "s.summary.json"))
    assert back.to_dict() == s.to_dict()
    with pytest.warns(Warning, match="duplicate"):
        assert summarize(recs + recs[:2]).prompts[0].n == 5
    bad = [dict(r) for r in recs]
    bad[0]["prompt_sha"] = "other-text"
    with pytest.raises(DataError, match="different prompt texts"):
        summarize(bad)
    with pytest.raises(DataError, match="no response records"):
        summarize([])


# -- the hand-written statistics against SciPy's own -------------------------------------------

KN = [(0, 1), (1, 1), (0, 7), (3, 7), (7, 7), (1, 20), (10, 20), (19, 20), (0, 200), (37, 200), (200, 200)]


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99])
def test_wilson_matches_scipy_binomtest(level):
    from scipy.stats import binomtest

    for k, n in KN:
        ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        lo, hi = wilson_interval(k, n, level)
        assert lo == pytest.approx(ci.low, abs=1e-12) and hi == pytest.approx(ci.high, abs=1e-12), (k, n)


@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
def test_jeffreys_bounds_are_the_beta_posterior_quantiles(level):
    # checked through SciPy's regularised incomplete beta (the posterior CDF), not its inverse
    from scipy.special import betainc

    a = (1 - level) / 2
    for k, n in KN:
        lo, hi = jeffreys_interval(k, n, level)
        post = (k + 0.5, n - k + 0.5)
        assert lo == 0.0 if k == 0 else betainc(*post, lo) == pytest.approx(a, abs=1e-10), (k, n)
        assert hi == 1.0 if k == n else betainc(*post, hi) == pytest.approx(1 - a, abs=1e-10), (k, n)


def test_newcombe_is_built_from_scipys_wilson_intervals():
    from scipy.stats import binomtest

    for (k1, n1), (k2, n2) in [((56, 70), (48, 80)), ((0, 10), (3, 10)), ((9, 10), (10, 10)), ((5, 40), (30, 41))]:
        a = binomtest(k1, n1).proportion_ci(method="wilson")
        b = binomtest(k2, n2).proportion_ci(method="wilson")
        p1, p2 = k1 / n1, k2 / n2
        lo = p1 - p2 - math.hypot(p1 - a.low, b.high - p2)
        hi = p1 - p2 + math.hypot(a.high - p1, p2 - b.low)
        got = newcombe_interval(k1, n1, k2, n2)
        assert got == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))


def test_chi_square_homogeneity_matches_scipy_chi2_contingency():
    import numpy as np
    from scipy.stats import chi2_contingency

    for k, n in [([5, 10, 15], [20, 20, 20]), ([12, 30, 7, 22], [40, 50, 35, 44]), ([60, 55], [100, 90])]:
        ref = chi2_contingency(np.array([k, np.subtract(n, k)]).T, correction=False)
        t = homogeneity_test(k, n, method="chi2")
        assert t.statistic == pytest.approx(ref.statistic, rel=1e-12)
        assert t.p_value == pytest.approx(ref.pvalue, rel=1e-9) and t.dof == ref.dof
        assert t.min_expected == pytest.approx(ref.expected_freq.min(), rel=1e-12)
