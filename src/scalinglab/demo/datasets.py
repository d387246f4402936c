"""``scalinglab demo datasets``: datasets compared by scaling laws on a CPU.

:func:`run_datasets_demo` compares *datasets* by scaling laws, as DataComp/DCLM compare filtering
recipes: it builds a raw pool (English prose and Python from the built-in datasets, with planted
duplicates), the pool after quality filters and after filters + deduplication (shipped recipes,
each step audited), trains the ``datasets-demo`` sweep (the gpt-tiny ladder on each) scoring every
run on its own validation split and on a common held-out set, and compares the datasets by
L(N, D) (:func:`scalinglab.report.datasets.analyze_datasets`): differences with intervals at the
largest budget and 10x it, crossovers, effective-data multipliers, and each recipe's audit.

The image-text half does the same for CLIP as DataComp does (Gadre et al. 2023): it builds a noisy
pool of the shape world (:mod:`scalinglab.datasets.pool`: every kind of noise at a stated rate,
each sample labelled), its CLIP-score-filtered 30% (recipe ``datasets-demo-pool-clipscore``) and,
for the audit, DataComp's four baselines in sequence (``datasets-demo-pool-baselines``, with each
step's precision and recall against the planted noise); it trains the ``datasets-demo-clip`` sweep
(clip-tiny-1..3) on the pool and on the filtered subset, scores every run on its own validation
split and on the clean world's test split, and compares the two by L(N, D) the same way.
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
from ..datasets.imagesets import get_image_text
from ..datasets.pool import PoolConfig, build_pool
from ..errors import ConfigError, DataError, UnknownNameError
from ..laws import Runs
from ..report.datasets import analyze_datasets, dataset_audits, report_from_datasets
from ..report.html import collect_provenance
from ..store.store import ResultsStore
from ..sweep import plan_sweep
from .common import resolve_sweep, train_sweep

__all__ = ["DATASETS_PRESETS", "DatasetsDemoResult", "build_demo_datasets", "build_demo_pools",
           "run_datasets_demo"]


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
#: ``preset`` -> the image-text sweep of ``scalinglab demo datasets``.
IMAGE_PRESETS = {"quick": "datasets-demo-clip"}
#: The image-text datasets: the noisy pool, its CLIP-score-filtered subset (trained on), and the
#: pool after DataComp's four baselines in sequence (audited only).
DEMO_POOL, DEMO_POOL_CLIPSCORE, DEMO_POOL_BASELINES = (
    "datasets-demo-pool", "datasets-demo-pool-clipscore", "datasets-demo-pool-baselines")
#: Samples of the noisy pool (the noise rates are :class:`~scalinglab.datasets.pool.PoolConfig`'s).
POOL_SAMPLES = 8192


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
    image_sweep: Any = None          # the image-text half's SweepReport (None when not run)
    image_analysis: Any = None       # its DatasetAnalysis

    @staticmethod
    def _analysis_lines(a: Any) -> list[str]:
        lines = ["", "verdict:"] + [f"  {v}" for v in a.verdict_lines()]
        for h in a.held_out:
            lines += ["", f"{h.description} ({h.metric}):"] + a.law_lines(h)
            lines += [f"  {v}" for v in a.comparison_lines(h)]
        for n in [n for h in a.held_out for p in h.laws for n in p.notes] + list(a.notes):
            lines.append(f"note: {n}")
        return lines

    def summary(self) -> str:
        """The text printed at the end of ``scalinglab demo datasets``."""
        a = self.analysis
        lines = [str(self.sweep), ""]
        lines += [f"datasets: {', '.join(f'{k} ({v})' for k, v in self.built.items())}"]
        if self.planted:
            lines += [f"planted in {DEMO_RAW}: {self.planted.get('exact', 0)} exact and "
                      f"{self.planted.get('near', 0)} near duplicates"]
        if a is not None:
            lines += self._analysis_lines(a)
        if self.image_analysis is not None:
            lines += ["", "image-text:", str(self.image_sweep)] + self._analysis_lines(self.image_analysis)
        t = self.timings
        lines += ["", (f"wall time {self.wall_s:.0f}s (datasets {t.get('datasets', 0):.0f}s, sweep "
                       f"{t.get('sweep', 0):.0f}s, image-text datasets {t.get('image_datasets', 0):.0f}s, "
                       f"image-text sweep {t.get('image_sweep', 0):.0f}s, analysis {t.get('analysis', 0):.0f}s, "
                       f"report {t.get('report', 0):.0f}s)"),
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


def build_demo_pools(*, n_samples: int = POOL_SAMPLES, progress: Callable[[str], Any] | None = None,
                     rebuild: bool = False, recipe_options: Mapping[str, Mapping[str, Any]] | None = None
                     ) -> dict[str, str]:
    """Build the image-text datasets of the demo (reusing those already in the data folder).

    1. ``datasets-demo-pool``: :func:`~scalinglab.datasets.pool.build_pool` of ``n_samples``
       samples at :class:`~scalinglab.datasets.pool.PoolConfig`'s noise rates (seed 0);
    2. ``datasets-demo-pool-clipscore``: recipe ``datasets-demo-pool-clipscore.yaml`` (top 30% by
       the reference CLIP's score; the reference model is trained on first use, then cached);
    3. ``datasets-demo-pool-baselines``: recipe ``datasets-demo-pool-baselines.yaml`` (audit only).

    A recipe output is reused only while its input is the pool as built now (same hash).
    ``recipe_options`` overrides step options per step kind (tests use a smaller reference model).
    Returns ``"built"`` or ``"reused"`` per dataset.
    """
    say = progress or (lambda msg: None)
    built: dict[str, str] = {}
    cfg = PoolConfig(n_samples=int(n_samples))

    def current(name: str) -> Any:
        try:
            return get_image_text(name)
        except (UnknownNameError, DataError):
            return None

    pool = current(DEMO_POOL)
    if pool is None or rebuild or pool.manifest.get("config") != cfg.to_dict():
        say(f"datasets: building {DEMO_POOL}")
        pool = build_pool(cfg, DEMO_POOL, overwrite=True, progress=lambda m: say(f"datasets: {m}"))
        built[DEMO_POOL] = "built"
    else:
        built[DEMO_POOL] = "reused"
    for name in (DEMO_POOL_CLIPSCORE, DEMO_POOL_BASELINES):
        ds = current(name)
        if ds is not None and not rebuild and [i.get("hash") for i in ds.manifest.get("inputs", ())] == [pool.hash]:
            built[name] = "reused"
            continue
        say(f"datasets: building {name}")
        data = load_mapping(RECIPE_DIR / f"{name}.yaml")
        over = dict(recipe_options or {})
        data["steps"] = [{k: {**(v or {}), **over.get(k, {})} for k, v in step.items()} for step in data["steps"]]
        run_recipe(data, overwrite=True, progress=lambda m: say(f"datasets: {m}"))
        built[name] = "built"
    return built


def _image_runs(store: ResultsStore, ids: list[str], metric: str, common_metric: str, *,
                procedure: str) -> tuple[Any, Any]:
    """The image-text runs scored on their own split (``metric``) and on the common set.

    The common-set Runs are the same rows with each record's ``common_metric`` as the target
    (rows without it are dropped).
    """
    own = store.to_runs(metric, flops_convention="6ND", procedure=procedure)
    own = own.subset(np.isin(np.asarray(own.run_id, dtype=str), ids))
    by_id = {r.run_id: r.metrics.get(common_metric) for r in store.records(status="done")}
    target = np.asarray([np.nan if by_id.get(str(i)) is None else float(by_id[str(i)]) for i in own.run_id])
    keep = np.isfinite(target)
    if not keep.any():
        return own, None
    own_k = own.subset(keep)
    common = Runs.from_arrays(target=target[keep], n_params=own_k.n_params, n_tokens=own_k.n_tokens,
                              flops=own_k.flops, run_id=own_k.run_id,
                              groups={k: v for k, v in own_k.groups.items()}, target_name=common_metric,
                              source=f"{common_metric} of the runs of {metric}")
    return own, common


def run_datasets_demo(out_dir: str | Path = "scalinglab-demo-datasets", *, preset: str = "quick",
                      workers: int | None = None, progress: Callable[[Any], Any] | None = None, sweep: Any = None,
                      backend: str = "local", n_boot: int = 200, seed: int = 0, pool_tokens: int = POOL_TOKENS,
                      rebuild_datasets: bool = False, title: str | None = None, image_sweep: Any = None,
                      pool_samples: int = POOL_SAMPLES, text: bool = True,
                      recipe_options: Mapping[str, Mapping[str, Any]] | None = None) -> DatasetsDemoResult:
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
    image_sweep : str, Path or dict, optional
        The image-text half's sweep (default for the preset: ``datasets-demo-clip``; with a custom
        ``sweep`` the image-text half runs only when this is given). It must name at least two
        image-text datasets; the demo's pool and subsets are built when it names them.
    pool_samples : int
        Samples of the noisy image-text pool.
    text : bool
        Run the text half (False: the image-text half alone).
    recipe_options : mapping, optional
        Step options that override the image-text recipes' (per step kind), e.g.
        ``{"clip_score": {"reference_samples": 2048}}``.

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
    timings: dict[str, float] = {}
    store_path = out / "store"
    files: dict[str, Path] = {}
    analysis = report = image_analysis = image_report = None
    built: dict[str, str] = {}
    planted: dict[str, int] = {}
    prov_runs = None
    image_source = image_sweep if image_sweep is not None else (
        IMAGE_PRESETS.get(preset) if sweep is None else None)
    plans = []
    if image_source is not None:                      # checked before anything trains
        iplan0 = plan_sweep(image_source, check_data=False)
        inames = _names(iplan0)
    if text:
        source = resolve_sweep(preset, sweep, DATASETS_PRESETS)
        plan0 = plan_sweep(source, check_data=False)      # the datasets may not be built yet
        names = _names(plan0)
        if {DEMO_RAW, DEMO_FILTERED, DEMO_CLEAN} & set(names):
            built, planted = build_demo_datasets(pool_tokens=pool_tokens, progress=say, rebuild=rebuild_datasets)
        timings["datasets"] = time.perf_counter() - t0
        plan = plan_sweep(source)
        plans.append(plan)
        t1 = time.perf_counter()
        report = train_sweep(plan, out, "scalinglab demo datasets", workers=workers, backend=backend,
                             progress=progress)
        timings["sweep"] = time.perf_counter() - t1
    if image_source is not None:
        t1 = time.perf_counter()
        if {DEMO_POOL, DEMO_POOL_CLIPSCORE} & set(inames):
            built.update(build_demo_pools(n_samples=pool_samples, progress=say, rebuild=rebuild_datasets,
                                          recipe_options=recipe_options))
        timings["image_datasets"] = time.perf_counter() - t1
        iplan = plan_sweep(image_source)
        plans.append(iplan)
        t1 = time.perf_counter()
        image_report = train_sweep(iplan, out, "scalinglab demo datasets (image-text)", workers=workers,
                                   backend=backend, progress=progress)
        timings["image_sweep"] = time.perf_counter() - t1
    if not plans:
        raise ConfigError("the datasets demo has nothing to run: text=False and no image-text sweep")

    store = ResultsStore(store_path, readonly=True)
    try:
        t1 = time.perf_counter()
        if text:
            ids = list(plan.run_ids)

            def table(metric: str) -> Any:      # one procedure: the store may hold the image-text half too
                r = store.to_runs(metric, flops_convention="6ND", procedure=plan.specs[0].procedure)
                return r.subset(np.isin(np.asarray(r.run_id, dtype=str), ids))

            common_name = plan.config.eval.common_dataset or ""
            runs = table("val_loss")
            common = table("val_loss_common") if common_name else None
            audits, info = dataset_audits(names)
            if DEMO_RAW in audits and not audits[DEMO_RAW]:    # the raw pool: the sample's audit
                audits[DEMO_RAW] = dataset_audits([DEMO_SAMPLE])[0][DEMO_SAMPLE]
            analysis = analyze_datasets(runs, common=common, common_dataset=common_name,
                                        datasets=[n for n in names if n in set(map(str, runs.groups["dataset"]))],
                                        audits=audits, info=info, n_boot=n_boot, seed=seed,
                                        progress=lambda m: say(f"analysis: {m}"))
            prov_runs = runs
        if image_source is not None:
            metric = iplan.config.metric or "val_contrastive_loss"
            iruns, icommon = _image_runs(store, list(iplan.run_ids), metric, f"{metric}_common",
                                         procedure=iplan.specs[0].procedure)
            inames_done = [n for n in inames if n in set(map(str, iruns.groups["dataset"]))]
            iaudits, iinfo = dataset_audits(inames_done + ([DEMO_POOL_BASELINES] if DEMO_POOL in inames_done else []))
            if DEMO_POOL in iaudits and DEMO_POOL_BASELINES in iaudits:     # the pool: DataComp's baselines
                iaudits[DEMO_POOL] = iaudits.pop(DEMO_POOL_BASELINES)
            image_analysis = analyze_datasets(
                iruns, common=icommon, common_dataset=iplan.config.eval.common_dataset or "",
                datasets=inames_done, audits=iaudits, info=iinfo, n_boot=n_boot, seed=seed, metric=metric,
                unit="samples",
                common_description=f"common held-out set: the fixed test split of the clean world "
                                   f"{iplan.config.eval.common_dataset!r}",
                progress=lambda m: say(f"analysis (image-text): {m}"))
            prov_runs = prov_runs if prov_runs is not None else iruns
        timings["analysis"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        for tag, a in (("", analysis), ("image_", image_analysis)):
            if a is None:
                continue
            for h in a.held_out:
                for p in h.laws:
                    if p.fit is not None:
                        key = f"{p.dataset}_{'common' if h.common else 'own'}"
                        files[f"fit_{key}"] = p.fit.save(out / "fits" / f"{key}.json")
            files[f"{tag}analysis"] = out / f"{tag}analysis.json"
            write_json(files[f"{tag}analysis"], a.to_dict())
        first = report if report is not None else image_report
        prov = collect_provenance(runs=prov_runs, store=store, sweep=plans[0].source, flops_convention="6ND",
                                  extra={"sweep run": str(first).splitlines()[0],
                                         **({"image-text sweep run": str(image_report).splitlines()[0]}
                                            if image_report is not None and report is not None else {})})
        extra_notes = []
        if planted:
            extra_notes.append(f"{DEMO_RAW} is {DEMO_SAMPLE} plus {planted['exact']} exact and {planted['near']} "
                               f"near duplicates (about {100 * PLANTED_EDIT:g}% of words replaced) planted by the demo")
        main = analysis if analysis is not None else image_analysis
        also = [("Image-text", image_analysis)] \
            if analysis is not None and image_analysis is not None else []
        subtitle = "; ".join(f"{len(pl.run_ids)} runs of {pl.config.ladder} on {', '.join(_names(pl))}"
                             for pl in plans)
        rep = report_from_datasets(
            main, title=title or f"scalinglab demo datasets: sweep {' + '.join(repr(pl.name) for pl in plans)}",
            subtitle=subtitle, provenance=prov, extra_notes=extra_notes, also=also)
        report_path = rep.write(out / "report.html")
        timings["report"] = time.perf_counter() - t2
    finally:
        store.close()
    both = analysis is not None and image_analysis is not None    # else the one half is the main one
    result = DatasetsDemoResult(
        out_dir=out, report_path=report_path, store_path=store_path,
        datasets=tuple(main.datasets) + (tuple(image_analysis.datasets) if both else ()), built=built,
        planted=planted, sweep=report if report is not None else image_report, analysis=main,
        wall_s=time.perf_counter() - t0, timings=timings, files=files,
        image_sweep=image_report if both else None, image_analysis=image_analysis if both else None)
    summary = out / "summary.txt"
    texts = [a.as_text() for a in (analysis, image_analysis) if a is not None]
    summary.write_text(result.summary() + "\n\n" + "\n\n".join(texts) + "\n")
    files["summary"] = summary
    return result


def _names(plan: Any) -> list[str]:
    """The datasets a sweep names (at least two: the demo compares datasets)."""
    names = plan.config.dataset
    names = [names] if isinstance(names, str) or names is None else list(names)
    if len([n for n in names if n]) < 2:
        raise ConfigError(f"{plan.source}: the datasets demo compares datasets, but the sweep names "
                          f"{'one' if names and names[0] else 'no'} dataset ({', '.join(map(str, names))}); "
                          "give several: dataset: [a, b]")
    return names

