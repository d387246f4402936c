"""DataComp's filtering baselines as image-text recipe steps, audited against the planted noise.

DataComp (Gadre et al. 2023, "DataComp: In search of the next generation of multimodal datasets",
Sec. 3.4 and App. N) compares filters of one pool by the models they give for the same compute.
Its baselines, on the shape world's noisy pool (:mod:`.pool`):

==================  ==========================================================================  ==================
step                rule                                                                        meant to remove
==================  ==========================================================================  ==================
``basic_filter``    DataComp's "basic filtering", on what a caption can show: fewer than        boilerplate
                    ``min_words`` words or ``min_chars`` characters, more than ``max_words``,
                    a file-name-like word (a digit, or an image extension), or a caption in
                    ``phrases`` (stock alt-texts); the first rule that fires is the reason
``clip_score``      keep the top ``keep_fraction`` (DataComp: 30%) by cosine similarity of       misaligned, partial,
                    image and caption under a reference tiny CLIP trained on the clean world     wrong_attribute,
                    (:mod:`scalinglab.train.reference`, cached by hash), or those scoring        boilerplate, shifted
                    >= ``threshold``
``image_dedup``     one copy of each (image pixels, caption) (exact), then, among samples with  exact_duplicate,
                    the same caption, images whose ``grid`` x ``grid`` mean-pooled pixels        near_duplicate
                    differ by more than ``pixel_tolerance`` (0-255) in at most ``max_differing``
                    of the cells (near: the same scene with fresh pixel noise); the first
                    occurrence is kept
``concept_filter``  DataComp's text-based filtering: keep captions that mention a word of       boilerplate, shifted
                    ``concepts`` (there: ImageNet class names; here, e.g., the clean world's
                    colours)
==================  ==========================================================================  ==================

Each step returns one *reason* per sample (``""``: kept), so what a step removes is exactly what
its rule says and can be checked sample by sample. Because every pool sample carries its noise
kind, the audit (:class:`~.audit.StepAudit`, ``info``) states each step's **precision** (share of
its removals that are of the kinds it is meant to remove) and **recall** (share of those kinds
present at its input that it removed), and the removed share of every kind (of ``clean`` too:
the price of the filter). For ``image_dedup`` a planted duplicate counts as a target only while
its original is still in the step's input. Precision of a keep-the-top-30% filter on a pool that
is 45% noise is at most 0.45 / 0.70: read the removed shares by kind beside it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._registry import Registry
from ..errors import ConfigError, DataError
from .audit import EXAMPLE_CHARS, N_EXAMPLES, Audit, StepAudit
from .imagesets import PoolSamples, get_image_text, write_image_text
from .registry import data_dir

__all__ = [
    "IMAGE_STEPS",
    "SCORERS",
    "ImageStep",
    "basic_filter",
    "check_image_options",
    "clip_score_filter",
    "concept_filter",
    "image_dedup",
    "run_image_recipe",
]


@dataclass(frozen=True)
class ImageStep:
    """An image-text recipe step: its options (with defaults; ``...`` = required), the noise kinds
    it is meant to remove (for precision/recall), and a line of description."""

    options: Mapping[str, Any]
    targets: tuple[str, ...]
    doc: str


STOCK_PHRASES = ("an image", "a picture", "image", "photo", "untitled", "click to enlarge",
                 "stock photo", "no description available")
IMAGE_STEPS: dict[str, ImageStep] = {
    "basic_filter": ImageStep({"min_words": 3, "max_words": 40, "min_chars": 6, "filenames": True,
                               "phrases": STOCK_PHRASES}, ("boilerplate",),
                              "DataComp basic filtering: caption length, file names, stock phrases"),
    "clip_score": ImageStep({"keep_fraction": 0.3, "threshold": None, "scorer": "reference-clip",
                             "reference_rung": "clip-tiny-3", "reference_samples": 16384,
                             "reference_lr": 3e-3, "reference_seed": 0},
                            ("misaligned", "partial", "wrong_attribute", "boilerplate", "shifted"),
                            "DataComp CLIP score: top fraction by reference-CLIP cosine similarity"),
    "image_dedup": ImageStep({"near": True, "grid": 16, "pixel_tolerance": 40.0, "max_differing": 0.02},
                             ("exact_duplicate", "near_duplicate"),
                             "exact (pixels + caption) and near (same caption, pooled pixels) duplicates"),
    "concept_filter": ImageStep({"concepts": ...}, ("boilerplate", "shifted"),
                                "DataComp text-based filtering: captions mentioning a target concept"),
}

#: Scorers of ``clip_score`` by name; a lazy target keeps torch out of recipe loading.
SCORERS: Registry[Callable[..., tuple[np.ndarray, dict]]] = Registry("image-text scorer")
SCORERS.register("reference-clip", target="scalinglab.train.reference:clip_scores")

_FILENAME = re.compile(r"\d|\.(jpe?g|png|gif|webp|bmp|tiff?)$")


def check_image_options(kind: str, opts: dict[str, Any], where: str) -> dict[str, Any]:
    """Values an image-text step's options must have (types are checked by the recipe loader)."""
    def bad(msg: str) -> ConfigError:
        return ConfigError(f"{where}: {msg}")

    if kind == "clip_score":
        kf, thr = opts.get("keep_fraction", 0.3), opts.get("threshold")
        if thr is not None and "keep_fraction" in opts:
            raise bad("clip_score takes keep_fraction (0-1] or threshold (-1..1), not both")
        if thr is None and not (isinstance(kf, (int, float)) and 0 < kf <= 1):
            raise bad(f"keep_fraction must be in (0, 1]; got {kf!r}")
        if thr is not None and (isinstance(thr, bool) or not isinstance(thr, (int, float)) or not -1 <= thr <= 1):
            raise bad(f"threshold must be a cosine similarity in [-1, 1]; got {thr!r}")
        if opts.get("scorer", "reference-clip") not in SCORERS:
            raise bad(f"unknown scorer {opts.get('scorer')!r}; available: {', '.join(SCORERS.names())}")
    elif kind == "concept_filter":
        c = opts.get("concepts")
        if not isinstance(c, (list, tuple)) or not c or not all(isinstance(w, str) and w.strip() for w in c):
            raise bad(f"concept_filter needs concepts: a non-empty list of words; got {c!r}")
        opts = {**opts, "concepts": tuple(w.strip().lower() for w in c)}
    elif kind == "image_dedup":
        g = opts.get("grid", 16)
        if isinstance(g, bool) or not isinstance(g, int) or g < 1:
            raise bad(f"image_dedup grid must be a positive integer; got {g!r}")
        if not 0 <= float(opts.get("max_differing", 0.02)) < 1:
            raise bad(f"image_dedup max_differing must be in [0, 1); got {opts.get('max_differing')!r}")
    elif kind == "basic_filter":
        for k in ("min_words", "max_words", "min_chars"):
            v = opts.get(k, 0)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise bad(f"basic_filter {k} must be an integer >= 0; got {v!r}")
    return opts


