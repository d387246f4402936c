"""Procedures compared by laws of error against compute: the analysis of ``scalinglab demo clip``.

:func:`analyze` (:mod:`.analysis`) is built around a language model's L(N, D). Image-text
procedures are compared the way Nezhurina et al. 2025 ("Scaling laws for robust comparison of open
foundation language-vision models and datasets", arXiv:2506.04598) compare CLIP and MaMMUT: by a
law of a downstream *error* against compute alone, fitted per procedure on its compute Pareto
frontier. :func:`analyze_procedures` does that with the public verbs of :mod:`scalinglab.laws`:

1. **Frontier** per procedure: every run (all sizes, budgets, learning rates) binned by compute
   with the paper's rule (:func:`~scalinglab.laws.frontier.pareto_bins`), monotone.
2. **Held-out test** (the paper's Table C): the law E(C) = a (C + b)^c + d (``saturating_error``)
   is fitted on the frontier points below a compute threshold and predicts the frontier points
   above it, each with a 95 % prediction interval (``FitResult.predict``: the calibrated interval
   beyond the data when the fit has enough points for its rolling-origin calibration, else the
   bootstrap; the table says which).
3. **Law** per procedure: the same law on the whole frontier, with a bootstrap over frontier
   points; its parameters with intervals.
4. **Comparison**: every pair of procedures by :func:`~scalinglab.laws.comparison.compare` (the
   difference and P(A better) at the largest budget and at 100x it, the effective-compute
   multiplier, equal-exponent tests, the crossover compute with its interval or "none in range"),
   and the procedure with the lowest predicted error at each budget with the share of bootstrap
   draws in which it is lowest (``P(best)``; draw i of every fit taken together, the fits being
   independent).

What the numbers mean, and when they hold: bootstrap intervals resample frontier *points*, one per
compute bin; with one seed per configuration the frontier carries evaluation and seed noise, and
taking minima selects lucky runs (each point is biased low by up to its noise). With fewer than
about ten frontier points per procedure, exponents and crossovers are loosely determined; the
report shows the intervals and never a bare point estimate. Extrapolation 100x beyond the largest
run assumes the law's form holds there (a saturating power law can miss a later regime, such as a
second drop once models learn a harder part of the task).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, DataError
from ..laws import compare, fit
from ..laws.frontier import pareto_bins
from .analysis import Steps, listed, param_intervals, params_text
from .html import Report
from .plots import plot_error_laws, plot_metric_vs_compute

if TYPE_CHECKING:      # domain types of the signatures (no import at run time)
    from ..laws import Runs

__all__ = [
    "HeldOutPoint",
    "ProcedureAnalysis",
    "ProcedureLaw",
    "Standing",
    "analyze_procedures",
    "report_from_procedures",
]

LAW = "saturating_error"
#: Least squares on the error itself, as the paper's ``scipy.optimize.curve_fit`` fits.
FIT_OPTIONS = {"loss": "ls", "space": "linear"}
#: The paper's rule (1500 GFLOPs reference) on the paper's runs (about 4e6 to 2e12 GFLOPs) makes
#: about five bins per decade of compute; :func:`analyze_procedures` keeps that bin width at any scale.
BINS_PER_DECADE = 5.0
#: Frontier points within this factor of a procedure's largest compute are held out and predicted.
HOLDOUT_FACTOR = 2.0
#: Budgets at which the procedures are ranked, relative to the largest run.
AHEAD = (1.0, 100.0)
MIN_POINTS = 5            # a 4-parameter law needs at least this many frontier points


@dataclass(frozen=True)
class HeldOutPoint:
    """One row of the held-out table: a frontier run above the threshold and its prediction."""

    procedure: str
    run_id: str
    rung: str
    n_samples: float
    flops: float
    measured: float
    measured_se: float          # the evaluation's standard error (NaN when unknown)
    predicted: float
    low: float
    high: float
    interval: str               # "calibrated", "bootstrap" or "wald"
    interval_note: str = ""     # what the interval rests on (FitResult.predict's note)
    n_fit: int = 0              # frontier points the predicting law was fitted on

    @property
    def rel_error(self) -> float:
        return (self.predicted - self.measured) / self.measured

    @property
    def inside(self) -> bool:
        return bool(self.low <= self.measured <= self.high)

    @property
    def interval_label(self) -> str:
        """The interval's name, and when a calibrated one could not be calibrated, that it was not."""
        if self.interval == "calibrated" and "unwidened" in self.interval_note:
            return "bootstrap: too few points to calibrate"
        return self.interval


