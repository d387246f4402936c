"""``scalinglab demo datasets``: datasets compared by scaling laws on a CPU.

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

from .._io import write_json
from ..config import load_mapping
from ..datasets import get_dataset, register_dataset, run_recipe
from ..errors import ConfigError, DataError, UnknownNameError
from ..report.datasets import analyze_datasets, dataset_audits, report_from_datasets
from ..report.html import collect_provenance
from ..store.store import ResultsStore
from ..sweep import plan_sweep
from .common import resolve_sweep, train_sweep

__all__ = ["DATASETS_PRESETS", "DatasetsDemoResult", "build_demo_datasets", "run_datasets_demo"]


# ---------------------------------------------------------------------------------------------
# scalinglab demo datasets
# ---------------------------------------------------------------------------------------------

#: ``preset`` -> sweep preset of ``scalinglab demo datasets``.
DATASETS_PRESETS = {"quick": "datasets-demo"}
#: The recipes of the datasets demo, shipped in ``scalinglab/datasets/recipes``.
RECIPE_DIR = Path(__file__).resolve().parents[1] / "datasets" / "recipes"
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
    source = resolve_sweep(preset, sweep, DATASETS_PRESETS)
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
    report = train_sweep(plan, out, "scalinglab demo datasets", workers=workers, backend=backend, progress=progress)
    t_sweep = time.perf_counter() - t0 - t_data

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