# --- the rules ---------------------------------------------------------------------------------

def basic_filter(captions: list[str], *, min_words: int = 3, max_words: int = 40, min_chars: int = 6,
                 filenames: bool = True, phrases: tuple[str, ...] = STOCK_PHRASES) -> np.ndarray:
    """Reason per caption (``""``: kept): ``too_few_words``, ``too_short``, ``too_many_words``,
    ``filename``, ``stock_phrase`` -- the first rule that fires, in that order."""
    stock = {" ".join(p.lower().split()) for p in phrases}
    out = np.full(len(captions), "", dtype=object)
    for i, c in enumerate(captions):
        words = c.lower().split()
        if len(words) < min_words:
            out[i] = "too_few_words"
        elif len(c.strip()) < min_chars:
            out[i] = "too_short"
        elif len(words) > max_words:
            out[i] = "too_many_words"
        elif filenames and any(_FILENAME.search(w) for w in words):
            out[i] = "filename"
        elif " ".join(words) in stock:
            out[i] = "stock_phrase"
    return out.astype(str)


def clip_score_filter(scores: np.ndarray, *, keep_fraction: float | None = 0.3,
                      threshold: float | None = None) -> tuple[np.ndarray, float]:
    """Reason per sample (``clip_score_below_threshold`` or ``""``) and the threshold used.

    With ``keep_fraction`` the threshold is the score of the ``ceil(keep_fraction * N)``-th best
    sample; ties at it are kept (DataComp keeps the top 30% this way).
    """
    s = np.asarray(scores, dtype=np.float64)
    if threshold is None:
        k = max(1, int(np.ceil(float(keep_fraction) * len(s))))
        threshold = float(np.sort(s)[::-1][k - 1])
    return np.where(s >= threshold, "", "clip_score_below_threshold").astype(str), float(threshold)