@dataclass(frozen=True, eq=False)
class ProcedureLaw:
    """One procedure: its runs, frontier, fits and held-out predictions.

    Attributes
    ----------
    name : str
    runs : Runs
        Every finished run of the procedure (target: the analysed metric).
    frontier : Frontier or None
        :func:`~scalinglab.laws.frontier.pareto_bins` of ``runs``.
    fit : FitResult or None
        The law on the whole frontier, with a bootstrap (what the comparison uses).
    fit_heldout : FitResult or None
        The law on the frontier points below ``threshold_flops`` (what the held-out test uses).
    threshold_flops : float
        Frontier points at or above this compute are held out.
    heldout : tuple of HeldOutPoint
    notes : tuple of str
    """

    name: str
    runs: Any
    frontier: Any = None
    fit: Any = None
    fit_heldout: Any = None
    threshold_flops: float = math.nan
    heldout: tuple[HeldOutPoint, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Standing:
    """Which procedure has the lowest predicted error at one budget, and how sure that is."""

    flops: float
    best: str
    prob_best: float            # share of joint bootstrap draws in which ``best`` is lowest
    predicted: Mapping[str, float]
    low: Mapping[str, float]
    high: Mapping[str, float]
    prob: Mapping[str, float]   # P(lowest) of every procedure
    level: float

    @property
    def confident(self) -> bool:
        """P(best) reaches the two-sided level's upper quantile (0.975 at 95 %)."""
        return self.prob_best >= (1 + self.level) / 2


@dataclass(frozen=True, eq=False)
class ProcedureAnalysis:
    """Everything :func:`analyze_procedures` computed.

    Attributes
    ----------
    metric : str
    flops_convention : str
    laws : tuple of ProcedureLaw
    comparisons : tuple of Comparison
        Every pair with a fit, in procedure order.
    standings : tuple of Standing
        At the largest run's compute and at 100x it.
    notes : tuple of str
    warnings : tuple of str
    options : dict
    timings : dict
    """

    metric: str
    flops_convention: str
    laws: tuple[ProcedureLaw, ...]
    comparisons: tuple[Any, ...] = ()
    standings: tuple[Standing, ...] = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.laws)

    @property
    def heldout(self) -> tuple[HeldOutPoint, ...]:
        return tuple(h for p in self.laws for h in p.heldout)

    @property
    def heldout_ok(self) -> bool | None:
        """Every held-out point inside its interval and within ``max_rel_error`` (None: none held out)."""
        pts = self.heldout
        if not pts:
            return None
        tol = self.options.get("max_rel_error", 0.05)
        return all(h.inside and abs(h.rel_error) <= tol for h in pts)

    def law(self, name: str) -> ProcedureLaw:
        for p in self.laws:
            if p.name == name:
                return p
        raise KeyError(name)

    # -- text ----------------------------------------------------------------------------------
    def verdict_lines(self) -> list[str]:
        """Who wins at the largest budget and at 100x it, with confidence; the crossovers."""
        pct = f"{100 * self.options.get('level', 0.95):g}%"
        out = []
        if not self.standings:
            have = [p.name for p in self.laws if p.fit is not None]
            out.append(f"no ranking: {len(have)} of {len(self.laws)} procedures have a law "
                       f"({', '.join(have) or 'none'}); see the notes")
        for st in self.standings:
            others = ", ".join(f"{n} {st.predicted[n]:.3f} [{st.low[n]:.3f}, {st.high[n]:.3f}]"
                               for n in st.predicted)
            how = ("clearly" if st.confident else
                   "most likely, but not clearly" if st.prob_best >= 0.5 else "marginally, not clearly")
            out.append(f"at {st.flops:.3g} FLOPs{self._ahead(st.flops)}: {st.best} has the lowest "
                       f"{self.metric} ({how}: P(best) = {st.prob_best:.2f}); predicted ({pct}): {others}")
        for c in self.comparisons:
            co = c.crossover
            a, b = c.names
            if co.state == "crossover":
                iv = (f"{pct} interval [{co.low:.3g}, {co.high:.3g}]" if math.isfinite(co.low)
                      else "no interval: too few draws cross")
                out.append(f"{a} vs {b}: the lines cross at {co.flops:.3g} FLOPs ({iv}; "
                           f"{100 * co.fraction:.0f}% of draws cross in range); {co.before} is better below, "
                           f"{co.after} above")
            else:
                iv = (f"; crossings of the draws: {pct} interval [{co.low:.3g}, {co.high:.3g}]"
                      if math.isfinite(co.low) else "")
                out.append(f"{a} vs {b}: no crossover in [{co.search_flops[0]:.3g}, {co.search_flops[1]:.3g}] "
                           f"FLOPs ({co.before} better throughout; {100 * co.fraction:.0f}% of draws cross{iv})")
        return out

    def _ahead(self, flops: float) -> str:
        top = self.options.get("largest_flops")
        if not top:
            return ""
        k = flops / top
        return " (the largest run)" if abs(k - 1) < 1e-9 else f" ({k:g}x the largest run)"

    def heldout_lines(self) -> list[str]:
        tol = 100 * self.options.get("max_rel_error", 0.05)
        pct = f"{100 * self.options.get('level', 0.95):g}%"
        out = []
        for h in self.heldout:
            se = f" ± {h.measured_se:.3f}" if math.isfinite(h.measured_se) else ""
            out.append(f"  {h.procedure:<8} {h.rung:<14} D={h.n_samples:<7.0f} C={h.flops:.3g}  measured "
                       f"{h.measured:.3f}{se}  predicted {h.predicted:.3f} [{h.low:.3f}, {h.high:.3f}] "
                       f"({h.interval_label}; law on {h.n_fit} points)  {100 * h.rel_error:+.1f}%  "
                       f"{'inside' if h.inside else 'OUTSIDE'}")
        ok = self.heldout_ok
        if ok is None:
            out.append("  no frontier point was held out")
        else:
            out.append(f"  -> {'PASS' if ok else 'FAIL'}: the criterion is every held-out point inside its "
                       f"{pct} interval and within {tol:g}% relative error")
        return out

    def law_lines(self) -> list[str]:
        out = []
        lvl = self.options.get("level", 0.95)
        for p in self.laws:
            if p.fit is None:
                out.append(f"  {p.name}: no fit ({'; '.join(p.notes) or 'too few frontier points'})")
                continue
            ps = params_text(p.fit, lvl)
            out.append(f"  {p.name}: E(C) = a (C + b)^c + d on {len(p.frontier)} frontier points of "
                       f"{len(p.runs)} runs; {ps}{'' if p.fit.ok else ' (fit not ok:)'}")
            out += [f"    - {msg.split('. ')[0].rstrip('.')}" for _, msg in p.fit.diagnostics.problems()]
        return out

    def as_text(self) -> str:
        pct = f"{100 * self.options.get('level', 0.95):g}%"
        out = [f"Procedures compared by {self.metric} against compute ({self.flops_convention} FLOPs)",
               "=" * 72, "Laws (whole frontier, " + pct + " bootstrap intervals):"]
        out += self.law_lines()
        out += ["", f"Held-out frontier points (fit below {self.options.get('holdout_factor', HOLDOUT_FACTOR):g}x "
                    "under each procedure's largest compute, predictions above it):"]
        out += self.heldout_lines()
        out += ["", "Verdict:"] + [f"  {line}" for line in self.verdict_lines()]
        for c in self.comparisons:
            out += ["", c.summary().as_text()]
        out += listed("Warnings", self.warnings) + listed("Notes", [n for p in self.laws for n in p.notes] + list(self.notes))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.as_text()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready digest (parameters, held-out rows, standings, comparisons)."""
        lvl = self.options.get("level", 0.95)
        laws = {}
        for p in self.laws:
            laws[p.name] = {
                "n_runs": len(p.runs), "frontier_run_ids": list(p.frontier.run_ids) if p.frontier is not None else [],
                "params": dict(p.fit.params) if p.fit is not None else None,
                "ci": {k: list(v) for k, v in param_intervals(p.fit, lvl).items()} if p.fit is not None else None,
                "threshold_flops": p.threshold_flops, "notes": list(p.notes)}
        return {"metric": self.metric, "flops_convention": self.flops_convention, "law": LAW,
                "laws": laws,
                "heldout": [{**h.__dict__, "rel_error": h.rel_error, "inside": h.inside} for h in self.heldout],
                "heldout_ok": self.heldout_ok,
                "standings": [{"flops": s.flops, "best": s.best, "prob_best": s.prob_best,
                               "predicted": dict(s.predicted), "low": dict(s.low), "high": dict(s.high),
                               "prob": dict(s.prob)} for s in self.standings],
                "comparisons": [c.to_dict() for c in self.comparisons],
                "notes": list(self.notes), "options": {k: v for k, v in self.options.items()
                                                       if isinstance(v, (int, float, str, bool, type(None)))}}




def _edges_for(flops: np.ndarray, bins_per_decade: float) -> int:
    decades = math.log10(float(flops.max()) / float(flops.min())) if flops.min() > 0 else 0.0
    return max(2, int(round(bins_per_decade * decades)) + 1)


def analyze_procedures(runs: Runs, *, metric: str | None = None, procedures: Sequence[str] | None = None,
                       by: str = "procedure", n_boot: int = 200, seed: int = 0, level: float = 0.95,
                       holdout_factor: float = HOLDOUT_FACTOR, max_rel_error: float = 0.05,
                       reference_flops: float | None = None, bins_per_decade: float = BINS_PER_DECADE,
                       ahead: Sequence[float] = AHEAD, metric_se: Mapping[str, float] | None = None,
                       fit_kwargs: Mapping[str, Any] | None = None, flops_convention: str = "",
                       progress: Callable[[str], None] | None = None) -> ProcedureAnalysis:
    """Compare procedures by E(C) = a (C + b)^c + d on their compute Pareto frontiers.

    Parameters
    ----------
    runs : Runs
        Finished runs of every procedure, with ``flops`` and a ``by`` group column
        (``ResultsStore.to_runs(metric, flops_convention="forward")``); the target is the error.
    metric : str, optional
        The target's name for the text (default ``runs.target_name``).
    procedures : sequence of str, optional
        The procedures in the order they are reported (default: sorted).
    by : str
        The group column naming each run's procedure (``"dataset"`` compares datasets).
    n_boot, seed, level
        Bootstrap refits per fit, their seed, the level of every interval.
    holdout_factor : float
        Frontier points with compute at or above ``C_max / holdout_factor`` (the procedure's
        largest run) are held out and predicted (default 2: the top doubling of compute).
    max_rel_error : float
        The held-out criterion recorded on :attr:`ProcedureAnalysis.heldout_ok` (default 5 %).
    reference_flops : float, optional
        The binning rule's reference (:func:`~scalinglab.laws.frontier.pareto_bins`). Default:
        the paper's bin width, ``bins_per_decade`` bins per decade of each procedure's compute.
    ahead : sequence of float
        Budgets, as multiples of the largest run's compute, at which procedures are ranked.
    metric_se : mapping of run id to float, optional
        Evaluation standard errors, shown beside the measured held-out values.
    fit_kwargs : mapping, optional
        Options of every fit (default: least squares on the error, as the paper's ``curve_fit``).
    flops_convention : str
        Named in the text (e.g. ``"forward"``).
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    ProcedureAnalysis

    Raises
    ------
    DataError
        No ``flops``, no ``by`` column, or fewer than two procedures.
    """

    say = progress or (lambda msg: None)
    if getattr(runs, "flops", None) is None:
        raise DataError("analyze_procedures needs the compute of every run (flops)")
    groups = getattr(runs, "groups", {}) or {}
    if by not in groups:
        raise DataError(f"the runs have no {by!r} column; load them with group_by including {by!r}")
    arms = runs.split(by)
    names = list(procedures) if procedures is not None else sorted(arms, key=str)
    missing = [n for n in names if n not in arms]
    if missing:
        raise DataError(f"no finished run of {', '.join(map(repr, missing))}; the runs hold "
                        f"{', '.join(map(str, sorted(arms, key=str)))}")
    if len(names) < 2:
        raise DataError(f"comparing procedures needs at least two; the runs hold {', '.join(map(str, names))}")
    if not holdout_factor > 1:
        raise ConfigError(f"holdout_factor must be > 1; got {holdout_factor!r}")
    fkw = {**FIT_OPTIONS, **dict(fit_kwargs or {})}
    se = dict(metric_se or {})
    steps = Steps(say)
    notes, timings, caught_all = steps.notes, steps.timings, steps.warnings
    step = steps.run

    laws: list[ProcedureLaw] = []
    for k, name in enumerate(names):
        r = arms[name]
        pnotes: list[str] = []
        x = np.asarray(r.flops, dtype=float)
        kw = ({"reference_flops": reference_flops} if reference_flops is not None
              else {"n_edges": _edges_for(x, bins_per_decade)})
        fr = step(f"{name}: Pareto frontier", lambda: pareto_bins(r, **kw), pnotes)
        law_all = law_held = None
        threshold = float(x.max()) / holdout_factor
        held: list[HeldOutPoint] = []
        if fr is not None:
            if len(fr) < MIN_POINTS:
                pnotes.append(f"{name}: the frontier has {len(fr)} points (< {MIN_POINTS}); no law fitted")
            else:
                law_all = step(f"{name}: fit {LAW} on the frontier",
                               lambda: fit(LAW, fr, n_boot=n_boot, seed=seed + k, **fkw), pnotes)
            below = fr.subset(np.asarray(fr.flops) < threshold)
            above = np.flatnonzero(np.asarray(fr.flops) >= threshold)
            if above.size == 0:
                pnotes.append(f"{name}: no frontier point at or above {threshold:.3g} FLOPs; nothing held out")
            elif len(below) < MIN_POINTS:
                pnotes.append(f"{name}: {len(below)} frontier points below {threshold:.3g} FLOPs (< {MIN_POINTS}); "
                              "the held-out points cannot be predicted")
            else:
                law_held = step(f"{name}: fit {LAW} below {threshold:.3g} FLOPs",
                                lambda: fit(LAW, below, n_boot=n_boot, seed=seed + k, **fkw), pnotes)
            if law_held is not None:
                def predict():
                    return law_held.predict(level=level, flops=np.asarray(fr.flops)[above])
                p = step(f"{name}: predict the held-out points", predict, pnotes)
                if p is not None:
                    rung = fr.groups.get("rung")
                    for j, i in enumerate(above):
                        rid = str(fr.run_id[i])
                        held.append(HeldOutPoint(
                            procedure=str(name), run_id=rid, rung=str(rung[i]) if rung is not None else "",
                            n_samples=float(fr.n_tokens[i]) if fr.n_tokens is not None else math.nan,
                            flops=float(fr.flops[i]), measured=float(fr.target[i]),
                            measured_se=float(se.get(rid, math.nan)), predicted=float(p.mean[j]),
                            low=float(p.low[j]), high=float(p.high[j]), interval=str(p.method),
                            interval_note=str(getattr(p, "note", "") or ""), n_fit=len(below)))
        laws.append(ProcedureLaw(name=str(name), runs=r, frontier=fr, fit=law_all, fit_heldout=law_held,
                                 threshold_flops=threshold, heldout=tuple(held), notes=tuple(pnotes)))

    top = float(np.max(runs.flops))
    budgets = [top * float(a) for a in ahead]
    fitted = [p for p in laws if p.fit is not None]
    comparisons = []
    for pa, pb in itertools.combinations(fitted, 2):
        c = step(f"compare {pa.name} vs {pb.name}",
                 lambda: compare(pa.fit, pb.fit, flops=budgets, level=level, n_boot=n_boot, seed=seed,
                                 names=(pa.name, pb.name), interval="calibrated"), notes)
        if c is not None:
            comparisons.append(c)
    standings = []
    if len(fitted) >= 2:
        standings = _standings(fitted, budgets, level)
    elif len(fitted) < len(laws):
        notes.append(f"only {len(fitted)} of {len(laws)} procedures have a law; nothing to rank")
    return ProcedureAnalysis(
        metric=metric or getattr(runs, "target_name", "") or "error",
        flops_convention=flops_convention or str(getattr(runs, "flops_convention", "")),
        laws=tuple(laws), comparisons=tuple(comparisons), standings=tuple(standings),
        notes=tuple(notes), warnings=tuple(dict.fromkeys(caught_all)),
        options={"law": LAW, "n_boot": n_boot, "seed": seed, "level": level, "by": by,
                 "holdout_factor": holdout_factor, "max_rel_error": max_rel_error,
                 "reference_flops": reference_flops, "bins_per_decade": bins_per_decade,
                 "largest_flops": top, "ahead": tuple(float(a) for a in ahead), "fit_kwargs": fkw},
        timings=timings)


def _standings(fitted: Sequence[ProcedureLaw], budgets: Sequence[float], level: float) -> list[Standing]:
    """P(lowest error) per procedure at each budget, from the joint bootstrap draws of the fits."""
    law = fitted[0].fit.law
    C = np.asarray(budgets, dtype=float)
    draws, point = [], []
    for p in fitted:
        P = np.asarray(p.fit.bootstrap.params, dtype=float)
        P = P[np.all(np.isfinite(P), axis=1)]
        draws.append(law.optimal_loss(P, C)[1])                      # (S_k, K)
        point.append(law.optimal_loss(np.asarray(p.fit.param_vector, dtype=float)[None, :], C)[1][0])
    S = min(d.shape[0] for d in draws)
    D = np.stack([d[:S] for d in draws])                              # (procedures, S, K)
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    out = []
    for j, c in enumerate(C):
        wins = np.argmin(D[:, :, j], axis=0)
        prob = {p.name: float(np.mean(wins == i)) for i, p in enumerate(fitted)}
        best = min(fitted, key=lambda p: point[fitted.index(p)][j]).name
        out.append(Standing(
            flops=float(c), best=best, prob_best=prob[best],
            predicted={p.name: float(point[i][j]) for i, p in enumerate(fitted)},
            low={p.name: float(np.quantile(D[i, :, j], lo_q)) for i, p in enumerate(fitted)},
            high={p.name: float(np.quantile(D[i, :, j], hi_q)) for i, p in enumerate(fitted)},
            prob=prob, level=level))
    return out


# ---------------------------------------------------------------------------------------------
# the HTML report
# ---------------------------------------------------------------------------------------------

def report_from_procedures(analysis: ProcedureAnalysis, *, runs_by_metric: Mapping[str, Any] | None = None,
                           title: str = "Procedures compared by scaling laws", subtitle: str = "",
                           provenance: Mapping[str, Any] | None = None) -> Any:
    """The self-contained HTML report of a :class:`ProcedureAnalysis` (a :class:`~.html.Report`).

    ``runs_by_metric`` maps further metrics (e.g. ``"zeroshot_error"``, ``"retrieval_error"``) to
    their runs, drawn against compute per procedure in the evaluation section.
    """

    a = analysis
    pct = f"{100 * a.options.get('level', 0.95):g}%"
    rep = Report(title, subtitle=subtitle)
    ov = rep.section("Verdict", intro=(
        f"Each procedure's {a.metric} is fitted against training compute ({a.flops_convention} FLOPs) "
        "with E(C) = a (C + b)^c + d on its compute Pareto frontier (Nezhurina et al. 2025, "
        "arXiv:2506.04598; the binning rule of their code). P(best) is the share of joint bootstrap "
        "draws in which a procedure has the lowest predicted error."))
    ov.add_preformatted("\n".join(a.verdict_lines()))
    ok = a.heldout_ok
    ov.add_key_values([("held-out points", len(a.heldout)),
                       ("held-out criterion", "none held out" if ok is None else "PASS" if ok else "FAIL"),
                       ("law", LAW), ("bootstrap refits per fit", a.options.get("n_boot")),
                       ("fit", ", ".join(f"{k}={v}" for k, v in a.options.get("fit_kwargs", {}).items()))])
    sec = rep.section("Crossing lines", intro=(
        f"Every run (small dots), the frontier points each law is fitted on (circles), the held-out "
        f"points (crosses) and each law with its {pct} bootstrap band, extended to "
        f"{max(a.options.get('ahead', (1,))):g}x the largest run; dashed lines mark where two laws cross "
        f"(labelled with the pair), the dotted line the largest run's compute."))
    sec.add_figure(plot_error_laws(a), caption=f"{a.metric} against compute per procedure")
    hs = rep.section("Held-out predictions", intro=(
        "As Nezhurina et al.'s Table C: the law fitted on the frontier points below each procedure's "
        f"threshold predicts the frontier points above it ({pct} prediction intervals; the interval "
        "column says which: 'calibrated' widens the bootstrap by rolling-origin backtests inside the "
        "data)."))
    hs.add_table(["procedure", "rung", "samples seen", "C (FLOPs)", "measured", "predicted",
                  f"{pct} interval", "interval", "rel. error", "inside"],
                 [[h.procedure, h.rung, f"{h.n_samples:,.0f}", f"{h.flops:.3g}",
                   f"{h.measured:.3f}" + (f" ± {h.measured_se:.3f}" if math.isfinite(h.measured_se) else ""),
                   f"{h.predicted:.3f}", f"[{h.low:.3f}, {h.high:.3f}]", h.interval_label,
                   f"{100 * h.rel_error:+.1f}%", "yes" if h.inside else "NO"] for h in a.heldout])
    hs.add_preformatted("\n".join(a.heldout_lines()[-1:] + sorted(
        {f"{h.procedure}: {h.interval} interval: {h.interval_note}" for h in a.heldout if h.interval_note})))
    ls = rep.section("Laws", intro=f"Parameters on the whole frontier with {pct} bootstrap intervals.")
    for p in a.laws:
        if p.fit is not None:
            ls.add_text(f"{p.name}: {len(p.frontier)} frontier points of {len(p.runs)} runs")
            ls.add_summary(p.fit)
    ls.add_preformatted("\n".join(a.law_lines()))
    if a.comparisons:
        cs = rep.section("Pairwise comparisons")
        for c in a.comparisons:
            cs.add_summary(c)
    if runs_by_metric:
        es = rep.section("Evaluation", intro=(
            "The metrics of every run against compute, per procedure (CLIP_benchmark-style zero-shot "
            "classification and image-text retrieval on the shape world's fixed test split)."))
        for name, r in runs_by_metric.items():
            es.add_figure(plot_metric_vs_compute(r, by=a.options.get("by", "procedure"), ylabel=name),
                          caption=f"{name} against compute")
    notes = [n for p in a.laws for n in p.notes] + list(a.notes) + list(a.warnings)
    if notes:
        rep.section("Notes").add_preformatted("\n".join(f"- {n}" for n in notes))
    if provenance:
        rep.add_provenance(provenance)
    return rep
