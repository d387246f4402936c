"""One round of a closed loop, decided from the store: assess, stop or plan (:mod:`scalinglab.sweep.loop`).

:func:`assess` refits every arm on the runs finished so far and predicts its target (with the
calibrated interval beyond the data, and for two arms the difference and ``P(better)``);
:func:`stop_reason` reads the stop rule off that assessment; :func:`decide` makes the round's
decisions: the initial design while an arm cannot be fitted, learning-rate extensions at a window's
edge, else the candidates (:class:`_Planner`) chosen by :func:`~scalinglab.laws.design.choose` on
the interval the stop rule reads (:func:`_extrapolation`). Nothing here trains or writes; the loop
logs and trains what :func:`decide` returns.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..errors import ConfigError, DataError, ScalingLabError, ScalingLabWarning
from ..laws import Runs, best_per_size, fit, get_law
from ..laws.design import (
    PIN_FRACTION,
    Candidate,
    Extrapolation,
    LrOptimum,
    StopRule,
    TargetState,
    choose,
    difference_draws,
    difference_state,
    extrapolation_variance,
    fit_lr_optimum,
    point_noise_var,
    target_state,
)
from ..laws.intervals import MIN_CALIBRATION_POINTS, calibration_point_count, outside_decades
from ..store.store import ResultsStore
from ..units import format_quantity
from .decisions import DecisionLog
from .space import Arm, LoopRung, PlannedRun, RunSpace, run_key

__all__ = ["Assessment", "Options", "assess", "decide", "spent_flops", "state_dict", "stop_reason"]

MIN_SIZES = 3               # the initial design: at least this many rungs ...
MIN_BUDGETS = 3             # ... and budgets per arm, and
EXTRA_POINTS = 3            # at least (law parameters + this) tuned points before planning
MIN_TRANSFER_LRS = 3        # a search that hands its best learning rate to a longer trunk of the rung


@dataclass
class Options:
    """The loop's fitting and planning options (``run_loop``'s arguments), and the warm starts it keeps."""

    law: str = "chinchilla"
    n_boot: int = 200
    seed: int = 0
    lr_points: int = 3
    lr_transfer: bool = True    # probe a long trunk once at the best learning rate of a shorter search
    per_round: int = 1
    confirm_boot: int = 1000    # refits that confirm a stop (and give the final prediction); <= n_boot: none
    fit_kwargs: Mapping[str, Any] = field(default_factory=dict)
    warm: dict[str, Any] = field(default_factory=dict)     # arm -> the last round's optimum


@dataclass
class Assessment:
    """What the store says after a refit: per arm the finished runs, the fit, its target and
    prediction; for two arms the difference at C* (``P(better)``, calibrated where both arms are)."""

    done: dict[str, set[tuple]]          # (rung, D, lr, seed) of every finished run, per arm
    done_ids: dict[str, set[str]]        # their run ids (a finished trunk's branches can start now)
    fits: dict[str, Any]
    tuned: dict[str, Any]
    runs: dict[str, Any]                 # every finished run of the arm (all learning rates)
    states: dict[str, TargetState | None]
    targets: dict[str, dict[str, float]]
    p_better: float | None               # calibrated where both arms' calibrations are usable
    diff_sd: float | None                # bootstrap SD of the log difference (what runs can shrink)
    p_better_bootstrap: float | None = None
    uncalibrated_arms: tuple[str, ...] = ()
    diff_mean: float | None = None       # bootstrap mean of the log difference (first arm minus second)

    @property
    def p_note(self) -> str:
        """What ``p_better`` is: calibrated for extrapolation, or the bootstrap's alone (and why)."""
        if self.p_better is None:
            return ""
        if self.uncalibrated_arms:
            verb = "have" if len(self.uncalibrated_arms) > 1 else "has"
            return (f"NOT calibrated: {' and '.join(self.uncalibrated_arms)} {verb} too few held-out runs beyond "
                    f"their folds' data ({MIN_CALIBRATION_POINTS} needed); the bootstrap's share alone, which is "
                    "overconfident beyond the data")
        if self.p_better_bootstrap is not None and self.p_better_bootstrap != self.p_better:
            return f"with the extrapolation error the rolling backtests measured; the bootstrap alone {self.p_better_bootstrap:.3f}"
        return ""


def _finished(store: ResultsStore, space: RunSpace, arm: Arm) -> list[Any]:
    recs = []
    for lad in arm.ladder:
        recs += store.records(status=("done", "diverged"), ladder=lad, dataset=arm.dataset, variant=space.variant)
    return recs


