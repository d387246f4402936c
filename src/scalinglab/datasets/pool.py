"""A noisy image-text pool of the shape world, materialised as WebDataset shards with its noise labelled.

DataComp (Gadre et al. 2023) starts from a large uncurated pool of web image-text pairs and asks
which filter gives the better model for the same compute. Web pairs are noisy in known ways; a
pool of the shape world plants each of them at a stated rate, and marks every sample with what
was done to it, so that a filter's removals can be checked against ground truth:

===================  ============================================================================
noise kind           what the sample is
===================  ============================================================================
``clean``            a scene and its caption (:mod:`.shapeworld`)
``misaligned``       a scene with another scene's caption (alt-text of the wrong image)
``partial``          a scene of k >= 2 groups whose caption mentions one of them
``wrong_attribute``  one group's colour, shape or size in the caption swapped for another
``boilerplate``      a caption that says nothing about the image ("an image", "img_0423.jpg",
                     "click to enlarge", ...)
``exact_duplicate``  a byte-identical copy (image and caption) of an earlier clean sample
``near_duplicate``   an earlier clean scene rendered again (new pixel noise), same caption
``shifted``          concept shift: colours unseen in the clean world (the next ``shift_colours``
                     of :data:`~.shapeworld.COLOURS`) and the shapes' Zipf order reversed
===================  ============================================================================

Every sample belongs to exactly one kind; the counts are ``round(rate * n_samples)`` per kind and
the rest are clean. Duplicates copy a clean sample that comes *earlier* in the pool, so "keep the
first occurrence" is the right answer of a deduplicator. Samples are WebDataset records
``<key>.png`` (lossless, so exact copies are byte-identical), ``<key>.txt`` (the caption) and
``<key>.json`` (``kind``, ``detail`` -- what was swapped, whose caption, the duplicated key -- and
``true_caption``, the caption of the image itself). :func:`build_pool` writes them as a built
image-text dataset (:mod:`.imagesets`: ``<data_dir>/<name>/``, a manifest with a hash per shard,
counts per kind, generator versions and seed, through a temporary folder renamed into place); the
same config and seed give byte-identical shards and the same hash. Sweeps train on the pool by name
(``dataset: <name>``; :func:`~.imagetext.open_image_text`).

Generation is vectorised as the world's is: one :func:`~.shapeworld.sample_scenes` and one
:func:`~.shapeworld.render` call for the pool (one more for near duplicates); captions are built
per sample in Python, PNGs are encoded by Pillow (``benchmarks/pool_throughput.py`` measures it).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require
from ..errors import ConfigError, suggest
from . import shapeworld as sw
from .imagesets import KINDS, ImageTextDataset, PoolSamples, write_image_text

__all__ = ["NOISE_KINDS", "PoolConfig", "build_pool", "pool_samples"]

POOL_VERSION = 1                 # bump whenever a change alters any generated pool sample
NOISE_KINDS = KINDS[1:]          # KINDS (imagesets): "clean" and the noise kinds
#: Captions that say nothing about the image; ``{n}`` is a random number. The last three have three
#: words, so a word-count rule alone does not catch them.
BOILERPLATE = ("an image", "a picture", "image", "untitled", "photo {n}", "img_{n:04d}.jpg",
               "dsc{n:05d}.png", "click to enlarge", "view larger image", "stock photo free")
_POOL_TAG = 0x9001
_DUP_START = 8                   # duplicates sit at positions >= n / _DUP_START (their originals before)


@dataclass(frozen=True)
class PoolConfig:
    """A noisy pool: its size, seed, clean world and the rate of each noise kind (shares of samples)."""

    n_samples: int = 4096            # samples in the pool
    seed: int = 0
    world: sw.WorldConfig = field(default_factory=sw.WorldConfig)   # the clean world
    misaligned: float = 0.10         # another scene's caption
    partial: float = 0.10            # mentions one of k >= 2 groups
    wrong_attribute: float = 0.10    # a colour, shape or size swapped in the caption
    boilerplate: float = 0.05        # caption unrelated to the image
    exact_duplicate: float = 0.05    # byte-identical copy of an earlier clean sample
    near_duplicate: float = 0.05     # earlier clean scene re-rendered, same caption
    shifted: float = 0.10            # unseen colours, reversed shape Zipf order
    shift_colours: int = 2           # unseen colours used by shifted scenes
    samples_per_shard: int = 2000

    def __post_init__(self) -> None:
        if isinstance(self.world, Mapping):
            object.__setattr__(self, "world", sw.WorldConfig.from_dict(dict(self.world)))
        if not isinstance(self.n_samples, int) or self.n_samples < 16:
            raise ConfigError(f"PoolConfig.n_samples must be an integer >= 16; got {self.n_samples!r}")
        for k in NOISE_KINDS:
            r = getattr(self, k)
            if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r <= 1:
                raise ConfigError(f"PoolConfig.{k} must be a rate in [0, 1]; got {r!r}")
        total = sum(float(getattr(self, k)) for k in NOISE_KINDS)
        if total > 0.8:
            raise ConfigError(f"PoolConfig noise rates sum to {total:g}; keep them <= 0.8 so that clean "
                              "samples remain for duplicates to copy (lower some rates)")
        free = len(sw.COLOURS) - self.world.n_colours
        if self.shifted > 0 and not 1 <= self.shift_colours <= free:
            raise ConfigError(f"PoolConfig.shift_colours must be in [1, {free}] (colours the world of "
                              f"{self.world.n_colours} does not use); got {self.shift_colours!r}")
        if self.samples_per_shard < 1:
            raise ConfigError(f"PoolConfig.samples_per_shard must be >= 1; got {self.samples_per_shard!r}")

    @property
    def rates(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in NOISE_KINDS}

    def counts(self) -> dict[str, int]:
        """Samples per kind: ``round(rate * n_samples)`` per noise kind, the rest clean."""
        c = {k: int(round(r * self.n_samples)) for k, r in self.rates.items()}
        return {"clean": self.n_samples - sum(c.values()), **c}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["world"] = self.world.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PoolConfig:
        names = [f.name for f in fields(cls)]
        for k in data:
            if k not in names:
                raise ConfigError(f"unknown key {k!r} in PoolConfig.{suggest(str(k), names)} Keys: {', '.join(names)}")
        return cls(**dict(data))


# --- generation --------------------------------------------------------------------------------

def _n_groups(scenes: dict) -> np.ndarray:
    """Distinct (shape, colour) groups per scene."""
    key = np.where(scenes["present"], scenes["shape"] * 64 + scenes["colour"], -1)
    key = np.sort(key, axis=1)
    new = (key[:, 1:] != key[:, :-1]) & (key[:, 1:] >= 0)
    return (key[:, 0] >= 0).astype(np.int64) + new.sum(axis=1)


def _assign_kinds(rng: np.random.Generator, cfg: PoolConfig, groups: np.ndarray) -> np.ndarray:
    n, counts = cfg.n_samples, cfg.counts()
    kind = np.full(n, "", dtype=object)
    order = rng.permutation(n)
    late = order[order >= n // _DUP_START]
    n_dup = counts["exact_duplicate"] + counts["near_duplicate"]
    kind[late[:counts["exact_duplicate"]]] = "exact_duplicate"
    kind[late[counts["exact_duplicate"]:n_dup]] = "near_duplicate"
    free = order[kind[order] == ""]
    multi = free[groups[free] >= 2]
    if len(multi) < counts["partial"]:
        raise ConfigError(f"PoolConfig.partial: only {len(multi)} scenes have two or more groups for "
                          f"{counts['partial']} partial captions; lower the rate or raise world.max_objects")
    kind[multi[:counts["partial"]]] = "partial"
    free = order[kind[order] == ""]
    j = 0
    for k in ("misaligned", "wrong_attribute", "boilerplate", "shifted"):
        kind[free[j:j + counts[k]]] = k
        j += counts[k]
    kind[kind == ""] = "clean"
    return kind.astype(str)


def _shift(rng: np.random.Generator, scenes: dict, idx: np.ndarray, cfg: PoolConfig) -> None:
    """Concept shift in place: unseen colours, shapes in reversed Zipf order; pixels follow."""
    w = cfg.world
    pres = scenes["present"][idx]
    palette = np.asarray([c for _, c in sw.COLOURS], dtype=np.float32)
    jitter = scenes["rgb"][idx] - palette[np.maximum(scenes["colour"][idx], 0)]
    colour = w.n_colours + rng.integers(0, cfg.shift_colours, size=pres.shape)
    shape = w.n_shapes - 1 - scenes["shape"][idx]
    scenes["colour"][idx] = np.where(pres, colour, -1)
    scenes["shape"][idx] = np.where(pres, shape, -1)
    scenes["rgb"][idx] = palette[np.maximum(scenes["colour"][idx], 0)] + jitter


def _group_of(sc: dict, i: int) -> list[dict]:
    return sw.describe(sc, i)


def _wrong(rng: np.random.Generator, groups: list[dict], world: sw.WorldConfig) -> tuple[list[dict], dict]:
    """One group's colour, shape or size swapped; returns the groups and what changed."""
    groups = [dict(g) for g in groups]
    gi = int(rng.integers(len(groups)))
    g = groups[gi]
    attrs = ["colour", "shape"] + (["size"] if g["count"] == 1 else [])
    attr = attrs[int(rng.integers(len(attrs)))]
    if attr == "colour":
        names, n = world.colours, world.n_colours
    elif attr == "shape":
        names, n = world.shapes, world.n_shapes
    else:
        names, n = sw.SIZES, len(sw.SIZES)
    old = g[attr]
    new = (old + 1 + int(rng.integers(n - 1))) % n
    g[attr] = new
    return groups, {"attribute": attr, "group": gi, "from": names[old], "to": names[new]}


