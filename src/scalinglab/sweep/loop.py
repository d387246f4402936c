"""Closed-loop sweeps: choose the next runs, train them, refit, until the prediction at C* is narrow.

``run_loop(sweep, until="width at 1e14 < 3%", budget_flops=2e13, store=...)`` treats the sweep
file as the *space* of allowed runs (its ladders, rungs, budgets D, learning-rate grids, seeds,
schedule and dataset(s)) and trains only the part of it that narrows the prediction at the target
compute C* the most per FLOP:

1. **Initial design** (when an arm has too few tuned points to fit the law): the smallest rungs at
   the smallest budgets, each with a learning-rate window (branched when the sweep's schedule is).
2. **Refit** the law (default Chinchilla) on the tuned points (best learning rate per (N, D), seeds
   averaged) with a bootstrap, and predict the target run at C*: a run of the rung the stop rule
   names, or of the rung predicted best at C*, with D = C* / (the procedure's FLOPs per unit).
3. **Stop** when the rule holds (``width at C* < w``, or for two arms ``winner at C* at p``),
   when the budget is spent, or when no allowed candidate fits in what is left. Beyond the data
   the rule holds only on calibrated uncertainty: a width once the rolling backtests can calibrate
   the interval, a winner once both arms' can (``P(better)`` then carries each arm's calibrated
   extrapolation error, :func:`~scalinglab.laws.design.difference_state`). A stop read off the
   round's ``n_boot`` refits is confirmed by refitting with ``confirm_boot`` (default 1000): the
   loop stops only if that passes too (a ``confirm`` event in the log either way), and it reports
   its final prediction at that precision.
4. **Learning rates**: a point whose best learning rate is at the edge of the window it was
   searched on, with more grid beyond, gets one more learning rate first (``lr-extend``).
5. **Plan** (:mod:`scalinglab.laws.design`): every (rung, D) of the space not trained yet, alone or
   with the rung's untrained shorter budgets as cooldown branches, each a small search over
   ``lr_points`` learning rates of the rung's grid centred on the best one seen so far, or fewer
   (down to one) where the tuned points pin the optimum (:func:`~scalinglab.laws.design.fit_lr_optimum`:
   the expected mis-tuning stays under a quarter of the noise SD), or one where the rung's learning
   rate was searched at another budget and the best value is bracketed (``lr_transfer``: probed once
   at that value; and a trunk that would search its window also comes as a *two-stage* candidate, the
   search on a short trunk now and the long trunk once at its winner later, scored on both stages'
   points and costing both); choose ``per_round`` of them
   (distinct rungs) by expected width reduction per FLOP, with a rollout lookahead that counts
   the asked width as reached only where the calibration would be usable. For two arms the width
   is the calibrated difference's, and the goal the width at which the winner would be decided
   (:func:`scalinglab.sweep.planner._goal_width`), reached only where both arms' calibrations would be usable.
6. **Train** them through :func:`~scalinglab.sweep.run.run_sweep` (any backend, same store), and
   go back to 2.

Every decision is written to ``<store>/loops/<name>/decisions.jsonl`` *before* its runs are
submitted, with why (expected width before and after, FLOPs, gain per FLOP, the runners-up), and
a ``trained`` event after. The loop is resumable like any sweep: a killed loop, run again with the
same arguments, first finishes the runs of its last logged decision (``run_sweep`` skips what is
done and resumes what was interrupted), then plans the next round; it never re-decides a round.

The planner never proposes a rung outside the sweep's ladders and rungs, a D outside its budgets,
a learning rate outside its grid, a (rung, D, lr, seed) already finished in the store, or a
decision that costs more than the budget left (tests/sweep/test_closed_loop.py).
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from .._io import jsonable
from ..errors import ConfigError
from ..laws.design import StopRule, TargetState, parse_until
from ..laws.intervals import MIN_CALIBRATION_POINTS
from ..store.store import ResultsStore
from ..units import format_quantity
from .decisions import DecisionLog, list_loops, read_log
from .plan import SweepPlan, plan_sweep
from .planner import Assessment, Options, assess, decide, spent_flops, state_dict, stop_reason
from .run import run_sweep
from .space import RunSpace

__all__ = ["LoopReport", "Proposal", "list_loops", "propose", "read_log", "run_loop"]


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Proposal:
    """What the planner would train next, and why (``scalinglab design`` prints it).

    Attributes
    ----------
    rule : StopRule
    spent_flops, budget_flops : float
    states : dict arm -> TargetState or None
        The prediction at the target now (None where the arm cannot be fitted yet).
    p_better : float or None
        Two arms: the probability that the first arm is better at C*: the share of paired
        bootstrap draws, with the calibrated extrapolation error added beyond the data
        (:func:`~scalinglab.laws.design.difference_state`).
    p_note : str
        What ``p_better`` is (calibrated, or the bootstrap alone and why).
    done : str or None
        Why nothing more is needed (the rule holds, the budget is spent ...); None otherwise.
    decisions : list of dict
        The decisions, as the log would record them (kind, arm, rung, budgets, learning rates,
        seeds, run ids, cost, why, expected width).
    considered : list of dict
        Every affordable candidate of the planning step with its score (best first).
    """

    rule: StopRule
    spent_flops: float
    budget_flops: float
    states: Mapping[str, TargetState | None]
    p_better: float | None = None
    p_note: str = ""
    done: str | None = None
    decisions: tuple[Mapping[str, Any], ...] = ()
    considered: tuple[Mapping[str, Any], ...] = ()

    def as_text(self) -> str:
        lines = [f"closed loop: until {self.rule}; spent {self.spent_flops:.3g} of {self.budget_flops:.3g} FLOPs"]
        for arm, st in self.states.items():
            label = f"[{arm}] " if arm else ""
            if st is None:
                lines.append(f"  {label}not enough tuned points to fit yet")
            else:
                x = st.inputs
                lines.append(f"  {label}prediction at N={format_quantity(x['n_params'])}, "
                             f"D={format_quantity(x['n_tokens'])}: {st.mean:.4f} [{st.low:.4f}, {st.high:.4f}], "
                             f"width {100 * st.width:.2f}%")
                lines.append(f"    {st.describe_extrapolation()}")
        if self.p_better is not None:
            lines.append(f"  P(first arm better at C*) = {self.p_better:.3f}" + (f" ({self.p_note})" if self.p_note else ""))
        if self.done:
            lines.append(f"stop: {self.done}")
        for d in self.decisions:
            lines.append(f"next ({d['kind']}): {d['key']}: {len(d['run_ids'])} runs, {d['cost_flops']:.3g} FLOPs; "
                         f"{d['why']}")
        if self.considered:
            lines.append("candidates considered (best expected width reduction per FLOP first):")
            for c in self.considered[:8]:
                lines.append(f"  {c['key']:<52} {c['cost_flops']:>9.3g} FLOPs  width -> "
                             f"{100 * c['width_after']:.2f}%")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()


@dataclass(frozen=True)
class LoopReport:
    """What a closed loop did.

    Attributes
    ----------
    name : str
        The loop's name (its log is ``<store>/loops/<name>/decisions.jsonl``).
    rule : StopRule
    budget_flops, spent_flops : float
    rounds : int
        Decision rounds logged (over every call, when resumed).
    reason : str
        Why it stopped.
    reached : bool
        The stop rule holds (the width is narrow enough, or the winner is decided).
    states : dict arm -> TargetState
        The final prediction at the target.
    p_better : float or None
        As for :class:`Proposal`.
    p_note : str
    history : list of dict
        Per round: spent FLOPs and the width (or P(better)) after it.
    log : str
        Path of the decision log.
    """

    name: str
    rule: StopRule
    budget_flops: float
    spent_flops: float
    rounds: int
    reason: str
    reached: bool
    states: Mapping[str, TargetState | None]
    p_better: float | None = None
    p_note: str = ""
    history: tuple[Mapping[str, Any], ...] = ()
    log: str = ""

    def __str__(self) -> str:
        lines = [f"closed loop {self.name!r}: {'reached' if self.reached else 'stopped'} ({self.reason}) after "
                 f"{self.rounds} rounds; spent {self.spent_flops:.3g} of {self.budget_flops:.3g} FLOPs"]
        for arm, st in self.states.items():
            if st is not None:
                lines.append(f"  {('[' + arm + '] ') if arm else ''}prediction at C*={self.rule.flops:.3g}: "
                             f"{st.mean:.4f} [{st.low:.4f}, {st.high:.4f}] (N={format_quantity(st.inputs['n_params'])}, "
                             f"D={format_quantity(st.inputs['n_tokens'])}), width {100 * st.width:.2f}%")
                lines.append(f"    {st.describe_extrapolation()}")
        if self.p_better is not None:
            lines.append(f"  P(first arm better) = {self.p_better:.3f}" + (f" ({self.p_note})" if self.p_note else ""))
        lines.append(f"  decision log: {self.log}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------------------------

#: What a header field meant in a log written before the field existed (a loop without it planned so).
_HEADER_DEFAULTS = {"lr_transfer": False}


def _check_header(log: DecisionLog, header: Mapping[str, Any]) -> None:
    heads = log.of("start")
    if not heads:
        return
    old = heads[0]
    for k in ("rule", "sweep", "law", "lr_points", "lr_transfer", "space"):
        a, b = (json.dumps(jsonable(x.get(k, _HEADER_DEFAULTS.get(k))), sort_keys=True)
                for x in (old, header))   # NaN == NaN here
        if a != b:
            was = old[k].get("text") if k == "rule" else old.get(k, _HEADER_DEFAULTS.get(k))
            same = ("the same sweep and --until" if k != "lr_transfer" else
                    f"{'--lr-transfer' if was else '--no-lr-transfer'} (lr_transfer={was})")
            raise ConfigError(f"the closed loop {log.dir.name!r} in this store was started with another {k} "
                              f"({was!r}); resume it with {same}, or give this loop another name (--name)")


def _precise(space: RunSpace, st: ResultsStore, rule: StopRule, opts: Options) -> Assessment | None:
    """The assessment with ``opts.confirm_boot`` bootstrap refits (None when that is not more than ``n_boot``)."""
    if opts.confirm_boot <= opts.n_boot:
        return None
    return assess(space, st, rule, replace(opts, n_boot=opts.confirm_boot))


def _headline(rule: StopRule, a: Assessment) -> str:
    """What the stop rule reads off ``a``: the width, or P(first arm better)."""
    if rule.kind == "width":
        s = next(iter(a.states.values()))
        return "no prediction" if s is None else f"width {100 * s.width:.2f}%"
    return "P(first arm better) unknown" if a.p_better is None else f"P(first arm better) = {a.p_better:.3f}"


class _Confirmation(NamedTuple):
    """What checking a stop against ``confirm_boot`` bootstrap refits gave."""

    stop: str | None               # the stop reason; None when the precise estimate does not pass
    report: Assessment             # the assessment to report
    event: dict[str, Any] | None   # the log's "confirm" event; None without confirmation
    precise: Assessment | None     # the ``confirm_boot`` assessment; None without confirmation


def _confirm(space: RunSpace, st: ResultsStore, rule: StopRule, opts: Options, a: Assessment, stop: str
             ) -> _Confirmation:
    """Check a stop read off ``n_boot`` refits against ``confirm_boot`` of them.

    A width (or P(better)) from 200 refits rests on about 5 draws per tail (and sits a few percent
    inside the precise one), and a loop that stops at the first round whose estimate passes stops
    on its Monte Carlo luck (docs/sweeps.md: in 23 of the 67 simulated worlds where a 200-refit
    width passed, the first one did not hold at 1000 refits).
    """
    p = _precise(space, st, rule, opts)
    if p is None:
        return _Confirmation(stop, a, None, None)
    again = stop_reason(rule, p)
    event = {"event": "confirm", "n_boot": opts.n_boot, "confirm_boot": opts.confirm_boot,
             "confirmed": again is not None, "cheap": _headline(rule, a), "precise": _headline(rule, p),
             **state_dict(p)}
    if again is None:
        return _Confirmation(None, a, event, p)
    return _Confirmation(f"{again} (confirmed with {opts.confirm_boot} bootstrap refits; {opts.n_boot} gave "
                         f"{event['cheap']})", p, event, p)


def _rounds(log: DecisionLog) -> int:
    return max([e["round"] for e in log.of("decision")], default=0)


def _as_proposal(rule: StopRule, spent: float, budget: float, a: Assessment, done: str | None,
                 decisions: Sequence[Mapping[str, Any]], considered: Sequence[Mapping[str, Any]]) -> Proposal:
    return Proposal(rule=rule, spent_flops=spent, budget_flops=budget, states=dict(a.states),
                    p_better=a.p_better, p_note=a.p_note, done=done,
                    decisions=tuple({k: v for k, v in d.items() if k != "sweep"} for d in decisions),
                    considered=tuple(considered))


def _setup(sweep: Any, until: Any, name: str | None, opts: Options, store: Any, readonly: bool = False):
    plan = sweep if isinstance(sweep, SweepPlan) else plan_sweep(sweep)
    rule = parse_until(until)
    space = RunSpace(plan)
    if rule.kind == "winner" and len(space.arms) != 2:
        raise ConfigError(f"'{rule}' compares two arms; the sweep has {len(space.arms)} (give two datasets "
                          "or two ladders)")
    if rule.kind == "width" and len(space.arms) != 1:
        raise ConfigError(f"'{rule}' is about one prediction; the sweep has {len(space.arms)} arms "
                          "(use 'winner at C* at 95%' to compare them)")
    if rule.rung is not None and not all(any(r.name == rule.rung for r in arm.rungs) for arm in space.arms):
        raise ConfigError(f"the stop rule names rung {rule.rung!r}, which the sweep does not train; its rungs: "
                          f"{', '.join(space.rungs)}")
    if opts.lr_points < 1:
        raise ConfigError(f"lr_points must be >= 1; got {opts.lr_points}")
    name = name or plan.name
    st = store if isinstance(store, ResultsStore) else ResultsStore(store, readonly=readonly)
    header = {"event": "start", "rule": rule.to_dict(), "sweep": plan.name, "law": opts.law,
              "lr_points": opts.lr_points, "lr_transfer": opts.lr_transfer,
              "space": {r.name: [list(r.budgets), list(r.lrs)] for r in space.rungs.values()}}
    return plan, rule, space, name, st, header


def propose(sweep: Any, *, until: str | StopRule, budget_flops: float, store: ResultsStore | str | Path,
            name: str | None = None, law: str = "chinchilla", n_boot: int = 200, seed: int = 0,
            lr_points: int = 3, lr_transfer: bool = True, per_round: int = 1,
            fit_kwargs: Mapping[str, Any] | None = None, confirm_boot: int = 1000) -> Proposal:
    """What a closed loop would train next, and why; trains and writes nothing.

    Takes the arguments of :func:`run_loop`. Counts the FLOPs of a logged loop of the same name
    as spent.
    """
    opts = _options(law=law, n_boot=n_boot, seed=seed, lr_points=lr_points, lr_transfer=lr_transfer,
                    per_round=per_round, fit_kwargs=dict(fit_kwargs or {}), confirm_boot=confirm_boot)
    _check_budget(budget_flops)
    root = Path(store.root if isinstance(store, ResultsStore) else store)
    if not isinstance(store, ResultsStore) and not (root / "results.sqlite").exists():
        # nothing trained yet: plan against an empty store in a temporary folder (write nothing here)
        import tempfile

        with tempfile.TemporaryDirectory(prefix="scalinglab-design-") as tmp:
            with ResultsStore(Path(tmp) / "store") as empty:
                return _propose(sweep, until, name, opts, empty, root, budget_flops)
    return _propose(sweep, until, name, opts, store, root, budget_flops)


def _propose(sweep: Any, until: Any, name: str | None, opts: Options, store: Any, root: Path,
             budget_flops: float) -> Proposal:
    plan, rule, space, name, st, header = _setup(sweep, until, name, opts, store, readonly=True)
    log = DecisionLog(root, name)
    _check_header(log, header)
    a = assess(space, st, rule, opts)
    spent = spent_flops(log)
    done = stop_reason(rule, a)
    if done is not None:
        c = _confirm(space, st, rule, opts, a, done)
        done, a = c.stop, c.report
    if done is None and spent >= budget_flops:
        done = "the budget is spent"
    if done is not None:
        return _as_proposal(rule, spent, budget_flops, a, done, [], [])
    decisions, considered, why = decide(space, rule, opts, name, log, a, budget_flops, _rounds(log) + 1)
    return _as_proposal(rule, spent, budget_flops, a, why, decisions, considered)


def _options(**kw: Any) -> Options:
    cb = kw["confirm_boot"]
    if not isinstance(cb, numbers.Integral) or isinstance(cb, bool) or cb < 0:
        raise ConfigError(f"confirm_boot must be a number of bootstrap refits (e.g. 1000, or 0 for none); got {cb!r}")
    return Options(**kw)


def _check_budget(budget_flops: float) -> None:
    if not (isinstance(budget_flops, (int, float)) and budget_flops > 0 and math.isfinite(budget_flops)):
        raise ConfigError(f"the training budget must be a positive number of FLOPs (e.g. 2e13); got {budget_flops!r}")


def run_loop(sweep: Any, *, until: str | StopRule, budget_flops: float, store: ResultsStore | str | Path,
             backend: str = "local", workers: int | None = None, per_round: int | None = None,
             name: str | None = None, law: str = "chinchilla", n_boot: int = 200, seed: int = 0,
             lr_points: int = 3, lr_transfer: bool = True, max_rounds: int = 100,
             fit_kwargs: Mapping[str, Any] | None = None,
             backend_options: Mapping[str, Any] | None = None, confirm_boot: int = 1000,
             progress: Callable[[Any], Any] | None = None) -> LoopReport:
    """Train the runs of ``sweep`` that narrow the prediction at C* most, until ``until`` holds.

    Parameters
    ----------
    sweep : path, preset name, dict or SweepPlan
        The space of allowed runs (module notes).
    until : str or StopRule
        ``"width at 1e14 < 3%"``, ``"width at 1e14 on gpt-tiny-5 < 3%"`` or, for a sweep with two
        datasets or ladders, ``"winner at 1e14 at 95%"`` (:func:`~scalinglab.laws.design.parse_until`).
    budget_flops : float
        Training FLOPs the loop may spend (the trainer's counts, over every round and resumed call).
    store : ResultsStore or path
        Results store; the log goes to ``<store>/loops/<name>/decisions.jsonl``.
    backend, workers, backend_options
        As for :func:`~scalinglab.sweep.run.run_sweep`.
    per_round : int, optional
        Decisions per round (distinct rungs), default ``workers`` (1 when not given).
    name : str, optional
        The loop's name (default: the sweep's name). A second loop in one store needs another name.
    law, n_boot, seed, fit_kwargs
        The law fitted each round, its bootstrap refits and seed, extra ``fit`` options.
    confirm_boot : int
        Bootstrap refits that confirm a stop: when the width (or ``P(better)``) from ``n_boot``
        refits passes the rule, the round is refitted with ``confirm_boot`` and the loop stops
        only if that passes too; the final prediction is reported at this precision. ``<= n_boot``
        turns it off.
    lr_points : int
        Learning rates searched per proposed point (a window of the rung's grid; default 3).
    lr_transfer : bool
        Let a long trunk take the best learning rate of a bracketed search at a shorter budget of
        its rung and train it once (a two-stage search; module notes). False: every new trunk
        searches its own window (unless the learning-rate model pins it).
    max_rounds : int
        Safety stop.
    progress : callable, optional
        Called with one line (a ``str``) per loop event, and handed to ``run_sweep`` for its
        :class:`~scalinglab.sweep.run.SweepProgress` events (the CLI's ``ProgressDisplay`` draws both).

    Returns
    -------
    LoopReport

    Raises
    ------
    ConfigError
        Bad stop rule, a budget that does not cover the initial design, a log of this name started
        with another rule or sweep.
    StoreError
        Another process runs this loop or writes the store.
    """
    say = progress or (lambda msg: None)
    _check_budget(budget_flops)
    opts = _options(law=law, n_boot=n_boot, seed=seed, lr_points=lr_points, lr_transfer=lr_transfer,
                    per_round=int(per_round or workers or 1), fit_kwargs=dict(fit_kwargs or {}),
                    confirm_boot=confirm_boot)
    plan, rule, space, name, st, header = _setup(sweep, until, name, opts, store)
    log = DecisionLog(st.root, name)
    with log.lock():
        log = DecisionLog(st.root, name)             # re-read under the lock
        _check_header(log, header)
        if not log.of("start"):
            log.add({**header, "budget_flops": budget_flops})
        elif [e["budget_flops"] for e in (*log.of("start"), *log.of("budget"))][-1] != budget_flops:
            log.add({"event": "budget", "budget_flops": budget_flops})    # more (or less) to spend

        def train(decisions: Sequence[Mapping[str, Any]], rnd: int) -> None:
            runs, config, source = [], None, ""
            for d in decisions:
                sub = plan_sweep(d["sweep"], check_data=False)
                missing = set(d["run_ids"]) - set(sub.run_ids)
                if missing:
                    raise ConfigError(f"decision {d['key']!r} of round {rnd} no longer plans the same runs "
                                      f"({sorted(missing)[:2]} ...): the ladder or the sweep changed since it was "
                                      "logged; restore them or start a loop with another --name")
                runs += [r for r in sub.runs if r.run_id in set(d["run_ids"])]
                config, source = config or sub.config, source or sub.source
                say(f"round {rnd}: training {d['key']} ({len(d['run_ids'])} runs, {d['cost_flops']:.3g} FLOPs)")
            # one run_sweep per round: the decisions share the workers (trunks first, longest first)
            runs.sort(key=lambda r: (r.spec.branch_of is not None, -r.est_s, r.run_id))

            rep = run_sweep(SweepPlan(config=config, runs=tuple(runs), source=source), backend=backend, store=st,
                            workers=workers, progress=progress, backend_options=backend_options)
            if rep.failed:
                say(f"round {rnd}: {len(rep.failed)} runs failed (recorded; the fit goes on without them)")
            log.add({"event": "trained", "round": rnd, "spent_flops": spent_flops(log)})

        # a killed loop: finish the runs of its last decisions before anything else
        trained_rounds = {e["round"] for e in log.of("trained")}
        for rnd in sorted({e["round"] for e in log.of("decision")} - trained_rounds):
            say(f"resuming round {rnd}: its decisions were logged before the loop stopped")
            train([e for e in log.of("decision") if e["round"] == rnd], rnd)

        reason, reached = "", False
        a = None
        while True:
            a, precise = assess(space, st, rule, opts), None
            rnd = _rounds(log) + 1
            spent = spent_flops(log)
            log.add({"event": "state", "round": rnd - 1, "spent_flops": spent, **state_dict(a)})
            stop = stop_reason(rule, a)
            if stop is not None:
                stop, a, event, precise = _confirm(space, st, rule, opts, a, stop)
                if event is not None:
                    log.add({**event, "round": rnd - 1, "spent_flops": spent})
                    if stop is None:
                        say(f"round {rnd}: {event['cheap']} with {opts.n_boot} bootstrap refits passes the stop "
                            f"rule, but {opts.confirm_boot} refits give {event['precise']}; going on")
            if stop is not None:
                reason, reached = stop, True
            elif spent >= budget_flops:
                reason = "the budget is spent"
            elif rnd > max_rounds:
                reason = f"max_rounds={max_rounds} reached"
            if reason:
                break
            for arm, s in a.states.items():
                if s is not None:
                    say(f"round {rnd}: {('[' + arm + '] ') if arm else ''}prediction {s.mean:.4f} "
                        f"[{s.low:.4f}, {s.high:.4f}], width {100 * s.width:.2f}%"
                        + (f" (not calibrated yet: {s.calibration_points} of {MIN_CALIBRATION_POINTS} backtest runs"
                           f" beyond their fold)" if s.uncalibrated else
                           f" (bootstrap alone {100 * s.base_width:.2f}%)" if s.widened else "")
                        + f"; spent {spent:.3g} of {budget_flops:.3g} FLOPs")
            if a.p_better is not None:
                say(f"round {rnd}: P(first arm better at C*) = {a.p_better:.3f}" + (f" ({a.p_note})" if a.p_note else ""))
            decisions, considered, why = decide(space, rule, opts, name, log, a, budget_flops, rnd)
            if not decisions:
                reason = why or "nothing to train"
                break
            for d in decisions:
                say(f"round {rnd}: decide {d['kind']} {d['key']}: {d['why']}")
                log.add({"event": "decision", "round": rnd, **d, "before": state_dict(a),
                         "considered": len(considered)})
            train(decisions, rnd)
        # the final prediction at the precision a stop is confirmed with (nothing was trained since
        # the last assessment); it may pass where the round's cheaper estimate did not
        if not reached and a is not None and (p := precise or _precise(space, st, rule, opts)) is not None:
            a = p
            if (held := stop_reason(rule, a)) is not None:
                reason, reached = f"{held} with {opts.confirm_boot} bootstrap refits (the loop stopped: {reason})", True
        log.add({"event": "stop", "round": _rounds(log), "reason": reason, "reached": reached,
                 "spent_flops": spent_flops(log), "n_boot": max(opts.n_boot, opts.confirm_boot), **state_dict(a)})
        say(f"stop: {reason}")
        history = tuple({"round": e["round"], "spent_flops": e["spent_flops"], "p_better": e["p_better"],
                         **{f"width{('[' + k + ']') if k else ''}": (None if v is None else v["width"])
                            for k, v in e["states"].items()}}
                        for e in log.of("state"))
        return LoopReport(name=name, rule=rule, budget_flops=budget_flops, spent_flops=spent_flops(log),
                          rounds=_rounds(log), reason=reason, reached=reached, states=dict(a.states),
                          p_better=a.p_better, p_note=a.p_note, history=history, log=str(log.path))
