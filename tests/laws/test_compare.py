"""Comparing two arms: differences, effective compute, equal exponents, crossover."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalinglab.errors import ConfigError
from scalinglab.laws import Runs, fit
from scalinglab.laws.comparison import Comparison, DataMultiplier, compare, data_multiplier

E = 2.0


def arm(A, alpha, flops, seed, noise=0.002):
    """Runs of L(C) = A C^-alpha + E with multiplicative noise, fitted with a small bootstrap."""
    rng = np.random.default_rng(seed)
    C = np.asarray(flops, dtype=float)
    y = (E + A * C ** -alpha) * np.exp(rng.normal(0, noise, C.size))
    return fit("saturating_power_law", Runs.from_arrays(flops=C, target=y), loss="ls").with_bootstrap(
        n_boot=60, seed=seed)


@pytest.fixture(scope="module")
def crossing_arms():
    # A improves faster (alpha 0.2) but starts worse; B is ahead at small compute.
    # A1 C^-0.2 = A2 C^-0.1  <=>  C = (A1 / A2)^10: with A2 = 10 and A1 = 10 * 1e1.8 the arms cross at 1e18.
    a = arm(10 * 10 ** 1.8, 0.2, np.logspace(16, 20, 12), seed=1)
    b = arm(10.0, 0.1, np.logspace(15.5, 20.5, 10), seed=2)    # a different compute grid
    return a, b


def test_known_crossover_is_found_with_an_interval(crossing_arms):
    a, b = crossing_arms
    cmp = compare(a, b, flops=[1e16, 1e20], names=("steep", "shallow"))
    assert isinstance(cmp, Comparison)
    co = cmp.crossover
    assert co.state == "crossover"
    assert co.flops == pytest.approx(1e18, rel=0.5)
    assert co.low < 1e18 < co.high and co.fraction > 0.9
    assert (co.before, co.after) == ("shallow", "steep")
    # below the crossover B is better, above it A is
    assert cmp.difference[0] > 0 and cmp.prob_a_better[0] < 0.05
    assert cmp.difference[1] < 0 and cmp.prob_a_better[1] > 0.95
    # exponents differ: 0.2 vs 0.1
    (t,) = cmp.exponent_tests
    assert t.param == "alpha" and t.difference == pytest.approx(0.1, abs=0.03)
    assert t.low > 0 and t.p_value < 0.05 and t.p_value_normal < 0.01
    text = cmp.summary().as_text()
    assert "Scale steep" in text and "steep overtakes shallow" in text and "exponents alpha differ" in text


def test_known_effective_compute_multiplier():
    # B(C) = A(4 C): the same law shifted by a factor 4 in compute, so L_B(C / 4) = L_A(C).
    A, alpha, m = 300.0, 0.15, 4.0
    a = arm(A, alpha, np.logspace(17, 20, 10), seed=3, noise=0.001)
    b = arm(A * m ** -alpha, alpha, np.logspace(16.5, 19.5, 10), seed=4, noise=0.001)
    cmp = compare(a, b, flops=[1e18, 1e19, 1e20])
    np.testing.assert_allclose(cmp.multiplier, m, rtol=0.35)
    assert np.all(cmp.multiplier_low < m) and np.all(m < cmp.multiplier_high)
    assert np.all(cmp.prob_a_better < 0.05)                 # B is better everywhere
    assert cmp.crossover.state == "none in range" and cmp.crossover.before == "B"
    (t,) = cmp.exponent_tests
    assert t.low < 0 < t.high and t.p_value > 0.05          # equal exponents not rejected
    assert "Scale B" in cmp.verdict() and "consistent with equal" in cmp.verdict()


def test_frontier_comparison_for_laws_of_n_and_d():
    """Arms measured on different (N, D) grids are compared along their compute-optimal frontiers."""
    truth = {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.28}

    def nd_arm(B, sizes, tokens, seed):
        rng = np.random.default_rng(seed)
        N, D = (g.ravel() for g in np.meshgrid(sizes, tokens))
        y = truth["E"] + truth["A"] / N ** truth["alpha"] + B / D ** truth["beta"]
        y = y * np.exp(rng.normal(0, 0.002, N.size))
        res = fit("chinchilla", Runs.from_arrays(n_params=N, n_tokens=D, target=y), n_starts=32, seed=0)
        return res.with_bootstrap(n_boot=40, seed=seed)

    a = nd_arm(2000.0, np.logspace(7, 9, 5), np.logspace(9, 11, 5), seed=5)
    b = nd_arm(1500.0, np.logspace(7.2, 9.2, 4), np.logspace(9.3, 11.3, 6), seed=6)   # better data
    cmp = compare(a, b, flops=[1e19, 1e21])
    assert cmp.mode == "compute-optimal frontier"
    assert np.all(cmp.difference > 0) and np.all(cmp.prob_a_better < 0.05)
    assert np.all(cmp.multiplier > 1)
    # the truth: L*(C) of each arm in closed form
    from scalinglab.laws.law import get_law

    law = get_law("chinchilla")
    for j, C in enumerate([1e19, 1e21]):
        for tgt, B in ((cmp.loss_a, 2000.0), (cmp.loss_b, 1500.0)):
            p = {**truth, "B": B}
            n = law.n_params_opt(p, C)
            assert tgt[j] == pytest.approx(float(law(p, n_params=n, n_tokens=C / (6 * n))), rel=0.01)
    assert [t.param for t in cmp.exponent_tests] == ["alpha", "beta"]


def test_compare_validates_its_inputs(crossing_arms):
    a, b = crossing_arms
    with pytest.raises(ConfigError, match="two FitResults"):
        compare(a, "b", flops=[1e18])
    with pytest.raises(ConfigError, match="flops must be positive"):
        compare(a, b, flops=[-1.0])
    with pytest.raises(ConfigError, match="no parameter 'alpah'. Did you mean: alpha"):
        compare(a, b, flops=[1e18], exponents="alpah")
    with pytest.raises(ConfigError, match="different labels"):
        compare(a, b, flops=[1e18], names=("x", "x"))
    with pytest.raises(ConfigError, match="search_flops"):
        compare(a, b, flops=[1e18], search_flops=(1e20, 1e18))
    runs = Runs.from_arrays(flops=np.logspace(16, 20, 8), target=2 + 100 * np.logspace(16, 20, 8) ** -0.1)
    other = fit("power_law", runs, loss="loglinear")
    with pytest.raises(ConfigError, match="same law"):
        compare(a, other, flops=[1e18])


def test_no_crossover_state_and_rendering(crossing_arms):
    a, b = crossing_arms
    cmp = compare(a, b, flops=["1e19"], search_flops=(1e19, 1e20))   # past the crossing
    assert cmp.crossover.state == "none in range" and math.isnan(cmp.crossover.flops)
    assert cmp.crossover.before == cmp.crossover.after == "A"
    d = cmp.to_dict()
    assert d["crossover"]["state"] == "none in range" and d["n_boot"] == 60
    assert "none in [1.000e+19, 1.000e+20]" in cmp.summary().as_text()
    assert "<table>" in cmp._repr_html_()
    assert repr(cmp).startswith("Comparison('A' vs 'B'")
    # higher-is-better flips the reading of the same numbers
    acc = compare(a, b, flops=[1e16], higher_is_better=True)
    assert acc.prob_a_better[0] > 0.95


def test_the_extrapolation_note_names_each_arms_own_compute_range():
    # arms of one table split at 1e20 FLOPs: fit A's data ends at 1e20, not at max(N) x max(D)
    from scalinglab.datasets import load_chinchilla

    runs = load_chinchilla()
    small, large = runs.filter(max_flops=1e20), runs.filter(min_flops=1e20)
    fa = fit("chinchilla", small, n_starts=16, seed=0).with_bootstrap(n_boot=20, seed=0)
    fb = fit("chinchilla", large, n_starts=16, seed=0).with_bootstrap(n_boot=20, seed=1)
    assert fa.input_range["flops"] == (small.flops.min(), small.flops.max()) and small.flops.max() <= 1e20
    cmp = compare(fa, fb, flops=[1e22, 1e24], names=("below 1e20", "above 1e20"))
    (note,) = [n for n in cmp.notes if "beyond fit" in n]
    assert f"fit A's data (up to {small.flops.max():.3e})" in note


def test_the_verdict_never_calls_the_gap_both_changing_and_constant(crossing_arms):
    import dataclasses

    from scalinglab.laws import ExponentTest

    base = compare(*crossing_arms, flops=[1e16, 1e20])

    def verdict(p_alpha, p_beta):
        tests = (ExponentTest("alpha", 0.30, 0.40, -0.10, -0.15, -0.05, p_alpha, p_alpha),
                 ExponentTest("beta", 0.30, 0.31, -0.01, -0.05, 0.03, p_beta, p_beta))
        return dataclasses.replace(base, exponent_tests=tests).verdict()

    for p_alpha, p_beta, changing in ((0.01, 0.6, True), (0.3, 0.6, False), (0.01, 0.001, True)):
        v = verdict(p_alpha, p_beta)
        assert ("the gap changes with compute" in v) == changing, v
        assert ("roughly constant compute multiplier" in v) == (not changing), v


# Nezhurina et al. 2025 (arXiv:2506.04598), the published DataComp-1.4B fits of ImageNet-1k zero-shot
# error against compute C in GFLOPs, E(C) = a (C + b)^c + d (their code's tables, fig1: "Model
# parameters"); the paper reports that the lines cross near 7e10 GFLOPs, CLIP better below.
DATACOMP = {"clip": {"a": 57.86, "b": 18.39, "c": -0.2266, "d": 0.111},
            "mammut": {"a": 125.36, "b": 19.29, "c": -0.2557, "d": 0.101}}


# b (~19 GFLOPs) lies six decades below the runs, so the fits cannot identify it (and say so)
@pytest.mark.filterwarnings("ignore::scalinglab.errors.ConvergenceWarning")
def test_the_published_clip_and_mammut_laws_cross_near_7e10_gflops():
    from scipy.optimize import brentq

    from scalinglab.laws import get_law

    law = get_law("saturating_error")
    curve = {k: (lambda C, p=p: law(law.vector(p), flops=np.asarray(C, dtype=float))) for k, p in DATACOMP.items()}
    exact = brentq(lambda c: float(curve["clip"](c) - curve["mammut"](c)), 1e9, 1e12)
    assert 6e10 < exact < 7.5e10                                          # "near 7e10 GFLOPs"
    # the crossing as compare finds it, from fits to points along each published law (their runs
    # span about 1e7 to 1e12 GFLOPs; 0.5 % multiplicative noise), with bootstrap intervals
    C = np.logspace(7, 12, 16)
    rng = np.random.default_rng(0)
    fits = {}
    for k in DATACOMP:
        y = curve[k](C) * np.exp(rng.normal(0, 0.005, C.size))
        fits[k] = fit("saturating_error", Runs.from_arrays(flops=C, target=y), loss="ls",
                      space="linear").with_bootstrap(n_boot=200, seed=1)
    cmp = compare(fits["clip"], fits["mammut"], flops=[1e9, 1e12], names=("clip", "mammut"))
    co = cmp.crossover
    assert co.state == "crossover" and (co.before, co.after) == ("clip", "mammut")
    assert co.low <= exact <= co.high and abs(math.log10(co.flops / exact)) < 0.25
    assert cmp.prob_a_better[0] > 0.95 and cmp.prob_a_better[1] < 0.05   # CLIP ahead at 1e9, MaMMUT at 1e12
    assert cmp.exponent_tests[0].param == "c" and cmp.exponent_tests[0].difference > 0   # MaMMUT steeper


# ---------------------------------------------------------------------------------------------
# the effective-data multiplier (laws of N and D)
# ---------------------------------------------------------------------------------------------

ND_TRUTH = {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.28}


def nd_runs_arm(k=1.0, dE=0.0, seed=0, noise=0.002, n_boot=40):
    """Runs of L(N, D) = E + dE + A / N^alpha + B / (D / k)^beta: a dataset whose tokens are worth 1/k."""
    rng = np.random.default_rng(seed)
    N, D = (g.ravel() for g in np.meshgrid(np.logspace(6, 8, 5), np.logspace(8, 10, 5)))
    t = ND_TRUTH
    y = (t["E"] + dE + t["A"] / N ** t["alpha"] + t["B"] / (D / k) ** t["beta"]) * np.exp(rng.normal(0, noise, N.size))
    res = fit("chinchilla", Runs.from_arrays(n_params=N, n_tokens=D, target=y), n_starts=32, seed=0)
    return res.with_bootstrap(n_boot=n_boot, seed=seed)


@pytest.mark.parametrize("k", [3.0, 0.5])
def test_the_data_multiplier_recovers_a_known_token_scale(k):
    """B is A with D scaled by 1/k: B needs k times the tokens for A's loss, at any (N, D)."""
    a, b = nd_runs_arm(1.0, seed=11), nd_runs_arm(k, seed=12)
    dm = data_multiplier(a, b, n_params=[3e6, 3e7], n_tokens=[1e9, 3e9], names=("a", "b"))
    assert isinstance(dm, DataMultiplier)
    np.testing.assert_allclose(dm.multiplier, k, rtol=0.1)
    assert np.all(dm.low < k * 1.02) and np.all(k * 0.98 < dm.high)
    assert np.all(dm.prob_unreachable == 0)
    # the same multiplier on the Comparison, at A's compute-optimal allocation per budget
    cmp = compare(a, b, flops=[1e17, 1e18], names=("a", "b"))
    cdm = cmp.data_multiplier
    assert cdm is not None and "compute-optimal N of a" in cdm.allocation
    np.testing.assert_allclose(cdm.flops, [1e17, 1e18], rtol=1e-9)
    np.testing.assert_allclose(cdm.n_params, a.law.optimal_loss(a.params, [1e17, 1e18])[0], rtol=1e-9)
    np.testing.assert_allclose(cdm.multiplier, k, rtol=0.15)
    text = cmp.summary().as_text()
    assert "tokens of b per token of a" in text and "effective data" in text
    assert cmp.to_dict()["data_multiplier"]["multiplier"] == pytest.approx(list(cdm.multiplier))