def _generate(cfg: PoolConfig) -> tuple[np.ndarray, list[str], list[dict]]:
    w = cfg.world
    wide = replace(w, n_colours=min(len(sw.COLOURS), w.n_colours + cfg.shift_colours))  # names unseen colours
    rng = np.random.default_rng([cfg.seed, _POOL_TAG, POOL_VERSION])
    n = cfg.n_samples
    scenes = sw.sample_scenes(rng, n, w, split="train")
    kind = _assign_kinds(rng, cfg, _n_groups(scenes))
    shifted = np.nonzero(kind == "shifted")[0]
    if len(shifted):
        _shift(rng, scenes, shifted, cfg)
    clean = np.nonzero(kind == "clean")[0]
    dups = np.nonzero((kind == "exact_duplicate") | (kind == "near_duplicate"))[0]
    source = np.full(n, -1)
    for i in dups:                                   # an earlier clean sample
        before = clean[clean < i]
        before = before if len(before) else clean[:1]      # only in pools of a few dozen samples
        source[i] = before[int(rng.integers(len(before)))]
        for k in scenes:
            if isinstance(scenes[k], np.ndarray) and scenes[k].shape[:1] == (n,):
                scenes[k][i] = scenes[k][source[i]]
    images = sw.render(scenes, w)
    near = np.nonzero(kind == "near_duplicate")[0]
    if len(near):                                    # same scene, fresh pixel noise
        sub = {k: (v[near] if isinstance(v, np.ndarray) and v.shape[:1] == (n,) else v) for k, v in scenes.items()}
        sub["noise_seed"] = rng.integers(0, 2**63 - 1)
        images[near] = sw.render(sub, w)
    exact = np.nonzero(kind == "exact_duplicate")[0]
    images[exact] = images[source[exact]]

    true = [" ".join(sw.caption_words(_group_of(scenes, i), wide, int(scenes["prefix"][i]))) for i in range(n)]
    captions, meta = list(true), []
    mis = np.nonzero(kind == "misaligned")[0]
    donor = {}
    if len(mis):
        perm = rng.permutation(mis)
        donor = {int(perm[j]): int(perm[(j + 1) % len(perm)]) if len(perm) > 1 else int((perm[0] + 1) % n)
                 for j in range(len(perm))}
    for i in range(n):
        k, detail = kind[i], {}
        if k == "misaligned":
            captions[i], detail = true[donor[i]], {"caption_of": f"{donor[i]:08d}"}
        elif k == "partial":
            gs = _group_of(scenes, i)
            gi = int(rng.integers(len(gs)))
            captions[i] = " ".join(sw.caption_words([gs[gi]], wide, int(scenes["prefix"][i])))
            detail = {"mentioned": 1, "groups": len(gs)}
        elif k == "wrong_attribute":
            gs, detail = _wrong(rng, _group_of(scenes, i), w)
            captions[i] = " ".join(sw.caption_words(gs, wide, int(scenes["prefix"][i])))
        elif k == "boilerplate":
            t = BOILERPLATE[int(rng.integers(len(BOILERPLATE)))]
            captions[i], detail = t.format(n=int(rng.integers(10000))), {"template": t}
        elif k in ("exact_duplicate", "near_duplicate"):
            detail = {"duplicate_of": f"{source[i]:08d}"}
        elif k == "shifted":
            detail = {"colours": list(wide.colours[w.n_colours:]), "shape_order": "reversed"}
        meta.append({"kind": k, "detail": detail, "true_caption": true[i]})
    return images, captions, meta


