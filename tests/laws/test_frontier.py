"""Frontiers: best configuration per size, compute envelope, binned minima, iso-FLOP slices."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scalinglab.errors import ConfigError, DataError, MissingColumnError, TuningEdgeWarning
from scalinglab.laws import Runs
from scalinglab.laws.frontier import (
    Frontier,
    IsoFlopSlices,
    best_per_size,
    binned_minimum,
    compute_envelope,
    isoflop_slices,
)


def lr_sweep(rng, *, with_seeds=False):
    """3 sizes x 4 learning rates (x 2 seeds); best lr 1e-3 except the largest model (edge 3e-4)."""
    rows = {"n_params": [], "n_tokens": [], "target": [], "run_id": [], "groups": {"lr": [], "seed": []}}
    lrs = [3e-4, 1e-3, 3e-3, 1e-2]
    for N in (1e6, 1e7, 1e8):
        best = 3e-4 if N == 1e8 else 1e-3
        for lr in lrs:
            for seed in ((0, 1) if with_seeds else (0,)):
                base = 3.0 - 0.2 * np.log10(N / 1e6)
                loss = base + 0.05 * abs(np.log10(lr / best)) + (0.01 * seed if with_seeds else 0.0)
                rows["n_params"].append(N)
                rows["n_tokens"].append(20 * N)
                rows["target"].append(loss)
                rows["run_id"].append(f"N{N:.0e}_lr{lr:g}_s{seed}")
                rows["groups"]["lr"].append(lr)
                rows["groups"]["seed"].append(seed)
    return Runs.from_arrays(**rows)


def test_best_per_size_keeps_the_defining_run_and_flags_grid_edges(rng):
    runs = lr_sweep(rng)
    with pytest.warns(TuningEdgeWarning, match="1 of 3 tuned points"):
        front = best_per_size(runs, tuned="lr")
    assert isinstance(front, Frontier) and isinstance(front, Runs)
    assert front.run_ids == ("N1e+06_lr0.001_s0", "N1e+07_lr0.001_s0", "N1e+08_lr0.0003_s0")
    np.testing.assert_allclose(front.target, [3.0, 2.8, 2.6])
    assert front.n_candidates.tolist() == [4, 4, 4]
    (edge,) = front.tuning_edge
    assert (edge.run_id, edge.column, edge.value, edge.side) == ("N1e+08_lr0.0003_s0", "lr", 3e-4, "low")
    assert "smallest of 4 values" in str(edge)
    assert "edge of its grid" in front.summary().as_text()
    # the frontier is usable wherever Runs are: subset keeps the metadata aligned
    sub = front.subset([2])
    assert sub.run_ids == ("N1e+08_lr0.0003_s0",) and sub.tuning_edge == front.tuning_edge
    assert front.subset([0]).tuning_edge == ()
    assert type(front.runs) is Runs and front.runs.fingerprint == front.fingerprint


def test_best_per_size_averages_seeds_first(rng):
    runs = lr_sweep(rng, with_seeds=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no tuning column named: no warning
        front = best_per_size(runs, mean_over="seed")
    assert len(front) == 3
    np.testing.assert_allclose(front.target, [3.005, 2.805, 2.605])  # mean of seeds 0 and 1
    assert front.members[0] == ("N1e+06_lr0.001_s0", "N1e+06_lr0.001_s1")
    assert front.run_ids[0] == "N1e+06_lr0.001_s0"
    assert list(front.groups["seed"]) == ["mean of 2"] * 3
    assert front.n_candidates.tolist() == [4, 4, 4]  # configurations, not runs


def test_best_per_size_single_value_and_errors():
    runs = Runs.from_arrays(n_params=[1e6, 1e6, 1e7], n_tokens=[1e8, 1e8, 1e9], target=[3.0, 2.9, 2.5],
                            groups={"lr": ["1e-3", "3e-3", "1e-3"], "opt": ["adam", "adam", "sgd"]})
    with pytest.warns(TuningEdgeWarning):
        front = best_per_size(runs, tuned="lr")
    sides = {e.run_id: e.side for e in front.tuning_edge}
    assert sides == {"row1": "high", "row2": "only"}
    with pytest.raises(DataError, match="must be numeric"):
        best_per_size(runs, tuned="opt")
    with pytest.raises(ConfigError, match="cannot both"):
        best_per_size(runs, by=("n_params", "lr"), tuned="lr")
    with pytest.raises(MissingColumnError, match="Did you mean: lr"):
        best_per_size(runs, tuned="Lr")
    hi = best_per_size(runs, higher_is_better=True)
    assert hi.run_ids == ("row0", "row2")


def _dominated(C, y, i):
    return any((C[j] <= C[i] and y[j] < y[i]) or (C[j] < C[i] and y[j] <= y[i]) for j in range(len(C)) if j != i)


@pytest.mark.parametrize("seed", range(5))
def test_envelope_is_exactly_the_non_dominated_set(seed):
    rng = np.random.default_rng(seed)
    n = 40
    C = 10 ** rng.choice(np.linspace(18, 21, 15), n)  # repeated compute values on purpose
    y = rng.choice(np.linspace(2, 3, 12), n)           # and repeated losses
    runs = Runs.from_arrays(flops=C, target=y)
    env = compute_envelope(runs)
    kept = {int(r[3:]) for r in env.run_ids}
    for i in range(n):
        if i in kept:
            assert not _dominated(C, y, i)
        elif not _dominated(C, y, i):  # an exact duplicate of a kept point
            assert any(C[j] == C[i] and y[j] == y[i] for j in kept)
    assert np.all(np.diff(env.flops) > 0) and np.all(np.diff(env.target) < 0)


def test_binned_minimum_one_point_per_bin():
    C = np.array([1e18, 1.5e18, 3e18, 1e20, 2e20, 9e20, 1e21])
    y = np.array([3.0, 2.9, 3.1, 2.5, 2.6, 2.4, 2.45])
    runs = Runs.from_arrays(flops=C, target=y)
    front = binned_minimum(runs, n_bins=3)
    assert front.run_ids == ("row1", "row3", "row5")
    assert front.n_candidates.tolist() == [3, 1, 3]  # the middle bin [1e19.., 1e20..] holds row3
    assert front.bin_edges.size == 4
    by_decade = binned_minimum(runs, bins_per_decade=1)
    assert by_decade.run_ids == ("row1", "row3", "row5")
    explicit = binned_minimum(runs, edges=[1e18, 1e19, 1.1e21])
    assert explicit.run_ids == ("row1", "row5")
    with pytest.raises(ConfigError, match="positive integer"):
        binned_minimum(runs, n_bins=0)
    with pytest.raises(ConfigError, match="edges"):
        binned_minimum(runs, edges=[1e18])
    with pytest.raises(DataError, match="no run falls inside"):
        binned_minimum(runs, edges=[1e10, 1e11])
    with pytest.raises(MissingColumnError, match="no 'flops' column"):
        compute_envelope(Runs.from_arrays(n_params=[1e6], target=[2.0]))


def test_isoflop_slices_group_by_relative_tolerance(rng):
    budgets = [1e18, 1e19, 1e20]
    C, N, y = [], [], []
    for b in budgets:
        for n in (1e6, 3e6, 1e7, 3e7):
            C.append(b * (1 + rng.uniform(-0.05, 0.05)))
            N.append(n)
            y.append(3.0)
    C.append(5e18)   # a stray run near no budget
    N.append(1e7)
    y.append(2.0)
    runs = Runs.from_arrays(flops=C, n_params=N, target=y)
    auto = isoflop_slices(runs, rel_tol=0.15)
    assert len(auto) == 3 and isinstance(auto, IsoFlopSlices)
    np.testing.assert_allclose(auto.budgets, budgets, rtol=0.06)
    assert auto.dropped == ("row12",)
    assert [len(s) for _, s in auto] == [4, 4, 4]
    assert all(np.all(np.diff(s.n_params) >= 0) for s in auto.slices)
    given = isoflop_slices(runs, budgets=["1e18", "1e19", "1e20"], rel_tol=0.1)
    np.testing.assert_allclose(given.budgets, budgets)
    assert given.run_ids == auto.run_ids
    assert len(given.runs) == 12
    with pytest.raises(DataError, match="no iso-FLOP slice"):
        isoflop_slices(runs, min_points=5)
    with pytest.raises(ConfigError, match="rel_tol"):
        isoflop_slices(runs, rel_tol=-1)


def test_frontier_is_a_valid_fit_input():
    """A frontier carries every column a law needs and the defining run ids."""
    runs = Runs.from_arrays(n_params=[1e6, 1e7, 1e8, 1e6], n_tokens=[1e8, 1e9, 1e10, 1e10],
                            target=[3.0, 2.7, 2.4, 2.9])
    env = compute_envelope(runs)
    assert env.inputs(("n_params", "n_tokens"))["n_params"].tolist() == [1e6, 1e7, 1e8]
    assert env.run_ids == ("row0", "row1", "row2")  # row3 costs as much as row1 and is worse
    assert "Frontier(kind='envelope', n=3" in repr(env)
    assert env.summary().to_dict()["tables"]["points"]["rows"][0][0] == "row0"


def test_fit_accepts_a_frontier():
    from scalinglab.laws import fit

    rng = np.random.default_rng(4)
    C = np.repeat(np.logspace(16, 20, 9), 4)
    # four "learning rates" per budget; the best one follows L = 300 C^-0.15 + 2
    y = (2 + 300 * C ** -0.15) * (1 + np.tile([0.0, 0.01, 0.03, 0.06], 9)) * np.exp(rng.normal(0, 1e-3, C.size))
    runs = Runs.from_arrays(flops=C, target=y, groups={"lr": np.tile([1e-3, 3e-3, 1e-2, 3e-2], 9)})
    front = best_per_size(runs, by="flops")
    assert len(front) == 9 and set(front.groups["lr"]) == {1e-3}
    res = fit("saturating_power_law", front, loss="ls")
    assert res.n_points == 9
    assert res.params["alpha"] == pytest.approx(0.15, abs=0.02)
    assert res.runs_fingerprint == front.fingerprint


# -- Nezhurina et al.'s binning rule ------------------------------------------------------------

def _ladder_runs(y, top=None):
    C = 1e3 * 2.0 ** np.arange(7)                 # 1e3 .. 6.4e4
    y = list(y) if top is None else [*y[:-1], top]
    return Runs.from_arrays(flops=C, target=np.asarray(y, dtype=float))


def test_pareto_bins_follows_the_rule_step_by_step():
    from scalinglab.laws import pareto_bins

    runs = _ladder_runs([0.9, 0.85, 0.88, 0.7, 0.75, 0.6, 0.65])
    fr = pareto_bins(runs, reference_flops=1e3)
    # floor(log2(6.4e4 / 1e3)) = 6 edges, log-spaced from the smallest to the largest compute
    assert fr.kind == "pareto_bins" and fr.options["n_edges"] == 6
    assert np.allclose(fr.bin_edges, np.geomspace(1e3, 6.4e4, 6))
    # bins hold {1e3, 2e3}, {4e3}, {8e3}, {1.6e4}, {3.2e4}: the best of the first bin is kept, a
    # bin's best only when it beats every kept point (0.88 and 0.75 do not), and the top run
    # (in no bin) only when it beats them too (0.65 does not)
    assert fr.run_ids == ("row1", "row3", "row5")
    assert list(fr.n_candidates) == [2, 1, 1]
    assert np.all(np.diff(fr.target) < 0)
    with_top = pareto_bins(_ladder_runs([0.9, 0.85, 0.88, 0.7, 0.75, 0.6, 0.65], top=0.5), reference_flops=1e3)
    assert with_top.run_ids == ("row1", "row3", "row5", "row6") and with_top.n_candidates[-1] == 1
    # the edges directly, and accuracies instead of errors
    assert pareto_bins(runs, n_edges=6).run_ids == fr.run_ids
    acc = Runs.from_arrays(flops=runs.flops, target=1 - runs.target)
    assert pareto_bins(acc, reference_flops=1e3, higher_is_better=True).run_ids == fr.run_ids


def test_pareto_bins_default_reference_is_the_papers_1500_gflops():
    from scalinglab.laws import pareto_bins

    C = np.logspace(15, 22, 100)                 # FLOPs; 1500 GFLOPs = 1.5e12 FLOPs
    fr = pareto_bins(Runs.from_arrays(flops=C, target=1 + 1e3 * C ** -0.2))
    assert fr.options["n_edges"] == int(np.floor(np.log2(1e22 / 1.5e12))) == 32
    # a falling curve: the best (most expensive) run of each of the 31 bins, plus the top run
    assert len(fr) == 32 and fr.run_ids[-1] == "row99" and np.all(np.diff(fr.flops) > 0)
    # runs far below that scale get no bin and are told what to pass
    small = Runs.from_arrays(flops=np.logspace(9, 12, 10), target=np.linspace(1, 0.5, 10))
    with pytest.raises(DataError, match=r"less than 4x reference_flops.*reference_flops="):
        pareto_bins(small)
    with pytest.raises(ConfigError, match="n_edges"):
        pareto_bins(small, n_edges=1)
