"""The planner's statistics (laws/design.py): stop rules, target state, candidate scores, choice."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

from scalinglab.errors import ConfigError, ScalingLabWarning
from scalinglab.laws import Runs, fit
from scalinglab.laws.design import (
    Candidate,
    StopRule,
    choose,
    difference_state,
    extrapolation_variance,
    parse_until,
    point_noise_var,
    score_candidates,
    target_state,
)
from scalinglab.laws.seeds import noise_model

E, A, B, ALPHA, BETA = 1.2, 80.0, 150.0, 0.32, 0.3
TARGET = {"n_params": 3e7, "n_tokens": 6e8}


def law(n, d):
    return E + A / np.asarray(n) ** ALPHA + B / np.asarray(d) ** BETA


@pytest.fixture(scope="module")
def small_fit():
    """A fit on the small end of a grid (N <= 1.2e6, D <= 2e7), bootstrapped."""
    rng = np.random.default_rng(3)
    n, d = np.meshgrid([1e5, 3e5, 1.2e6], [2e6, 6e6, 2e7])
    n, d = n.ravel(), d.ravel()
    y = law(n, d) * np.exp(rng.normal(0, 0.004, n.size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        return fit("chinchilla", Runs.from_arrays(n_params=n, n_tokens=d, target=y), loss="ls", n_boot=200)


def cand(key, n, d, cost, seeds=1, arm=""):
    return Candidate(key=key, points=({"n_params": n, "n_tokens": d},), cost_flops=cost, seeds=seeds, arm=arm,
                     meta={"rung": key.split()[0]})


def test_parse_until_forms_and_errors():
    r = parse_until("width at 1e15 < 2%")
    assert (r.kind, r.flops, r.width, r.rung, r.level) == ("width", 1e15, 0.02, None, 0.95)
    r = parse_until("  width  at 3.5e14 on gpt-tiny-5 < 1.5%  at 90% ")
    assert (r.rung, r.width, r.level) == ("gpt-tiny-5", 0.015, 0.9)
    w = parse_until("winner at 2e14 at 97.5%")
    assert (w.kind, w.confidence) == ("winner", 0.975)
    assert parse_until(w) is w and "2e14" in str(w)
    for bad in ("width at 1e15", "width < 2%", "winner at 1e14 at 40%", "width at -1 < 2%", "speed at 1e15 < 2%"):
        with pytest.raises(ConfigError):
            parse_until(bad)
    with pytest.raises(ConfigError, match="kind"):
        StopRule(kind="depth", flops=1e14)


def test_target_state_is_the_prediction_interval(small_fit):
    st = target_state(small_fit, TARGET, level=0.9)
    p = small_fit.predict(level=0.9, **TARGET)
    assert st.mean == pytest.approx(float(p.mean)) and (st.low, st.high) == (float(p.low), float(p.high))
    assert st.width == pytest.approx((st.high - st.low) / st.mean)
    assert st.to_dict()["width"] == st.width
    # TARGET is beyond the fitted grid: the distance and the bootstrap part of the width are recorded
    assert st.outside_decades == pytest.approx(float(np.max(small_fit.outside_decades(**TARGET))))
    assert st.outside_decades > 1
    assert st.interval == str(p.method)


def test_target_state_inside_the_data_has_no_extrapolation_part(small_fit):
    st = target_state(small_fit, {"n_params": 3e5, "n_tokens": 6e6})
    assert st.interval == "bootstrap" and st.outside_decades == 0 and st.base_width is None
    assert st.describe_extrapolation() == "95% bootstrap, 0.00 decades beyond the data"


@pytest.fixture(scope="module")
def bent_fit():
    """A law with a bend the Chinchilla form lacks: the rolling backtests see it and widen the interval."""
    rng = np.random.default_rng(3)
    n, d = np.meshgrid(np.geomspace(1e5, 4e6, 6), np.geomspace(2e6, 6e7, 6))
    n, d = n.ravel(), d.ravel()
    y = law(n, d) * np.exp(0.03 * (np.log10(n * d) - 11.3) ** 2 + rng.normal(0, 0.004, n.size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        return fit("chinchilla", Runs.from_arrays(n_params=n, n_tokens=d, target=y), loss="ls", n_boot=200
                   ).with_calibration()


def test_a_calibrated_target_state_separates_the_bootstrap_part(bent_fit):
    cal = bent_fit
    st = target_state(cal, TARGET)
    b = target_state(cal, TARGET, interval="bootstrap")
    assert st.interval == "calibrated" and b.base_width is None
    assert st.base_width == pytest.approx(b.width) and st.base_width < 0.9 * st.width
    assert st.to_dict()["base_width"] == st.base_width
    assert f"the bootstrap interval alone is {100 * b.width:.2f}% wide" in st.describe_extrapolation()
    # beyond the data, the caveat that no interval calibrated inside it can lift
    assert st.describe_extrapolation().endswith("; a change of regime beyond the data is not in it "
                                                "(a run at the target checks it)")


def test_point_noise_var_divides_seed_noise_only():
    nz = noise_model(0.01, sigma_seed=0.006, source="replicates")       # sigma 0.01, lack^2 = 0.01^2 - 0.006^2
    lack2 = 0.01 ** 2 - 0.006 ** 2
    assert point_noise_var(nz, 1) == pytest.approx(0.01 ** 2)
    assert point_noise_var(nz, 3) == pytest.approx(0.006 ** 2 / 3 + lack2)
    assert point_noise_var(nz, 3, inputs={"n_params": 1e6, "n_tokens": 1e7}) == pytest.approx(0.006 ** 2 / 3 + lack2)
    assert point_noise_var(noise_model(0.02), 4) == pytest.approx(0.02 ** 2)   # residuals only: no seed part


def test_points_near_the_target_narrow_it_more(small_fit):
    w = target_state(small_fit, TARGET).width
    near = cand("big", 8e6, 1.5e8, 1.0)
    far = cand("small", 1e5, 2e6, 1.0)
    scored = score_candidates({"": small_fit}, {"": TARGET}, [far, near], width_now=w)
    by = {s.candidate.key: s for s in scored}
    assert by["big"].width_after < by["small"].width_after < w * (1 + 1e-12)
    assert scored[0].candidate.key == "big"          # equal cost: the more informative first
    # the same point ten times dearer loses the ranking to the cheap one when its gain per FLOP is lower
    dear = cand("big", 8e6, 1.5e8, 1e3)
    s2 = score_candidates({"": small_fit}, {"": TARGET}, [far, dear], width_now=w)
    assert s2[0].candidate.key == "small"
    # more seeds average the noise away: never a wider expected interval
    three = cand("big3", 8e6, 1.5e8, 1.0, seeds=3)
    s3 = score_candidates({"": small_fit}, {"": TARGET}, [near, three], width_now=w)
    assert {s.candidate.key: s.width_after for s in s3}["big3"] <= by["big"].width_after + 1e-12
    # a point's expected mis-tuning (a probe at fewer learning rates than a search) is scored as
    # extra noise: worth less than the same point tuned, and nothing once it swamps the point
    sig = small_fit.noise_sigma
    for extra, key in [(sig ** 2, "big mistuned"), (1e4 * sig ** 2, "big lost")]:
        m = dataclasses.replace(near, key=key, mistuning_var=float(extra))
        s4 = {s.candidate.key: s.width_after for s in score_candidates({"": small_fit}, {"": TARGET}, [near, m],
                                                                      width_now=w)}
        assert by["big"].width_after < s4[key] <= w * (1 + 1e-12)
    assert s4["big lost"] == pytest.approx(w, rel=0.02)
    with pytest.raises(ConfigError, match="mistuning_var is a variance"):
        dataclasses.replace(near, mistuning_var=-1e-6)


def test_choose_respects_budget_exclusivity_and_gain(small_fit):
    w = target_state(small_fit, TARGET).width
    cands = [cand("r5 a", 8e6, 1.5e8, 50.0), cand("r5 b", 8e6, 5e7, 20.0), cand("r4 a", 3e6, 1.5e8, 30.0),
             cand("r1 a", 1e5, 2e6, 1.0)]
    chosen, first = choose({"": small_fit}, {"": TARGET}, cands, width_now=w, budget_flops=60.0, k=3,
                           exclusive=lambda a, b: a.meta["rung"] == b.meta["rung"])
    assert chosen and sum(s.candidate.cost_flops for s in chosen) <= 60.0
    rungs = [s.candidate.meta["rung"] for s in chosen]
    assert len(set(rungs)) == len(rungs)
    assert all(s.gain_per_flop > 0 for s in chosen)
    assert {s.candidate.key for s in first} <= {c.key for c in cands}
    assert all(s.candidate.cost_flops <= 60.0 for s in first)
    # nothing affordable: nothing chosen
    none, _ = choose({"": small_fit}, {"": TARGET}, cands, width_now=w, budget_flops=0.5, k=2)
    assert none == []


def test_comparison_scores_the_difference_and_reports_p_better(small_fit):
    p, sd = difference_state(small_fit, TARGET, small_fit, TARGET)
    assert p == 0.0 and sd == 0.0                    # identical draws: no difference at all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        other = small_fit.with_bootstrap(n_boot=200, seed=7)
    p, sd = difference_state(small_fit, TARGET, other, TARGET)
    assert 0.2 < p < 0.8 and sd > 0
    c = [cand("a", 8e6, 1.5e8, 1.0, arm="a"), cand("b", 8e6, 1.5e8, 1.0, arm="b")]
    scored = score_candidates({"a": small_fit, "b": other}, {"a": TARGET, "b": TARGET}, c,
                              width_now=2 * 1.96 * sd, comparison=True)
    assert all(s.width_after < s.width_now for s in scored)
    with pytest.raises(ConfigError, match="arm"):
        score_candidates({"a": small_fit}, {"a": TARGET}, [cand("x", 1e6, 1e7, 1.0, arm="zz")], width_now=0.1)


def test_extrapolation_variance_is_the_calibrated_widening(bent_fit, small_fit):
    from scipy.stats import norm

    assert extrapolation_variance(bent_fit, {"n_params": 3e5, "n_tokens": 6e6}) == 0.0      # inside the data
    v = extrapolation_variance(bent_fit, TARGET)
    assert v > 0
    # the calibrated upper half-width (log) is the bootstrap's widened in quadrature by z^2 v
    cal = bent_fit.predict(level=0.95, interval="calibrated", **TARGET)
    boot = bent_fit.predict(level=0.95, interval="bootstrap", **TARGET)
    h_boot, h_cal = np.log(float(boot.high) / float(boot.mean)), np.log(float(cal.high) / float(cal.mean))
    assert h_cal == pytest.approx(math.sqrt(h_boot ** 2 + norm.ppf(0.975) ** 2 * v), rel=1e-9)
    # 9 runs: too few backtest runs beyond their folds to calibrate: nothing measured, nan
    assert not small_fit.calibration_used.usable
    assert math.isnan(extrapolation_variance(small_fit, TARGET))


def test_difference_state_adds_the_extrapolation_error(small_fit):
    other = small_fit                                    # paired draws: only the targets differ
    shifted = {**TARGET, "n_tokens": 4 * TARGET["n_tokens"]}         # A's target has the lower loss
    p0, sd0 = difference_state(small_fit, shifted, other, TARGET)
    assert p0 > 0.99 and sd0 > 0
    assert difference_state(small_fit, shifted, other, TARGET, extra_var=0.0) == (p0, sd0)
    p1, sd1 = difference_state(small_fit, shifted, other, TARGET, extra_var=sd0 ** 2)
    assert 0.5 < p1 < p0 and sd1 == pytest.approx(math.sqrt(2) * sd0, rel=1e-9)
    p2, _ = difference_state(small_fit, shifted, other, TARGET, extra_var=100.0)     # 10 log units SD
    assert p2 == pytest.approx(0.5, abs=0.01)                          # all extrapolation error: a coin
    with pytest.raises(ConfigError, match="extra_var"):
        difference_state(small_fit, shifted, other, TARGET, extra_var=-1.0)


def test_candidate_checks():
    with pytest.raises(ConfigError, match="no point"):
        Candidate(key="x", points=(), cost_flops=1.0)
    with pytest.raises(ConfigError, match="cost"):
        Candidate(key="x", points=({"n_params": 1.0, "n_tokens": 1.0},), cost_flops=0.0)
    with pytest.raises(ConfigError, match="bootstrap"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScalingLabWarning)
            n, d = np.meshgrid([1e5, 3e5, 1.2e6], [2e6, 6e6, 2e7])
            f = fit("chinchilla", Runs.from_arrays(n_params=n.ravel(), n_tokens=d.ravel(),
                                                   target=law(n.ravel(), d.ravel())), loss="ls")
        score_candidates({"": f}, {"": TARGET}, [cand("x", 1e6, 1e7, 1.0)], width_now=0.1)
    assert math.isfinite(parse_until("width at 1e14 < 0%").width)


def test_rollout_keeps_budget_for_the_decisive_expensive_point(small_fit):
    w = target_state(small_fit, TARGET).width
    unit = [cand("big", 8e6, 1.5e8, 1.0), cand("small", 1e5, 2e6, 1.0)]
    g = {s.candidate.key: w - s.width_after for s in score_candidates({"": small_fit}, {"": TARGET}, unit, width_now=w)}
    assert g["big"] > g["small"] > 0
    cost_big = 3.0 * g["big"] / g["small"]          # per FLOP the small point looks 3x better
    cands = [cand("big", 8e6, 1.5e8, cost_big), cand("small", 1e5, 2e6, 1.0)]
    budget = cost_big + 0.5                           # the small point first leaves no room for the big one
    greedy, _ = choose({"": small_fit}, {"": TARGET}, cands, width_now=w, budget_flops=budget, lookahead=0)
    ahead, _ = choose({"": small_fit}, {"": TARGET}, cands, width_now=w, budget_flops=budget, lookahead=4)
    assert greedy[0].candidate.key == "small" and ahead[0].candidate.key == "big"


def lr_runs(opt_of, curvature, sigma, seed=0, rungs=(1e5, 3e5, 1e6), budgets=(1e6, 4e6, 1.6e7)):
    """Runs over a x2 learning-rate window around each point's true optimum, quadratic in log2 lr."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in rungs:
        for d in budgets:
            u = math.log2(opt_of(n, d))
            for lr in (2.0 ** (round(u) + k) for k in (-1, 0, 1)):
                y = 3.0 * math.exp(curvature * (math.log2(lr) - u) ** 2 + rng.normal(0, sigma))
                rows.append((n, d, lr, y, sigma))
    return [np.array(c) for c in zip(*rows)]


