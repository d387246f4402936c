"""Composition recipes: strict YAML compiled to a datatrove pipeline, run, and audited.

A recipe names its input datasets, a list of steps and optionally a mix; running it writes a new
dataset (shards + manifest, moved into place only when complete) and its :class:`~.audit.Audit`::

    name: prose-clean                  # the output dataset
    description: debian-text, filtered and deduplicated
    inputs: [debian-text, python-sci]  # registered or built-in datasets
    steps:
      - gopher_quality: {min_doc_words: 50}
      - gopher_repetition: {}
      - quality_classifier: {reference: stdlib, keep_fraction: 0.5}
      - minhash_dedup: {}
    mix: {debian-text: 0.8, python-sci: 0.2}     # byte shares; must sum to 1
    executor: {tasks: 1, workers: 1}

Steps (the YAML key is the step, its mapping the options; :data:`STEPS` lists them):

* datatrove's filters, with their own options and defaults: ``gopher_quality``,
  ``gopher_repetition`` (Rae et al. 2021, Gopher, App. A), ``c4_quality`` (Raffel et al. 2020),
  ``fineweb_quality`` (Penedo et al. 2024), ``regex``; ``length`` is ``gopher_quality`` with only
  its word-count bounds (``min_words``, ``max_words``).
* ``quality_classifier``: a DCLM-style linear model on hashed n-grams (:mod:`.quality`) trained to
  tell ``reference`` (a dataset) from the pool as it stands at that step; keeps the top
  ``keep_fraction`` of the pool (or the documents scoring >= ``threshold``).
* ``exact_dedup``: datatrove's exact deduplication (one copy of identical texts is kept).
* ``minhash_dedup``: datatrove's MinHash LSH (Broder 1997; Lee et al. 2022): 5-word shingles,
  ``num_buckets`` bands of ``hashes_per_bucket`` hashes; a pair of Jaccard similarity s is caught
  with probability 1 - (1 - s^r)^b (0.92 at s = 0.8 for b = 14, r = 8). One document per cluster
  is kept.
* ``mix`` (top level): after the steps, each input is downsampled so that it makes up its weight of
  the output's bytes (:class:`~._datatrove.MixStep`); ``mix_tokens`` caps the total.
* Image-text steps, for recipes whose inputs are built image-text datasets (a noisy pool of the
  shape world, :mod:`.pool`): DataComp's baselines ``basic_filter``, ``clip_score``,
  ``image_dedup`` and ``concept_filter`` (:mod:`.imagefilters`). Such a recipe has no mix; it is
  run by :func:`~.imagefilters.run_image_recipe` (numpy, and torch for the reference CLIP), not
  datatrove, and audited the same way plus each step's precision and recall against the pool's
  planted noise.

Every step's removals are recorded (documents and byte-level tokens in and out, counts per rule
that fired, examples), so the recipe's effect is auditable. Bad input fails before anything runs,
with one line naming the recipe file and the fix: an unknown step, option or dataset, weights that
do not sum to 1; an empty result fails after running, and nothing is written.

The pipeline runs on datatrove's ``LocalPipelineExecutor`` (``executor: {tasks, workers}``) or, with
``executor: {kind: slurm, tasks, workers, partition, time, ...}``, as dependent job arrays on its
``SlurmPipelineExecutor`` (:mod:`._slurm`: submitted, waited for, failures reported with the
task's log); the stages are the same, so is the dataset (same manifest hash).
Requires ``pip install 'scalinglab[datasets]'`` (datatrove[processing], orjson, spacy; the blank
English spaCy tokenizer datatrove uses needs no model download).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import math
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._io import canonical_json
from .._optional import require
from ..config import load_mapping
from ..errors import ConfigError, DataError, suggest
from .audit import EXAMPLE_CHARS, N_EXAMPLES, Audit, StepAudit
from .imagefilters import IMAGE_STEPS, check_image_options, run_image_recipe
from .imagetext import is_shard_dataset, is_world
from .manifest import Manifest, read_shard, scan_shard
from .quality import QualityModel
from .registry import (
    Dataset,
    check_name,
    commit_dataset,
    data_dir,
    get_dataset,
    list_datasets,
    staging_dir,
    tool_versions,
)

__all__ = ["STEPS", "CompiledRecipe", "Recipe", "Step", "compile_recipe", "load_recipe", "run_recipe"]

# datatrove filters by step name: "module:class"; options are the class's keyword arguments
_DT_FILTERS = {
    "gopher_quality": "datatrove.pipeline.filters:GopherQualityFilter",
    "gopher_repetition": "datatrove.pipeline.filters:GopherRepetitionFilter",
    "c4_quality": "datatrove.pipeline.filters:C4QualityFilter",
    "fineweb_quality": "datatrove.pipeline.filters:FineWebQualityFilter",
    "regex": "datatrove.pipeline.filters:RegexFilter",
}
_NOT_OPTIONS = {"self", "exclusion_writer", "language", "batch_size"}


@dataclass(frozen=True)
class _OwnStep:
    options: Mapping[str, Any]       # option -> default (required options have no default: ...)
    doc: str


_OWN = {
    "length": _OwnStep({"min_words": 50, "max_words": 100000},
                       "Gopher's word-count bounds alone (datatrove GopherQualityFilter)"),
    "quality_classifier": _OwnStep({"reference": ..., "keep_fraction": None, "threshold": None,
                                    "n_features": 1 << 18, "ngrams": 2, "l2": 1e-4, "max_docs": 5000,
                                    "seed": 0}, "DCLM-style hashed n-gram classifier vs a reference dataset"),
    "exact_dedup": _OwnStep({}, "datatrove exact deduplication"),
    "minhash_dedup": _OwnStep({"n_grams": 5, "num_buckets": 14, "hashes_per_bucket": 8, "seed": 1},
                              "datatrove MinHash LSH near-duplicate removal"),
}
STEPS = tuple(sorted(set(_DT_FILTERS) | set(_OWN) | set(IMAGE_STEPS)))
_TOP_KEYS = ("name", "description", "inputs", "steps", "mix", "mix_tokens", "mix_seed", "executor")
_EXECUTOR_KEYS = ("kind", "tasks", "workers")
_SLURM_KEYS = {"partition": str, "time": str, "cpus_per_task": int, "mem_per_cpu_gb": int, "qos": str,
               "sbatch_args": dict, "env_command": str, "poll_s": (int, float)}


@dataclass(frozen=True)
class Step:
    """One recipe step: its name (a key of :data:`STEPS`) and its options as written."""

    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {self.kind: dict(self.options)}


@dataclass(frozen=True)
class Recipe:
    """A parsed, checked recipe (see the module docstring for the YAML)."""

    name: str
    inputs: tuple[str, ...]
    steps: tuple[Step, ...] = ()
    description: str = ""
    mix: Mapping[str, float] | None = None
    mix_tokens: int | None = None
    mix_seed: int = 0
    tasks: int = 1
    workers: int = 1
    source: str = "<recipe>"           # the file it came from (for error messages)
    executor: str = "local"            # "local" or "slurm"
    slurm: Mapping[str, Any] = field(default_factory=dict)   # the executor's Slurm options
    modality: str = "text"             # "image-text" when the inputs are image-text datasets

    def to_dict(self) -> dict[str, Any]:
        """The canonical recipe (what the manifest records; the executor is not part of it)."""
        return {"name": self.name, "description": self.description, "inputs": list(self.inputs),
                "steps": [s.to_dict() for s in self.steps],
                "mix": None if self.mix is None else dict(self.mix), "mix_tokens": self.mix_tokens,
                "mix_seed": self.mix_seed}

    @property
    def hash(self) -> str:
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()


def _fail(where: str, msg: str) -> ConfigError:
    return ConfigError(f"{where}: {msg}")


def _step_options(kind: str) -> dict[str, Any]:
    """Allowed options of a step and their defaults (``...`` = required)."""
    if kind in _OWN:
        return dict(_OWN[kind].options)
    if kind in IMAGE_STEPS:
        return dict(IMAGE_STEPS[kind].options)
    mod, _, cls = _DT_FILTERS[kind].partition(":")
    klass = getattr(__import__(mod, fromlist=[cls]), cls)
    out = {}
    for p in inspect.signature(klass.__init__).parameters.values():
        if p.name in _NOT_OPTIONS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        out[p.name] = ... if p.default is p.empty else p.default
    return out


def _check_value(where: str, key: str, value: Any, default: Any) -> Any:
    if default is ... or default is None or value is None:    # null turns a datatrove rule off
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise _fail(where, f"option {key!r} must be true or false; got {value!r}")
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(where, f"option {key!r} must be a number; got {value!r}")
    elif isinstance(default, (tuple, list)):
        if not isinstance(value, (list, tuple)):
            raise _fail(where, f"option {key!r} must be a list; got {value!r}")
        return _tuplify(value)
    elif isinstance(default, str) and not isinstance(value, str):
        raise _fail(where, f"option {key!r} must be a string; got {value!r}")
    return value


def _tuplify(v: Any) -> Any:
    return tuple(_tuplify(x) for x in v) if isinstance(v, (list, tuple)) else v


def _parse_step(raw: Any, where: str, datasets: list[str]) -> Step:
    if isinstance(raw, str):
        raw = {raw: {}}
    if not isinstance(raw, dict) or len(raw) != 1:
        raise _fail(where, f"a step is a one-key mapping like '- gopher_quality: {{}}'; got {raw!r}")
    (kind, opts), = raw.items()
    if kind not in STEPS:
        raise _fail(where, f"unknown step {kind!r}.{suggest(str(kind), STEPS)} Steps: {', '.join(STEPS)}")
    opts = {} if opts is None else opts
    if not isinstance(opts, dict):
        raise _fail(where, f"the options of {kind!r} must be a mapping; got {opts!r}")
    allowed = _step_options(kind)
    for k in opts:
        if k not in allowed:
            raise _fail(where, f"unknown option {k!r} of step {kind!r}.{suggest(str(k), allowed)} "
                               f"Options: {', '.join(allowed) or '(none)'}")
    missing = [k for k, v in allowed.items() if v is ... and k not in opts]
    if missing:
        raise _fail(where, f"step {kind!r} needs option(s) {', '.join(missing)}")
    opts = {k: _check_value(where, k, v, allowed[k]) for k, v in opts.items()}
    if kind == "quality_classifier":
        kf, thr = opts.get("keep_fraction"), opts.get("threshold")
        if (kf is None) == (thr is None):
            raise _fail(where, "quality_classifier needs exactly one of keep_fraction (0-1] or threshold (0-1)")
        if kf is not None and not (isinstance(kf, (int, float)) and 0 < kf <= 1):
            raise _fail(where, f"keep_fraction must be in (0, 1]; got {kf!r}")
        if opts["reference"] not in datasets:
            raise _fail(where, f"unknown reference dataset {opts['reference']!r}.{suggest(str(opts['reference']), datasets)} "
                               f"Available: {', '.join(datasets)}")
    if kind in IMAGE_STEPS:
        opts = check_image_options(kind, opts, where)
    if kind == "minhash_dedup":
        for k in ("n_grams", "num_buckets", "hashes_per_bucket"):
            if not isinstance(opts.get(k, 1), int) or opts.get(k, 1) < 1:
                raise _fail(where, f"minhash_dedup option {k!r} must be a positive integer; got {opts.get(k)!r}")
    return Step(kind, opts)


def load_recipe(source: str | Path | Mapping[str, Any], *, root: str | Path | None = None) -> Recipe:
    """Parse and check a recipe (a YAML/JSON file or a mapping) without running anything.

    Raises
    ------
    ConfigError
        Unknown top-level key, step, option or dataset; mix weights that are negative, name a
        dataset that is not an input, or do not sum to 1. The message names the file.
    """

    if isinstance(source, Mapping):
        data, where = dict(source), "<recipe>"
    else:
        where = str(source)
        data = load_mapping(source)
    for k in data:
        if k not in _TOP_KEYS:
            raise _fail(where, f"unknown key {k!r}.{suggest(str(k), _TOP_KEYS)} Allowed keys: {', '.join(_TOP_KEYS)}")
    if "name" not in data or "inputs" not in data:
        raise _fail(where, "a recipe needs 'name' (the output dataset) and 'inputs' (a list of datasets)")
    name = data["name"]
    try:
        check_name(name)
    except ConfigError as exc:
        raise _fail(where, str(exc)) from None
    inputs = data["inputs"]
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
        raise _fail(where, f"'inputs' must be a non-empty list of dataset names; got {inputs!r}")
    if len(set(inputs)) != len(inputs):
        raise _fail(where, f"'inputs' lists a dataset twice: {inputs!r}")
    known = list_datasets(root=root)
    for i in inputs:
        if i not in known:
            raise _fail(where, f"unknown dataset {i!r}.{suggest(i, known)} Available: {', '.join(known)}. "
                               "Register yours with `scalinglab datasets register NAME PATH`")
    if name in inputs:
        raise _fail(where, f"the output name {name!r} is also an input; give the output another name")
    steps_raw = data.get("steps") or []
    if not isinstance(steps_raw, list):
        raise _fail(where, f"'steps' must be a list; got {steps_raw!r}")
    steps = tuple(_parse_step(s, f"{where}: steps[{j}]", known) for j, s in enumerate(steps_raw))
    modality = _modality(where, inputs, steps, data, root)
    mix = data.get("mix")
    if mix is not None:
        if not isinstance(mix, dict) or not mix:
            raise _fail(where, f"'mix' must map input datasets to weights; got {mix!r}")
        for k, w in mix.items():
            if k not in inputs:
                raise _fail(where, f"mix weight for {k!r}, which is not an input.{suggest(str(k), inputs)} "
                                   f"Inputs: {', '.join(inputs)}")
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise _fail(where, f"mix weight of {k!r} must be a number >= 0; got {w!r}")
        missing = [i for i in inputs if i not in mix]
        if missing:
            raise _fail(where, f"mix gives no weight to input(s) {', '.join(missing)}; add them (0 drops one)")
        total = sum(float(w) for w in mix.values())
        if abs(total - 1.0) > 1e-6:
            fix = (" Rescale them, e.g. " + ", ".join(f"{k}: {float(w) / total:.4g}" for k, w in mix.items())
                   if total > 0 else " Give at least one input a positive weight.")
            raise _fail(where, f"mix weights must sum to 1; they sum to {total:g}.{fix}")
        mix = {k: float(v) for k, v in mix.items()}
    mix_tokens = data.get("mix_tokens")
    if mix_tokens is not None:
        if mix is None:
            raise _fail(where, "'mix_tokens' needs a 'mix'")
        if isinstance(mix_tokens, bool) or not isinstance(mix_tokens, (int, float)) or mix_tokens <= 0:
            raise _fail(where, f"'mix_tokens' must be a positive number; got {mix_tokens!r}")
        mix_tokens = int(mix_tokens)
    ex = data.get("executor") or {}
    if not isinstance(ex, dict):
        raise _fail(where, f"'executor' must be a mapping; got {ex!r}")
    kind = ex.get("kind", "local")
    if kind not in ("local", "slurm"):
        raise _fail(where, f"unknown executor kind {kind!r}.{suggest(str(kind), ('local', 'slurm'))} Use 'local' "
                           "(datatrove's LocalPipelineExecutor, this machine) or 'slurm' (its SlurmPipelineExecutor)")
    allowed = _EXECUTOR_KEYS + (tuple(_SLURM_KEYS) if kind == "slurm" else ())
    for k in ex:
        if k not in allowed:
            extra = " (a Slurm option: set kind: slurm)" if k in _SLURM_KEYS else ""
            raise _fail(where, f"unknown executor key {k!r}{extra}.{suggest(str(k), allowed)} "
                               f"Allowed: {', '.join(allowed)}")
    slurm = {k: v for k, v in ex.items() if k in _SLURM_KEYS}
    for k, v in slurm.items():
        if isinstance(v, bool) or not isinstance(v, _SLURM_KEYS[k]):
            want = getattr(_SLURM_KEYS[k], "__name__", "number")
            raise _fail(where, f"executor.{k} must be a {want}; got {v!r}")
    tasks, workers = ex.get("tasks", 1), ex.get("workers", 1)
    for k, v in (("tasks", tasks), ("workers", workers)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise _fail(where, f"executor.{k} must be a positive integer; got {v!r}")
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise _fail(where, f"'description' must be a string; got {desc!r}")
    seed = data.get("mix_seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _fail(where, f"'mix_seed' must be an integer; got {seed!r}")
    if modality == "image-text" and kind != "local":
        raise _fail(where, "image-text recipes run on this machine (their steps are not datatrove pipelines); "
                           "remove executor.kind or set it to 'local'")
    return Recipe(name=name, inputs=tuple(inputs), steps=steps, description=desc, mix=mix,
                  mix_tokens=mix_tokens, mix_seed=seed, tasks=tasks, workers=workers, source=where,
                  executor=kind, slurm=slurm, modality=modality)


def _modality(where: str, inputs: list[str], steps: tuple[Step, ...], data: Mapping[str, Any],
              root: str | Path | None) -> str:
    """``"image-text"`` for a recipe on built image-text datasets, ``"text"`` otherwise; refuses a mix of both."""
    worlds = [i for i in inputs if is_world(i, root=root)]
    if worlds:
        raise _fail(where, f"input {worlds[0]!r} is a shape world, generated on the fly; filter a built pool "
                           "instead (scalinglab.datasets.pool.build_pool)")
    image = [i for i in inputs if is_shard_dataset(i, root=root)]
    if not image:
        wrong = [s.kind for s in steps if s.kind in IMAGE_STEPS]
        if wrong:
            raise _fail(where, f"step {wrong[0]!r} is an image-text step, but the inputs are text datasets; "
                               f"image-text steps: {', '.join(sorted(IMAGE_STEPS))}")
        return "text"
    if len(image) != len(inputs):
        text = [i for i in inputs if i not in image]
        raise _fail(where, f"inputs mix image-text ({', '.join(image)}) and text ({', '.join(text)}) datasets; "
                           "a recipe filters one modality")
    wrong = [s.kind for s in steps if s.kind not in IMAGE_STEPS]
    if wrong:
        raise _fail(where, f"step {wrong[0]!r} is a text step, but the inputs are image-text datasets; "
                           f"image-text steps: {', '.join(sorted(IMAGE_STEPS))}")
    for k in ("mix", "mix_tokens"):
        if data.get(k) is not None:
            raise _fail(where, f"{k!r} is for text recipes; an image-text recipe has no mix")
    return "image-text"


# --- compile -----------------------------------------------------------------------------------

@dataclass
class Stage:
    """One datatrove pipeline, run with ``tasks`` tasks after the stages before it."""

    name: str
    pipeline: list[Any]
    tasks: int


@dataclass
class CompiledRecipe:
    """The recipe as datatrove stages, with where each step's removals and counts are written."""

    recipe: Recipe
    work: Path
    output: Path
    stages: list[Stage]
    removed: dict[int, Path]              # step index -> folder of removed documents
    counts: dict[int, Path]               # step index (-1: input) -> folder of count files
    models: dict[int, Path]               # quality-classifier step index -> model file


