"""Seeds are noise (issue 13, part 2): spread, frontier, bootstrap unit, noise model, seed study."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from scalinglab.errors import ConfigError, ScalingLabWarning
from scalinglab.laws import Runs, best_per_size, fit
from scalinglab.laws.seeds import (
    NoiseModel,
    SeedSpread,
    list_seed_studies,
    noise_model,
    register_seed_study,
    seed_spread,
    seed_study,
)

E, A, B, ALPHA, BETA = 1.0, 60.0, 120.0, 0.3, 0.3
SIZES = [2e5, 5e5, 1.2e6, 3e6, 7e6]
BUDGETS = [5e6, 2e7, 8e7]


def law(n, d):
    return E + A / np.asarray(n) ** ALPHA + B / np.asarray(d) ** BETA


def seeded_runs(sd: float, n_seeds: int = 3, seed: int = 0, ladder: str | None = None,
                point_sd: float = 0.0) -> Runs:
    """Runs with seed noise ``sd`` and an error ``point_sd`` shared by the seeds of a point."""
    rng = np.random.default_rng(seed)
    n, d, y, s = [], [], [], []
    for a in SIZES:
        for b in BUDGETS:
            shared = rng.normal(0, point_sd) if point_sd else 0.0
            for k in range(n_seeds):
                n.append(a), d.append(b), s.append(k)
                y.append(law(a, b) * math.exp(shared + rng.normal(0, sd)))
    groups = {"seed": s}
    if ladder is not None:
        groups["ladder"] = [ladder] * len(y)
    return Runs.from_arrays(n_params=n, n_tokens=d, target=y, groups=groups)


def test_seed_spread_is_the_pooled_sd_of_log_target():
    runs = Runs.from_arrays(n_params=[1.0] * 5 + [2.0] * 3, n_tokens=[1.0] * 8,
                            target=[3.0, 3.1, 2.9, 3.05, 2.95, 2.0, 2.1, 1.95],
                            groups={"seed": [0, 1, 2, 3, 4, 0, 1, 2]})
    sp = seed_spread(runs)
    a, b = np.log([3.0, 3.1, 2.9, 3.05, 2.95]), np.log([2.0, 2.1, 1.95])
    pooled = math.sqrt((4 * np.var(a, ddof=1) + 2 * np.var(b, ddof=1)) / 6)
    assert sp.df == 6 and sp.n_points == 2 and list(sp.n_seeds) == [5, 3]
    assert sp.sigma_log == pytest.approx(pooled, rel=1e-12)
    assert sp.sd_log[1] == pytest.approx(np.std(b, ddof=1), rel=1e-12)
    lo, hi = sp.interval(0.95)
    assert lo < sp.sigma_log < hi
    assert set(sp.by("n_params")) == {1.0, 2.0}


def test_seed_spread_none_without_replicates_and_points_differ_in_other_columns():
    runs = Runs.from_arrays(n_params=[1.0, 1.0], n_tokens=[1.0, 1.0], target=[3.0, 3.3],
                            groups={"seed": [0, 1], "lr": [1e-3, 2e-3]})
    assert seed_spread(runs) is None     # different lr: not replicates
    one = Runs.from_arrays(n_params=[1.0, 2.0], n_tokens=[1.0, 1.0], target=[3.0, 2.0],
                           groups={"seed": [0, 0]})
    assert seed_spread(one) is None


def test_pooled_spread_interval_covers_the_true_spread():
    hits = 0
    for rep in range(200):
        sp = seed_spread(seeded_runs(0.01, seed=rep))
        lo, hi = sp.interval(0.9)
        hits += lo <= 0.01 <= hi
    assert 0.84 <= hits / 200 <= 0.96


def test_frontier_keeps_the_spread_and_fit_uses_it():
    runs = seeded_runs(0.01)
    front = best_per_size(runs, mean_over="seed")
    assert len(front) == len(SIZES) * len(BUDGETS)
    assert front.spread is not None and front.spread.df == 2 * len(front)
    assert all(len(m) == 3 for m in front.members)
    res = fit("chinchilla", front, loss="ls")
    nz = res.noise
    assert nz.source == "replicates" and nz.seeds_per_point == 3
    assert nz.sigma_seed == pytest.approx(front.spread.sigma_log, rel=0.15)
    # new-run noise: the seed spread plus the misfit the seeds do not explain (means of 3)
    at = front.spread.sigma_at(front.n_params, front.n_tokens)
    lack2 = max(0.0, res.sigma ** 2 - float(np.mean(at ** 2)) / 3)
    assert nz.lack == pytest.approx(math.sqrt(lack2))
    assert nz.sigma == pytest.approx(math.sqrt(nz.sigma_seed ** 2 + lack2))
    assert nz.sigma > res.sigma     # a mean of 3 seeds scatters less than one new run
    assert "seed spread" in res.summary().as_text()


def test_bootstrap_resamples_points_with_all_their_seeds():
    # errors shared by a point's seeds (misfit, shared data): 15 independent units, not 45
    runs = seeded_runs(0.003, point_sd=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        res = fit("chinchilla", runs, loss="ls")
        pts = res.with_bootstrap(n_boot=200, seed=1)
        rows = res.with_bootstrap(n_boot=200, seed=1, by="row")
    assert pts.bootstrap.by == "point" and pts.bootstrap.n_groups == len(SIZES) * len(BUDGETS)
    assert pts.options["boot_by"] == "point"
    assert rows.bootstrap.by is None and rows.bootstrap.n_groups == len(runs)
    # the parameter intervals are wider than when seeds pass as independent evidence
    w_pts = np.diff(pts.ci(0.9)["alpha"])[0]
    w_rows = np.diff(rows.ci(0.9)["alpha"])[0]
    assert w_pts > 1.2 * w_rows


def test_spread_trend_in_d_is_recovered_and_clamped():
    # seed spread falling as D^-0.5: 2% at 5e6 tokens, 0.5% at 8e7
    rng = np.random.default_rng(5)
    n, d, y, s = [], [], [], []
    for a in SIZES:
        for b in BUDGETS:
            sd = 0.02 * (b / 5e6) ** -0.5
            for k in range(4):
                n.append(a), d.append(b), s.append(k)
                y.append(law(a, b) * math.exp(rng.normal(0, sd)))
    sp = seed_spread(Runs.from_arrays(n_params=n, n_tokens=d, target=y, groups={"seed": s}))
    a, b, c = sp.trend
    assert b == pytest.approx(-0.5, abs=0.15) and abs(c) < 0.15
    assert sp.sigma_at(1e6, 5e6) == pytest.approx(0.02, rel=0.3)
    assert sp.sigma_at(1e6, 8e7) == pytest.approx(0.005, rel=0.3)
    # beyond the measured D the spread is held at its edge value, never extrapolated smaller
    assert sp.sigma_at(1e6, 1e10) == pytest.approx(sp.sigma_at(1e6, 8e7))
    few = SeedSpread.from_table([{"label": "a", "n_params": 1, "n_tokens": 1, "n_seeds": 3, "mean": 1, "sd_log": 0.01}],
                                source="t")
    assert few.trend is None and few.sigma_at(5.0, 5.0) == pytest.approx(0.01)
    # the prediction interval of a fit carries the spread at the predicted point
    front = best_per_size(Runs.from_arrays(n_params=n, n_tokens=d, target=y, groups={"seed": s}), mean_over="seed")
    res = fit("chinchilla", front, loss="ls")
    assert res.noise.sigma_at(n_params=1e6, n_tokens=5e6) > 2 * res.noise.sigma_at(n_params=1e6, n_tokens=8e7)


def test_raw_replicates_give_a_measured_noise_model():
    res = fit("chinchilla", seeded_runs(0.02), loss="ls")
    assert res.noise.source == "replicates"
    assert res.noise.sigma_seed == pytest.approx(0.02, rel=0.3)


def test_single_seed_runs_use_the_ladder_seed_study():
    study = register_seed_study("toy-ladder-for-tests", [
        {"label": "a", "n_params": 1e6, "n_tokens": 1e7, "n_seeds": 3, "mean": 3.0, "sd_log": 0.03},
        {"label": "b", "n_params": 2e6, "n_tokens": 1e7, "n_seeds": 3, "mean": 2.9, "sd_log": 0.04}],
        reference="tests")
    assert "toy-ladder-for-tests" in list_seed_studies() and seed_study("toy-ladder-for-tests") is study
    runs = seeded_runs(0.002, n_seeds=1, ladder="toy-ladder-for-tests")
    res = fit("chinchilla", runs, loss="ls", n_boot=400)
    assert res.noise.source == "study" and res.noise.sigma == pytest.approx(study.sigma_log)
    text = res.summary().as_text()
    assert "seed study" in text and "one seed per point" in text
    plain = fit("chinchilla", runs, loss="ls", n_boot=100, noise="residuals")
    assert plain.noise.source == "residuals" and "New-run noise" not in plain.summary().as_text()
    p, q = res.predict(level=0.95, n_params=3e6, n_tokens=2e7), plain.predict(level=0.95, n_params=3e6, n_tokens=2e7)
    # the study's 3.5% spread, not the 0.2% residuals, sets the width of a new run's interval
    assert math.log(p.high / p.low) == pytest.approx(2 * 1.96 * study.sigma_log, rel=0.2)
    assert (p.high - p.low) > 5 * (q.high - q.low)
    other = seeded_runs(0.002, n_seeds=1, ladder="no-study-ladder")
    assert fit("chinchilla", other, loss="ls").noise.source == "residuals"


def test_given_noise_and_bad_noise():
    runs = seeded_runs(0.002, n_seeds=1)
    res = fit("chinchilla", runs, loss="ls", noise=0.05)
    assert res.noise.source == "given" and res.noise_sigma == pytest.approx(0.05)
    with pytest.raises(ConfigError, match="noise must be"):
        fit("chinchilla", runs, loss="ls", noise="seeds")
    with pytest.raises(ConfigError, match="noise must be"):
        fit("chinchilla", runs, loss="ls", noise=-1.0)


def test_noise_model_formula():
    assert noise_model(0.01).source == "residuals" and noise_model(0.01).sigma == 0.01
    one = noise_model(0.01, sigma_seed=0.02, source="study")
    assert one.sigma == pytest.approx(0.02)                # max(residual, seed) for one seed
    big = noise_model(0.05, sigma_seed=0.02, source="study")
    assert big.sigma == pytest.approx(0.05)
    three = noise_model(0.01, sigma_seed=0.015, seeds_per_point=3, source="replicates")
    assert three.sigma == pytest.approx(math.sqrt(0.015 ** 2 + 0.01 ** 2 - 0.015 ** 2 / 3))
    assert three.sigma_at(n_params=np.ones(3), n_tokens=np.ones(3)) == pytest.approx([three.sigma] * 3)
    assert NoiseModel.from_dict(three.to_dict()) == three
    with pytest.raises(ConfigError):
        NoiseModel(sigma=1, sigma_seed=1, sigma_residual=1, source="guess")


def test_noise_survives_save_and_load(tmp_path):
    res = fit("chinchilla", best_per_size(seeded_runs(0.01), mean_over="seed"), loss="ls", n_boot=50)
    back = type(res).load(res.save(tmp_path / "f.json"))
    assert back.noise == res.noise
    a = res.predict(level=0.9, n_params=5e6, n_tokens=1e8)
    b = back.predict(level=0.9, n_params=5e6, n_tokens=1e8)
    assert (a.low, a.high) == (b.low, b.high)
    sp = best_per_size(seeded_runs(0.01), mean_over="seed").spread
    assert SeedSpread.from_dict(sp.to_dict()).sigma_log == sp.sigma_log



def test_gpt_tiny_study_is_registered():
    study = seed_study("gpt-tiny")
    assert study is not None and study.df >= 20
    assert 0 < study.sigma_log < 0.1