def test_the_data_multiplier_is_unreachable_below_bs_floor():
    """B's irreducible loss is 4 nats higher: at a large model and budget A's loss is below B's
    floor at that N (no amount of B's data reaches it); at a small one it is reachable."""
    a, b = nd_runs_arm(1.0, seed=21), nd_runs_arm(1.0, dE=4.0, seed=22)
    # L_A(1e8, 1e10) ~ 5.7 < E_B + A / N^alpha ~ 6.6;  L_A(1e6, 1e8) ~ 16.9 > 9.4
    dm = data_multiplier(a, b, n_params=[1e8, 1e6], n_tokens=[1e10, 1e8])
    assert math.isinf(dm.multiplier[0]) and dm.prob_unreachable[0] == 1.0 and math.isinf(dm.low[0])
    assert math.isfinite(dm.multiplier[1]) and dm.multiplier[1] > 1 and dm.prob_unreachable[1] == 0.0
    assert "unreachable" in dm.rows()[0][4]


def test_the_data_multiplier_refuses_a_law_of_compute(crossing_arms):
    a, b = crossing_arms
    with pytest.raises(ConfigError, match="n_params and n_tokens"):
        data_multiplier(a, b, n_params=1e7, n_tokens=1e9)
    assert compare(a, b, flops=[1e18]).data_multiplier is None