def assess(space: RunSpace, store: ResultsStore, rule: StopRule, opts: Options) -> Assessment:

    n_law = get_law(opts.law).n_params
    fits, tuned, states, targets, done, done_ids, all_runs = {}, {}, {}, {}, {}, {}, {}
    for arm in space.arms:
        fits[arm.name] = tuned[arm.name] = states[arm.name] = all_runs[arm.name] = None
        recs = _finished(store, space, arm)
        done[arm.name] = {run_key(r.spec) for r in recs}
        done_ids[arm.name] = {r.run_id for r in recs if r.status == "done"}
        if not any(r.status == "done" for r in recs):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ScalingLabWarning)
                runs = None
                for lad in arm.ladder:
                    part = store.to_runs(ladder=lad, dataset=arm.dataset, variant=space.variant)
                    runs = part if runs is None else _concat(runs, part)
                groups = runs.groups
                t = best_per_size(runs, by=["n_params", "n_tokens"],
                                  tuned="lr" if len({str(v) for v in groups["lr"]}) > 1 else None,
                                  mean_over="seed" if len({str(v) for v in groups["seed"]}) > 1 else None)
        except DataError:
            continue
        tuned[arm.name], all_runs[arm.name] = t, runs
        if (len(t) < n_law + EXTRA_POINTS or len({f"{v:.6g}" for v in t.n_params}) < MIN_SIZES
                or len({f"{v:.6g}" for v in t.n_tokens}) < MIN_BUDGETS):
            continue
        kw = dict(opts.fit_kwargs)
        if "starts" not in kw and "n_starts" not in kw:
            kw["starts"] = _starts(opts.law, t, opts.warm.get(arm.name))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ScalingLabWarning)
                f = fit(opts.law, t, n_boot=opts.n_boot, seed=opts.seed, **kw)
        except ScalingLabError:
            continue
        targets[arm.name] = _target_inputs(f, arm, rule)
        if np.any(f.outside_decades(**targets[arm.name]) > 0):
            # the calibration the default interval computes anyway, kept on the fit for the scores
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ScalingLabWarning)
                    f = f.with_calibration()
            except ScalingLabError:
                pass
        fits[arm.name] = f
        opts.warm[arm.name] = f.param_vector
        states[arm.name] = target_state(f, targets[arm.name], level=rule.level)
    p = sd = p_boot = mean = None
    uncal: tuple[str, ...] = ()
    if len(space.arms) == 2 and all(fits[a.name] is not None for a in space.arms):
        a, b = (x.name for x in space.arms)
        draws = difference_draws(fits[a], targets[a], fits[b], targets[b])
        p_boot, sd = difference_state(fits[a], targets[a], fits[b], targets[b], draws=draws)
        mean = float(np.mean(draws)) if draws.size else None
        p = p_boot
        # beyond the data the bootstrap misses the extrapolation error: add each arm's calibrated
        # part (independent between arms: conservative when their laws err the same way)
        extra = {x: extrapolation_variance(fits[x], targets[x], level=rule.level) for x in (a, b)}
        uncal = tuple(x for x, v in extra.items() if not math.isfinite(v))
        if not uncal and sum(extra.values()) > 0:
            p, _ = difference_state(fits[a], targets[a], fits[b], targets[b], extra_var=sum(extra.values()),
                                    draws=draws)
    return Assessment(done, done_ids, fits, tuned, all_runs, states, targets, p, sd, p_boot, uncal, mean)


#: Every k-th start of the law's grid, plus the previous round's optimum: a round adds a few points
#: to the data, so the optimum moves little (measured on the toy ladder: the full 4500-start
#: Chinchilla grid and this subset reach the same objective, 2.7 s against 0.4 s).
GRID_STRIDE = 16


def _starts(law_name: str, runs: Any, warm: Any):
    import numpy as np

    law = get_law(law_name)
    grid = law.default_starts(inputs=law.inputs_from(runs), target=np.asarray(runs.target, dtype=float))
    grid = grid[::GRID_STRIDE] if grid.shape[0] > 4 * GRID_STRIDE else grid
    return grid if warm is None else np.vstack([np.asarray(warm, dtype=float)[None, :], grid])


def _concat(a: Any, b: Any) -> Any:
    import numpy as np

    def cat(x, y):
        return None if x is None or y is None else np.concatenate([x, y])

    return Runs(target=cat(a.target, b.target), run_id=cat(a.run_id, b.run_id), n_params=cat(a.n_params, b.n_params),
                n_tokens=cat(a.n_tokens, b.n_tokens), flops=cat(a.flops, b.flops),
                groups={k: np.concatenate([a.groups[k], b.groups[k]]) for k in a.groups if k in b.groups},
                target_name=a.target_name, flops_convention=a.flops_convention, source=a.source)


def _target_inputs(f: Any, arm: Arm, rule: StopRule) -> dict[str, float]:
    """The run predicted at C*: the rule's rung, or the rung predicted best at C*."""
    if rule.rung is not None:
        r = next((r for r in arm.rungs if r.name == rule.rung), None)
        if r is None:
            raise ConfigError(f"the stop rule names rung {rule.rung!r}, which the sweep does not train; "
                              f"its rungs: {', '.join(x.name for x in arm.rungs)}")
        return {"n_params": r.n_params, "n_tokens": rule.flops / r.flops_per_unit}
    best, best_loss = None, math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        for r in arm.rungs:
            x = {"n_params": r.n_params, "n_tokens": rule.flops / r.flops_per_unit}
            v = float(f.predict(**x))
            if v < best_loss:
                best, best_loss = x, v
    return best