def test_lr_optimum_recovers_a_moving_optimum_and_its_curvature():
    from scalinglab.laws.design import fit_lr_optimum

    opt = lambda n, d: 3e-3 * (n / 1e5) ** -0.5 * (d / 1e6) ** 0.25            # noqa: E731
    m = fit_lr_optimum(*lr_runs(opt, 0.02, 0.002))
    assert m is not None and m.n_points == 9
    assert m.curvature == pytest.approx(0.02, rel=0.3)
    # the optimum moves with N and D: the model follows it, also a little beyond the data
    for n, d in [(3e5, 4e6), (3e6, 3.2e7)]:
        lr, se = m.optimum(n, d)
        assert abs(math.log2(lr / opt(n, d))) < max(3 * se, 0.25)
    # one probe at the predicted optimum is cheap; one two doublings off is not
    lr, _ = m.optimum(3e6, 3.2e7)
    assert m.penalty(lr, 3e6, 3.2e7) < m.penalty(4 * lr, 3e6, 3.2e7)
    assert m.penalty([lr / 2, lr, 2 * lr], 3e6, 3.2e7) <= m.penalty(lr, 3e6, 3.2e7)
    grid = [2.0 ** k * 1e-4 for k in range(8)]
    (p1,) = m.probes(grid, 3e6, 3.2e7, 1)
    assert abs(math.log2(p1 / lr)) <= 0.5 + 1e-9


