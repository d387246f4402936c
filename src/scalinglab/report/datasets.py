"""Datasets compared by scaling laws: the analysis of ``scalinglab demo datasets``.

The same ladder trained on several datasets gives one law per dataset; the datasets are then
compared the way procedures are (:mod:`.procedures`), with the public verbs of
:mod:`scalinglab.laws`:

1. **Tuned points** per dataset: the best learning rate (mean over seeds) at each (N, D)
   (:func:`~scalinglab.laws.frontier.best_per_size`).
2. **Law** per dataset: Chinchilla's L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al.
   2022, Approach 3) on the tuned points, with a bootstrap over them.
3. **Comparison** of every pair (:func:`~scalinglab.laws.comparison.compare`): along each
   dataset's compute-optimal frontier, the difference with its interval and P(A better) at the
   largest run's compute and at 10x it, the crossover compute or "none in range", the exponent
   tests, and the effective-data multiplier (how many tokens of B give the loss A reaches with D
   tokens, at A's compute-optimal N; :func:`~scalinglab.laws.comparison.data_multiplier`).
4. **Audit**: for a dataset built by a recipe, what each step removed (documents and tokens per
   step, reasons, examples), for it and for the recipe-built datasets it was made from.

**Two held-out sets, and which is which.** Every run is scored on its own dataset's validation
split (``val_loss``) and, when the sweep names one (``eval: {common_dataset: NAME}``), on one
fixed dataset's validation split (``val_loss_common``). Laws of the own-split loss say how well
each dataset *predicts itself*: a dataset that is easier to predict (more repetitive, more
boilerplate, filtered towards the easy) has a lower loss without being a better dataset. Only
the common held-out set puts the datasets on one scale, so only its comparison (and its
effective-data multiplier) says which data trains the better model *for that target
distribution*. The report keeps both, labelled, and draws its verdict from the common one.

When the numbers hold: bootstrap intervals resample tuned (N, D) points; with one seed per
configuration they carry seed noise, and the minimum over learning rates selects lucky runs.
Differences at 10x the largest run extrapolate both laws. The multiplier assumes the two laws
describe one model family trained identically, and is reported as "unreachable" where A's loss
is below B's fitted floor at that N.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..datasets import get_dataset
from ..datasets.imagesets import get_image_text
from ..errors import DataError, ScalingLabError
from ..laws import compare, fit
from ..laws.frontier import best_per_size
from .analysis import Steps, listed, param_intervals, params_text
from .html import Report
from .plots import plot_metric_vs_compute

__all__ = [
    "DatasetAnalysis",
    "DatasetLaw",
    "HeldOutSet",
    "analyze_datasets",
    "dataset_audits",
    "report_from_datasets",
]

LAW = "chinchilla"
#: Budgets at which datasets are compared, relative to the largest run.
AHEAD = (1.0, 10.0)
MIN_POINTS = 6            # a 5-parameter law needs at least this many tuned (N, D) points
OWN = "own validation split"
CAVEAT = ("a dataset that is easier to predict is not a better dataset: the own-split loss of each "
          "dataset measures how predictable that dataset is; only the common held-out set puts the "
          "datasets on one scale")


@dataclass(frozen=True, eq=False)
class DatasetLaw:
    """One dataset on one held-out set: its runs, tuned points and law."""

    dataset: str
    metric: str
    runs: Any                      # every finished run on the dataset (target: ``metric``)
    tuned: Any = None              # best learning rate per (N, D) (a Frontier)
    fit: Any = None                # Chinchilla L(N, D) with a bootstrap (None: see notes)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class HeldOutSet:
    """The laws and pairwise comparisons of every dataset on one held-out set.

    Attributes
    ----------
    metric : str
        ``"val_loss"`` (each dataset's own validation split) or ``"val_loss_common"``.
    description : str
        Which held-out tokens, in words (``"own validation split"`` or ``"common held-out set:
        the validation split of stdlib"``).
    common : bool
        True for a held-out set shared by every dataset.
    laws : tuple of DatasetLaw
    comparisons : tuple of Comparison
        Every pair with a law, in dataset order.
    runs : Runs
        Every run of every dataset, scored on this held-out set.
    """

    metric: str
    description: str
    common: bool
    laws: tuple[DatasetLaw, ...]
    comparisons: tuple[Any, ...] = ()
    runs: Any = None               # every run of every dataset on this held-out set

    def law(self, dataset: str) -> DatasetLaw:
        for p in self.laws:
            if p.dataset == dataset:
                return p
        raise KeyError(dataset)

    def comparison(self, a: str, b: str) -> Any:
        """The comparison of ``a`` with ``b`` (in either order, as computed)."""
        for c in self.comparisons:
            if set(c.names) == {a, b}:
                return c
        raise KeyError((a, b))


@dataclass(frozen=True, eq=False)
class DatasetAnalysis:
    """Everything :func:`analyze_datasets` computed.

    Attributes
    ----------
    datasets : tuple of str
        In report order.
    held_out : tuple of HeldOutSet
        The own validation splits first, then the common held-out set when there is one.
    audits : mapping of dataset -> tuple of (name, Audit)
        The recipe audits of each dataset and of the recipe-built datasets it was made from
        (empty for a dataset not built by a recipe).
    info : mapping of dataset -> mapping
        Manifest facts (hash, documents, bytes) of the datasets the registry knows.
    notes, warnings : tuple of str
    options, timings : mapping
    """

    datasets: tuple[str, ...]
    held_out: tuple[HeldOutSet, ...]
    audits: Mapping[str, tuple[tuple[str, Any], ...]] = field(default_factory=dict)
    info: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def common(self) -> HeldOutSet | None:
        """The common held-out set's laws and comparisons (None when the runs have none)."""
        return next((h for h in self.held_out if h.common), None)

    @property
    def own(self) -> HeldOutSet:
        return next(h for h in self.held_out if not h.common)

    # -- text ----------------------------------------------------------------------------------
    def _ahead(self, flops: float) -> str:
        top = self.options.get("largest_flops")
        if not top:
            return ""
        k = flops / top
        return "the largest run" if abs(k - 1) < 1e-9 else f"{k:g}x the largest run"

    def comparison_lines(self, h: HeldOutSet) -> list[str]:
        """Per pair: difference [interval] and P(A better) per budget, crossover, multiplier."""
        pct = f"{100 * self.options.get('level', 0.95):g}%"
        out = []
        for c in h.comparisons:
            a, b = c.names
            for j, C in enumerate(c.flops):
                line = (f"{a} vs {b} at {C:.3g} FLOPs ({self._ahead(C)}): {a} - {b} = {c.difference[j]:+.4f} "
                        f"[{c.difference_low[j]:+.4f}, {c.difference_high[j]:+.4f}] ({pct}), "
                        f"P({a} better) = {c.prob_a_better[j]:.2f}")
                dm = c.data_multiplier
                if dm is not None and math.isinf(dm.multiplier[j]):
                    line += (f"; effective data: {a}'s loss at N = {dm.n_params[j]:.3g}, D = {dm.n_tokens[j]:.3g} "
                             f"is below {b}'s fitted floor at that N: unreachable with any amount of {b} "
                             f"(in {100 * dm.prob_unreachable[j]:.0f}% of draws)")
                elif dm is not None:
                    m, lo, hi = (_mult(x) for x in (dm.multiplier[j], dm.low[j], dm.high[j]))
                    u = self.options.get("unit", "tokens")
                    line += (f"; a {u[:-1]} of {a} is worth {m} [{lo}, {hi}] {u} of {b} "
                             f"(N = {dm.n_params[j]:.3g}, D = {dm.n_tokens[j]:.3g}"
                             + ("; bootstrap interval, not calibrated for extrapolation"
                                if c.outside_decades is not None and np.max(np.asarray(c.outside_decades)[:, j]) > 0
                                else "") + ")")
                out.append(line)
            out.append(f"{a} vs {b}: intervals: {c.describe_interval()}")
            co = c.crossover
            if co.state == "crossover":
                iv = (f"{pct} interval [{co.low:.3g}, {co.high:.3g}]" if math.isfinite(co.low)
                      else "no interval: too few draws cross")
                out.append(f"{a} vs {b}: crossover at {co.flops:.3g} FLOPs ({iv}; {100 * co.fraction:.0f}% of "
                           f"draws cross); {co.before} is better below, {co.after} above")
            else:
                out.append(f"{a} vs {b}: crossover none in range [{co.search_flops[0]:.3g}, "
                           f"{co.search_flops[1]:.3g}] FLOPs ({co.before} better throughout; "
                           f"{100 * co.fraction:.0f}% of draws cross)")
        if not h.comparisons:
            have = [p.dataset for p in h.laws if p.fit is not None]
            out.append(f"no comparison: {len(have)} of {len(h.laws)} datasets have a law "
                       f"({', '.join(have) or 'none'}); see the notes")
        return out

    def ranking(self, h: HeldOutSet | None = None) -> list[tuple[str, float]]:
        """Datasets by their law's predicted loss at the largest budget compared (lowest first)."""
        h = h or self.common or self.own
        C = max(self.options.get("budgets", (math.nan,)))
        rows = [(p.dataset, float(p.fit.law.optimal_loss(p.fit.params, [C])[1][0]))
                for p in h.laws if p.fit is not None]
        return sorted(rows, key=lambda r: r[1])

    def verdict_lines(self) -> list[str]:
        """Which dataset is better, on which held-out set, and the caveat."""
        out = []
        h = self.common
        if h is None:
            out.append("no common held-out set (sweep eval.common_dataset): the comparison below is of "
                       "each dataset's own validation split only, so it ranks predictability, not "
                       f"quality ({CAVEAT})")
        rank = self.ranking()
        if rank:
            which = h.description if h is not None else self.own.description
            C = max(self.options.get("budgets", (math.nan,)))
            out.append(f"on the {which}, predicted loss at {C:.3g} FLOPs ({self._ahead(C)}): "
                       + ", ".join(f"{d} {v:.4f}" for d, v in rank))
        return out

    def law_lines(self, h: HeldOutSet) -> list[str]:
        lvl = self.options.get("level", 0.95)
        out = []
        for p in h.laws:
            if p.fit is None:
                out.append(f"  {p.dataset}: no law ({'; '.join(p.notes) or 'too few points'})")
                continue
            ps = params_text(p.fit, lvl)
            out.append(f"  {p.dataset}: {len(p.tuned)} tuned points of {len(p.runs)} runs; {ps}"
                       f"{'' if p.fit.ok else ' (fit not ok)'}")
        return out

    def as_text(self) -> str:
        pct = f"{100 * self.options.get('level', 0.95):g}%"
        out = [f"Datasets compared by L(N, D) ({', '.join(self.datasets)})", "=" * 72, "Verdict:"]
        out += [f"  {v}" for v in self.verdict_lines()]
        out += [f"  note: {CAVEAT}"]
        for h in self.held_out:
            out += ["", f"Held-out set: {h.description} ({h.metric}); laws with {pct} bootstrap intervals:"]
            out += self.law_lines(h)
            out += [f"  {line}" for line in self.comparison_lines(h)]
        for d in self.datasets:
            for name, audit in self.audits.get(d, ()):
                rel = "" if name == d else (f" (a recipe on {d})" if d in audit.inputs else f" (an input of {d})")
                out += ["", f"Audit of {name}{rel}:",
                        audit.as_text(examples=False)]
        out += listed("Warnings", self.warnings) + listed("Notes", [n for h in self.held_out for p in h.laws for n in p.notes] + list(self.notes))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.as_text()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready digest (laws, comparisons, audits)."""
        lvl = self.options.get("level", 0.95)
        held = []
        for h in self.held_out:
            held.append({
                "metric": h.metric, "description": h.description, "common": h.common,
                "laws": {p.dataset: {"n_runs": len(p.runs), "n_tuned": len(p.tuned) if p.tuned is not None else 0,
                                     "params": dict(p.fit.params) if p.fit is not None else None,
                                     "ci": ({k: list(v) for k, v in param_intervals(p.fit, lvl).items()}
                                            if p.fit is not None else None),
                                     "notes": list(p.notes)} for p in h.laws},
                "comparisons": [c.to_dict() for c in h.comparisons]})
        return {"datasets": list(self.datasets), "law": LAW, "held_out": held,
                "audits": {d: [{"name": n, **a.to_dict()} for n, a in chain] for d, chain in self.audits.items()},
                "info": {d: dict(v) for d, v in self.info.items()}, "notes": list(self.notes),
                "caveat": CAVEAT,
                "options": {k: v for k, v in self.options.items()
                            if isinstance(v, (int, float, str, bool, type(None)))}}


def _mult(m: float) -> str:
    return "unreachable" if math.isinf(m) else f"{m:.3g}"




def _distinct(values: Any) -> int:
    return 0 if values is None else len({str(v) for v in values})


def dataset_audits(names: Sequence[str], *, root: Any = None) -> tuple[dict[str, tuple[tuple[str, Any], ...]],
                                                                      dict[str, dict[str, Any]]]:
    """The recipe audits of each named dataset and of the recipe-built datasets it was made from.

    Returns ``(audits, info)``: ``audits[name]`` is a tuple of ``(dataset, Audit)`` from ``name``
    back through its recipe inputs (empty for a dataset not built by a recipe, a path, or a name
    the registry does not know); ``info[name]`` its manifest facts. Nothing is built.
    """
    audits: dict[str, tuple[tuple[str, Any], ...]] = {}
    info: dict[str, dict[str, Any]] = {}
    for name in names:
        chain: list[tuple[str, Any]] = []
        todo, seen = [name], set()
        while todo:
            n = todo.pop(0)
            if n in seen:
                continue
            seen.add(n)
            try:
                ds = get_dataset(n, root=root, build=False)
                facts = {"hash": ds.hash, "documents": ds.manifest.n_documents, "bytes": ds.manifest.n_bytes}
            except (ScalingLabError, OSError):
                try:                                   # an image-text pool or recipe output
                    ds = get_image_text(n, root=root)
                except (ScalingLabError, OSError):
                    continue
                facts = {"hash": ds.hash, "documents": ds.n_samples,
                         "bytes": sum(int(s["bytes"]) for s in ds.manifest["shards"]),
                         "samples by noise kind": ", ".join(f"{k} {v:,}" for k, v in ds.counts.items() if v)}
            if n == name:
                info[name] = {**facts, "recipe": "yes" if ds.audit is not None else "no"}
            if ds.audit is not None:
                chain.append((n, ds.audit))
                todo.extend(ds.audit.inputs)
        audits[name] = tuple(chain)
    return audits, info


def analyze_datasets(runs: Any, *, common: Any = None, common_dataset: str = "",
                     datasets: Sequence[str] | None = None, audits: Mapping[str, Any] | None = None,
                     info: Mapping[str, Mapping[str, Any]] | None = None, n_boot: int = 200, seed: int = 0,
                     level: float = 0.95, ahead: Sequence[float] = AHEAD,
                     fit_kwargs: Mapping[str, Any] | None = None, metric: str = "val_loss", unit: str = "tokens",
                     common_description: str | None = None,
                     progress: Callable[[str], None] | None = None) -> DatasetAnalysis:
    """Fit L(N, D) per dataset and compare every pair, on own and common held-out sets.

    Parameters
    ----------
    runs : Runs
        Finished runs with ``n_params``, ``n_tokens``, ``flops`` and a ``dataset`` group column;
        the target is each run's loss on its own dataset's validation split
        (``ResultsStore.to_runs("val_loss")``).
    common : Runs, optional
        The same runs scored on one common held-out set (``to_runs("val_loss_common")``).
    common_dataset : str
        The dataset whose validation split ``common`` was scored on (named in the text).
    datasets : sequence of str, optional
        The datasets in report order (default: sorted).
    audits, info : mapping, optional
        From :func:`dataset_audits` (default: looked up in the registry for ``datasets``).
    n_boot, seed, level
        Bootstrap refits per fit, their seed, the level of every interval.
    ahead : sequence of float
        Budgets, as multiples of the largest run's compute, at which the datasets are compared
        (default: the largest run and 10x it).
    fit_kwargs : mapping, optional
        Options of every fit.
    metric : str
        The name of ``runs``' target (the own-split metric), as the text shows it.
    unit : str
        What D counts (``"tokens"``; ``"samples"`` for image-text procedures), named in the text.
    common_description : str, optional
        The common held-out set in words (default: "the validation split of <common_dataset>").
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    DatasetAnalysis

    Raises
    ------
    DataError
        No ``dataset`` column, fewer than two datasets, or runs without N, D and compute.
    """
    say = progress or (lambda msg: None)
    groups = getattr(runs, "groups", {}) or {}
    if "dataset" not in groups:
        raise DataError("the runs have no 'dataset' column; load them with ResultsStore.to_runs(...), whose "
                        "groups include the dataset")
    if runs.n_params is None or runs.n_tokens is None or runs.flops is None:
        raise DataError("comparing datasets by L(N, D) needs n_params, n_tokens and flops of every run")
    present = sorted({str(d) for d in groups["dataset"]})
    names = list(datasets) if datasets is not None else present
    missing = [n for n in names if n not in present]
    if missing:
        raise DataError(f"no finished run on {', '.join(map(repr, missing))}; the runs hold "
                        f"{', '.join(present)}")
    if len(names) < 2:
        raise DataError(f"comparing datasets needs runs on at least two datasets; the runs hold only "
                        f"{', '.join(map(repr, names))}. Name several in the sweep (dataset: [a, b])")
    fkw = dict(fit_kwargs or {})
    steps = Steps(say)
    notes, timings, caught_all = steps.notes, steps.timings, steps.warnings
    step = steps.run

    top = float(np.max(runs.flops))
    budgets = [top * float(a) for a in ahead]
    sets = [(runs, metric, OWN, False)]
    if common is not None:
        sets.append((common, getattr(common, "target_name", "") or "val_loss_common",
                     common_description or (f"common held-out set: the validation split of {common_dataset}"
                                            if common_dataset else "common held-out set"), True))
    held: list[HeldOutSet] = []
    for r_all, metric, desc, is_common in sets:
        tag = "common" if is_common else "own"
        arms = r_all.split("dataset")
        laws = []
        for k, name in enumerate(names):
            pnotes: list[str] = []
            r = arms.get(name)
            if r is None:
                laws.append(DatasetLaw(name, metric, None, notes=(f"{name} ({tag}): no run has {metric}",)))
                continue
            g = r.groups
            tuned_col = "lr" if _distinct(g.get("lr")) > 1 else None
            mean_over = "seed" if _distinct(g.get("seed")) > 1 else None
            tuned = step(f"{name} ({tag}): best learning rate per (N, D)",
                         lambda: best_per_size(r, by=["n_params", "n_tokens"], tuned=tuned_col,
                                               mean_over=mean_over), pnotes)
            res = None
            if tuned is not None and len(tuned) < MIN_POINTS:
                pnotes.append(f"{name} ({tag}): {len(tuned)} tuned (N, D) points (< {MIN_POINTS}); no law fitted")
            elif tuned is not None:
                res = step(f"{name} ({tag}): fit {LAW} L(N, D)",
                           lambda: fit(LAW, tuned, n_boot=n_boot, seed=seed + k, **fkw), pnotes)
            laws.append(DatasetLaw(name, metric, r, tuned, res, tuple(pnotes)))
        fitted = [p for p in laws if p.fit is not None]
        comps = []
        for pa, pb in itertools.combinations(fitted, 2):
            c = step(f"compare {pa.dataset} vs {pb.dataset} ({tag})",
                     lambda: compare(pa.fit, pb.fit, flops=budgets, names=(pa.dataset, pb.dataset), level=level,
                                             n_boot=n_boot, seed=seed, interval="calibrated"), notes)
            if c is not None:
                comps.append(c)
        held.append(HeldOutSet(metric=metric, description=desc, common=is_common, laws=tuple(laws),
                               comparisons=tuple(comps), runs=r_all))
    if audits is None or info is None:
        found_a, found_i = dataset_audits(names)
        audits = found_a if audits is None else audits
        info = found_i if info is None else info
    return DatasetAnalysis(
        datasets=tuple(names), held_out=tuple(held), audits=dict(audits), info=dict(info),
        notes=tuple(notes), warnings=tuple(dict.fromkeys(caught_all)),
        options={"law": LAW, "n_boot": n_boot, "seed": seed, "level": level, "largest_flops": top,
                 "budgets": tuple(budgets), "ahead": tuple(float(a) for a in ahead),
                 "common_dataset": common_dataset, "fit_kwargs": fkw, "unit": unit},
        timings=timings)


# ---------------------------------------------------------------------------------------------
# the HTML report
# ---------------------------------------------------------------------------------------------

def report_from_datasets(analysis: DatasetAnalysis, *, title: str = "Datasets compared by scaling laws",
                         subtitle: str = "", provenance: Mapping[str, Any] | None = None,
                         extra_notes: Sequence[str] = (),
                         also: Sequence[tuple[str, DatasetAnalysis]] = ()) -> Any:
    """The self-contained HTML report of a :class:`DatasetAnalysis` (a :class:`~.html.Report`):
    the verdict, one section per dataset (law with intervals on each held-out set, the
    comparisons it takes part in, the recipe's audit), and the pairwise comparisons.

    ``also`` adds further analyses (``(heading, analysis)``, e.g. the image-text half of the
    datasets demo) after the first, each with the same sections under its heading.
    """
    rep = Report(title, subtitle=subtitle)
    notes = _add_analysis(rep, analysis, "")
    for heading, other in also:
        notes += _add_analysis(rep, other, heading)
    notes += list(extra_notes)
    if notes:
        rep.section("Notes").add_preformatted("\n".join(f"- {n}" for n in notes))
    if provenance:
        rep.add_provenance(provenance)
    return rep


def _add_analysis(rep: Any, a: DatasetAnalysis, heading: str) -> list[str]:
    """Add one analysis's sections to ``rep`` (titles prefixed by ``heading``); returns its notes."""
    pct = f"{100 * a.options.get('level', 0.95):g}%"
    pre = f"{heading}: " if heading else ""
    unit = a.options.get("unit", "tokens")
    ov = rep.section(f"{pre}Verdict", intro=(
        "The same ladder trained on each dataset; one Chinchilla law L(N, D) per dataset on its "
        f"best-learning-rate points (Hoffmann et al. 2022, Approach 3; D counts {unit}), compared along each law's "
        f"compute-optimal frontier at the largest run's compute and at {max(a.options.get('ahead', (10,))):g}x "
        f"it ({pct} intervals from paired bootstrap draws; beyond the data, the difference carries its own "
        "calibrated extrapolation error where both datasets' rolling backtests pair up run by run, else each "
        "arm's, added independently, where its backtests suffice; each comparison says which). "
        "Which held-out set is which: "
        f"'{OWN}' scores each run on its own dataset; the common held-out set scores every run on "
        f"the same data. Note: {CAVEAT}."))
    ov.add_preformatted("\n".join(a.verdict_lines()))
    for h in a.held_out:
        ov.add_preformatted(f"[{h.description}, {h.metric}]\n" + "\n".join(a.comparison_lines(h)))
    for h in a.held_out:
        if h.runs is not None:
            ov.add_figure(plot_metric_vs_compute(h.runs, by="dataset", ylabel=h.metric,
                                                 title=f"{h.metric} against compute"),
                          caption=f"{h.metric} ({h.description}) against compute: every run (dots) and "
                                  "each dataset's compute envelope, the best loss at or below each compute "
                                  "(step line)")
    for d in a.datasets:
        sec = rep.section(f"{pre}Dataset {d}")
        facts = a.info.get(d, {})
        if facts:
            rows = [("manifest hash", str(facts.get("hash", ""))[:16]),
                    ("documents" if unit == "tokens" else "samples", f"{facts.get('documents', 0):,}"),
                    ("bytes", f"{facts.get('bytes', 0):,}"), ("built by a recipe", facts.get("recipe", "no"))]
            rows += [(k, str(v)) for k, v in facts.items() if k not in ("hash", "documents", "bytes", "recipe")]
            sec.add_key_values(rows)
        for h in a.held_out:
            p = h.law(d)
            if p.fit is not None:
                sec.add_text(f"Law on the {h.description} ({h.metric}), {pct} bootstrap intervals:")
                sec.add_summary(p.fit)
            else:
                sec.add_preformatted(f"no law on the {h.description}: {'; '.join(p.notes) or 'no runs'}")
            lines = [line for line in a.comparison_lines(h) if line.startswith(f"{d} vs ") or f" vs {d}" in line]
            if lines:
                sec.add_preformatted(f"[{h.description}]\n" + "\n".join(lines))
        chain = a.audits.get(d, ())
        if not chain:
            sec.add_text("Not built by a recipe: no audit.")
        for name, audit in chain:
            what = ("samples and caption bytes removed per step, with examples; precision and recall "
                    "against the pool's planted noise" if audit.tokenizer != "byte"
                    else "documents and byte-level tokens removed per step, with examples")
            rel = "" if name == d else (f" (a recipe on {d})" if d in audit.inputs else f" (an input of {d})")
            sec.add_text(f"Recipe audit of {name}{rel}: {what}.")
            sec.add_html(audit._repr_html_())
    for h in a.held_out:
        if h.comparisons:
            cs = rep.section(f"{pre}Pairwise comparisons ({h.description})")
            for c in h.comparisons:
                cs.add_summary(c)
    return [n for h in a.held_out for p in h.laws for n in p.notes] + list(a.notes) + list(a.warnings)