def _pooled(images: np.ndarray, grid: int) -> np.ndarray:
    n, h, w, c = images.shape
    if h % grid or w % grid:
        raise ConfigError(f"image_dedup grid {grid} must divide the image size {h}x{w}")
    return images.reshape(n, grid, h // grid, grid, w // grid, c).astype(np.float32).mean(axis=(2, 4))


def image_dedup(images: np.ndarray, captions: list[str], *, near: bool = True, grid: int = 16,
                pixel_tolerance: float = 40.0, max_differing: float = 0.02) -> np.ndarray:
    """Reason per sample (``exact_duplicate``, ``near_duplicate`` or ``""``); first occurrences are kept.

    Exact: the same pixels and caption as an earlier sample. Near: the same caption as an earlier
    kept sample and pooled images (``grid`` x ``grid`` cell means) whose cells differ by more than
    ``pixel_tolerance`` in at most a ``max_differing`` share of cells. Pixel noise of std 12
    averages to 6 per 2x2 cell, so two renders of one scene differ by > 40 in almost no cell; two
    scenes with the same caption differ where their objects or clutter sit.
    """
    n = len(captions)
    out = np.full(n, "", dtype=object)
    seen: dict[tuple[bytes, str], int] = {}
    for i in range(n):
        key = (images[i].tobytes(), captions[i])
        if key in seen:
            out[i] = "exact_duplicate"
        else:
            seen[key] = i
    if near:
        pooled = _pooled(images, grid)
        by_caption: dict[str, list[int]] = {}
        for i in range(n):
            if out[i]:
                continue
            reps = by_caption.setdefault(captions[i], [])
            if reps:
                diff = np.abs(pooled[reps] - pooled[i][None]).max(axis=-1) > pixel_tolerance   # (r, g, g)
                if (diff.mean(axis=(1, 2)) <= max_differing).any():
                    out[i] = "near_duplicate"
                    continue
            reps.append(i)
    return out.astype(str)


def concept_filter(captions: list[str], *, concepts: tuple[str, ...]) -> np.ndarray:
    """Reason per caption: ``no_target_concept`` unless a word of ``concepts`` is one of its words
    (a multi-word concept must appear as a phrase)."""
    single = {c for c in concepts if " " not in c}
    multi = [c for c in concepts if " " in c]
    out = np.full(len(captions), "", dtype=object)
    for i, c in enumerate(captions):
        words = c.lower().split()
        joined = " " + " ".join(words) + " "
        if not (single & set(words) or any(f" {m} " in joined for m in multi)):
            out[i] = "no_target_concept"
    return out.astype(str)


# --- running a recipe --------------------------------------------------------------------------

def _targets_present(kind: str, s: PoolSamples) -> np.ndarray:
    kinds = s.kinds
    mask = np.isin(kinds, IMAGE_STEPS[kind].targets)
    if kind == "image_dedup":          # a copy is a duplicate only while its original is there too
        keys = set(s.keys)
        orig = np.asarray([str(m.get("detail", {}).get("duplicate_of", "")) in keys for m in s.meta])
        mask &= orig
    return mask


def _run_step(kind: str, o: Mapping[str, Any], s: PoolSamples, world: Any, root: Path,
              say: Callable[[str], None]) -> tuple[np.ndarray, dict[str, Any]]:
    if kind == "basic_filter":
        return basic_filter(s.captions, min_words=int(o.get("min_words", 3)), max_words=int(o.get("max_words", 40)),
                            min_chars=int(o.get("min_chars", 6)), filenames=bool(o.get("filenames", True)),
                            phrases=tuple(o.get("phrases", STOCK_PHRASES))), {}
    if kind == "clip_score":
        scorer = SCORERS.get(str(o.get("scorer", "reference-clip")))
        scores, ref = scorer(s.images, s.captions, world=world, cache_dir=root / ".models",
                             rung=str(o.get("reference_rung", "clip-tiny-3")),
                             n_samples=int(o.get("reference_samples", 16384)), lr=float(o.get("reference_lr", 3e-3)),
                             seed=int(o.get("reference_seed", 0)), progress=say)
        thr = o.get("threshold")
        reasons, used = clip_score_filter(scores, keep_fraction=None if thr is not None else float(o.get("keep_fraction", 0.3)),
                                          threshold=thr)
        kinds = s.kinds
        mean = {k: round(float(scores[kinds == k].mean()), 4) for k in sorted(set(kinds))}
        return reasons, {"threshold": round(used, 6), "reference": {k: v for k, v in ref.items() if k != "cache"},
                         "mean_score_by_kind": mean}
    if kind == "image_dedup":
        return image_dedup(s.images, s.captions, near=bool(o.get("near", True)), grid=int(o.get("grid", 16)),
                           pixel_tolerance=float(o.get("pixel_tolerance", 40.0)),
                           max_differing=float(o.get("max_differing", 0.02))), {}
    if kind == "concept_filter":
        return concept_filter(s.captions, concepts=tuple(o["concepts"])), {}
    raise AssertionError(kind)


def _tokens(captions: list[str]) -> np.ndarray:
    return np.asarray([len(c.encode("utf-8")) for c in captions], dtype=np.int64)


def step_audit(index: int, kind: str, options: Mapping[str, Any], s: PoolSamples, reasons: np.ndarray,
               info: Mapping[str, Any] | None = None) -> StepAudit:
    """The audit of one step: samples and caption bytes in and out, reasons, removals by noise kind,
    examples, and precision/recall against the planted noise (``info``)."""
    removed = reasons != ""
    kinds, tok = s.kinds, _tokens(s.captions)
    target = _targets_present(kind, s)
    n_rm, tp = int(removed.sum()), int((removed & target).sum())
    by_kind = {k: {"documents": int((removed & (kinds == k)).sum()), "tokens": int(tok[removed & (kinds == k)].sum())}
               for k in sorted(set(kinds[removed]))}
    present = Counter(kinds.tolist())
    examples, seen = [], set()
    for i in np.nonzero(removed)[0]:        # one example per noise kind first, in pool order
        if kinds[i] in seen:
            continue
        seen.add(kinds[i])
        examples.append({"id": s.keys[i], "source": str(kinds[i]), "reason": str(reasons[i]),
                         "text": s.captions[i][:EXAMPLE_CHARS]})
        if len(examples) == N_EXAMPLES:
            break
    pr = {"targets": list(IMAGE_STEPS[kind].targets),
          "precision": round(tp / n_rm, 4) if n_rm else None,
          "recall": round(tp / int(target.sum()), 4) if target.any() else None,
          "in_by_kind": dict(sorted(present.items())),
          "removed_share_by_kind": {k: round(float(removed[kinds == k].mean()), 4) for k in sorted(present)}}
    return StepAudit(index=index, kind=kind, options={k: (list(v) if isinstance(v, tuple) else v)
                                                      for k, v in options.items()},
                     docs_in=len(s), docs_out=len(s) - n_rm, tokens_in=int(tok.sum()),
                     tokens_out=int(tok[~removed].sum()),
                     reasons=dict(sorted(Counter(reasons[removed].tolist()).items())),
                     removed_by_source=by_kind, examples=tuple(examples), info={**dict(info or {}), **pr})


def run_image_recipe(recipe: Any, *, root: str | Path | None = None, overwrite: bool = False,
                     progress: Callable[[str], None] | None = None) -> Any:
    """Run a checked image-text :class:`~.recipe.Recipe` (what :func:`~.recipe.run_recipe` calls).

    Inputs are built image-text datasets (:mod:`.pool`) of one clean world, concatenated in order;
    the steps run in order on what the previous ones kept; the output (kept samples, byte-identical,
    with their labels) is written through a temporary folder with its manifest and audit.

    Raises
    ------
    DataError
        The output exists and ``overwrite`` is False, the inputs come from different worlds, or a
        step removed every remaining sample (named, with the fix); nothing is written.
    """
    say = progress or (lambda msg: None)
    root = Path(root) if root is not None else data_dir()
    dest = root / recipe.name
    if dest.exists() and not overwrite:
        raise DataError(f"{recipe.source}: dataset {recipe.name!r} already exists at {str(dest)!r}; pass "
                        "overwrite=True (CLI: --overwrite) or rename the recipe's output")
    pools = [get_image_text(n, root=root) for n in recipe.inputs]
    worlds = {p.manifest.get("world_manifest_hash") for p in pools}
    if len(worlds) != 1:
        raise DataError(f"{recipe.source}: the inputs {', '.join(recipe.inputs)} come from different shape "
                        "worlds; a reference model is trained on one clean world, so filter them separately")
    parts = [p.samples() for p in pools]
    if len(parts) == 1:
        s = parts[0]
    else:                                # keys (and the originals duplicates point to) get the input's name
        def renamed(name: str, m: dict) -> dict:
            d = dict(m.get("detail", {}))
            if "duplicate_of" in d:
                d["duplicate_of"] = f"{name}/{d['duplicate_of']}"
            return {**m, "detail": d}

        s = PoolSamples(keys=[f"{p.name}/{k}" for p, part in zip(pools, parts) for k in part.keys],
                        images=np.concatenate([part.images for part in parts]),
                        captions=[c for part in parts for c in part.captions],
                        meta=[renamed(p.name, m) for p, part in zip(pools, parts) for m in part.meta],
                        png=[b for part in parts for b in part.png])
    inputs = {p.name: {"hash": p.hash, "documents": len(part), "tokens": int(_tokens(part.captions).sum())}
              for p, part in zip(pools, parts)}
    world = pools[0].world
    steps = []
    for i, step in enumerate(recipe.steps):
        say(f"{recipe.name}: step {i} {step.kind} on {len(s):,} samples")
        reasons, info = _run_step(step.kind, step.options, s, world, root, say)
        sa = step_audit(i, step.kind, step.options, s, reasons, info)
        steps.append(sa)
        if sa.docs_out == 0:
            raise DataError(f"{recipe.source}: step {i} ({step.kind}) removed every remaining sample "
                            f"({sa.docs_in:,}); loosen its options or drop it")
        s = s.take(np.nonzero(reasons == "")[0])
    audit = Audit(recipe=recipe.name, inputs=inputs, steps=tuple(steps), tokenizer="caption byte")
    base = pools[0].manifest
    info = {"generator": base.get("generator"), "version": base.get("version"),
            "world_version": base.get("world_version"), "world_manifest_hash": base.get("world_manifest_hash"),
            "seed": base.get("seed"), "config": base.get("config"), "recipe": recipe.to_dict(),
            "inputs": [{"name": p.name, "hash": p.hash} for p in pools], "description": recipe.description}
    ds = write_image_text(s, recipe.name, root=root, overwrite=overwrite, info=info, audit=audit)
    say(f"{recipe.name}: built, {ds.summary()}")
    return ds