def compile_recipe(recipe: Recipe, *, work: str | Path, output: str | Path,
                   root: str | Path | None = None) -> CompiledRecipe:
    """Turn a recipe into datatrove stages writing shards to ``output`` (nothing runs).

    Filters run in one pipeline until a step that needs the whole pool (the quality classifier,
    deduplication, the mix); there the pool is written to a stage folder and the next stages read
    it, as datatrove's multi-stage dedup expects.
    """
    require("datatrove", extra="datasets", purpose="running dataset recipes")
    # deferred: the datatrove adapters import datatrove, an optional package (loading and
    # validating a recipe needs neither)
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.exact_dedup import (
        ExactDedupConfig,
        ExactDedupFilter,
        ExactDedupSignature,
        ExactFindDedups,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.filters import GopherQualityFilter

    from . import _datatrove as dt


    work, output = Path(work), Path(output)
    T = recipe.tasks
    stages: list[Stage] = []
    removed: dict[int, Path] = {}
    counts: dict[int, Path] = {-1: work / "counts" / "input"}
    models: dict[int, Path] = {}
    inputs = {n: get_dataset(n, root=root) for n in recipe.inputs}

    def input_readers() -> list[Any]:
        return [dt.reader(inputs[n].shard_dir, source=n) for n in recipe.inputs]

    src: Callable[[], list[Any]] = input_readers
    pending: list[Any] = [dt.CountStep(counts[-1])]
    n_stage = 0

    def materialise() -> None:
        nonlocal src, pending, n_stage
        folder = work / f"stage{n_stage}"
        stages.append(Stage(f"stage{n_stage}", [*src(), *pending, dt.writer(folder)], T))
        src, pending = (lambda f=folder: [dt.reader(f)]), []
        n_stage += 1

    for i, step in enumerate(recipe.steps):
        rm = work / "removed" / f"{i:02d}-{step.kind}"
        removed[i] = rm
        counts[i] = work / "counts" / f"{i:02d}"
        o = dict(step.options)
        if step.kind in _DT_FILTERS:
            mod, _, cls = _DT_FILTERS[step.kind].partition(":")
            klass = getattr(__import__(mod, fromlist=[cls]), cls)
            pending += [klass(exclusion_writer=dt.removed_writer(rm), **o), dt.CountStep(counts[i])]
        elif step.kind == "length":
            off = {k: None for k in ("min_avg_word_length", "max_avg_word_length", "max_symbol_word_ratio",
                                     "max_bullet_lines_ratio", "max_ellipsis_lines_ratio",
                                     "max_non_alpha_words_ratio", "min_stop_words")}
            pending += [GopherQualityFilter(min_doc_words=o.get("min_words", 50), max_doc_words=o.get("max_words", 100000),
                                            exclusion_writer=dt.removed_writer(rm), **off), dt.CountStep(counts[i])]
        elif step.kind == "quality_classifier":
            materialise()
            pool = work / f"stage{n_stage - 1}"
            model = work / "models" / f"{i:02d}-quality.npz"
            model.parent.mkdir(parents=True, exist_ok=True)
            models[i] = model
            stages.append(Stage(f"train-quality-{i:02d}", [dt.QualityTrainStep(
                str(pool), str(get_dataset(o["reference"], root=root).shard_dir), str(model),
                keep_fraction=o.get("keep_fraction"), threshold=o.get("threshold"),
                n_features=int(o.get("n_features", 1 << 18)), ngrams=int(o.get("ngrams", 2)),
                l2=float(o.get("l2", 1e-4)), max_docs=int(o.get("max_docs", 5000)),
                seed=int(o.get("seed", 0)))], 1))
            pending = [dt.QualityFilter(str(model), exclusion_writer=dt.removed_writer(rm)), dt.CountStep(counts[i])]
        elif step.kind == "exact_dedup":
            materialise()
            cfg = ExactDedupConfig(content_getter=dt.doc_text)
            sigs, dups = work / f"exact{i:02d}" / "sigs", work / f"exact{i:02d}" / "dups"
            stages.append(Stage(f"exact-sigs-{i:02d}", [*src(), ExactDedupSignature(str(sigs), config=cfg)], T))
            stages.append(Stage(f"exact-find-{i:02d}", [ExactFindDedups(str(sigs), str(dups), config=cfg)], 1))
            pending = [ExactDedupFilter(str(dups), config=cfg, exclusion_writer=dt.removed_writer(rm)),
                       dt.CountStep(counts[i])]
        elif step.kind == "minhash_dedup":
            materialise()
            cfg = MinhashConfig(n_grams=int(o.get("n_grams", 5)), num_buckets=int(o.get("num_buckets", 14)),
                                hashes_per_bucket=int(o.get("hashes_per_bucket", 8)), seed=int(o.get("seed", 1)))
            base = work / f"minhash{i:02d}"
            stages.append(Stage(f"minhash-sigs-{i:02d}", [*src(), MinhashDedupSignature(str(base / "sigs"), config=cfg)], T))
            stages.append(Stage(f"minhash-buckets-{i:02d}", [MinhashDedupBuckets(str(base / "sigs"), str(base / "buckets"),
                                                                                  config=cfg)], cfg.num_buckets))
            stages.append(Stage(f"minhash-cluster-{i:02d}", [MinhashDedupCluster(str(base / "buckets"),
                                                                                  str(base / "remove"), config=cfg)], 1))
            pending = [MinhashDedupFilter(str(base / "remove"), exclusion_writer=dt.removed_writer(rm)),
                       dt.CountStep(counts[i])]
    if recipe.mix is not None:
        materialise()
        i = len(recipe.steps)
        removed[i] = work / "removed" / f"{i:02d}-mix"
        counts[i] = work / "counts" / f"{i:02d}"
        stages.append(Stage("mix", [dt.MixStep(str(work / f"stage{n_stage - 1}"), dict(recipe.mix),
                                               total_tokens=recipe.mix_tokens, seed=recipe.mix_seed,
                                               exclusion_writer=dt.removed_writer(removed[i])),
                                    dt.CountStep(counts[i]), dt.writer(output)], 1))
    else:
        stages.append(Stage("output", [*src(), *pending, dt.writer(output)], T))
    return CompiledRecipe(recipe=recipe, work=work, output=output, stages=stages, removed=removed,
                          counts=counts, models=models)


# --- run -------------------------------------------------------------------------------------

def _read_counts(folder: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"documents": 0, "tokens": 0})
    for p in sorted(folder.glob("*.json")):
        for src, c in json.loads(p.read_text()).items():
            out[src]["documents"] += int(c["documents"])
            out[src]["tokens"] += int(c["tokens"])
    return dict(out)