def test_a_degenerate_bootstrap_draw_is_left_out_with_a_note_not_a_nan_interval(monkeypatch):
    """A refit with beta = 0 has no compute-optimal split (G divides by zero): it used to raise
    ZeroDivisionError or turn the difference's interval into [nan, nan]."""
    import scalinglab.laws.comparison as cm
    from scalinglab.laws.law import get_law

    law = get_law("chinchilla")
    bad = {**ND_TRUTH, "beta": 0.0}
    assert not np.isfinite(law.n_params_opt(bad, 1e18))              # no exception, no number
    assert not np.isfinite(law.n_tokens_opt({**bad, "alpha": 0.0}, 1e18))   # both exponents at 0
    a, b = nd_runs_arm(k=1.0, seed=1), nd_runs_arm(k=2.0, seed=2)
    clean = compare(a, b, flops=[1e17])
    real = cm._draws

    def with_a_degenerate_draw(res, n_boot, seed, which):
        res, P = real(res, n_boot, seed, which)
        if which == "B":
            P = P.copy()
            P[3, list(law.param_names).index("beta")] = 0.0
        return res, P

    monkeypatch.setattr(cm, "_draws", with_a_degenerate_draw)
    cmp = compare(a, b, flops=[1e17])
    assert np.all(np.isfinite(cmp.difference_low)) and np.all(np.isfinite(cmp.difference_high))
    assert any("1 of 40 paired bootstrap draws give no finite prediction" in n for n in cmp.notes)
    assert cmp.difference[0] == pytest.approx(clean.difference[0])
    assert cmp.prob_a_better[0] == pytest.approx(clean.prob_a_better[0], abs=0.05)


