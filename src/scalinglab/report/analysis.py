"""The standard analysis of a ladder of runs, as one frozen :class:`Analysis`.

``analyze(runs)`` is what ``scalinglab report`` and ``scalinglab demo`` run before writing the
report; it only calls the public verbs of :mod:`scalinglab.fit`, in this order:

1. **Tuned points**: the best learning rate (and mean over seeds) for each (N, D)
   (:func:`~scalinglab.laws.frontier.best_per_size`). A law describes well-tuned runs; the runs at
   other learning rates are kept only for the frontier figure.
2. **Frontier**: the compute envelope of the tuned points
   (:func:`~scalinglab.laws.frontier.compute_envelope`).
3. **L(N, D)**: the Chinchilla law on the tuned points (Hoffmann et al. 2022, Approach 3), with a
   bootstrap over runs.
4. **L(C)**: a saturating power law ``L = A C^-alpha + E`` on the frontier, with a bootstrap.
5. **Allocation**: N*(C), D*(C) from the L(N, D) fit (approach 3) and, when the runs form
   iso-FLOP slices, from those (approach 2).
6. **Backtest**: the L(N, D) law refitted without the largest-compute runs, which it then
   predicts with 95 % prediction intervals (:func:`~scalinglab.laws.backtesting.backtest`).
7. **Comparison**: when the runs hold two or more procedures (or else datasets, or else
   variants), the first two are compared
   (:func:`~scalinglab.laws.comparison.compare`).

A step that cannot be done with the data at hand (too few sizes for a 5-parameter law, no
iso-FLOP slices ...) is skipped with a note saying why; it never hides the other steps. Warnings
of the fits are collected on :attr:`Analysis.warnings` (they are also notes in each summary).

:meth:`Analysis.overview` is the headline table with each caveat (a fit that is not ok, a
parameter the runs do not identify, tuning edges, the notes of a step) beside the number it
qualifies; :meth:`Analysis.verdict` counts them (``"PASS (with 2 caveats: ...)"``).
:func:`record_analysis` writes the options of an analysis into its results store
(``analysis.json``) so that a later report of the store repeats them (:func:`holdout_for`).
"""

from __future__ import annotations

import json
import math
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError, ScalingLabError, ScalingLabWarning
from ..laws.allocation import allocate
from ..laws.backtesting import backtest
from ..laws.comparison import compare
from ..laws.fitting import fit
from ..laws.frontier import best_per_size, compute_envelope, isoflop_slices
from ..units import format_quantity

if TYPE_CHECKING:      # domain types of the signatures (no import at run time)
    from ..laws import FitResult, Runs

__all__ = ["Analysis", "Caveat", "Fact", "Steps", "analyze", "listed", "param_intervals", "params_text"]

#: Group columns an analysis compares by default, in this order (the first with two values).
COMPARE_KEYS = ("procedure", "dataset", "variant")

#: Budgets at which allocations and comparisons are tabulated, relative to the largest run.
AHEAD = (1.0, 10.0, 100.0)

#: Share of unconverged bootstrap refits above which the headline notes it (the summary always does).
MAX_UNCONVERGED = 0.02

#: A parameter whose bootstrap standard error exceeds its estimate this many times is not
#: identified by the runs (a skewed but identified scale parameter rarely passes 2).
UNIDENTIFIED_SE_RATIO = 10.0

#: Backtest holdout when neither the caller nor the store's analysis record names one.
DEFAULT_HOLDOUT = "largest 20%"

#: File in a results store folder where ``scalinglab demo`` records the analysis options it used,
#: so that ``scalinglab report`` on the same store repeats the same analysis (same backtest).
ANALYSIS_RECORD = "analysis.json"
#: Options of an analysis that a later report repeats.
RECORDED_OPTIONS = ("holdout", "n_boot", "seed", "level", "law", "compute_law", "max_rel_error")


@dataclass(frozen=True)
class Caveat:
    """Something that qualifies a headline number: ``short`` for a verdict line, ``text`` in full."""

    short: str
    text: str


