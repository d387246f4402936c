"""``scalinglab demo`` and ``scalinglab demo clip``: whole scaling studies on a laptop, in minutes.

:func:`run_demo` does what a scaling-law paper does, at toy scale:

1. trains the ``demo`` sweep preset (tiny byte-level GPTs on the Python standard library, branched
   WSD cooldowns; ``scalinglab sweep plan demo`` shows it) through the local process pool, with a
   live progress display, into ``<out>/store``;
2. analyses the finished runs (:func:`scalinglab.report.analyze`): the compute frontier, a
   Chinchilla L(N, D) fit and an L(C) fit with bootstrap intervals, the compute-optimal
   allocation, and a backtest in which the largest-compute runs are held out and predicted;
3. writes the self-contained ``<out>/report.html``, the fit artifacts ``<out>/fits/*.json``,
   a plain-text ``<out>/summary.txt`` and the analysis options in ``<out>/store/analysis.json``
   (so that ``scalinglab report <out>/store`` repeats the same backtest), and returns a
   :class:`DemoResult`.

Running it again with the same ``out_dir`` skips every finished run (the store keeps them) and
resumes interrupted ones from their checkpoints, so only the analysis is redone.

:func:`run_clip_demo` is the language-vision study of Nezhurina et al. 2025 ("Scaling laws for
robust comparison of open foundation language-vision models and datasets", arXiv:2506.04598) on
a CPU: it trains the ``clip-demo`` sweep (CLIP, CoCa and MaMMUT ladders on the shape world,
per-size learning rates, branched cooldowns), compares the procedures by E(C) = a (C + b)^c + d on
their compute Pareto frontiers (:func:`scalinglab.report.procedures.analyze_procedures`: held-out
top-compute predictions, crossovers, which procedure wins at the largest budget and at 100x it)
and writes the report, the fits and a summary the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._io import write_json
from .errors import ConfigError, TrainingError, suggest
from .ladders import get_ladder
from .procedures import get_procedure
from .report.analysis import analyze, record_analysis
from .report.html import collect_provenance, report_from_analysis
from .report.procedures import analyze_procedures, report_from_procedures
from .store.store import ResultsStore
from .sweep import plan_sweep, run_sweep

__all__ = ["CLIP_PRESETS", "PRESETS", "ClipDemoResult", "DemoResult", "run_clip_demo", "run_demo"]

#: ``preset`` -> sweep preset shipped in ``scalinglab/sweeps``.
PRESETS = {"quick": "demo", "full": "full"}
#: ``preset`` -> sweep preset of ``scalinglab demo clip``.
CLIP_PRESETS = {"quick": "clip-demo", "full": "clip-full"}
#: Metrics drawn against compute in the evaluation section of the clip demo's report.
CLIP_FIGURE_METRICS = ("zeroshot_error", "retrieval_error", "heldout_zeroshot_error")
#: The clip demo's compute: forward FLOPs per sample x samples seen, as Nezhurina et al. count it
#: (OpenCLIP's profiler; their published laws are in these units, in GFLOPs).
CLIP_FLOPS_CONVENTION = "forward"


@dataclass(frozen=True, eq=False)
class _DemoOutput:
    """What every demo returns: where its files are, the sweep's report, the analysis, timings."""

    out_dir: Path
    report_path: Path
    store_path: Path
    sweep: Any
    analysis: Any
    wall_s: float
    timings: Mapping[str, float] = field(default_factory=dict)
    files: Mapping[str, Path] = field(default_factory=dict)

    def summary(self) -> str:  # pragma: no cover - each demo writes its own
        raise NotImplementedError

    def _footer(self) -> list[str]:
        t = self.timings
        return ["", (f"wall time {self.wall_s:.0f}s (sweep {t.get('sweep', 0):.0f}s, analysis "
                     f"{t.get('analysis', 0):.0f}s, report {t.get('report', 0):.0f}s)"),
                f"report:  {self.report_path}", f"store:   {self.store_path}"]

    def __str__(self) -> str:
        return self.summary()