def _window(rung: LoopRung, center_lr: float | None, k: int) -> tuple[float, ...]:
    """``k`` consecutive grid values centred on the grid value nearest ``center_lr``."""
    g = rung.lrs
    k = max(1, min(int(k), len(g)))
    if center_lr is None:
        c = len(g) // 2                  # the middle (the upper one of an even grid)
    else:
        c = min(range(len(g)), key=lambda i: (abs(math.log(g[i] / center_lr)), i))
    lo = max(0, min(c - (k - 1) // 2, len(g) - k))
    return g[lo:lo + k]


def _best_lr(tuned: Any, rung: LoopRung, n_data: int, space: RunSpace) -> float | None:
    """The best learning rate seen for this rung at the nearest budget (or the nearest rung)."""
    if tuned is None or len(tuned) == 0:
        return None
    lrs = tuned.groups.get("lr")
    if lrs is None:
        return None
    best = None
    for i in range(len(tuned)):
        dn = abs(math.log(tuned.n_params[i] / rung.n_params))
        dd = abs(math.log(tuned.n_tokens[i] / n_data))
        key = (round(dn, 6), round(dd, 6))
        if best is None or key < best[0]:
            best = (key, float(lrs[i]))
    return best[1]


class _Planner:
    """Builds the decisions of one round (initial design, learning-rate extensions, plan).

    With a branched schedule every decision is drawn from a *family*: the trunk of a rung at a
    budget ``D_max`` (with checkpoints at every shorter budget of the grid, whichever are trained
    now) and its cooldown branches. A trunk trained in one round therefore serves branches chosen
    in later rounds at the cost of their cooldown only, as the fixed demo grid's do.
    """

    def __init__(self, space: RunSpace, rule: StopRule, opts: Options, name: str, a: Assessment, left: float):
        self.space, self.rule, self.opts, self.name, self.a = space, rule, opts, name, a
        self.left = left                 # FLOPs the budget has left
        self.branched = space.cfg.schedule.kind == "branched"
        self._lr_models: dict[str, LrOptimum | None] = {}

    def lr_model(self, arm: Arm) -> LrOptimum | None:
        """The arm's pooled learning-rate model (:func:`~scalinglab.laws.design.fit_lr_optimum`), or None."""
        if arm.name not in self._lr_models:
            runs, f = self.a.runs[arm.name], self.a.fits[arm.name]
            m = None
            if runs is not None and f is not None and "lr" in runs.groups:
                sig = [self.sigma(arm, n, d) for n, d in zip(runs.n_params, runs.n_tokens)]
                m = fit_lr_optimum(runs.n_params, runs.n_tokens, [float(v) for v in runs.groups["lr"]],
                                   runs.target, sig)
            self._lr_models[arm.name] = m
        return self._lr_models[arm.name]

    def sigma(self, arm: Arm, n_params: float, n_tokens: float) -> float:
        """Noise SD of one run's log loss at (N, D) under the arm's fit (seed spread and misfit)."""
        f = self.a.fits[arm.name]
        return math.sqrt(point_noise_var(f.noise, 1, inputs={"n_params": float(n_params), "n_tokens": float(n_tokens)},
                                         fallback_sigma=float(f.noise_sigma)))

    def probe_lrs(self, arm: Arm, rung: LoopRung, budgets: Sequence[int]) -> tuple[tuple[float, ...], str]:
        """The learning rates a new trunk of ``rung`` (serving ``budgets``) searches, and why.

        ``lr_points`` grid values around the best seen nearby, unless fewer suffice: the fewest
        ``k`` whose expected mis-tuning (the learning-rate model's :meth:`~LrOptimum.penalty`) is at
        most ``PIN_FRACTION`` of the run-to-run noise SD at every budget the trunk serves, else one
        handed on from a search at another budget of the rung (:meth:`_transfer`).
        """
        d_max = max(budgets)
        window = _window(rung, _best_lr(self.a.tuned[arm.name], rung, d_max, self.space), self.opts.lr_points)
        m = self.lr_model(arm)
        if m is None:
            return self._transfer(arm, rung, budgets, m) or (window, "")
        for k in range(1, len(window)):
            lrs = m.probes(rung.lrs, rung.n_params, d_max, k)
            worst = max(m.penalty(lrs, rung.n_params, b) / self.sigma(arm, rung.n_params, b) for b in budgets)
            if worst <= PIN_FRACTION:
                opt, se = m.optimum(rung.n_params, d_max)
                return lrs, (f"learning rate pinned by the tuned points: optimum {opt:.3g} (x{2 ** se:.2f}), "
                             f"{k} probe{'s' if k > 1 else ''} leave an expected mis-tuning of {worst:.2f} noise SD")
        return self._transfer(arm, rung, budgets, m) or (window, "")

    def _transfer(self, arm: Arm, rung: LoopRung, budgets: Sequence[int], m: LrOptimum | None
                  ) -> tuple[tuple[float, ...], str] | None:
        """One learning rate for a trunk of ``rung``: the best of a search at another budget of the rung.

        Where the rung was searched at ``MIN_TRANSFER_LRS`` or more learning rates (or its whole,
        smaller grid) at a budget the trunk does not serve, and the best one is bracketed (a
        searched value on each side, or none left in the grid on that side), the trunk is probed
        once, at that value moved by the learning-rate model's drift with D where the model locates
        one (the grid value nearest). The drift is applied only within the budgets the model was
        fitted on (both ends clipped to that range), never extrapolated past them. The nearest
        such budget in log D is used. None where no such search exists or ``lr_transfer`` is off.

        Valid where the optimum moves little with D beyond the searched budgets (Bjorck et al. 2024
        measure it falling with the token horizon, so a long trunk's value may be somewhat high); a
        drift fitted on short budgets, where warm-up is a large part of the run, did not hold on
        long ones on the gpt-tiny ladder (docs/sweeps.md, run 11), hence the clipping.
        """
        if not self.opts.lr_transfer:
            return None
        # the arm's tuned points (best_per_size: seeds averaged, the best learning rate per (N, D),
        # its grid edges flagged) of this rung at budgets the trunk does not serve, nearest first
        tuned = self.a.tuned[arm.name]
        if tuned is None or "lr" not in tuned.groups or tuned.n_candidates is None:
            return None
        edges = {e.run_id: e for e in tuned.tuning_edge}
        d_max = max(budgets)
        here = [i for i in range(len(tuned)) if math.isclose(float(tuned.n_params[i]), rung.n_params, rel_tol=1e-6)
                and float(tuned.n_tokens[i]) not in budgets]
        for i in sorted(here, key=lambda j: (abs(math.log(float(tuned.n_tokens[j]) / d_max)), -float(tuned.n_tokens[j]))):
            d, best, k = float(tuned.n_tokens[i]), float(tuned.groups["lr"][i]), int(tuned.n_candidates[i])
            if k < min(MIN_TRANSFER_LRS, len(rung.lrs)):
                continue
            # bracketed: a searched value on each side, or none left in the grid on that side
            e = edges.get(str(tuned.run_ids[i]))
            if e is not None and not ((e.side == "low" and best <= min(rung.lrs))
                                      or (e.side == "high" and best >= max(rung.lrs))):
                continue
            target, how = best, ""
            if m is not None and np.isfinite(m.cov[3, 3]) and m.coef[2] != 0.0:
                # the drift between the two budgets, each clipped to the range it was measured on:
                # interpolated, never extrapolated (a drift from short budgets, where warm-up is
                # much of the run, moved a real long trunk the wrong way; docs/sweeps.md, run 11)
                lo, hi = m.n_tokens_range
                shift = float(m.coef[2]) * math.log2(min(max(d_max, lo), hi) / min(max(d, lo), hi))
                if shift != 0.0:
                    target = best * 2.0 ** shift
                    how = (f", moved {shift:+.2f} doublings by the learning-rate model's drift with D "
                           f"(measured over D = {format_quantity(lo)}-{format_quantity(hi)})")
            lr = min(rung.lrs, key=lambda v: abs(math.log(v / target)))
            return (lr,), (f"learning rate from the search at D = {format_quantity(d)} on {rung.name}: best {best:g} "
                           f"of {k} learning rates (bracketed){how}; probed once at {lr:g}")
        return None

    def family(self, arm: Arm, rung: LoopRung, d_max: int, lrs: Sequence[float], rnd: int, i: int | str
               ) -> tuple[dict[str, Any], tuple[PlannedRun, ...]]:
        budgets = [b for b in rung.budgets if b <= d_max] if self.branched else [d_max]
        sub = self.space.sub_sweep(arm, rung, budgets, lrs, f"{self.name}-r{rnd}-{i}")
        return sub, self.space.planned(sub)

    def _decision(self, kind: str, arm: Arm, rung: LoopRung, sub: Mapping[str, Any], runs: Sequence[PlannedRun]
                  ) -> dict[str, Any] | None:
        """A decision training ``runs`` (of ``sub``), or None when all are finished or one repeats a
        finished experiment, or a branch's trunk is neither finished nor trained with it."""
        done, done_ids = self.a.done[arm.name], self.a.done_ids[arm.name]
        todo = [r for r in runs if r.run_id not in done_ids]
        if not todo or any(r.key in done for r in todo):
            return None
        ids = {r.run_id for r in todo}
        if any(r.branch_of and r.branch_of not in done_ids and r.branch_of not in ids for r in todo):
            return None
        budgets = sorted({r.n_data for r in todo})
        lrs = sorted({r.lr for r in todo})
        trunk = any(r.branch_of is None for r in todo)
        key = (f"{rung.name} D={','.join(format_quantity(b) for b in budgets)} "
               f"lr={'/'.join(f'{v:g}' for v in lrs)}" + ("" if trunk or not self.branched else " (branches)")
               + (f" [{arm.name}]" if arm.name else ""))
        return {"kind": kind, "arm": arm.name, "key": key, "rung": rung.name, "n_data": budgets, "lr": lrs,
                "seeds": list(sub["seeds"]), "run_ids": [r.run_id for r in todo],
                "cost_flops": float(sum(r.flops for r in todo)), "sweep": dict(sub),
                "points": [{"n_params": rung.n_params, "n_tokens": float(b)} for b in budgets]}

    def initial(self, arm: Arm, tuned: Any, rnd: int) -> list[dict[str, Any]]:
        """The smallest rungs at the smallest budgets: enough distinct N and D to fit the law."""

        need = get_law(self.opts.law).n_params + EXTRA_POINTS
        if len(arm.rungs) < MIN_SIZES:
            raise ConfigError(f"a closed loop needs at least {MIN_SIZES} rungs to fit a law of N and D; "
                              f"the sweep has {len(arm.rungs)}")
        n_rungs = max(MIN_SIZES, min(len(arm.rungs), math.ceil(need / MIN_BUDGETS)))
        out = []
        for i, rung in enumerate(arm.rungs[:n_rungs]):
            if len(rung.budgets) < MIN_BUDGETS:
                raise ConfigError(f"a closed loop needs at least {MIN_BUDGETS} budgets per rung; rung "
                                  f"{rung.name} has {len(rung.budgets)}")
            budgets = rung.budgets[:MIN_BUDGETS]
            # the first search locates each rung's optimum: at least 3 learning rates where the grid has them
            lrs = _window(rung, _best_lr(tuned, rung, budgets[-1], self.space), max(self.opts.lr_points, 3))
            sub, fam = self.family(arm, rung, budgets[-1], lrs, rnd, i)
            d = self._decision("initial", arm, rung, sub, [r for r in fam if r.n_data in budgets])
            if d is not None:
                d["why"] = (f"initial design: {arm.name or 'the arm'} has too few tuned points to fit "
                            f"{self.opts.law} (needs >= {need} over >= {MIN_SIZES} sizes and {MIN_BUDGETS} budgets)")
                d["expected_width"] = None
                out.append(d)
        return out

    def lr_extensions(self, arm: Arm, tuned: Any, rnd: int, log: DecisionLog) -> list[dict[str, Any]]:
        """One more learning rate for points whose best one sits at the edge of their window.

        The points of one rung that need the same learning rate share one trunk (at the largest of
        them) and its branches.
        """
        if tuned is None:
            return []
        tried = {(e["arm"], e["rung"], b, lr) for e in log.of("decision") if e["kind"] == "lr-extend"
                 for b in e["n_data"] for lr in e["lr"]}
        mine = {rid for e in log.of("decision") for rid in e["run_ids"] if e["arm"] == arm.name}
        wanted: dict[tuple[str, float], dict[int, str]] = {}
        ids = list(tuned.run_ids)
        for edge in tuned.tuning_edge:
            if edge.side not in ("low", "high") or edge.run_id not in mine:
                continue
            i = ids.index(edge.run_id)
            rung = next((r for r in arm.rungs if math.isclose(r.n_params, tuned.n_params[i], rel_tol=1e-6)), None)
            if rung is None:
                continue
            budget = min(rung.budgets, key=lambda b: abs(b - float(tuned.n_tokens[i])))
            pos = min(range(len(rung.lrs)), key=lambda j: abs(math.log(rung.lrs[j] / edge.value)))
            nxt = pos - 1 if edge.side == "low" else pos + 1
            if not 0 <= nxt < len(rung.lrs) or rung.lrs[nxt] in edge.grid:
                continue
            if (arm.name, rung.name, budget, rung.lrs[nxt]) in tried:
                continue
            wanted.setdefault((rung.name, rung.lrs[nxt]), {})[budget] = (
                f"{format_quantity(budget)}: best {edge.value:g} is the {'smallest' if edge.side == 'low' else 'largest'}"
                f" of {[float(v) for v in edge.grid]}")
        out = []
        for (rname, lr), why in sorted(wanted.items()):
            rung = self.space.rung(rname)
            sub, fam = self.family(arm, rung, max(why), (lr,), rnd, len(out))
            d = self._decision("lr-extend", arm, rung, sub, [r for r in fam if r.n_data in why])
            if d is not None:
                d["why"] = (f"{rname}: best learning rate at the edge of its window at D = "
                            f"{'; '.join(why[b] for b in sorted(why))}; trying {lr:g}")
                d["expected_width"] = None
                out.append(d)
        return out

    def candidates(self, arm: Arm, tuned: Any, rnd: int) -> list[tuple[Candidate, dict[str, Any]]]:
        """Every way to add untrained (rung, D) points: a new trunk (alone, or with the rung's untrained
        shorter budgets as branches), or branches of a trunk trained before (their cooldown only)."""
        done = self.a.done[arm.name]
        points = {(k[0], k[1]) for k in done}
        out: list[tuple[Candidate, dict[str, Any]]] = []
        seen: set[str] = set()

        def add(sub: Mapping[str, Any], runs: Sequence[PlannedRun], rung: LoopRung, lr_why: str = "",
                stage2: tuple[Sequence[PlannedRun], str] | None = None, mistuning_var: float = 0.0) -> None:
            d = self._decision("plan", arm, rung, sub, runs)
            if d is None:
                return
            points, cost = tuple(d["points"]), d["cost_flops"]
            if stage2 is not None:
                later, label = stage2
                if not later:
                    return
                d["key"] += label
                d["stage2"] = {"n_data": [r.n_data for r in later], "cost_flops": float(sum(r.flops for r in later))}
                points += tuple({"n_params": rung.n_params, "n_tokens": float(r.n_data)} for r in later)
                cost += d["stage2"]["cost_flops"]
                lr_why = (lr_why + "; " if lr_why else "") + (
                    "first stage of a two-stage search: the best of these learning rates goes to the longer trunk")
            if d["key"] in seen:
                return
            seen.add(d["key"])
            if lr_why:
                d["lr_why"] = lr_why
            out.append((Candidate(key=d["key"], points=points, cost_flops=cost,
                                  seeds=len(d["seeds"]), arm=arm.name,
                                  meta={"rung": rung.name, **({"lr_why": lr_why} if lr_why else {})},
                                  mistuning_var=mistuning_var), d))

        i = 0
        for rung in arm.rungs:
            free = [b for b in rung.budgets if (rung.name, b) not in points]
            for d_max in rung.budgets:
                # a new trunk at d_max: alone, or with every untrained shorter budget
                if d_max in free:
                    serve = [b for b in free if b <= d_max] if self.branched else [d_max]
                    lrs, why = self.probe_lrs(arm, rung, serve)
                    sub, fam = self.family(arm, rung, d_max, lrs, rnd, i)
                    i += 1
                    # with branches every untrained shorter budget can ride along for its cooldown; the
                    # trunk alone keeps their checkpoints for branches in a later round
                    add(sub, [r for r in fam if r.n_data in serve], rung, why)
                    self._fewer(arm, rung, d_max, serve, lrs, rnd, f"{i - 1}f", add)
                    if len(lrs) > 1 and self.opts.lr_transfer:
                        self._staged(arm, rung, d_max, serve, rnd, f"{i - 1}s", add)
                    if len(serve) > 1:
                        lrs1, why1 = self.probe_lrs(arm, rung, [d_max])
                        sub1, fam1 = (sub, fam) if lrs1 == lrs else self.family(arm, rung, d_max, lrs1, rnd, i)
                        i += lrs1 != lrs
                        add(sub1, [r for r in fam1 if r.n_data == d_max], rung, why1)
                        self._fewer(arm, rung, d_max, [d_max], lrs1, rnd, f"{i - 1}g", add)
                    continue
                if not self.branched:
                    continue
                # branches of trunks at d_max trained before (per learning rate of the grid)
                shorter = [b for b in free if b < d_max]
                if not shorter:
                    continue
                have = []
                for lr in rung.lrs:
                    sub, fam = self.family(arm, rung, d_max, (lr,), rnd, i)
                    if any(r.branch_of is None and r.run_id in self.a.done_ids[arm.name] for r in fam):
                        have.append(lr)
                if not have:
                    continue
                sub, fam = self.family(arm, rung, d_max, have, rnd, i)
                i += 1
                for b in shorter:
                    add(sub, [r for r in fam if r.n_data == b], rung)
                if len(shorter) > 1:
                    add(sub, [r for r in fam if r.n_data in shorter], rung)
        return out

    def _fewer(self, arm: Arm, rung: LoopRung, d_max: int, serve: Sequence[int], lrs: Sequence[float], rnd: int,
               tag: str, add: Callable) -> None:
        """Where a trunk's search over ``lrs`` costs more than the budget left: as many learning rates as fit.

        ``k`` of them, the ``k`` grid values of least expected mis-tuning under the learning-rate model
        (:meth:`~LrOptimum.probes`), with that mis-tuning (log loss, :meth:`~LrOptimum.penalty`, the
        largest over the budgets served) scored as extra noise on the points
        (``Candidate.mistuning_var``). Only where the model locates the optimum: elsewhere nothing
        says what a miss would cost. Without these a point whose search outgrows the budget is
        trained only where its learning rate is pinned or handed on, and a loop whose remaining
        points all need a search stops with the budget unspent (docs/sweeps.md).
        """
        m = self.lr_model(arm)
        if len(lrs) < 2 or m is None:
            return
        opt, se = m.optimum(rung.n_params, d_max)
        if not math.isfinite(se):
            return
        _, fam = self.family(arm, rung, d_max, lrs[:1], rnd, tag)
        one = sum(r.flops for r in fam if r.n_data in serve)   # every learning rate costs the same
        k = int(self.left // one) if one > 0 else 0
        if not 1 <= k < len(lrs):
            return
        fewer = m.probes(rung.lrs, rung.n_params, d_max, k)
        pen = {b: m.penalty(fewer, rung.n_params, b) for b in serve}
        worst = max(p / self.sigma(arm, rung.n_params, b) for b, p in pen.items())
        why = (f"the search over {len(lrs)} learning rates ({len(lrs) * one:.3g} FLOPs) does not fit the "
               f"budget left ({self.left:.3g}); {k} at the learning-rate model's optimum {opt:.3g} "
               f"(x{2 ** se:.2f}), an expected mis-tuning of {worst:.2f} noise SD (scored as extra noise)")
        sub, fam = self.family(arm, rung, d_max, fewer, rnd, tag)
        add(sub, [r for r in fam if r.n_data in serve], rung, why, mistuning_var=max(pen.values()) ** 2)

    def _staged(self, arm: Arm, rung: LoopRung, d_max: int, serve: Sequence[int], rnd: int, tag: str,
                add: Callable) -> None:
        """A two-stage candidate: search the learning rate on a short trunk, then train ``d_max`` once.

        Stage 1 (trained now) is a trunk at the longest untrained budget at most ``d_max / 4`` with
        its untrained shorter budgets, over the learning rates :meth:`probe_lrs` gives it; stage 2
        (a later round, :meth:`_transfer`) the trunk at ``d_max`` with the remaining budgets at the
        best of them. The candidate is scored on every point and costs both stages.
        """
        short = [b for b in serve if b * 4 <= d_max]
        if not short:
            return
        d_s = max(short)
        first = [b for b in serve if b <= d_s]
        lrs, why = self.probe_lrs(arm, rung, first)
        if len(lrs) < MIN_TRANSFER_LRS:
            return
        sub1, fam1 = self.family(arm, rung, d_s, lrs, rnd, f"{tag}1")
        # stage 2's cost: one learning rate (any: every value of the grid costs the same)
        _, fam2 = self.family(arm, rung, d_max, lrs[:1], rnd, f"{tag}2")
        rest = [r for r in fam2 if r.n_data in serve and r.n_data > d_s]
        label = f" then D={','.join(format_quantity(b) for b in sorted({r.n_data for r in rest}))} at its best lr"
        add(sub1, [r for r in fam1 if r.n_data in first], rung, why, stage2=(rest, label))


def spent_flops(log: DecisionLog) -> float:
    return float(sum(e["cost_flops"] for e in log.of("decision")))


def stop_reason(rule: StopRule, a: Assessment) -> str | None:
    if rule.kind == "width":
        st = next(iter(a.states.values()))
        # beyond the data a width only counts once the rolling backtests could calibrate it: an
        # uncalibrated interval is the bootstrap one, too narrow out there (docs/coverage.md)
        if st is not None and st.width < rule.width and not st.uncalibrated:
            return f"the {100 * rule.level:g}% interval at {rule.flops:.3g} FLOPs is {100 * st.width:.2f}% wide (< {100 * rule.width:g}%)"
        return None
    # as for widths: a winner beyond the data is decided only on calibrated uncertainty
    if a.p_better is not None and not a.uncalibrated_arms and max(a.p_better, 1 - a.p_better) >= rule.confidence:
        arms = list(a.states)
        win = arms[0] if a.p_better >= 0.5 else arms[1]
        return f"{win} is better at {rule.flops:.3g} FLOPs with probability {max(a.p_better, 1 - a.p_better):.3f}"
    return None


class _ArmTerm(NamedTuple):
    """One arm's calibrated extrapolation term at its target: ``extra`` now (squared relative
    half-width), how candidates' points change it (``growth``), and whether they would complete
    the calibration (``usable``; None when it is usable already)."""

    extra: float
    growth: Callable[[Sequence[Candidate]], float]
    usable: Callable[[Sequence[Candidate]], bool] | None


def _arm_term(rule: StopRule, a: Assessment, arm: str, *, from_state: bool) -> _ArmTerm | None:
    """The widening of ``arm``'s calibrated interval beyond its data (None inside it or uncalibratable).

    ``from_state``: read a usable widening off the target state's widths (the interval the width rule
    reads); otherwise it is the arm's :func:`extrapolation_variance` (the variance the winner rule
    adds), times ``z^2``. While the rolling backtests are too few, the widening is provisional:
    ``z^2 tau^2 g(d)`` with ``tau`` the maximum-likelihood discrepancy of the backtests there are.
    """
    f, st, x = a.fits[arm], a.states[arm], a.targets[arm]
    cal = getattr(f, "calibration", None)
    if st is None or st.interval != "calibrated" or st.base_width is None or cal is None:
        return None
    t = a.tuned[arm]
    fitted = {"n_params": np.asarray(t.n_params, dtype=float), "n_tokens": np.asarray(t.n_tokens, dtype=float)}
    target = {k: np.asarray(float(v)) for k, v in x.items()}

    def g(d: float) -> float:
        return d if cal.shape == "brownian" else d * d

    def with_points(cands: Sequence[Candidate]) -> dict[str, np.ndarray]:
        pts = [p for c in cands if c.arm == arm for p in c.points]
        return {k: np.concatenate([v, [float(p[k]) for p in pts]]) for k, v in fitted.items()}

    from scipy.stats import norm

    z = float(norm.ppf(0.5 + rule.level / 2))
    g_now = g(float(outside_decades(f.law, fitted, target)))
    usable = None
    if cal.usable:
        extra = ((0.5 * st.width) ** 2 - (0.5 * st.base_width) ** 2 if from_state
                 else z * z * extrapolation_variance(f, x, level=rule.level))
    else:
        extra = (z * cal.tau) ** 2 * g_now
        if cal.space == "linear" and not from_state:
            extra /= float(np.asarray(f.predict(**x))) ** 2
        k = int(f.diagnostics.n_params)

        def usable(cands: Sequence[Candidate]) -> bool:
            return calibration_point_count(f.law, with_points(cands), n_free=k) >= MIN_CALIBRATION_POINTS

    def growth(cands: Sequence[Candidate]) -> float:
        if not any(c.points for c in cands if c.arm == arm) or not g_now > 0:
            return 1.0
        return g(float(outside_decades(f.law, with_points(cands), target))) / g_now

    return _ArmTerm(float(extra), growth, usable)


def _extrapolation(rule: StopRule, a: Assessment) -> Extrapolation | None:
    """The calibrated interval's widening at the target, and how candidates' points would change it.

    One arm: the width rule's interval (:func:`_arm_term`). Two arms: the winner rule's difference,
    whose half-width ``z sqrt(var_boot + v_A + v_B)`` carries each arm's extrapolation variance;
    ``extra`` is their sum (times ``z^2``), ``growth`` its share-weighted change, and ``usable``
    holds only once both arms' calibrations would be usable (what the winner rule needs).
    """
    comparison = rule.kind == "winner"
    terms = [t for arm in a.fits if (t := _arm_term(rule, a, arm, from_state=not comparison)) is not None]
    if not terms:
        return None
    if comparison:
        base = _width_now(rule, a)
        if not base > 0:
            return None
    else:
        base = next(iter(a.states.values())).base_width
    extra = float(sum(t.extra for t in terms))
    checks = [t.usable for t in terms if t.usable is not None]
    usable = None
    if checks:
        def usable(cands: Sequence[Candidate]) -> bool:
            return all(ok(cands) for ok in checks)
    if not extra > 0 and usable is None:
        return None

    def growth(cands: Sequence[Candidate]) -> float:
        if len(terms) == 1:
            return terms[0].growth(cands)
        return sum(t.extra * t.growth(cands) for t in terms) / extra if extra > 0 else 1.0

    return Extrapolation(base_width=base, extra=extra, growth=growth, usable=usable)


def _goal_width(rule: StopRule, a: Assessment) -> float:
    """The width the stop rule asks for, in the units the planner scores.

    Width rule: the asked width. Winner rule: the winner is decided at ``confidence`` when the
    difference's mean is ``z_conf`` SDs from 0, i.e. its level-width (bootstrap and extrapolation
    parts) reaches ``2 z_level |mean| / z_conf`` (the mean held at today's estimate); 0 when unknown.
    """
    if rule.kind == "width":
        return rule.width
    if a.diff_mean is None or not math.isfinite(a.diff_mean):
        return 0.0
    from scipy.stats import norm

    return 2 * float(norm.ppf(0.5 + rule.level / 2)) * abs(a.diff_mean) / float(norm.ppf(rule.confidence))


def _width_now(rule: StopRule, a: Assessment) -> float:
    if rule.kind == "width":
        return next(iter(a.states.values())).width
    from scipy.stats import norm

    return 2 * float(norm.ppf(0.5 + rule.level / 2)) * float(a.diff_sd)


def state_dict(a: Assessment) -> dict[str, Any]:
    return {"states": {k: (None if v is None else v.to_dict()) for k, v in a.states.items()},
            "p_better": a.p_better, "p_better_bootstrap": a.p_better_bootstrap,
            "uncalibrated_arms": list(a.uncalibrated_arms)}


def decide(space: RunSpace, rule: StopRule, opts: Options, name: str, log: DecisionLog,
            a: Assessment, budget: float, rnd: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    """The decisions of round ``rnd`` (and the scored candidates), or why there are none."""
    left = budget - spent_flops(log)
    planner = _Planner(space, rule, opts, name, a, left)
    # 1. an arm that cannot be fitted yet gets its initial design
    need = [arm for arm in space.arms if a.fits[arm.name] is None]
    if need:
        out = []
        for arm in need:
            out += planner.initial(arm, a.tuned[arm.name], rnd)
        if not out:
            return [], [], ("the initial design is trained but the law still cannot be fitted; add budgets or "
                            "rungs to the sweep")
        cost = sum(d["cost_flops"] for d in out)
        if cost > left:
            raise ConfigError(f"the budget left ({left:.3g} FLOPs) does not cover the initial design "
                              f"({cost:.3g} FLOPs: {'; '.join(d['key'] for d in out)}); raise --budget")
        return out, [], None
    # 2. learning rates at the edge of their window
    ext = [d for arm in space.arms for d in planner.lr_extensions(arm, a.tuned[arm.name], rnd, log)]
    ext = [d for d in ext if d["cost_flops"] <= left]
    if ext:
        chosen, total = [], 0.0
        for d in ext:
            if total + d["cost_flops"] <= left:
                chosen.append(d)
                total += d["cost_flops"]
        return chosen, [], None
    # 3. plan: the candidates that narrow the target most per FLOP
    pairs = [p for arm in space.arms for p in planner.candidates(arm, a.tuned[arm.name], rnd)]
    if not pairs:
        return [], [], "every run the sweep allows is trained"
    by_key = {c.key: d for c, d in pairs}
    comparison = rule.kind == "winner"
    fits = {arm.name: a.fits[arm.name] for arm in space.arms}
    ex = _extrapolation(rule, a)
    # a comparison's width now is the calibrated difference's (the single arm's state already is)
    now = ex.width(1.0, []) if comparison and ex is not None else _width_now(rule, a)
    chosen, scored = choose(fits, a.targets, [c for c, _ in pairs], width_now=now,
                            budget_flops=left, k=opts.per_round, comparison=comparison, level=rule.level,
                            goal_width=_goal_width(rule, a),
                            exclusive=lambda x, y: x.arm == y.arm and x.meta["rung"] == y.meta["rung"],
                            extrapolation=ex)
    considered = [s.to_dict() for s in scored]
    if not chosen:
        affordable = [c for c, _ in pairs if c.cost_flops <= left]
        return [], considered, ("no candidate fits in the budget left" if not affordable
                                else "no candidate is expected to narrow the interval")
    out = []
    for j, s in enumerate(chosen):
        d = dict(by_key[s.candidate.key])
        d["why"] = s.why + (f" (given the {j} chosen before it)" if j else "") + \
            (f"; {d.pop('lr_why')}" if d.get("lr_why") else "")
        d["expected_width"] = s.width_after
        d["gain_per_flop"] = s.gain_per_flop
        d["runners_up"] = [x.to_dict() for x in scored[:6] if x.candidate.key != s.candidate.key][:5]
        out.append(d)
    return out, considered, None