@dataclass(frozen=True)
class Fact:
    """One overview row: a label, its value and the caveats (indices into ``caveats``) on it."""

    label: str
    value: str
    caveats: tuple[int, ...] = ()

    @property
    def qualified(self) -> bool:
        """True when some caveat qualifies this number (the report greys it)."""
        return bool(self.caveats)


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything ``analyze`` computed; ``None`` for a step that was skipped (see ``notes``).

    Attributes
    ----------
    runs : Runs
        All runs analysed.
    tuned : Frontier or None
        Best configuration per (N, D).
    frontier : Frontier or None
        Compute envelope of ``tuned``.
    fit_nd : FitResult or None
        ``law`` (default Chinchilla) on ``tuned``, with a bootstrap.
    fit_c : FitResult or None
        ``compute_law`` (default saturating power law) on ``frontier``, with a bootstrap.
    allocation : Allocation or None
        Approach 3 from ``fit_nd``.
    allocation_isoflop : Allocation or None
        Approach 2, when iso-FLOP slices exist.
    slices : IsoFlopSlices or None
    backtest : Backtest or None
        ``law`` refitted without the largest-compute tuned runs, predicting them.
    comparison : Comparison or None
        Of the first two procedures, with ``comparison_fits`` and ``comparison_runs``.
    notes : tuple of str
        Steps skipped and why.
    warnings : tuple of str
        Warnings raised by the fits (``Category: message``), deduplicated.
    options : dict
    timings : dict of str -> float
        Seconds per step.
    """

    runs: Any
    tuned: Any = None
    frontier: Any = None
    fit_nd: Any = None
    fit_c: Any = None
    allocation: Any = None
    allocation_isoflop: Any = None
    slices: Any = None
    backtest: Any = None
    comparison: Any = None
    comparison_fits: tuple = ()
    comparison_runs: tuple = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def backtest_ok(self) -> bool | None:
        """Every held-out run inside its interval and within ``max_rel_error`` (None: no backtest)."""
        if self.backtest is None or self.backtest.n_points == 0:
            return None
        rel = np.abs(np.asarray(self.backtest.points["rel_error"], dtype=float))
        inside = np.asarray(self.backtest.points["inside"], dtype=bool)
        return bool(inside.all() and np.all(rel <= self.options.get("max_rel_error", 0.03)))

    def headline(self) -> list[tuple[str, str]]:
        """Key results as ``(label, value)`` rows (without their caveats: see :meth:`overview`)."""
        return [(f.label, f.value) for f in self.overview()[0]]

    def overview(self) -> tuple[list[Fact], list[Caveat]]:
        """The overview rows with every caveat next to the number it qualifies.

        A caveat comes from the step that produced a number: a fit that is not ok (each problem
        its diagnostics found), a parameter that the runs do not identify (its bootstrap
        interval reaches its bound, or its standard error is more than ten times its estimate), tuned points
        whose best learning rate is at the edge of the grid, and the notes of the allocation,
        backtest and comparison. A caveat on a fit as a whole qualifies every number taken from
        that fit; a caveat on one parameter qualifies that parameter's row (or, when the
        parameter is not shown, every row of the fit).
        """

        caveats: list[Caveat] = []

        def add(items: list[Caveat]) -> tuple[int, ...]:
            out = []
            for c in items:
                if c not in caveats:
                    caveats.append(c)
                out.append(caveats.index(c))
            return tuple(out)

        lvl = self.options.get("level", 0.95)
        pct = f"{100 * lvl:g}%"
        fit_c = _fit_caveats(self.fit_c, "L(C)", lvl, shown=("alpha", "E"))
        fit_nd = _fit_caveats(self.fit_nd, "L(N, D)", lvl, shown=("alpha", "beta"))
        r = self.runs
        rows: list[Fact] = [Fact("runs analysed", str(len(r)))]
        if r.n_params is not None:
            sizes = np.unique(np.round(r.n_params, -1))
            span = f"{format_quantity(sizes.min())} .. {format_quantity(sizes.max())}"
            rows.append(Fact("model sizes N", f"{sizes.size} ({span} parameters)"))
        if r.flops is not None:
            rows.append(Fact("compute range", f"{r.flops.min():.3g} .. {r.flops.max():.3g} FLOPs"))
        if self.tuned is not None:
            edges = [e for e in getattr(self.tuned, "tuning_edge", ()) if e.side != "only"]
            cav = [Caveat(f"{len(edges)} tuned point{'s' if len(edges) > 1 else ''} at the edge of the lr grid",
                          f"{len(edges)} of {len(self.tuned)} tuned points have their best learning rate at the "
                          "edge of the searched grid: their loss is an upper bound on the tuned loss "
                          "(Porian et al. 2024)")] if edges else []
            rows.append(Fact("tuned points (best lr per N, D)", str(len(self.tuned)), add(cav)))
        if self.fit_c is not None:
            for k, label in (("alpha", "exponent alpha"), ("E", "floor E")):
                if k not in self.fit_c.params:      # e.g. a pure power law has no floor
                    continue
                lo, hi = _ci(self.fit_c, k, lvl)
                rows.append(Fact(f"L(C) {label} ({pct})", f"{self.fit_c.params[k]:.3f} [{lo:.3g}, {hi:.3g}]",
                                 add(fit_c[""] + fit_c.get(k, []))))
        if self.fit_nd is not None:
            for k in ("alpha", "beta"):
                if k in self.fit_nd.params:
                    lo, hi = _ci(self.fit_nd, k, lvl)
                    rows.append(Fact(f"L(N, D) {k} ({pct})", f"{self.fit_nd.params[k]:.3f} [{lo:.3f}, {hi:.3f}]",
                                     add(fit_nd[""] + fit_nd.get(k, []))))
        if self.allocation is not None:
            a = self.allocation
            on = add(fit_nd[""] + fit_nd.get("alpha", []) + fit_nd.get("beta", [])
                     + [Caveat(f"allocation: {_first_sentence(n)}", f"allocation: {n}") for n in a.notes])
            lo, hi = a.exponent_n_interval
            rows.append(Fact(f"N*(C) exponent a ({pct})", f"{a.exponent_n:.3f} [{lo:.3f}, {hi:.3f}]", on))
            c = float(r.flops.max()) if r.flops is not None else math.nan
            if math.isfinite(c):
                p = a.predict(flops=c)
                ratio = f"{p.tokens_per_param:.3g} [{p.tokens_per_param_low:.3g}, {p.tokens_per_param_high:.3g}]"
                rows.append(Fact(f"D*/N* at {c:.3g} FLOPs", ratio, on))
        if self.backtest is not None:
            b = self.backtest
            on = add([Caveat(f"backtest: {_first_sentence(n)}", f"backtest: {n}") for n in b.notes])
            rel = np.abs(np.asarray(b.points["rel_error"], dtype=float))
            rows.append(Fact(f"backtest: held-out runs inside {pct} interval",
                             f"{int(np.sum(b.points['inside']))} of {b.n_points}", on))
            rows.append(Fact("backtest: largest |relative error|", f"{100 * rel.max():.2f}%" if rel.size else "-", on))
        if self.comparison is not None:
            co = self.comparison
            cav = []
            for res, name in zip(self.comparison_fits, co.names):
                cav += _fit_caveats(res, f"{name}'s L(N, D)", lvl, shown=())[""]
            cav += [Caveat(f"comparison: {_first_sentence(n)}", f"comparison: {n}") for n in co.notes]
            i = int(np.argmax(co.flops))
            rows.append(Fact(f"compute multiplier {co.names[1]} vs {co.names[0]} at {co.flops[i]:.3g}",
                             f"{co.multiplier[i]:.3g} [{co.multiplier_low[i]:.3g}, {co.multiplier_high[i]:.3g}]",
                             add(cav)))
        return rows, caveats

    def overview_text(self) -> list[str]:
        """The overview as text lines: a qualified number carries ``(!) see [i]``; the caveats follow."""
        facts, caveats = self.overview()
        w = max(len(f.label) for f in facts)
        vw = max(len(f.value) for f in facts)
        out = [f"{f.label:<{w}}  {f.value:<{vw}}  (!) see {''.join(f'[{i + 1}]' for i in f.caveats)}".rstrip()
               if f.caveats else f"{f.label:<{w}}  {f.value}" for f in facts]
        if caveats:
            out += ["", "Caveats (each qualifies the numbers marked with its number):"]
            out += [f"[{i}] {c.text}" for i, c in enumerate(caveats, 1)]
        return out

    def verdict(self) -> str | None:
        """``"PASS"`` / ``"FAIL"`` of the backtest, ``"PASS (with N caveats: ...)"`` when caveats exist."""
        ok = self.backtest_ok
        if ok is None:
            return None
        _, caveats = self.overview()
        word = "PASS" if ok else "FAIL"
        if not caveats:
            return word
        return f"{word} (with {len(caveats)} caveat{'s' if len(caveats) > 1 else ''}: " \
               + "; ".join(c.short for c in caveats) + ")"

    def as_text(self) -> str:
        """A plain-text digest: headline, both fits' summaries, backtest points, warnings, notes."""
        out = ["Scaling-law analysis", "====================="]
        out += self.overview_text()
        for res in (self.fit_nd, self.fit_c):
            if res is not None:
                out += ["", res.summary().as_text()]
        if self.backtest is not None:
            out += ["", self.backtest.summary().as_text()]
        out += listed("Warnings", self.warnings) + listed("Skipped steps", self.notes)
        return "\n".join(out)

    def __str__(self) -> str:
        return self.as_text()