@dataclass(frozen=True, eq=False)
class DemoResult(_DemoOutput):
    """What :func:`run_demo` produced.

    Attributes
    ----------
    out_dir, report_path, store_path : Path
    sweep : SweepReport
        Runs trained, skipped (already in the store), diverged and failed.
    analysis : Analysis
        Frontier, fits, allocation, backtest (see :class:`scalinglab.report.Analysis`).
    wall_s : float
        Seconds for the whole demo; ``timings`` splits it into sweep, analysis and report.
    """

    @property
    def backtest_ok(self) -> bool | None:
        """Every held-out run inside its 95 % interval and within 3 % relative error."""
        return self.analysis.backtest_ok

    def summary(self) -> str:
        """The text printed at the end of ``scalinglab demo``."""
        a = self.analysis
        lines = [str(self.sweep), ""]
        lines += a.overview_text()      # a number a caveat qualifies is marked, the caveats listed
        if a.backtest is not None:
            P = a.backtest.points
            lines += ["", (f"backtest: {a.backtest.law} fitted without the {a.backtest.n_points} largest-compute "
                           f"runs, predicting them ({100 * a.backtest.level:g}% prediction intervals):")]
            for i in range(a.backtest.n_points):
                lines.append(f"  {P['run_id'][i]:<42} C={P['flops'][i]:.3g}  actual {P['actual'][i]:.4f}  "
                             f"predicted {P['predicted'][i]:.4f} [{P['low'][i]:.4f}, {P['high'][i]:.4f}]  "
                             f"{100 * P['rel_error'][i]:+.2f}%  {'inside' if P['inside'][i] else 'OUTSIDE'}")
            lines.append(f"  -> {a.verdict()}: the criterion is all inside the interval and within "
                         f"{100 * a.options.get('max_rel_error', 0.03):g}% relative error")
        for n in a.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines + self._footer())


def _resolve_sweep(preset: str, sweep: Any, presets: Mapping[str, str] = PRESETS) -> Any:
    if sweep is not None:
        return sweep
    if preset not in presets:
        raise ConfigError(f"unknown demo preset {preset!r}.{suggest(preset, presets)} Presets: "
                          f"{', '.join(f'{k} (sweep {v!r})' for k, v in presets.items())}")
    return presets[preset]


def run_demo(out_dir: str | Path = "scalinglab-demo", *, preset: str = "quick", workers: int | None = None,
             progress: Callable[[Any], Any] | None = None, sweep: Any = None, backend: str = "local", n_boot: int = 200,
             seed: int = 0, holdout: int | str = "largest 3", title: str | None = None) -> DemoResult:
    """Train the demo sweep, analyse it and write the report (``scalinglab demo``).

    Parameters
    ----------
    out_dir : path
        Where the store (``store/``), the report (``report.html``), the fits (``fits/``) and
        ``summary.txt`` go. Re-running with the same folder reuses finished runs.
    preset : {"quick", "full"}
        ``"quick"``: the ``demo`` sweep (gpt-tiny ladder, minutes on 2 CPU cores). ``"full"``: the
        ``full`` sweep (the whole gpt-tiny ladder at six token budgets, about 30 minutes on 2 CPU
        cores). For GPU or cluster scale run the ``large`` sweep with ``sweep=``.
    workers : int, optional
        Training processes at once (default: the machine's cores).
    progress : callable, optional
        Called with every event of the sweep (:class:`~scalinglab.sweep.run.SweepProgress`) and
        with a message (a string) before each step; ``scalinglab demo`` draws them. The library
        itself prints nothing.
    sweep : str, Path or dict, optional
        Run this sweep (preset name, YAML file or dict) instead of the preset's.
    backend : str
        Sweep backend (default ``"local"``, a process pool).
    n_boot : int
        Bootstrap refits for every interval.
    seed : int
        Seed of the bootstraps.
    holdout : int or str
        Runs the backtest holds out, by compute (default the 3 largest).
    title : str, optional
        Report title.

    Returns
    -------
    DemoResult

    Raises
    ------
    ConfigError
        Unknown preset or invalid sweep.
    StoreError
        ``out_dir`` is not writable, or another process is running a sweep into it.
    TrainingError
        No run finished (every run failed): nothing to analyse. The store keeps what ran.
    DataError
        Every run diverged: nothing to analyse.
    """

    t0 = time.perf_counter()
    out = Path(out_dir).expanduser()
    say = progress or (lambda event: None)
    plan = plan_sweep(_resolve_sweep(preset, sweep))
    store_path = out / "store"
    report = _train(plan, out, "scalinglab demo", workers=workers, backend=backend, progress=progress)
    t_sweep = time.perf_counter() - t0    # the sweep's closing line opens the summary (printed once)

    store = ResultsStore(store_path, readonly=True)
    try:
        runs = store.to_runs("val_loss", flops_convention="6ND")
        runs = runs.subset(np.isin(np.asarray(runs.run_id, dtype=str), list(plan.run_ids)))
        t1 = time.perf_counter()
        analysis = analyze(runs, n_boot=n_boot, seed=seed, holdout=holdout,
                           holdout_origin="the demo's holdout (scalinglab demo --holdout)",
                           progress=lambda m: say(f"analysis: {m}"))
        t_analysis = time.perf_counter() - t1
        t2 = time.perf_counter()
        files: dict[str, Path] = {}
        for name, res in (("chinchilla", analysis.fit_nd), ("loss_vs_compute", analysis.fit_c)):
            if res is not None:
                files[f"fit_{name}"] = res.save(out / "fits" / f"{name}.json")
        files["analysis_record"] = record_analysis(store_path, analysis, by="scalinglab demo")
        prov = collect_provenance(runs=runs, store=store, sweep=plan.source, flops_convention="6ND",
                                  extra={"sweep run": str(report).splitlines()[0]})
        rep = report_from_analysis(
            analysis, title=title or f"scalinglab demo: sweep {plan.name!r}",
            subtitle=f"{len(runs)} runs of the {plan.config.ladder} ladder; {plan.config.description}",
            provenance=prov)
        report_path = rep.write(out / "report.html")
        t_report = time.perf_counter() - t2
    finally:
        store.close()
    result = DemoResult(out_dir=out, report_path=report_path, store_path=store_path, sweep=report,
                        analysis=analysis, wall_s=time.perf_counter() - t0,
                        timings={"sweep": t_sweep, "analysis": t_analysis, "report": t_report}, files=files)
    summary = out / "summary.txt"
    summary.write_text(result.summary() + "\n\n" + analysis.as_text() + "\n")
    files["summary"] = summary
    return result


