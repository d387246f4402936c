"""``scalinglab demo``, ``demo clip`` and ``demo datasets``: whole scaling studies on a laptop, in minutes.

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

:func:`run_datasets_demo` compares *datasets* by scaling laws, as DataComp/DCLM compare filtering
recipes: it builds a raw pool (English prose and Python from the built-in datasets, with planted
duplicates), the pool after quality filters and after filters + deduplication (shipped recipes,
each step audited), trains the ``datasets-demo`` sweep (the gpt-tiny ladder on each) scoring every
run on its own validation split and on a common held-out set, and compares the datasets by
L(N, D) (:func:`scalinglab.report.datasets.analyze_datasets`): differences with intervals at the
largest budget and 10x it, crossovers, effective-data multipliers, and each recipe's audit.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._io import write_json
from .config import load_mapping
from .datasets import get_dataset, register_dataset, run_recipe
from .errors import ConfigError, DataError, TrainingError, UnknownNameError, suggest
from .ladders import get_ladder
from .procedures import get_procedure
from .report.analysis import analyze, record_analysis
from .report.datasets import analyze_datasets, dataset_audits, report_from_datasets
from .report.html import collect_provenance, report_from_analysis
from .report.procedures import analyze_procedures, report_from_procedures
from .store.store import ResultsStore
from .sweep import plan_sweep, run_sweep

__all__ = ["CLIP_PRESETS", "DATASETS_PRESETS", "PRESETS", "ClipDemoResult", "DatasetsDemoResult", "DemoResult",
           "build_demo_datasets", "run_clip_demo", "run_datasets_demo", "run_demo"]

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


# ---------------------------------------------------------------------------------------------
# scalinglab demo datasets
# ---------------------------------------------------------------------------------------------

#: ``preset`` -> sweep preset of ``scalinglab demo datasets``.
DATASETS_PRESETS = {"quick": "datasets-demo"}
#: The recipes of the datasets demo, shipped in ``scalinglab/datasets/recipes``.
RECIPE_DIR = Path(__file__).resolve().parent / "datasets" / "recipes"
#: The three datasets the demo builds, in the order they are made and reported.
DEMO_SAMPLE, DEMO_RAW, DEMO_FILTERED, DEMO_CLEAN = (
    "datasets-demo-sample", "datasets-demo-raw", "datasets-demo-filtered", "datasets-demo-clean")
#: Bytes (= byte-level tokens) of the sample the raw pool is made from.
POOL_TOKENS = 6_000_000
#: Planted duplicates of the raw pool: shares of the sample's documents copied exactly and with
#: about 1 word in 100 replaced (5-gram Jaccard about 0.9 to its original: MinHash finds such
#: pairs with probability > 0.99; Jaccard >= 0.8 is the threshold docs/datasets.md states).
PLANTED_EXACT, PLANTED_NEAR, PLANTED_EDIT = 0.04, 0.12, 0.01


@dataclass(frozen=True, eq=False)
class DatasetsDemoResult:
    """What :func:`run_datasets_demo` produced.

    Attributes
    ----------
    out_dir, report_path, store_path : Path
    datasets : tuple of str
        The compared datasets (raw, filtered, clean for the preset).
    built : dict of str -> str
        Per demo dataset: ``"built"`` or ``"reused"`` (already in the data folder).
    planted : dict of str -> int
        Planted exact and near duplicates in the raw pool.
    sweep : SweepReport
    analysis : DatasetAnalysis
    wall_s : float
        Seconds for the whole demo; ``timings`` splits it into datasets, sweep, analysis, report.
    files : dict of str -> Path
    """

    out_dir: Path
    report_path: Path
    store_path: Path
    datasets: tuple[str, ...]
    built: Mapping[str, str]
    planted: Mapping[str, int]
    sweep: Any
    analysis: Any
    wall_s: float
    timings: Mapping[str, float] = field(default_factory=dict)
    files: Mapping[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        """The text printed at the end of ``scalinglab demo datasets``."""
        a = self.analysis
        lines = [str(self.sweep), ""]
        lines += [f"datasets: {', '.join(f'{k} ({v})' for k, v in self.built.items())}"]
        if self.planted:
            lines += [f"planted in {DEMO_RAW}: {self.planted.get('exact', 0)} exact and "
                      f"{self.planted.get('near', 0)} near duplicates"]
        lines += ["", "verdict:"] + [f"  {v}" for v in a.verdict_lines()]
        for h in a.held_out:
            lines += ["", f"{h.description} ({h.metric}):"] + a.law_lines(h)
            lines += [f"  {v}" for v in a.comparison_lines(h)]
        for n in [n for h in a.held_out for p in h.laws for n in p.notes] + list(a.notes):
            lines.append(f"note: {n}")
        t = self.timings
        lines += ["", (f"wall time {self.wall_s:.0f}s (datasets {t.get('datasets', 0):.0f}s, sweep "
                       f"{t.get('sweep', 0):.0f}s, analysis {t.get('analysis', 0):.0f}s, report "
                       f"{t.get('report', 0):.0f}s)"),
                  f"report:  {self.report_path}", f"store:   {self.store_path}"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _plant_duplicates(docs: list[tuple[str, str]], seed: int = 0) -> tuple[list[dict], dict[str, int]]:
    """The documents plus planted exact and near copies of a hash-chosen share of them."""
    rng = np.random.default_rng(seed)
    out = [{"id": i, "text": t} for i, t in docs]
    n_exact = n_near = 0
    for i, t in docs:
        u = int(hashlib.sha256(f"{seed}|{i}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        if u < PLANTED_EXACT:
            out.append({"id": f"copy/{i}", "text": t})
            n_exact += 1
        elif u < PLANTED_EXACT + PLANTED_NEAR:
            words = t.split(" ")
            k = max(1, int(len(words) * PLANTED_EDIT))
            for j in rng.choice(len(words), size=min(k, len(words)), replace=False):
                words[j] = words[int(rng.integers(len(words)))]
            out.append({"id": f"near/{i}", "text": " ".join(words)})
            n_near += 1
    return out, {"exact": n_exact, "near": n_near}


def build_demo_datasets(*, pool_tokens: int = POOL_TOKENS, progress: Callable[[str], Any] | None = None,
                        rebuild: bool = False) -> tuple[dict[str, str], dict[str, int]]:
    """Build the datasets demo's datasets into the data folder (reusing those already there).

    1. ``datasets-demo-sample``: recipe ``datasets-demo-sample.yaml`` (half debian-text, half
       python-sci, ``pool_tokens`` bytes);
    2. ``datasets-demo-raw``: the sample plus planted exact and near duplicates, registered from
       JSONL;
    3. ``datasets-demo-filtered``: recipe ``datasets-demo-filtered.yaml`` (quality filters);
    4. ``datasets-demo-clean``: recipe ``datasets-demo-clean.yaml`` (exact + MinHash dedup of 3).

    Returns ``(built, planted)``: ``"built"`` or ``"reused"`` per dataset, and the planted counts
    (empty when the raw pool was reused).
    """
    say = progress or (lambda msg: None)
    built: dict[str, str] = {}
    planted: dict[str, int] = {}

    def exists(name: str) -> bool:
        try:
            get_dataset(name, build=False)
            return True
        except (UnknownNameError, DataError):
            return False

    for name in (DEMO_SAMPLE, DEMO_RAW, DEMO_FILTERED, DEMO_CLEAN):
        if exists(name) and not rebuild:
            built[name] = "reused"
            continue
        say(f"datasets: building {name}")
        if name == DEMO_RAW:
            docs = list(get_dataset(DEMO_SAMPLE, build=False).documents())
            rows, planted = _plant_duplicates(docs)
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / "pool.jsonl"
                src.write_text("".join(json.dumps(r) + "\n" for r in rows))
                register_dataset(DEMO_RAW, f"{src}#text", licence="GPL-2.0-or-later AND BSD-3-Clause",
                                 description=f"{DEMO_SAMPLE} plus {planted['exact']} exact and "
                                             f"{planted['near']} near duplicates (scalinglab demo datasets)",
                                 overwrite=True)
        else:
            data = load_mapping(RECIPE_DIR / f"{name}.yaml")
            if name == DEMO_SAMPLE:
                data["mix_tokens"] = int(pool_tokens)
            run_recipe(data, overwrite=True, progress=lambda m: say(f"datasets: {name}: {m}"))
        built[name] = "built"
    return built, planted


def run_datasets_demo(out_dir: str | Path = "scalinglab-demo-datasets", *, preset: str = "quick",
                      workers: int | None = None, progress: Callable[[Any], Any] | None = None, sweep: Any = None,
                      backend: str = "local", n_boot: int = 200, seed: int = 0, pool_tokens: int = POOL_TOKENS,
                      rebuild_datasets: bool = False, title: str | None = None) -> DatasetsDemoResult:
    """Build a raw, a filtered and a deduplicated pool, train the ladder on each, compare them.

    Parameters
    ----------
    out_dir : path
        Where the store (``store/``), the report (``report.html``), the fits (``fits/``), the
        analysis (``analysis.json``) and ``summary.txt`` go. Re-running reuses finished runs.
    preset : {"quick"}
        ``"quick"``: the ``datasets-demo`` sweep (gpt-tiny-1..4, four budgets, three datasets).
    workers, progress, backend, n_boot, seed, title
        As for :func:`run_demo`.
    sweep : str, Path or dict, optional
        Run this sweep instead (it must name at least two datasets; any registered datasets).
    pool_tokens : int
        Size of the sample the raw pool is made from (bytes = byte-level tokens).
    rebuild_datasets : bool
        Rebuild the demo's datasets even when they exist in the data folder (the runs of a store
        record the hash of the dataset they trained on).

    Returns
    -------
    DatasetsDemoResult

    Raises
    ------
    ConfigError
        Unknown preset, invalid sweep, or a sweep naming fewer than two datasets.
    TrainingError
        No run finished (the store keeps what ran).
    DataError
        Fewer than two datasets have finished runs.
    """
    t0 = time.perf_counter()
    out = Path(out_dir).expanduser()
    say = progress or (lambda event: None)
    source = _resolve_sweep(preset, sweep, DATASETS_PRESETS)
    plan0 = plan_sweep(source, check_data=False)      # the datasets may not be built yet
    names = plan0.config.dataset
    names = [names] if isinstance(names, str) or names is None else list(names)
    if len([n for n in names if n]) < 2:
        raise ConfigError(f"{plan0.source}: the datasets demo compares datasets, but the sweep names "
                          f"{'one' if names and names[0] else 'no'} dataset ({', '.join(map(str, names))}); "
                          "give several: dataset: [a, b]")
    demo_names = {DEMO_RAW, DEMO_FILTERED, DEMO_CLEAN}
    built, planted = {}, {}
    if demo_names & set(names):
        built, planted = build_demo_datasets(pool_tokens=pool_tokens, progress=say, rebuild=rebuild_datasets)
    t_data = time.perf_counter() - t0
    plan = plan_sweep(source)
    common_name = plan.config.eval.common_dataset or ""
    store_path = out / "store"
    measured = plan
    if (store_path / "results.sqlite").exists():
        with ResultsStore(store_path, readonly=True) as st:
            measured = plan.calibrated(st.records(status="done"))
    say(f"scalinglab demo datasets: sweep {plan.name!r} ({plan.config.description or plan.config.ladder}); "
        f"{measured.cost(workers or _cores())}")
    say(f"output: {out}")
    report = run_sweep(plan, backend=backend, store=store_path, workers=workers, progress=progress)
    t_sweep = time.perf_counter() - t0 - t_data
    if not report.done and not report.skipped and not report.diverged:
        first = next(iter(report.failed.items()), ("-", "no run was trained"))
        raise TrainingError(f"no run of sweep {plan.name!r} finished ({len(report.failed)} failed; first "
                            f"{first[0]}: {str(first[1]).splitlines()[0] if first[1] else '?'}). Fix the cause "
                            f"and run the demo again with --out {out}: finished runs are kept")

    ids = list(plan.run_ids)
    store = ResultsStore(store_path, readonly=True)
    try:
        def table(metric: str) -> Any:
            r = store.to_runs(metric, flops_convention="6ND")
            return r.subset(np.isin(np.asarray(r.run_id, dtype=str), ids))

        runs = table("val_loss")
        common = table("val_loss_common") if common_name else None
        audits, info = dataset_audits(names)
        if DEMO_RAW in audits and not audits[DEMO_RAW]:    # the raw pool: the sample's audit
            audits[DEMO_RAW] = dataset_audits([DEMO_SAMPLE])[0][DEMO_SAMPLE]
        t1 = time.perf_counter()
        analysis = analyze_datasets(runs, common=common, common_dataset=common_name,
                                    datasets=[n for n in names if n in set(map(str, runs.groups["dataset"]))],
                                    audits=audits, info=info, n_boot=n_boot, seed=seed,
                                    progress=lambda m: say(f"analysis: {m}"))
        t_analysis = time.perf_counter() - t1
        t2 = time.perf_counter()
        files: dict[str, Path] = {}
        for h in analysis.held_out:
            for p in h.laws:
                if p.fit is not None:
                    key = f"{p.dataset}_{'common' if h.common else 'own'}"
                    files[f"fit_{key}"] = p.fit.save(out / "fits" / f"{key}.json")
        files["analysis"] = out / "analysis.json"
        write_json(files["analysis"], analysis.to_dict())
        prov = collect_provenance(runs=runs, store=store, sweep=plan.source, flops_convention="6ND",
                                  extra={"sweep run": str(report).splitlines()[0]})
        extra_notes = []
        if planted:
            extra_notes.append(f"{DEMO_RAW} is {DEMO_SAMPLE} plus {planted['exact']} exact and {planted['near']} "
                               f"near duplicates (about {100 * PLANTED_EDIT:g}% of words replaced) planted by the demo")
        rep = report_from_datasets(
            analysis, title=title or f"scalinglab demo datasets: sweep {plan.name!r}",
            subtitle=f"{len(runs)} runs of {plan.config.ladder} on {', '.join(analysis.datasets)}; "
                     f"{plan.config.description}", provenance=prov, extra_notes=extra_notes)
        report_path = rep.write(out / "report.html")
        t_report = time.perf_counter() - t2
    finally:
        store.close()
    result = DatasetsDemoResult(
        out_dir=out, report_path=report_path, store_path=store_path, datasets=analysis.datasets, built=built,
        planted=planted, sweep=report, analysis=analysis, wall_s=time.perf_counter() - t0,
        timings={"datasets": t_data, "sweep": t_sweep, "analysis": t_analysis, "report": t_report}, files=files)
    summary = out / "summary.txt"
    summary.write_text(result.summary() + "\n\n" + analysis.as_text() + "\n")
    files["summary"] = summary
    return result