def record_analysis(store_root: str | Path, analysis: Analysis, *, by: str) -> Path:
    """Write ``analysis``'s options to ``<store_root>/analysis.json`` (``by``: who analysed).

    :func:`recorded_analysis` reads them back, so that a later report of the same store holds out
    the same runs in its backtest instead of a default.
    """
    path = Path(store_root) / ANALYSIS_RECORD
    opts = {k: analysis.options[k] for k in RECORDED_OPTIONS if k in analysis.options}
    body = json.dumps({"by": by, "options": opts, "n_runs": len(analysis.runs),
                       "runs_fingerprint": getattr(analysis.runs, "fingerprint", "")}, indent=1)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(body + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def recorded_analysis(store_root: str | Path) -> dict[str, Any] | None:
    """The record :func:`record_analysis` wrote in a store folder (``None`` when there is none)."""
    path = Path(store_root) / ANALYSIS_RECORD
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{str(path)!r} is not an analysis record ({exc}); delete it to use the "
                        "default analysis options") from None
    if not isinstance(d, dict) or not isinstance(d.get("options"), dict):
        raise DataError(f"{str(path)!r} is not an analysis record (no 'options'); delete it to use the "
                        "default analysis options")
    return {**d, "path": str(path)}


def holdout_for(store_root: str | Path | None, holdout: int | str | None) -> tuple[int | str, str]:
    """The backtest holdout of a report and why: given, recorded in the store, or the default."""
    if holdout is not None:
        return holdout, "as asked"
    rec = recorded_analysis(store_root) if store_root is not None else None
    if rec is not None and "holdout" in rec["options"]:
        return rec["options"]["holdout"], f"the holdout {rec.get('by', 'an earlier analysis')} used, recorded in {rec['path']}"
    return DEFAULT_HOLDOUT, "the default; --holdout chooses another"