def pool_samples(cfg: PoolConfig) -> PoolSamples:
    """The pool of ``cfg`` in memory (what :func:`build_pool` writes), deterministic in ``cfg``."""
    Image = require("PIL.Image", extra="vision", purpose="encoding PNG images")
    images, captions, meta = _generate(cfg)
    png = []
    for im in images:
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="PNG", compress_level=1)   # zlib dominates; level 1 is 2x faster
        png.append(buf.getvalue())
    return PoolSamples(keys=[f"{i:08d}" for i in range(len(images))], images=images, captions=captions,
                       meta=meta, png=png)


def build_pool(cfg: PoolConfig, name: str, *, root: str | Path | None = None, overwrite: bool = False,
               progress: Callable[[str], None] | None = None) -> ImageTextDataset:
    """Generate the pool of ``cfg`` and write it as the image-text dataset ``name``.

    The manifest records the config, the seed, the generator versions (pool and world), the counts
    per noise kind and a hash per shard; the same ``cfg`` gives the same :attr:`ImageTextDataset.hash`.
    """
    if progress:
        progress(f"{name}: generating {cfg.n_samples:,} samples")
    samples = pool_samples(cfg)
    info = {"generator": "shapeworld-pool", "version": POOL_VERSION, "world_version": sw.GENERATOR_VERSION,
            "world_manifest_hash": sw.manifest_hash(cfg.world), "seed": cfg.seed, "config": cfg.to_dict(),
            "rates": cfg.rates, "recipe": None}
    ds = write_image_text(samples, name, root=root, overwrite=overwrite, info=info,
                          samples_per_shard=cfg.samples_per_shard)
    if progress:
        progress(f"{name}: built, {ds.n_samples:,} samples, hash {ds.hash[:12]}")
    return ds


