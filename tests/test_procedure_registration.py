"""A new procedure is one registration: plan, train (inline), store and fit it with no other edit.

This is the worked example of docs/ARCHITECTURE.md ("Adding a procedure"): a toy "polynomial
regression" procedure whose config is a width, whose data unit is samples, and whose trainer
returns a loss that follows a known L(N, D) law. The sweep planner, the store, the unit
conventions and the fit only ever see it through the procedure registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from scalinglab import fit
from scalinglab.errors import ConfigError, UnknownNameError
from scalinglab.ladders import add_ladder_path, get_ladder
from scalinglab.procedures import PROCEDURES, Procedure, get_procedure, list_procedures, register_procedure
from scalinglab.store import ResultsStore, RunRecord, RunSpec
from scalinglab.sweep import plan_sweep, run_sweep

TRUE = {"E": 0.5, "A": 40.0, "B": 90.0, "alpha": 0.4, "beta": 0.3}


@dataclass(frozen=True)
class PolyConfig:
    """A toy model: ``width`` hidden units of ``in_dim`` inputs (torch-free, like every config)."""

    width: int                  # hidden units
    in_dim: int = 8             # input features

    @property
    def units_per_example(self) -> int:
        return 1                # D counts samples

    def n_params(self, convention: str = "weights") -> int:
        if convention == "weights":
            return self.width * self.in_dim + self.width
        if convention == "total":
            return self.width * self.in_dim + 2 * self.width + 1
        raise UnknownNameError(f"unknown parameter convention {convention!r}")

    def flops_per_unit(self, convention: str = "exact") -> float:
        if convention == "exact":
            return 6.0 * self.n_params("weights")
        raise UnknownNameError(f"unknown FLOP convention {convention!r}")


def train(spec: RunSpec, *, run_dir, resume=True, progress=None, **options) -> RunRecord:
    """The toy's trainer: a Chinchilla-form loss of (N, D), deterministic per spec."""
    proc = spec.procedure_spec
    N, D = proc.n_params(spec.model), spec.n_data
    loss = TRUE["E"] + TRUE["A"] / N ** TRUE["alpha"] + TRUE["B"] / D ** TRUE["beta"]
    loss *= 1.0 + 0.01 * math.log10(spec.lr / 1e-2) ** 2       # tuned LR at 1e-2
    n_params, flops = proc.counts(spec.model, D)
    if progress is not None:
        progress(seen=D)
    return RunRecord(run_id=spec.run_id, spec=spec, status="done", metrics={"mse": loss},
                     n_data_seen=D, n_params=n_params, flops=flops)


@pytest.fixture
def poly(tmp_path, monkeypatch):
    from scalinglab import ladders
    from scalinglab.procedures import _base

    # keep the registries as they were for the other tests
    monkeypatch.setattr(PROCEDURES, "_entries", dict(PROCEDURES._entries))
    monkeypatch.setattr(_base, "_BY_CONFIG", dict(_base._BY_CONFIG))
    ladders.list_ladders()
    proc = register_procedure(Procedure(
        name="poly", config=PolyConfig, trainer=f"{__name__}:train", unit="samples",
        metrics=("mse",), param_conventions=("weights", "total"), flops_conventions=("exact",),
        modality="tabular", description="toy polynomial regression"))
    monkeypatch.setattr(ladders, "_PATHS", dict(ladders._PATHS))
    monkeypatch.setattr(ladders, "_CACHE", dict(ladders._CACHE))
    (tmp_path / "poly-tiny.yaml").write_text(
        "name: poly-tiny\nprocedure: poly\nshared: {in_dim: 8}\ntrain: {batch_size: 32}\n"
        "rungs:\n" + "".join(f"  poly-tiny-{i}: {{width: {w}}}\n"
                             for i, w in enumerate((16, 32, 64, 128, 256, 512), 1)))
    add_ladder_path(tmp_path / "poly-tiny.yaml")
    return proc


def test_a_registered_procedure_runs_end_to_end(poly, tmp_path):
    assert "poly" in list_procedures() and get_procedure("poly") is poly
    lad = get_ladder("poly-tiny")
    assert lad.procedure == "poly" and lad["poly-tiny-1"].n_params == 16 * 8 + 16
    plan = plan_sweep({"name": "poly", "ladder": "poly-tiny",
                       "n_samples": [1024, 4096, 16384, 65536], "lr": [3e-3, 1e-2, 3e-2],
                       "eval": {"eval_samples": 512}})
    assert len(plan) == 6 * 4 * 3 and plan.procedures == ("poly",) and plan.unit == "samples"
    assert all(s.n_samples == s.n_data and s.n_tokens is None for s in plan.specs)
    assert "samples" in str(plan.cost())
    rep = run_sweep(plan, backend="inline", store=tmp_path / "store", progress=False)
    assert rep.ok and len(rep.done) == len(plan)
    with ResultsStore(tmp_path / "store", readonly=True) as st:
        assert {r["procedure"] for r in st.rows()} == {"poly"}
        assert {r["unit"] for r in st.rows()} == {"samples"}
        runs = st.to_runs(lr=1e-2)                    # the tuned learning rate
        assert runs.target_name == "mse" and len(runs) == 24
        total = st.to_runs(lr=1e-2, n_params_convention="total")
        assert total.n_params.min() == 16 * 8 + 2 * 16 + 1
        with pytest.raises(ConfigError, match="procedure 'poly' does not report 'val_loss'"):
            st.to_runs(target="val_loss")
    res = fit("chinchilla", runs, loss="ls")
    for k in ("alpha", "beta"):
        assert res.params[k] == pytest.approx(TRUE[k], rel=1e-3)
    assert res.params["E"] == pytest.approx(TRUE["E"], rel=1e-2)


def test_budgets_in_the_wrong_unit_are_refused(poly):
    with pytest.raises(ConfigError, match="count D in samples; give budgets with n_samples, not n_tokens"):
        plan_sweep({"ladder": "poly-tiny", "n_tokens": [1024], "lr": [1e-2]})
    with pytest.raises(ConfigError, match="different units"):
        plan_sweep({"ladder": ["poly-tiny", "gpt-tiny"], "n_samples": [1024], "lr": [1e-2]})
