"""Built image-text datasets: samples in memory, WebDataset shards on disk, opened by name.

A built image-text dataset is ``<data_dir>/<name>/`` with ``shards/00000.tar ...`` (WebDataset
records ``<key>.png``, ``<key>.txt``, ``<key>.json``: the image, its caption and what the sample
is, e.g. its planted noise kind), :data:`~.wds.POOL_MANIFEST` (hash per shard, counts per kind,
whatever its writer records: a pool's config and seed, a recipe and its inputs) and
``decoded.npz`` (the decoded samples, a cache tagged with the manifest hash for fast training
reads). Noisy pools (:mod:`.pool`) and image-text recipe outputs (:mod:`.imagefilters`) are
written by :func:`write_image_text`: into a temporary folder renamed into place, so nothing
half-written is ever visible under the name; the same samples give byte-identical shards and the
same :attr:`ImageTextDataset.hash`.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write, canonical_json, file_sha256
from .._optional import require
from ..errors import DataError, UnknownNameError, suggest
from . import shapeworld as sw
from .audit import Audit
from .registry import check_name, commit_dataset, data_dir, staging_dir, tool_versions
from .wds import POOL_MANIFEST, write_decoded

__all__ = [
    "KINDS",
    "ImageTextDataset",
    "ImageTextManifest",
    "PoolSamples",
    "get_image_text",
    "list_image_text",
    "manifest_hash",
    "write_image_text",
]

#: What a sample of a noisy pool can be (:mod:`.pool`); written in each sample's ``.json``.
KINDS = ("clean", "misaligned", "partial", "wrong_attribute", "boilerplate", "exact_duplicate",
         "near_duplicate", "shifted")


@dataclass(frozen=True, eq=False)
class PoolSamples:
    """Image-text samples in memory: what filters read and write.

    ``images`` ``(N, H, W, 3)`` uint8, ``captions`` and ``keys`` lists of str, ``meta`` one dict per
    sample (``kind``, ``detail``, ``true_caption``), ``png`` the encoded image bytes (written back
    unchanged, so a kept sample is byte-identical to its input).
    """

    keys: list[str]
    images: np.ndarray
    captions: list[str]
    meta: list[dict]
    png: list[bytes]

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def kinds(self) -> np.ndarray:
        return np.asarray([str(m.get("kind", "unknown")) for m in self.meta])

    def take(self, idx: np.ndarray) -> PoolSamples:
        idx = np.asarray(idx, dtype=np.int64)
        return PoolSamples(keys=[self.keys[i] for i in idx], images=self.images[idx],
                           captions=[self.captions[i] for i in idx], meta=[self.meta[i] for i in idx],
                           png=[self.png[i] for i in idx])


# --- on disk ---------------------------------------------------------------------------------

def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = size, 0, 0o644, 0, 0, "", ""
    return ti


def _write_shards(samples: PoolSamples, folder: Path, per_shard: int) -> list[dict]:
    """WebDataset tar shards ``00000.tar`` ... (fixed mtime/owner: the same samples, the same bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for s, start in enumerate(range(0, len(samples), per_shard)):
        path = folder / f"{s:05d}.tar"
        with open(path, "wb") as fh:
            with tarfile.open(fileobj=fh, mode="w", format=tarfile.USTAR_FORMAT) as tf:
                for i in range(start, min(start + per_shard, len(samples))):
                    key = samples.keys[i]
                    for ext, data in (("png", samples.png[i]), ("txt", samples.captions[i].encode()),
                                      ("json", canonical_json(samples.meta[i]).encode())):
                        tf.addfile(_tarinfo(f"{key}.{ext}", len(data)), io.BytesIO(data))
            fh.flush()
        out.append({"path": f"shards/{path.name}", "samples": min(per_shard, len(samples) - start),
                    "bytes": path.stat().st_size, "sha256": file_sha256(path)})
    return out


def manifest_hash(shards: list[dict]) -> str:
    """SHA-256 of the canonical JSON list of (shard path, shard SHA-256): the samples and their order."""
    return hashlib.sha256(canonical_json([[s["path"], s["sha256"]] for s in shards]).encode()).hexdigest()


def write_image_text(samples: PoolSamples, name: str, *, root: str | Path | None = None,
                     overwrite: bool = False, info: Mapping[str, Any] | None = None,
                     audit: Audit | None = None, samples_per_shard: int = 2000) -> ImageTextDataset:
    """Write ``samples`` as the image-text dataset ``name`` (shards + manifest [+ audit]), atomically.

    The folder is written beside ``root/<name>`` and renamed into place when complete.

    Raises
    ------
    DataError
        ``samples`` is empty, or the name is taken and ``overwrite`` is False.
    """
    check_name(name)
    root = Path(root) if root is not None else data_dir()
    dest = root / name
    if len(samples) == 0:
        raise DataError(f"image-text dataset {name!r} would hold no samples; nothing was written")
    if dest.exists() and not overwrite:
        raise DataError(f"a dataset named {name!r} already exists at {str(dest)!r}; pass overwrite=True "
                        "(CLI: --overwrite) to replace it")
    tmp = staging_dir(root, name)
    try:
        shards = _write_shards(samples, tmp / "shards", samples_per_shard)
        counts = Counter(str(m.get("kind", "unknown")) for m in samples.meta)
        manifest = {"name": name, "modality": "image-text", "format": "webdataset (png, txt, json)",
                    "n_samples": len(samples), "counts": {k: counts.get(k, 0) for k in
                                                          [*KINDS, *sorted(set(counts) - set(KINDS))]},
                    "shards": shards, "hash": manifest_hash(shards),
                    "image_size": int(samples.images.shape[1]), **dict(info or {}),
                    "provenance": tool_versions()}
        atomic_write(tmp / POOL_MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        write_decoded(tmp, manifest["hash"], samples.keys, samples.images, samples.captions)   # fast loading
        if audit is not None:
            audit.save(tmp / "audit.json")
        commit_dataset(tmp, dest, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return get_image_text(name, root=root)


class ImageTextManifest(dict):
    """The manifest of a built image-text dataset (``image-text.json``) as a dict, with ``summary()``."""

    def summary(self) -> str:
        c = ", ".join(f"{k} {v:,}" for k, v in self.get("counts", {}).items() if v)
        return (f"{self.get('name')}  {str(self.get('hash', ''))[:16]}  {int(self.get('n_samples', 0)):,} "
                f"image-text samples ({c}), {len(self.get('shards', ()))} shard(s)")


@dataclass(frozen=True, eq=False)
class ImageTextDataset:
    """A built image-text dataset: WebDataset shards of (png, txt, json) and their manifest."""

    name: str
    path: Path
    manifest: Mapping[str, Any]

    @property
    def hash(self) -> str:
        return str(self.manifest["hash"])

    @property
    def n_samples(self) -> int:
        return int(self.manifest["n_samples"])

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.manifest.get("counts", {}))

    @property
    def shard_dir(self) -> Path:
        return self.path / "shards"

    @property
    def world(self) -> sw.WorldConfig:
        """The clean world the pool was generated from (followed through recipes)."""
        return sw.WorldConfig.from_dict(self.manifest["config"]["world"])

    @cached_property
    def audit(self) -> Audit | None:
        p = self.path / "audit.json"
        return Audit.load(p) if p.exists() else None

    def samples(self) -> PoolSamples:
        """Every sample in manifest order (images decoded, PNG bytes kept)."""
        Image = require("PIL.Image", extra="vision", purpose="decoding images")
        keys, images, captions, meta, png = [], [], [], [], []
        for s in self.manifest["shards"]:
            p = self.path / s["path"]
            if not p.exists():
                raise DataError(f"image-text dataset {self.name!r}: shard {str(p)!r} is missing; rebuild it")
            rec: dict[str, dict[str, bytes]] = {}
            with tarfile.open(p) as tf:
                for m in tf.getmembers():
                    key, _, ext = m.name.rpartition(".")
                    rec.setdefault(key, {})[ext] = tf.extractfile(m).read()
            for key, r in rec.items():
                keys.append(key)
                png.append(r["png"])
                with Image.open(io.BytesIO(r["png"])) as im:
                    images.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
                captions.append(r["txt"].decode("utf-8"))
                meta.append(json.loads(r["json"]) if "json" in r else {"kind": "unknown"})
        return PoolSamples(keys=keys, images=np.stack(images), captions=captions, meta=meta, png=png)

    def __repr__(self) -> str:
        return f"ImageTextDataset({self.name!r}, hash={self.hash[:12]}, samples={self.n_samples})"

    def summary(self) -> str:
        return ImageTextManifest(self.manifest).summary()


def list_image_text(*, root: str | Path | None = None) -> list[str]:
    """Names of the built image-text datasets (pools and recipe outputs) under ``root``."""
    root = Path(root) if root is not None else data_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and (p / POOL_MANIFEST).is_file())


def get_image_text(name: str, *, root: str | Path | None = None) -> ImageTextDataset:
    """Open the built image-text dataset ``name``.

    Raises
    ------
    UnknownNameError
        No image-text dataset of that name (close names are suggested).
    """
    root = Path(root) if root is not None else data_dir()
    path = root / str(name) / POOL_MANIFEST
    if not path.is_file():
        known = list_image_text(root=root)
        raise UnknownNameError(f"unknown image-text dataset {name!r}.{suggest(str(name), known)} Built: "
                               f"{', '.join(known) or '(none)'}; build a pool with "
                               "scalinglab.datasets.pool.build_pool")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{str(path)!r} is not an image-text manifest ({exc}); rebuild the dataset") from None
    return ImageTextDataset(name=str(name), path=path.parent, manifest=ImageTextManifest(m))