def _first_sentence(text: str) -> str:
    """The first sentence of a note without warning class names, for a one-line verdict."""
    s = re.sub(r"\b[A-Za-z]+Warning: ", "", str(text)).split(". ")[0].strip().rstrip(".")
    return s if len(s) <= 90 else s[:87] + "..."


def _at(x: float, bound: float, est: float) -> bool:
    if not (math.isfinite(x) and math.isfinite(bound)):
        return False
    if bound == 0:
        return abs(x) <= 1e-9 * max(abs(est), 1e-300)
    return abs(x - bound) <= 1e-6 * abs(bound)


def _fit_caveats(res: Any, name: str, level: float, *, shown: tuple[str, ...]) -> dict[str, list[Caveat]]:
    """Caveats of one fit: ``{"": [on the whole fit], param: [on that shown parameter]}``.

    A fit that is not ok contributes each problem its diagnostics found; a bootstrap with more
    than ``MAX_UNCONVERGED`` of its refits unconverged is one more. A parameter whose
    bootstrap interval reaches one of its bounds, or whose standard error is more than
    ``UNIDENTIFIED_SE_RATIO`` times its estimate, is not identified by the runs: its own row carries that when shown, the whole fit when not.
    """
    out: dict[str, list[Caveat]] = {"": []}
    if res is None:
        return out
    for _, msg in res.diagnostics.problems():
        out[""].append(Caveat(f"{name} fit not ok: {_first_sentence(msg)}", f"{name} fit not ok: {msg}"))
    b = getattr(res, "bootstrap", None)
    if b is None:
        return out
    bad = int(b.n_boot - np.sum(b.converged))
    if bad > MAX_UNCONVERGED * b.n_boot:     # a few stragglers move no percentile
        out[""].append(Caveat(f"{name}: {bad} bootstrap refits did not converge",
                              f"{name} fit: {bad} of {b.n_boot} bootstrap refits did not meet the stopping rule"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        se = res.stderr
    bounds = res.law.bounds
    pct = f"{100 * level:g}%"
    for k, est in res.params.items():
        if k in ((res.options or {}).get("fixed") or {}) or k in res.diagnostics.at_bound:
            continue                       # fixed, or already a caveat of the fit ("k is at its bound")
        lo, hi = _ci(res, k, level)
        b_lo, b_hi = bounds.get(k, (-math.inf, math.inf))
        why = []
        for x, bound in ((lo, b_lo), (hi, b_hi)):
            if _at(x, bound, est):
                why.append(f"its {pct} interval reaches its bound {bound:g}")
        if math.isfinite(se.get(k, math.nan)) and se[k] > UNIDENTIFIED_SE_RATIO * abs(est):
            why.append(f"its standard error ({se[k]:.2g}) is more than {UNIDENTIFIED_SE_RATIO:g} times its "
                       f"estimate ({est:.3g})")
        if why:
            c = Caveat(f"{name} {k} not identified", f"{name} fit: {k} is not identified by these runs: "
                       + " and ".join(why) + "; its value and the numbers that depend on it are uncertain")
            out.setdefault(k if k in shown else "", []).append(c)
    return out


def listed(title: str, items: Sequence[str]) -> list[str]:
    """A titled bullet list for a plain-text digest (nothing when there are no items)."""
    return ["", f"{title}:"] + [f"- {x}" for x in items] if items else []


def param_intervals(res: FitResult, level: float) -> dict[str, tuple[float, float]]:
    """Each parameter's interval at ``level`` by the fit's default method, NaN where none can be
    computed (a report shows what it has rather than failing)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScalingLabWarning)
            t = res.ci(level)
            return {k: (float(t[k][0]), float(t[k][1])) for k in res.params}
    except ScalingLabError:
        return {k: (math.nan, math.nan) for k in res.params}


def params_text(res: FitResult, level: float) -> str:
    """``name=value [low, high]`` for every parameter, the intervals of :func:`param_intervals`."""
    ci = param_intervals(res, level)
    return ", ".join(f"{k}={v:.4g} [{ci[k][0]:.3g}, {ci[k][1]:.3g}]" for k, v in res.params.items())


def _ci(res: FitResult, name: str, level: float) -> tuple[float, float]:
    return param_intervals(res, level)[name]


def _distinct(values: np.ndarray | None) -> int:
    if values is None:
        return 0
    return len({str(v) for v in values})


class Steps:
    """Runs the steps of an analysis so that one failing step never loses the others.

    ``run(name, fn)`` reports ``name`` to the progress callable, times the step, records every
    :class:`~scalinglab.errors.ScalingLabWarning` it raises (``warnings``, prefixed with the step)
    and turns a :class:`~scalinglab.errors.ScalingLabError` into a note (``notes``, or the list
    given as ``where``) and a ``None`` result. Used by :func:`analyze` and
    :func:`scalinglab.report.procedures.analyze_procedures`.
    """

    def __init__(self, say: Callable[[str], Any] | None = None) -> None:
        self.say = say or (lambda msg: None)
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.timings: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any], where: list[str] | None = None) -> Any:
        self.say(name)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ScalingLabWarning)
            try:
                return fn()
            except ScalingLabError as exc:
                (self.notes if where is None else where).append(f"{name}: {exc}")
                return None
            finally:
                self.timings[name] = time.perf_counter() - t0
                self.warnings.extend(f"{name}: {w.category.__name__}: {w.message}" for w in caught
                                     if issubclass(w.category, ScalingLabWarning))


def analyze(runs: Runs, *, law: str = "chinchilla", compute_law: str = "saturating_power_law",
            n_boot: int = 200, seed: int = 0, level: float = 0.95, holdout: int | str = DEFAULT_HOLDOUT,
            max_rel_error: float = 0.03, compare_by: str | None = None, fit_kwargs: Mapping[str, Any] | None = None,
            progress: Any = None, holdout_origin: str = "") -> Analysis:
    """Run the standard analysis (frontier, fits, allocation, backtest, comparison) on ``runs``.

    Parameters
    ----------
    runs : Runs
        From ``ResultsStore.to_runs()`` or :func:`~scalinglab.laws.tables.load_runs`; needs
        ``n_params`` and ``n_tokens`` for the L(N, D) steps and ``flops`` for the others.
    law : str
        Law of N and D (default ``"chinchilla"``).
    compute_law : str
        Law of compute fitted on the frontier (default ``"saturating_power_law"``).
    n_boot : int
        Bootstrap refits per fit (resampling runs); also used for the backtest's intervals.
    seed : int
        Seed of every bootstrap.
    level : float
        Level of every interval.
    holdout : int or str
        Backtest: the runs held out, e.g. ``"largest 20%"`` or ``"largest 3"`` (by compute).
    max_rel_error : float
        Backtest criterion recorded on ``Analysis.backtest_ok`` (default 3 %).
    compare_by : str, optional
        Group column whose first two values are compared, when it has two or more. Default: the
        first of ``procedure``, ``dataset`` and ``variant`` that has two or more values.
    fit_kwargs : dict, optional
        Extra options of every fit (``loss=``, ``delta=`` ...).
    progress : callable, optional
        Called with a short message before each step (the CLI prints it).
    holdout_origin : str
        Why this holdout (e.g. "recorded by scalinglab demo in store/analysis.json"); the report
        says it next to the backtest.

    Returns
    -------
    Analysis
    """
    say = progress or (lambda msg: None)
    fkw = dict(fit_kwargs or {})
    steps = Steps(say)
    notes, timings, caught_all = steps.notes, steps.timings, steps.warnings
    out: dict[str, Any] = {}

    def step(name: str, fn: Callable[[], Any]) -> Any:
        return steps.run(name, fn)

    groups = getattr(runs, "groups", {}) or {}
    has_nd = runs.n_params is not None and runs.n_tokens is not None
    if compare_by is None:
        compare_by = next((g for g in COMPARE_KEYS if g in groups and _distinct(groups[g]) > 1),
                          COMPARE_KEYS[0])

    def tuned_points():
        tuned = "lr" if "lr" in groups and _distinct(groups["lr"]) > 1 else None
        mean_over = "seed" if "seed" in groups and _distinct(groups["seed"]) > 1 else None
        by = ["n_params", "n_tokens"] + ([compare_by] if compare_by in groups else [])
        return best_per_size(runs, by=by, tuned=tuned, mean_over=mean_over)

    base = runs
    if has_nd:
        out["tuned"] = step("best configuration per (N, D)", tuned_points)
        if out["tuned"] is not None:
            base = out["tuned"]
    arms, first = {}, None
    if compare_by in groups and _distinct(groups[compare_by]) > 1:
        arms = base.split(compare_by)
        first = min(arms, key=str)
        notes.append(f"{len(arms)} values of {compare_by!r}: the fits, allocation and backtest use "
                     f"{first!r}; the comparison section compares the first two")
        main = arms[first]
    else:
        main = base
    if main.flops is not None:
        out["frontier"] = step("compute frontier", lambda: compute_envelope(main))
    if has_nd:
        out["fit_nd"] = step(f"fit {law} L(N, D)", lambda: fit(law, main, n_boot=n_boot, seed=seed, **fkw))
    if out.get("frontier") is not None:
        fr = out["frontier"]
        if len(fr) < 5:
            notes.append(f"fit {compute_law} L(C): the frontier has only {len(fr)} points (< 5); skipped")
        else:
            out["fit_c"] = step(f"fit {compute_law} L(C)",
                                lambda: fit(compute_law, fr, n_boot=n_boot, seed=seed, **fkw))
    if out.get("fit_nd") is not None:
        out["allocation"] = step("allocation (approach 3)",
                                 lambda: allocate(out["fit_nd"], approach=3, level=level, n_boot=n_boot, seed=seed))
    if has_nd and main.flops is not None:
        def iso():
            # iso-FLOP slices exist only when the sweep was designed as iso-FLOP profiles
            try:
                sl = isoflop_slices(main)
            except DataError as e:
                if not str(e).startswith("no iso-FLOP slice"):
                    raise
                sl = ()                 # a grid design: no compute with 3 sizes
            if len(sl) < 2:
                notes.append(f"allocation (approach 2): the runs form {len(sl)} iso-FLOP slice(s) of "
                             "several sizes at one compute (2 needed; a grid of sizes x tokens has none); "
                             "sweep iso-FLOP profiles to get it")
                return None
            out["slices"] = sl
            return allocate(sl, approach=2, level=level, n_boot=n_boot, seed=seed)

        out["allocation_isoflop"] = step("allocation (approach 2, iso-FLOP slices)", iso)
    if has_nd and main.flops is not None:
        out["backtest"] = step(f"backtest ({holdout} held out)", lambda: backtest(
            law, main, holdout=holdout, level=level,
            fit_kwargs={"n_boot": n_boot, "seed": seed, **fkw}))
    if len(arms) >= 2 and has_nd:
        names = sorted(arms, key=str)[:2]

        def cmp():
            fa = out.get("fit_nd") if names[0] == first and out.get("fit_nd") is not None else \
                fit(law, arms[names[0]], n_boot=n_boot, seed=seed, **fkw)
            fb = fit(law, arms[names[1]], n_boot=n_boot, seed=seed + 1, **fkw)
            top = float(max(arms[n].flops.max() for n in names))
            c = compare(fa, fb, flops=[top * f for f in AHEAD], level=level, names=(str(names[0]), str(names[1])),
                        interval="calibrated")
            out["comparison_fits"] = (fa, fb)
            out["comparison_runs"] = (arms[names[0]], arms[names[1]])
            return c

        out["comparison"] = step(f"compare {names[0]} vs {names[1]}", cmp)
    return Analysis(runs=runs, notes=tuple(notes), warnings=tuple(dict.fromkeys(caught_all)),
                    options={"law": law, "compute_law": compute_law, "n_boot": n_boot, "seed": seed,
                             "level": level, "holdout": holdout, "holdout_origin": holdout_origin,
                             "max_rel_error": max_rel_error,
                             "compare_by": compare_by, "fit_kwargs": fkw},
                    timings=timings, **out)