def floorless_arm(shift, seed):
    """20 runs over 1e16-1e19 FLOPs of ``L(C) = 2 + 300 (shift C)^-0.15`` (0.2% noise), fitted with the
    pure power law, which lacks the floor: both arms' extrapolations err the same way. ``shift=4``
    is the first arm moved 4x in compute, so the true multiplier is 4 at every compute."""
    rng = np.random.default_rng(seed)
    C = np.logspace(16, 19, 20)
    y = (E + 300.0 * (shift * C) ** -0.15) * np.exp(rng.normal(0, 0.002, C.size))
    return fit("power_law", Runs.from_arrays(flops=C, target=y), loss="ls").with_bootstrap(n_boot=60, seed=seed)


def test_beyond_the_data_a_calibrated_comparison_carries_the_extrapolation_error():
    import warnings

    a, b = floorless_arm(1.0, 1), floorless_arm(4.0, 2)
    plain = compare(a, b, flops=[1e18, 1e21])
    assert plain.interval == "bootstrap"
    assert plain.outside_decades.shape == (2, 2) and np.all(plain.outside_decades[:, 0] == 0)
    np.testing.assert_allclose(plain.outside_decades[:, 1], 2.0, rtol=1e-9)        # 1e21 vs data up to 1e19
    assert "NOT calibrated for extrapolation (2.00 decades beyond A's data" in plain.summary().as_text()
    assert "Caveat: 1.000e+21 FLOPs lies 2.00 decades beyond the data" in plain.verdict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ca, cb = a.with_calibration(n_boot=60), b.with_calibration(n_boot=60)
    assert ca.calibration.usable and cb.calibration.usable
    cal = compare(ca, cb, flops=[1e18, 1e21], interval="calibrated-independent")
    assert cal.interval == "calibrated" and "Caveat" not in cal.verdict()
    assert "each arm's calibrated extrapolation error" in cal.summary().as_text()
    # inside the data nothing changes; beyond it the point estimates stay and the intervals widen
    assert (cal.difference_low[0], cal.difference_high[0], cal.prob_a_better[0]) == (
        plain.difference_low[0], plain.difference_high[0], plain.prob_a_better[0])
    assert cal.difference[1] == plain.difference[1] and cal.multiplier[1] == plain.multiplier[1]
    assert cal.difference_high[1] - cal.difference_low[1] > 1.2 * (plain.difference_high[1] - plain.difference_low[1])
    assert cal.multiplier_high[1] / cal.multiplier_low[1] > plain.multiplier_high[1] / plain.multiplier_low[1]
    assert abs(cal.prob_a_better[1] - 0.5) <= abs(plain.prob_a_better[1] - 0.5)
    # B is A shifted by 4x in compute: inside the data both intervals hold the true 4; 2 decades out
    # the bootstrap's misses it (the missing floor bends both extrapolations the same wrong way, and
    # the bootstrap cannot see it), the calibrated one holds it
    assert plain.multiplier_low[0] <= 4.0 <= plain.multiplier_high[0]
    assert not plain.multiplier_low[1] <= 4.0 <= plain.multiplier_high[1]
    assert cal.multiplier_low[1] <= 4.0 <= cal.multiplier_high[1]
    # asked for by name: the bootstrap alone, whatever the fits carry
    forced = compare(ca, cb, flops=[1e18, 1e21], interval="bootstrap")
    assert forced.interval == "bootstrap" and forced.difference_low[1] == plain.difference_low[1]
    with pytest.raises(ConfigError, match="interval must be"):
        compare(a, b, flops=[1e21], interval="wald")

    # by default (both fits calibrated, on one design) the difference gets its own calibration: both
    # arms miss the floor the same way, the errors cancel in L_A - L_B, and the paired backtests see
    # that: the difference's interval stays near the bootstrap's and holds the truth, where the
    # independent sum of the arms' widenings made it 6x wider; the multiplier, read from B's curve
    # at another compute, keeps each arm's widening
    paired = compare(ca, cb, flops=[1e18, 1e20, 1e21])
    indep = compare(ca, cb, flops=[1e18, 1e20, 1e21], interval="calibrated-independent")
    assert paired.interval == "calibrated, paired" and "Caveat" not in paired.verdict()
    assert "the difference's calibrated extrapolation error" in paired.summary().as_text()
    C = np.array([1e18, 1e20, 1e21])
    truth = 300.0 * C ** -0.15 - 300.0 * (4 * C) ** -0.15
    assert np.all((paired.difference_low <= truth) & (truth <= paired.difference_high))
    w_p, w_i = (x.difference_high - x.difference_low for x in (paired, indep))
    assert w_p[0] == w_i[0] and np.all(w_p[1:] < 0.5 * w_i[1:])
    np.testing.assert_array_equal(paired.multiplier_low, indep.multiplier_low)
    np.testing.assert_array_equal(paired.multiplier_high, indep.multiplier_high)
    # two arms on different designs share no held-out runs: independent, and said so
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rng = np.random.default_rng(5)
        Cb = np.logspace(16.1, 19.1, 20)
        yb = (E + 300.0 * (4 * Cb) ** -0.15) * np.exp(rng.normal(0, 0.002, Cb.size))
        other = fit("power_law", Runs.from_arrays(flops=Cb, target=yb), loss="ls").with_calibration(n_boot=60)
    mixed = compare(ca, other, flops=[1e21])
    assert mixed.interval == "calibrated"
    assert any("could not be calibrated as a pair (the arms' rolling backtests share no cutoff" in n for n in mixed.notes)
