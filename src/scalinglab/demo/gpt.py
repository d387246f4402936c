"""``scalinglab demo``: a language-model scaling study on a laptop, in minutes.

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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..report.analysis import analyze, record_analysis
from ..report.html import collect_provenance, report_from_analysis
from ..store.store import ResultsStore
from ..sweep import plan_sweep
from .common import DemoOutput, resolve_sweep, train_sweep

__all__ = ["DemoResult", "PRESETS", "run_demo"]


#: ``preset`` -> sweep preset shipped in ``scalinglab/sweeps``.
PRESETS = {"quick": "demo", "full": "full"}


@dataclass(frozen=True, eq=False)
class DemoResult(DemoOutput):
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
    plan = plan_sweep(resolve_sweep(preset, sweep, PRESETS))
    store_path = out / "store"
    report = train_sweep(plan, out, "scalinglab demo", workers=workers, backend=backend, progress=progress)
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