def test_lr_optimum_is_unsure_when_noise_hides_the_curvature():
    from scalinglab.laws.design import fit_lr_optimum

    flat = fit_lr_optimum(*lr_runs(lambda n, d: 3e-3, 0.004, 0.05, seed=2))
    sharp = fit_lr_optimum(*lr_runs(lambda n, d: 3e-3, 0.004, 0.001, seed=2))
    assert flat is not None and sharp is not None
    assert flat.optimum(3e6, 6.4e7)[1] > sharp.optimum(3e6, 6.4e7)[1]
    assert flat.penalty(3e-3, 3e6, 6.4e7) > sharp.penalty(3e-3, 3e6, 6.4e7)
    # too few points tried at several learning rates: no model
    n, d, lr, y, s = lr_runs(lambda n, d: 3e-3, 0.01, 0.01, rungs=(1e5,), budgets=(1e6, 2e6))
    assert fit_lr_optimum(n, d, lr, y, s) is None


def test_extrapolation_term_credits_points_that_bring_the_data_nearer(small_fit):
    from scalinglab.laws.design import Extrapolation

    w = target_state(small_fit, TARGET).width
    cands = [cand("near", 8e6, 1.5e8, 1.0), cand("small", 1e5, 2e6, 1.0)]
    plain = {s.candidate.key: s.width_after for s in score_candidates({"": small_fit}, {"": TARGET}, cands, width_now=w)}
    # no widening: exactly the plain scores
    none = Extrapolation(base_width=w, extra=0.0, growth=lambda cs: 0.0)
    same = {s.candidate.key: s.width_after for s in
            score_candidates({"": small_fit}, {"": TARGET}, cands, width_now=w, extrapolation=none)}
    assert same == pytest.approx(plain)
    # half the squared half-width is extrapolation; only the near point shrinks it (to a quarter)
    base = w / math.sqrt(2)
    ex = Extrapolation(base_width=base, extra=(0.5 * w) ** 2 - (0.5 * base) ** 2,
                       growth=lambda cs: 0.25 if any(c.key == "near" for c in cs) else 1.0)
    assert ex.width(1.0, []) == pytest.approx(w)
    got = {s.candidate.key: s for s in
           score_candidates({"": small_fit}, {"": TARGET}, cands, width_now=w, extrapolation=ex)}
    r_small = plain["small"] / w
    assert got["small"].width_after == pytest.approx(2 * math.sqrt((0.5 * base * r_small) ** 2 + ex.extra))
    assert got["small"].width_after > plain["small"]       # its gain was over-counted on the whole width
    r_near = plain["near"] / w
    assert got["near"].width_after == pytest.approx(2 * math.sqrt((0.5 * base * r_near) ** 2 + 0.25 * ex.extra))
    chosen, _ = choose({"": small_fit}, {"": TARGET}, cands, width_now=w, budget_flops=1.0, extrapolation=ex)
    assert chosen[0].candidate.key == "near"


