"""Frozen means frozen: every record and result type refuses mutation (issue 10, item 2).

A result whose array can be written is not a record of what was fitted: each test below tries
the mutation a user could make by accident and expects an error, then checks that nothing the
object reports (a prediction, a fingerprint, a run id) changed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scalinglab import fit
from scalinglab.laws import Runs, best_per_size
from scalinglab.procedures import GPTConfig
from scalinglab.store import RunRecord, RunSpec

C = np.logspace(18, 21, 12)


@pytest.fixture(scope="module")
def runs():
    return Runs.from_arrays(flops=C, target=2.0 + 300 * C ** -0.15, groups={"lr": [1e-3] * 12})


@pytest.fixture(scope="module")
def res(runs):
    return fit("saturating_power_law", runs, loss="ls", n_boot=20)


def test_runs_arrays_groups_and_exclusions_are_read_only(runs):
    before = runs.fingerprint
    for arr in (runs.target, runs.flops, runs.run_id, runs.groups["lr"]):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 99
    with pytest.raises(TypeError):
        runs.groups["lr"] = np.zeros(12)
    with pytest.raises(TypeError):
        runs.excluded["run_id"] = ["x"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        runs.target = np.zeros(12)
    assert runs.fingerprint == before


def test_runs_do_not_share_memory_with_the_callers_arrays():
    y = 2.0 + 300 * C ** -0.15
    r = Runs.from_arrays(flops=C, target=y)
    y[0] = 99.0                                   # the caller's array stays writable ...
    assert r.target[0] != 99.0                    # ... and the runs keep what they were given
    sub = r.subset(np.arange(3))
    with pytest.raises(ValueError, match="read-only"):
        sub.target[0] = 1.0


def test_fit_result_arrays_and_mappings_are_read_only(res):
    x = {"flops": np.array([1e22])}
    before = res.predict(**x)
    for arr in (res.param_vector, res.residuals, res.bootstrap.params):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0
    with pytest.raises(TypeError):
        res.options["loss"] = "lad"
    with pytest.raises(TypeError):
        res.input_range["flops"] = (0.0, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.sigma = 0.0
    assert res.predict(**x) == before


def test_value_types_are_read_only(res):
    p = res.predict(flops=np.array([1e22, 1e23]), level=0.9)
    with pytest.raises(ValueError, match="read-only"):
        p.mean[0] = 0
    with pytest.raises(ValueError, match="read-only"):
        res.cov[0, 0] = 0
    with pytest.raises(TypeError):
        res.ci(0.9).rows["E"] = (0, 0)
    d = res.derived(lambda p: p["E"] * np.ones(2))
    with pytest.raises(ValueError, match="read-only"):
        d.low[0] = 0


def test_frontier_and_diagnostics_are_read_only(runs, res):
    front = best_per_size(runs.subset(np.arange(12)), by=["flops"])
    with pytest.raises(ValueError, match="read-only"):
        front.target[0] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.diagnostics.converged = False


def test_run_spec_model_and_extra_are_immutable_and_the_id_cannot_drift():
    spec = RunSpec(rung="r", model=GPTConfig(n_layer=1, d_model=32, n_head=2, seq_len=16),
                   n_data=4096, lr=1e-3, extra={"tags": ["a"], "k": {"x": 1}})
    rid = spec.run_id
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.model.d_model = 64
    with pytest.raises(TypeError):
        spec.extra["k"] = 2
    with pytest.raises(TypeError):
        spec.extra["k"]["x"] = 2
    with pytest.raises(AttributeError):
        spec.extra["tags"].append("b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.lr = 1.0
    assert spec.run_id == rid and RunSpec.from_dict(spec.to_dict()).run_id == rid


def test_run_record_mappings_and_curve_are_immutable():
    spec = RunSpec(rung="r", model=GPTConfig(n_layer=1, d_model=32, n_head=2, seq_len=16),
                   n_data=4096, lr=1e-3)
    rec = RunRecord(run_id=spec.run_id, spec=spec, status="done", metrics={"val_loss": 2.0},
                    n_params={"non_embedding": 1}, curve=[(1, 3.0)], provenance={"host": "x"})
    for mapping in (rec.metrics, rec.n_params, rec.flops, rec.provenance):
        with pytest.raises(TypeError):
            mapping["val_loss"] = 0.0
    with pytest.raises(AttributeError):
        rec.curve.append((2, 1.0))
    assert RunRecord.from_dict(rec.to_dict()) == rec