def _train(plan: Any, out: Path, job: str, *, workers: int | None, backend: str,
           progress: Callable[[Any], Any] | None) -> Any:
    """Train ``plan`` into ``<out>/store`` (cost estimated from this machine's earlier runs when the
    store has some); raise :class:`TrainingError` when no run finished. Returns the SweepReport."""
    say = progress or (lambda event: None)
    store_path = out / "store"
    measured = plan
    if (store_path / "results.sqlite").exists():      # estimate from what this machine measured before
        with ResultsStore(store_path, readonly=True) as st:
            measured = plan.calibrated(st.records(status="done"))
    say(f"{job}: sweep {plan.name!r} ({plan.config.description or plan.config.ladder}); "
        f"{measured.cost(workers or _cores())}")
    say(f"output: {out}")
    report = run_sweep(plan, backend=backend, store=store_path, workers=workers, progress=progress)
    if not report.done and not report.skipped and not report.diverged:
        first = next(iter(report.failed.items()), ("-", "no run was trained"))
        raise TrainingError(f"no run of sweep {plan.name!r} finished ({len(report.failed)} failed; first "
                            f"{first[0]}: {str(first[1]).splitlines()[0] if first[1] else '?'}). Fix the cause "
                            f"and run the demo again with --out {out}: finished runs are kept")
    return report


def _cores() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True, eq=False)
class ClipDemoResult(_DemoOutput):
    """What :func:`run_clip_demo` produced.

    Attributes
    ----------
    out_dir, report_path, store_path : Path
    sweep : SweepReport
    analysis : ProcedureAnalysis
        Frontiers, laws, held-out predictions, comparisons, standings
        (:class:`scalinglab.report.procedures.ProcedureAnalysis`).
    wall_s : float
        Seconds for the whole demo; ``timings`` splits it into sweep, analysis and report.
    files : dict of str -> Path
    """

    @property
    def heldout_ok(self) -> bool | None:
        """Every held-out frontier point inside its 95 % interval and within 5 % relative error."""
        return self.analysis.heldout_ok

    def summary(self) -> str:
        """The text printed at the end of ``scalinglab demo clip``."""
        a = self.analysis
        lines = [str(self.sweep), "", f"{a.metric} against compute ({a.flops_convention} FLOPs), "
                 "E(C) = a (C + b)^c + d on each procedure's compute Pareto frontier:"]
        lines += a.law_lines()
        lines += ["", "held-out top-compute frontier points (Nezhurina et al.'s Table C):"]
        lines += a.heldout_lines()
        lines += ["", "verdict:"] + [f"  {v}" for v in a.verdict_lines()]
        for n in [n for p in a.laws for n in p.notes] + list(a.notes):
            lines.append(f"note: {n}")
        return "\n".join(lines + self._footer())


