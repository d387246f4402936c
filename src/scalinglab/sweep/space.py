"""The space of runs a closed loop may choose from: what a sweep file allows, per arm.

A closed loop (:mod:`scalinglab.sweep.loop`) treats a sweep file as a space, not a grid: its
rungs, budgets, learning rates and seeds, split into arms when it names two datasets or two
ladders. :class:`RunSpace` plans any part of it as a sub-sweep, with the same run ids a full
plan would give.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._io import jsonable
from ..config import to_dict
from ..errors import ConfigError
from .plan import SweepPlan, plan_sweep

__all__ = ["Arm", "LoopRung", "PlannedRun", "RunSpace", "run_key"]


@dataclass(frozen=True)
class LoopRung:
    name: str
    ladder: str
    n_params: float            # N, the procedure's default convention (what to_runs reports)
    flops_per_unit: float      # the trainer's FLOPs per token/sample
    budgets: tuple[int, ...]   # allowed D, rounded to whole steps as the sweep plans them
    lrs: tuple[float, ...]     # the learning-rate grid, ascending


@dataclass(frozen=True)
class PlannedRun:
    run_id: str
    key: tuple                 # (rung, D, lr, seed): what makes two runs the same experiment
    flops: float               # FLOPs it trains (a branch: its cooldown)
    branch_of: str | None
    n_data: int
    lr: float


@dataclass(frozen=True)
class Arm:
    name: str                  # "" for a single arm; else the dataset or ladder that differs
    ladder: tuple[str, ...]
    dataset: str
    rungs: tuple[LoopRung, ...]


class RunSpace:
    """What the sweep file allows, per arm (datasets or ladders that differ)."""

    def __init__(self, plan: SweepPlan):
        self.plan = plan
        cfg = plan.config
        self.cfg = cfg
        self.seeds = tuple(int(s) for s in cfg.seeds)
        self.variant = cfg.variant
        self.unit_key = "n_samples" if plan.unit == "samples" else "n_tokens"
        specs = plan.specs
        # arms in the order the sweep file lists them (the plan orders runs longest first)
        given_ds = [cfg.dataset] if isinstance(cfg.dataset, str) else list(cfg.dataset or [])
        datasets = sorted(dict.fromkeys(s.dataset for s in specs),
                          key=lambda d: given_ds.index(d) if d in given_ds else len(given_ds))
        ladders = sorted(dict.fromkeys(s.ladder for s in specs), key=cfg.ladders.index)
        if len(datasets) > 1 and len(ladders) > 1:
            raise ConfigError("a closed loop compares at most two arms: give two datasets or two ladders, "
                              "not several of both")
        by_rung: dict[str, dict[str, Any]] = {}
        for s in specs:
            r = by_rung.setdefault(s.rung, {"ladder": s.ladder, "budgets": set(), "lrs": set(), "model": s.model,
                                            "proc": s.procedure_spec})
            r["budgets"].add(int(s.n_data))
            r["lrs"].add(float(s.lr))
        rungs = {}
        planned = {r.spec.rung: r.n_params for r in plan.runs}
        for name, r in by_rung.items():
            rungs[name] = LoopRung(name=name, ladder=r["ladder"], n_params=float(planned[name]),
                                flops_per_unit=float(r["proc"].flops_per_unit(r["model"])),
                                budgets=tuple(sorted(r["budgets"])), lrs=tuple(sorted(r["lrs"])))
        order = sorted(rungs.values(), key=lambda r: r.n_params)
        if len(datasets) > 1:
            self.arms = tuple(Arm(d, tuple(ladders), d, tuple(order)) for d in datasets)
        elif len(ladders) > 1:
            self.arms = tuple(Arm(lad, (lad,), datasets[0], tuple(r for r in order if r.ladder == lad))
                              for lad in ladders)
        else:
            self.arms = (Arm("", tuple(ladders), datasets[0], tuple(order)),)
        self.rungs = rungs
        self._plans: dict[str, tuple[PlannedRun, ...]] = {}

    def rung(self, name: str) -> LoopRung:
        return self.rungs[name]

    def planned(self, sub: Mapping[str, Any]) -> tuple[PlannedRun, ...]:
        """The runs of a decision's sweep, planned once (names do not enter run ids)."""
        sig = json.dumps(jsonable({k: v for k, v in sub.items() if k not in ("name", "description")}),
                         sort_keys=True)
        if sig not in self._plans:
            plan = plan_sweep(sub, check_data=False)
            self._plans[sig] = tuple(PlannedRun(r.run_id, run_key(r.spec), float(r.flops), r.spec.branch_of,
                                           int(r.spec.n_data), float(r.spec.lr)) for r in plan.runs)
        return self._plans[sig]

    def sub_sweep(self, arm: Arm, rung: LoopRung, budgets: Sequence[int], lrs: Sequence[float], name: str,
                  seeds: Sequence[int] | None = None) -> dict[str, Any]:
        """The sweep dict of one decision: the parent sweep restricted to these runs."""
        d = to_dict(self.cfg)
        for k in ("n_tokens", "n_samples", "tokens_per_param"):
            d.pop(k, None)
        d.update({"ladder": rung.ladder, "rungs": [rung.name], self.unit_key: [int(b) for b in budgets],
                  "lr": [float(v) for v in lrs], "dataset": arm.dataset, "name": name,
                  "seeds": list(seeds if seeds is not None else self.seeds),
                  "description": f"closed-loop decision {name}"})
        return d




def run_key(spec: Any) -> tuple:
    """What makes two runs the same experiment: rung, D, learning rate and seed."""
    return (spec.rung, int(spec.n_data), f"{spec.lr:.6g}", int(spec.seed))