def test_a_rollout_reaches_the_goal_only_where_the_calibration_would_be_usable(small_fit):
    """While the backtests are too few, a width the stop rule cannot claim is not a reached goal."""
    from scalinglab.laws.design import Extrapolation, _Scorer

    w = target_state(small_fit, TARGET).width
    a, b = cand("a", 8e6, 1.5e8, 1.0), cand("b", 3e6, 6e7, 1.0)
    plain = Extrapolation(base_width=w, extra=1e-6, growth=lambda cs: 1.0)
    gated = Extrapolation(base_width=w, extra=1e-6, growth=lambda cs: 1.0,
                          usable=lambda cs: any(c.key == "b" for c in cs))
    for ex, reach in ((plain, 1.0), (gated, 2.0)):
        sc = _Scorer({"": small_fit}, {"": TARGET}, [a, b], noise_var_new=None, comparison=False,
                     extrapolation=ex, width_now=w)
        # any width is the goal (ratio 10): reached after "a" alone, or only once "b" is in too
        assert sc.rollout(a, [], [a, b], 2.0, 10.0)[0] == reach
    never = Extrapolation(base_width=w, extra=1e-6, growth=lambda cs: 1.0, usable=lambda cs: False)
    sc = _Scorer({"": small_fit}, {"": TARGET}, [a, b], noise_var_new=None, comparison=False,
                 extrapolation=never, width_now=w)
    assert sc.rollout(a, [], [a, b], 2.0, 10.0)[0] == math.inf