def run_clip_demo(out_dir: str | Path = "scalinglab-demo-clip", *, preset: str = "quick",
                  workers: int | None = None, progress: Callable[[Any], Any] | None = None, sweep: Any = None,
                  backend: str = "local", n_boot: int = 200, seed: int = 0, metric: str | None = None,
                  title: str | None = None) -> ClipDemoResult:
    """Train CLIP, CoCa and MaMMUT ladders, compare them by scaling laws, write the report.

    Parameters
    ----------
    out_dir : path
        Where the store (``store/``), the report (``report.html``), the fits (``fits/``), the
        analysis (``analysis.json``) and ``summary.txt`` go. Re-running reuses finished runs.
    preset : {"quick", "full"}
        ``"quick"``: the ``clip-demo`` sweep (rungs 1-4 of each ladder, about 13 minutes on 2 CPU
        cores). ``"full"``: ``clip-full`` (the whole ladders, one to two hours on 2 cores).
    workers, progress, backend, n_boot, seed, title
        As for :func:`run_demo`.
    sweep : str, Path or dict, optional
        Run this sweep instead of the preset's (its procedures must share a metric).
    metric : str, optional
        The error compared (default: the sweep's ``metric``, else the first metric every
        procedure reports, ``zeroshot_error`` for the image-text procedures).

    Returns
    -------
    ClipDemoResult

    Raises
    ------
    ConfigError
        Unknown preset, invalid sweep, or procedures without a common metric.
    TrainingError
        No run finished (the store keeps what ran).
    DataError
        Fewer than two procedures have finished runs.
    """
    t0 = time.perf_counter()
    out = Path(out_dir).expanduser()
    say = progress or (lambda event: None)
    plan = plan_sweep(_resolve_sweep(preset, sweep, CLIP_PRESETS))
    metric = metric or plan.metric
    store_path = out / "store"
    report = _train(plan, out, "scalinglab demo clip", workers=workers, backend=backend, progress=progress)
    t_sweep = time.perf_counter() - t0

    order = list(dict.fromkeys(get_ladder(name).procedure for name in plan.config.ladders))
    ids = list(plan.run_ids)
    store = ResultsStore(store_path, readonly=True)
    try:
        def table(name: str) -> Any:
            r = store.to_runs(name, flops_convention=CLIP_FLOPS_CONVENTION)
            return r.subset(np.isin(np.asarray(r.run_id, dtype=str), ids))

        runs = table(metric)
        se = {r.run_id: float(r.metrics_se[metric]) for r in store.records(status="done")
              if metric in (r.metrics_se or {})}
        present = [p for p in order if p in set(map(str, runs.groups["procedure"]))]
        t1 = time.perf_counter()
        analysis = analyze_procedures(runs, metric=metric, procedures=present, n_boot=n_boot, seed=seed,
                                      metric_se=se, flops_convention=CLIP_FLOPS_CONVENTION,
                                      progress=lambda m: say(f"analysis: {m}"))
        t_analysis = time.perf_counter() - t1
        t2 = time.perf_counter()
        files: dict[str, Path] = {}
        for p in analysis.laws:
            if p.fit is not None:
                files[f"fit_{p.name}"] = p.fit.save(out / "fits" / f"{p.name}.json")
        files["analysis"] = out / "analysis.json"
        write_json(files["analysis"], analysis.to_dict())
        figures = {}
        for name in CLIP_FIGURE_METRICS:
            if name == metric or all(name in get_procedure(p).metrics for p in present):
                figures[name] = runs if name == metric else table(name)
        prov = collect_provenance(runs=runs, store=store, sweep=plan.source, flops_convention=CLIP_FLOPS_CONVENTION,
                                  extra={"sweep run": str(report).splitlines()[0]})
        rep = report_from_procedures(
            analysis, runs_by_metric=figures, title=title or f"scalinglab demo clip: sweep {plan.name!r}",
            subtitle=(f"{len(runs)} runs of {', '.join(plan.config.ladders)}; {plan.config.description}"),
            provenance=prov)
        report_path = rep.write(out / "report.html")
        t_report = time.perf_counter() - t2
    finally:
        store.close()
    result = ClipDemoResult(out_dir=out, report_path=report_path, store_path=store_path, sweep=report,
                            analysis=analysis, wall_s=time.perf_counter() - t0,
                            timings={"sweep": t_sweep, "analysis": t_analysis, "report": t_report},
                            files=files)
    summary = out / "summary.txt"
    summary.write_text(result.summary() + "\n\n" + analysis.as_text() + "\n")
    files["summary"] = summary
    return result