def _total(c: Mapping[str, Mapping[str, int]], key: str) -> int:
    return sum(int(v[key]) for v in c.values())


def _step_audit(compiled: CompiledRecipe, i: int, kind: str, options: Mapping[str, Any],
                before: Mapping[str, Mapping[str, int]]) -> tuple[StepAudit, dict]:
    after = _read_counts(compiled.counts[i])
    reasons: Counter = Counter()
    by_src: dict[str, dict[str, int]] = defaultdict(lambda: {"documents": 0, "tokens": 0})
    examples = []
    folder = compiled.removed.get(i)
    if folder is not None and folder.exists():
        for p in sorted(folder.glob("*.jsonl")):
            for rec in read_shard(p):
                reason = rec.get("reason") or kind
                reasons[reason] += 1
                s = by_src[str(rec.get("source", ""))]
                s["documents"] += 1
                s["tokens"] += len(rec["text"].encode("utf-8"))
                if len(examples) < N_EXAMPLES:
                    examples.append({"id": rec.get("id"), "source": rec.get("source"), "reason": reason,
                                     "text": rec["text"][:EXAMPLE_CHARS]})
    info: dict[str, Any] = {}
    if i in compiled.models:

        info = QualityModel.load(compiled.models[i]).describe()
    return StepAudit(index=i, kind=kind, options=dict(options), docs_in=_total(before, "documents"),
                     docs_out=_total(after, "documents"), tokens_in=_total(before, "tokens"),
                     tokens_out=_total(after, "tokens"), reasons=dict(sorted(reasons.items())),
                     removed_by_source={k: dict(v) for k, v in sorted(by_src.items())},
                     examples=tuple(examples), info=info), after


