"""Prediction intervals beyond the data: the interval score, distances, the conformal quantile,
the calibrated interval (reduces to the bootstrap inside the data, widens outside, holds on
simulated designs, recovers coverage under misspecification) and its persistence.

The tables of docs/coverage.md come from the opt-in slow tests at the end (SCALINGLAB_SLOW=1).
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest

from scalinglab.errors import ConfigError, NotFittedError
from scalinglab.laws import (
    Calibration,
    FitResult,
    Prediction,
    Runs,
    extrapolation_coverage,
    fit,
    get_law,
    interval_score,
)
from scalinglab.laws.intervals import (
    calibration_point_count,
    conformal_quantile,
    outside_decades,
    paired_calibration,
    rolling_folds,
)

RUN_SLOW = os.environ.get("SCALINGLAB_SLOW") == "1"


def saturating(seed=0, n=20, noise=0.01, lo=17, hi=21):
    C = np.logspace(lo, hi, n)
    y = (1.8 + 1062 * C ** -0.15) * np.exp(noise * np.random.default_rng(seed).standard_normal(n))
    return Runs.from_arrays(flops=C, target=y)


@pytest.fixture(scope="module")
def calibrated():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit("saturating_power_law", saturating()).with_calibration(n_boot=100, seed=1)


# -- the interval score ---------------------------------------------------------------------------

def test_interval_score_is_width_plus_scaled_miss():
    assert interval_score(1.0, 1.0, 1.0, 0.95) == 0.0
    assert interval_score(1.0, 3.0, 2.0, 0.95) == pytest.approx(2.0)
    assert interval_score(1.0, 3.0, 4.0, 0.95) == pytest.approx(2.0 + 40.0 * 1.0)   # 2/alpha = 40
    assert interval_score(1.0, 3.0, 0.5, 0.8) == pytest.approx(2.0 + 10.0 * 0.5)
    np.testing.assert_allclose(interval_score([1, 1], [3, 3], [2, 5], 0.5), [2.0, 10.0])
    with pytest.raises(ConfigError, match="level"):
        interval_score(0, 1, 0.5, 95)


def test_interval_score_is_lowest_at_the_true_quantiles():
    """Proper (Gneiting & Raftery 2007): neither a wider nor a narrower interval scores better."""
    y = np.random.default_rng(0).standard_normal(200_000)
    q = 1.959963984540054

    def mean_score(h):
        return float(np.mean(interval_score(-h, h, y, 0.95)))

    best = mean_score(q)
    assert best < mean_score(0.7 * q) and best < mean_score(1.5 * q)


# -- distances, folds and the conformal quantile -------------------------------------------------------

def test_outside_decades_measures_the_farthest_coordinate():
    spl, chin = get_law("saturating_power_law"), get_law("chinchilla")
    C = np.logspace(18, 20, 5)
    np.testing.assert_allclose(outside_decades(spl, {"flops": C}, {"flops": [1e19, 1e20, 1e21, 1e22, 1e17]}),
                               [0, 0, 1, 2, 1])
    fitted = {"n_params": np.array([1e8, 1e9]), "n_tokens": np.array([2e9, 2e10])}
    d = outside_decades(chin, fitted, {"n_params": [3e9, 5e8, 1e10], "n_tokens": [2e9, 4e9, 2e11]})
    # 3x the largest N at an interior D; inside; 10x in N and D: 100x in compute
    np.testing.assert_allclose(d, [math.log10(3), 0.0, 2.0], atol=1e-12)


def test_rolling_folds_cut_along_the_coordinate():
    order = np.logspace(0, 1, 20)
    masks = rolling_folds(order, n_folds=4, min_train=8)
    assert len(masks) == 4
    sizes = [int(m.sum()) for m in masks]
    assert sizes == sorted(sizes) and sizes[0] >= 8 and sizes[-1] <= 18
    for m in masks:                       # a fold is a prefix along the coordinate
        assert order[m].max() < order[~m].min()
    assert rolling_folds(order, n_folds=4, min_train=30) == []


def test_conformal_quantile_rank_and_weights():
    s = np.random.default_rng(1).random(99)
    assert conformal_quantile(s, 0.95) == np.sort(s)[math.ceil(100 * 0.95) - 1]
    assert conformal_quantile(s, 0.95, np.full(99, 2.0)) >= conformal_quantile(s, 0.95)
    assert conformal_quantile(s[:18], 0.95) == math.inf               # 18 scores cannot certify 95%
    # weight moved onto the largest scores raises the quantile
    w = np.where(s > np.quantile(s, 0.9), 3.0, 0.5)
    assert conformal_quantile(s, 0.9, w) > conformal_quantile(s, 0.9)


# -- the calibrated interval -----------------------------------------------------------------------

def test_calibrated_interval_reduces_to_the_bootstrap_inside_the_data(calibrated):
    C = calibrated.data.inputs["flops"]
    inside = np.geomspace(C.min(), C.max(), 7)
    a = calibrated.predict(level=0.95, interval="calibrated", flops=inside)
    b = calibrated.predict(level=0.95, interval="bootstrap", flops=inside)
    assert a.low.tobytes() == b.low.tobytes() and a.high.tobytes() == b.high.tobytes()
    assert np.all(a.outside_decades == 0) and a.method == "calibrated" and b.method == "bootstrap"
    default = calibrated.predict(level=0.95, flops=inside)                # default inside: the bootstrap
    assert default.method == "bootstrap" and default.low.tobytes() == b.low.tobytes()


def test_calibrated_interval_widens_with_distance(calibrated):
    top = calibrated.data.inputs["flops"].max()
    far = top * np.array([1.0, 3.0, 10.0, 100.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrated.predict(level=0.95, flops=far)
        boot = calibrated.predict(level=0.95, interval="bootstrap", flops=far)
    assert cal.method == "calibrated" and isinstance(cal, Prediction)
    np.testing.assert_allclose(cal.outside_decades, [0, math.log10(3), 1, 2], atol=1e-12)
    assert calibrated.calibration.discrepancy(0.95) > 0
    extra = np.log(cal.high / cal.mean) - np.log(boot.high / boot.mean)
    assert extra[0] == 0 and np.all(np.diff(extra) > 0)                   # none at the edge, then more
    assert np.all(cal.low <= boot.low) and np.all(cal.high >= boot.high)
    assert "calibrated interval, up to 2.00 decades outside" in repr(cal)
    mean, low, high = cal                                                 # still unpacks as three
    assert low.shape == (4,)


def test_default_interval_beyond_the_data_is_calibrated_and_computed_once():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit("saturating_power_law", saturating(3))
        p = res.predict(level=0.9, flops=1e22)
        q = res.predict(level=0.9, flops=1e22)
    assert p.method == "calibrated" and res.calibration is None           # the result itself is unchanged
    assert p.low.tobytes() == q.low.tobytes()
    assert "rolling origin" in p.note
    assert res.default_interval(0.0) == "wald" and res.default_interval(1.0) == "calibrated"


def test_calibration_summary_persistence_and_errors(calibrated, tmp_path):
    text = calibrated.summary().as_text()
    assert "Prediction intervals: bootstrap inside the data, calibrated beyond it" in text
    assert "Calibration:" in text and "rolling origin" in text
    back = FitResult.load(calibrated.save(tmp_path / "fit.json"))
    q = {"flops": np.array([1e21, 1e22, 1e23])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = calibrated.predict(level=0.95, **q), back.predict(level=0.95, **q)
    assert all(u.tobytes() == v.tobytes() for u, v in zip(a, b)) and b.method == "calibrated"
    d = Calibration.from_dict(calibrated.calibration.to_dict())
    assert d.discrepancy(0.8) == calibrated.calibration.discrepancy(0.8) and d.shape == calibrated.calibration.shape
    no_data = FitResult.load(fit("saturating_power_law", saturating(4)).save(tmp_path / "bare.json",
                                                                            include_data=False))
    with pytest.raises(NotFittedError, match="needs the fitted data"):
        no_data.predict(level=0.95, interval="calibrated", flops=1e22)
    with pytest.raises(ConfigError, match="Did you mean: calibrated"):
        calibrated.predict(level=0.95, interval="calibrate", flops=1e22)
    with pytest.raises(ConfigError, match="needs level="):
        calibrated.predict(interval="bootstrap", flops=1e22)
    with pytest.raises(ConfigError, match="same unit"):
        calibrated.with_calibration(by="n_params")


def test_paired_calibration_scores_the_difference_of_the_arms_errors_run_by_run(calibrated):
    cal = calibrated.calibration
    assert set(cal.inputs) == {"flops"} and cal.inputs["flops"].size == cal.errors.size
    # each held-out run lies beyond its fold's cutoff
    cut = {f["fold"]: f["cutoff"] for f in cal.folds}
    assert all(c > cut[j] for c, j in zip(cal.inputs["flops"], cal.fold))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = fit("saturating_power_law", saturating(seed=3)).with_calibration(n_boot=100, seed=2)
    pc, why = paired_calibration(cal, other.calibration)
    assert why == "" and pc.usable and pc.n_points == cal.n_points
    # same design, same cutoffs: every held-out run pairs with the same run of the other arm
    np.testing.assert_array_equal(pc.inputs["flops"], cal.inputs["flops"])
    np.testing.assert_allclose(pc.errors, cal.errors - other.calibration.errors, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(pc.distance, cal.distance)
    assert pc.draws.shape == (100, cal.errors.size)
    # an arm against itself: the difference has no error, so nothing widens it
    self_pc, _ = paired_calibration(cal, cal)
    assert np.all(self_pc.errors == 0) and self_pc.discrepancy(0.95) == 0.0
    # a round trip keeps the held-out runs
    back = Calibration.from_dict(cal.to_dict())
    np.testing.assert_array_equal(back.inputs["flops"], cal.inputs["flops"])


def test_paired_calibration_says_why_it_cannot_pair(calibrated):
    cal = calibrated.calibration
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shifted = fit("saturating_power_law", saturating(seed=3, lo=17.1, hi=21.1)).with_calibration(n_boot=50)
    pc, why = paired_calibration(cal, shifted.calibration)
    assert pc is None and "share no cutoff" in why
    old = cal.to_dict()
    old.pop("inputs")
    pc, why = paired_calibration(Calibration.from_dict(old), cal)
    assert pc is None and "does not record its held-out runs" in why
    empty = Calibration(errors=np.zeros(0), draws=np.zeros((2, 0)), distance=np.zeros(0), fold=np.zeros(0, dtype=int),
                        folds=(), shape="brownian", tau=0.0)
    pc, why = paired_calibration(cal, empty)
    assert pc is None and why == "arm B's calibration has no rolling-origin fold"


def test_too_few_runs_to_calibrate_is_said_not_hidden():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit("saturating_power_law", saturating(5, n=9)).with_calibration(n_boot=50)
        p = res.predict(level=0.95, flops=1e23)
        b = res.predict(level=0.95, interval="bootstrap", flops=1e23)
    assert not res.calibration.usable and "too few" in res.calibration.describe()
    assert p.low.tobytes() == b.low.tobytes()          # nothing to widen with: the bootstrap, labelled
    assert "too few runs to calibrate" in res.summary().as_text()


def test_calibration_point_count_foresees_the_calibration_from_the_design(calibrated):
    k = calibrated.diagnostics.n_params
    x = dict(calibrated.data.inputs)
    assert calibration_point_count(calibrated.law, x, n_free=k) == calibrated.calibration.n_points
    # a 9-run design cannot calibrate; adding runs beyond it is what completes a calibration
    small = {"flops": x["flops"][:9]}
    assert calibration_point_count(calibrated.law, small, n_free=k) < 10
    more = {"flops": np.concatenate([small["flops"], np.geomspace(2e19, 1e21, 8)])}
    assert calibration_point_count(calibrated.law, more, n_free=k) > calibration_point_count(
        calibrated.law, small, n_free=k)


# -- coverage on simulated designs (seeded, fast, not timed) --------------------------------------------

def test_extrapolation_coverage_holds_on_a_simulated_design():
    rep = extrapolation_coverage("saturating_power_law", n_reps=100, n_boot=40, seed=2)
    assert rep.factors == (1.0, 10.0, 100.0) and rep.n_folds >= 3
    for f in (10.0, 100.0):     # nominal 0.95; binomial se 0.022 at 100 replications
        assert 0.88 <= rep.coverage["calibrated"][f] <= 1.0
        assert rep.width["calibrated"][f] >= rep.width["bootstrap"][f]
    assert rep.coverage["calibrated"][1.0] == rep.coverage["bootstrap"][1.0]     # inside: identical
    again = extrapolation_coverage("saturating_power_law", n_reps=100, n_boot=40, seed=2)
    assert again.to_dict() == rep.to_dict()
    assert "calibrated" in rep.as_text()


def test_calibration_recovers_coverage_the_bootstrap_loses_under_misspecification():
    """A pure power law fitted to saturating data: the bootstrap cannot see the form error."""
    rep = extrapolation_coverage("power_law", data_law="saturating_power_law", n_reps=60, n_boot=60, seed=0)
    boot, cal = rep.coverage["bootstrap"], rep.coverage["calibrated"]
    assert boot[10.0] < 0.2                                    # the uncalibrated interval fails
    assert cal[10.0] > boot[10.0] + 0.3
    assert rep.score["calibrated"][10.0] < 0.5 * rep.score["bootstrap"][10.0]   # not by width alone


@pytest.mark.slow
@pytest.mark.skipif(not RUN_SLOW, reason="opt-in (SCALINGLAB_SLOW=1): the extrapolation table of docs/coverage.md")
@pytest.mark.parametrize("law", ["saturating_power_law", "chinchilla", "overtraining"])
def test_extrapolation_coverage_table(law):
    rep = extrapolation_coverage(law, n_reps=400, n_boot=100, seed=0)
    print("\n" + rep.as_text() + f"\nshapes: {dict(rep.shapes)}")
    for f in (10.0, 100.0):
        assert 0.90 <= rep.coverage["calibrated"][f] <= 0.985
