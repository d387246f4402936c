"""``scalinglab demo clip``: CLIP vs CoCa vs MaMMUT compared by scaling laws on a CPU.

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_json
from ..ladders import get_ladder
from ..procedures import get_procedure
from ..report.html import collect_provenance
from ..report.procedures import analyze_procedures, report_from_procedures
from ..store.store import ResultsStore
from ..sweep import plan_sweep
from .common import DemoOutput, resolve_sweep, train_sweep

__all__ = ["CLIP_PRESETS", "ClipDemoResult", "run_clip_demo"]


#: ``preset`` -> sweep preset of ``scalinglab demo clip``.
CLIP_PRESETS = {"quick": "clip-demo", "full": "clip-full"}
#: Metrics drawn against compute in the evaluation section of the clip demo's report.
CLIP_FIGURE_METRICS = ("zeroshot_error", "retrieval_error", "heldout_zeroshot_error")
#: The clip demo's compute: forward FLOPs per sample x samples seen, as Nezhurina et al. count it
#: (OpenCLIP's profiler; their published laws are in these units, in GFLOPs).
CLIP_FLOPS_CONVENTION = "forward"


@dataclass(frozen=True, eq=False)
class ClipDemoResult(DemoOutput):
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
        ``"quick"``: the ``clip-demo`` sweep (rungs 1-4 of each ladder to 64k samples, 10 minutes on 2 CPU
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
    plan = plan_sweep(resolve_sweep(preset, sweep, CLIP_PRESETS))
    metric = metric or plan.metric
    store_path = out / "store"
    report = train_sweep(plan, out, "scalinglab demo clip", workers=workers, backend=backend, progress=progress)
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