def run_recipe(recipe: str | Path | Mapping[str, Any] | Recipe, *, root: str | Path | None = None,
               overwrite: bool = False, keep_work: bool = False,
               progress: Callable[[str], None] | None = None) -> Dataset:
    """Run a recipe and return the dataset it writes (with ``dataset.audit``).

    The output is built in a temporary folder beside ``root/<name>`` and moved into place only when
    its shards, manifest and audit are complete; an error or interrupt leaves nothing under the name.
    Running the same recipe on the same inputs twice gives the same manifest hash.

    A recipe on image-text datasets returns an :class:`~.pool.ImageTextDataset` (same guarantees).

    Raises
    ------
    ConfigError
        A bad recipe (see :func:`load_recipe`), before anything runs.
    DataError
        Every document was removed (the message names the step that removed the last ones), or
        the output exists and ``overwrite`` is False.
    """
    rec = recipe if isinstance(recipe, Recipe) else load_recipe(recipe, root=root)
    if rec.modality == "image-text":
        return run_image_recipe(rec, root=root, overwrite=overwrite, progress=progress)
    root = Path(root) if root is not None else data_dir()
    dest = root / rec.name
    if dest.exists() and not overwrite:
        raise DataError(f"{rec.source}: dataset {rec.name!r} already exists at {str(dest)!r}; pass "
                        "overwrite=True (CLI: --overwrite) or rename the recipe's output")
    from datatrove.executor import LocalPipelineExecutor

    tmp = staging_dir(root, rec.name)
    try:
        compiled = compile_recipe(rec, work=tmp / "work", output=tmp / "shards", root=root)
        log = io.StringIO()
        if rec.executor == "slurm":
            from . import _slurm  # deferred: datatrove's Slurm executor, when a recipe runs there

            with _quiet(log, tmp / "work" / "datatrove.log"):
                jobs = _slurm.submit(compiled.stages, name=rec.name, logs=tmp / "work" / "logs", options=rec.slurm,
                                     workers=rec.workers)
            if progress:
                progress(f"{rec.name}: {len(compiled.stages)} stages submitted to Slurm as job arrays "
                         f"{', '.join(jobs.jobs)}; waiting")
            jobs.wait(progress)
        else:
            for stage in compiled.stages:
                if progress:
                    progress(f"{rec.name}: {stage.name} ({stage.tasks} task(s))")
                ex = LocalPipelineExecutor(stage.pipeline, tasks=stage.tasks, workers=min(rec.workers, stage.tasks),
                                           logging_dir=str(tmp / "work" / "logs" / stage.name), skip_completed=False)
                with _quiet(log, tmp / "work" / "datatrove.log"):   # datatrove logs to stderr; we stay quiet
                    ex.run()
        _restore_loguru()
        inputs = {n: get_dataset(n, root=root) for n in rec.inputs}
        before = _read_counts(compiled.counts[-1])
        steps: list[StepAudit] = []
        kinds = [(s.kind, s.options) for s in rec.steps]
        if rec.mix is not None:
            kinds.append(("mix", {"weights": dict(rec.mix), "mix_tokens": rec.mix_tokens, "seed": rec.mix_seed}))
        for i, (kind, opts) in enumerate(kinds):
            sa, before = _step_audit(compiled, i, kind, opts, before)
            steps.append(sa)
            if sa.docs_out == 0:
                raise DataError(f"{rec.source}: step {i} ({kind}) removed every remaining document "
                                f"({sa.docs_in:,}); loosen its options or drop it")
        audit = Audit(recipe=rec.name, steps=tuple(steps), inputs={
            n: {"hash": ds.hash, "documents": ds.manifest.n_documents, "tokens": ds.manifest.n_bytes}
            for n, ds in inputs.items()})
        shard_paths = sorted((tmp / "shards").glob("*.jsonl"))
        shards = tuple(scan_shard(p, f"shards/{p.name}") for p in shard_paths)
        shards = tuple(s for s in shards if s.n_documents)
        for p in shard_paths:                      # a task that kept nothing leaves an empty file
            if not any(s.path == f"shards/{p.name}" for s in shards):
                p.unlink()
        if not shards:
            raise DataError(f"{rec.source}: the recipe kept no documents; loosen its steps")
        manifest = Manifest(name=rec.name, shards=shards, recipe=rec.to_dict(), description=rec.description,
                            sources=tuple({"kind": "dataset", "name": n, "hash": ds.hash,
                                           "licence": ds.manifest.licence} for n, ds in inputs.items()),
                            licence="; ".join(dict.fromkeys(f"{n}: {ds.manifest.licence}" for n, ds in inputs.items())),
                            provenance=tool_versions())
        manifest.save(tmp / "manifest.json")
        audit.save(tmp / "audit.json")
        if keep_work:
            with open(tmp / "work" / "datatrove.log", "a") as fh:
                fh.write(log.getvalue())
        else:
            shutil.rmtree(tmp / "work", ignore_errors=True)
        commit_dataset(tmp, dest, overwrite=overwrite)
    except BaseException:
        _restore_loguru()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        progress(f"{rec.name}: built, {manifest.summary()}")
    return get_dataset(rec.name, root=root)


@contextlib.contextmanager
def _quiet(buffer: io.StringIO, logfile: Path):
    """Send datatrove's logging to ``buffer`` (this process) and ``logfile`` (its worker processes,
    which write to file descriptor 2)."""
    import os
    import sys

    logfile.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(logfile, "ab") as fh:
            os.dup2(fh.fileno(), 2)
            with contextlib.redirect_stderr(buffer):
                yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _restore_loguru() -> None:
    """Point datatrove's logger back at the real stderr (its task logger captured our redirect)."""
    import sys

    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")

