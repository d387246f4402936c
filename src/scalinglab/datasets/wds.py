"""WebDataset tar shards of image-caption pairs: write the shape world to them, read your own.

`WebDataset <https://github.com/webdataset/webdataset>`_ is the field's format for image-text
data (LAION, DataComp): tar files in which the files of one sample share a key
(``000123.png`` + ``000123.txt``). This module needs the ``[vision]`` extra (``webdataset`` and
``pillow``), imported only when called.

* :func:`write_shards` materialises a fixed split of the shape world (``val``, ``test``,
  ``heldout``) or ``n`` training samples, with a ``manifest.json`` whose SHA-256 covers the world's
  manifest and every shard's bytes.
* :func:`load_shards` reads a folder (or one file) of shards into a :class:`ShardDataset` that the
  image-text trainer takes as ``data=``: images ``.jpg``/``.jpeg``/``.png``/``.webp`` (converted to
  RGB and resized to ``image_size``), captions ``.txt``; a word-level vocabulary built from the
  captions unless one is given; a validation split of samples whose key hashes into the lowest
  5%. A broken tar file, an image that does not decode, a sample without an image or a caption,
  or a caption longer than the context raises :class:`~scalinglab.errors.DataError` naming the
  file and the fix; nothing is written.

Data are held in memory (fine for the CPU scale this package trains at); batches are drawn from
``(seed, step)`` as for the world, so resuming needs no sampler state.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_write, canonical_json, file_sha256
from .._optional import require
from ..errors import DataError
from . import shapeworld as sw

__all__ = ["IMAGE_EXTENSIONS", "POOL_MANIFEST", "ShardDataset", "load_dataset_folder", "load_shards",
           "write_decoded", "write_shards"]

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
VAL_PERMILLE = 50
SPLIT_RULE = "sha256(key)%1000<50;v1"
_TAG = 0x5EED5
#: The manifest file of a built image-text dataset (``<data_dir>/<name>/``, beside ``shards/``):
#: pools of the shape world and the outputs of image-text recipes (:mod:`.pool`).
POOL_MANIFEST = "image-text.json"
DECODED = "decoded.npz"          # decoded samples of a built image-text dataset (a cache of its shards)


@dataclass(frozen=True, eq=False)
class ShardDataset:
    """Image-caption pairs read from WebDataset shards, split into train and validation."""

    path: str
    images: np.ndarray            # (N, H, W, 3) uint8, training samples
    tokens: np.ndarray            # (N, context_length) int64
    val_images: np.ndarray
    val_tokens: np.ndarray
    vocab: sw.Vocabulary
    context_length: int
    image_size: int
    manifest_hash: str

    def __len__(self) -> int:
        return len(self.images)

    def train_batch(self, *, step: int, seed: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Samples drawn uniformly with replacement from ``(seed, step)`` alone."""
        idx = np.random.default_rng([int(seed), _TAG, int(step)]).integers(0, len(self.images), batch_size)
        return self.images[idx], self.tokens[idx]


def write_shards(world: sw.WorldConfig, out_dir: str | Path, *, split: str = "val", n: int = 1024,
                 samples_per_shard: int = 1000, seed: int = 0) -> dict:
    """Write ``n`` samples of a split (or of training, ``split="train"``) as PNG + TXT shards.

    Training samples are those of :func:`~scalinglab.datasets.shapeworld.get_batch` with
    ``seed`` and batches of :data:`~scalinglab.datasets.shapeworld.BLOCK`. Returns the manifest
    (also written to ``out_dir/manifest.json``) with its ``manifest_hash``.
    """
    wds = require("webdataset", extra="vision", purpose="writing WebDataset shards")
    Image = require("PIL.Image", extra="vision", purpose="encoding PNG images")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = sw.Vocabulary.from_world(world)
    shards, key = [], 0
    writer = None
    for start in range(0, n, sw.BLOCK):
        m = min(sw.BLOCK, n - start)
        if split == "train":
            b = sw.get_batch(world, step=start // sw.BLOCK, seed=seed, batch_size=sw.BLOCK)
        else:
            b = sw.split_batch(world, split, start, m)
        for i in range(m):
            if key % samples_per_shard == 0:
                if writer is not None:
                    writer.close()
                shards.append(out / f"{split}-{len(shards):06d}.tar")
                writer = wds.TarWriter(str(shards[-1]), mtime=0.0)   # reproducible bytes
            buf = io.BytesIO()
            Image.fromarray(b.images[i]).save(buf, format="PNG")
            writer.write({"__key__": f"{key:08d}", "png": buf.getvalue(),
                          "txt": vocab.decode(b.tokens[i])})
            key += 1
    if writer is not None:
        writer.close()
    manifest = {"source": sw.manifest(world), "split": split, "n": n, "seed": seed,
                "shards": [{"name": p.name, "bytes": p.stat().st_size, "sha256": file_sha256(p)}
                           for p in shards]}
    manifest["manifest_hash"] = hashlib.sha256(canonical_json(manifest).encode()).hexdigest()
    atomic_write(out / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def _shard_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"shard path {str(path)!r} does not exist; give a folder of .tar files or one .tar")
    files = sorted(p for p in path.iterdir() if p.suffix == ".tar")
    if not files:
        raise DataError(f"no .tar shards in {str(path)!r}; write WebDataset shards there "
                        "(key.jpg/png + key.txt per sample)")
    return files


def _read_shard(wds, shard: Path) -> list[dict]:
    try:
        return list(wds.WebDataset(str(shard), shardshuffle=False, empty_check=False))
    except Exception as exc:  # tarfile.ReadError and friends, wrapped by webdataset
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{str(shard)!r} is not a readable tar file ({msg}); re-create the shard "
                        "or move it out of the folder") from None


def load_shards(path: str | Path, *, image_size: int = 32, context_length: int | None = None,
                vocab: sw.Vocabulary | None = None, max_words: int = 4096) -> ShardDataset:
    """Read WebDataset shards of image-caption pairs into memory (see the module docs)."""
    wds = require("webdataset", extra="vision", purpose="reading WebDataset shards")
    Image = require("PIL.Image", extra="vision", purpose="decoding images")
    path = Path(path)
    samples = []                      # (shard, key, image array, caption)
    for shard in _shard_files(path):
        for rec in _read_shard(wds, shard):
            key = rec.get("__key__", "?")
            ext = next((e for e in IMAGE_EXTENSIONS if e in rec), None)
            if ext is None or "txt" not in rec:
                missing = "an image (.jpg/.png)" if ext is None else "a caption (.txt)"
                raise DataError(f"{str(shard)!r}: sample {key!r} has no {missing}; every sample "
                                "needs key.jpg (or .png) and key.txt")
            try:
                with Image.open(io.BytesIO(rec[ext])) as im:
                    arr = np.asarray(im.convert("RGB").resize((image_size, image_size),
                                                              Image.BICUBIC), dtype=np.uint8)
            except Exception as exc:
                raise DataError(f"{str(shard)!r}: image {key}.{ext} does not decode ({exc}); "
                                "re-encode it as JPEG or PNG, or drop the sample") from None
            text = rec["txt"].decode("utf-8", errors="replace") if isinstance(rec["txt"], bytes) \
                else str(rec["txt"])
            samples.append((shard, key, arr, text.strip()))
    if not samples:
        raise DataError(f"the shards in {str(path)!r} hold no samples")
    ident = {"shards": [{"name": str(p), "sha256": file_sha256(p)} for p in _shard_files(path)]}
    return _dataset(str(path), [(f"{str(shard)!r}: caption {key}.txt", key, arr, text)
                                for shard, key, arr, text in samples],
                    ident, image_size=image_size, context_length=context_length, vocab=vocab, max_words=max_words)


def _dataset(path: str, samples: list, ident: dict, *, image_size: int, context_length: int | None,
             vocab: sw.Vocabulary | None, max_words: int) -> ShardDataset:
    """Tokenise, split by key hash and identify ``samples`` (``(where, key, image, caption)``)."""
    vocab = vocab or sw.Vocabulary.build([s[3] for s in samples], max_words=max_words)
    longest = max(len(s[3].split()) for s in samples)
    ctx = context_length or longest + 2
    tokens = np.stack([vocab.encode(text, ctx, where=where) for where, _, _, text in samples])
    images = np.stack([s[2] for s in samples])
    is_val = np.asarray([int(hashlib.sha256(str(s[1]).encode()).hexdigest(), 16) % 1000 < VAL_PERMILLE
                         for s in samples])
    if is_val.all() or not is_val.any():      # tiny sets: hold out the last 5% instead
        is_val = np.arange(len(samples)) >= len(samples) - max(1, len(samples) // 20)
    ident = {**ident, "image_size": image_size, "context_length": ctx, "vocabulary_hash": vocab.hash,
             "split_rule": SPLIT_RULE}
    h = hashlib.sha256(canonical_json(ident).encode()).hexdigest()
    return ShardDataset(path=path, images=images[~is_val], tokens=tokens[~is_val],
                        val_images=images[is_val], val_tokens=tokens[is_val], vocab=vocab,
                        context_length=ctx, image_size=image_size, manifest_hash=h)


def write_decoded(folder: str | Path, dataset_hash: str, keys: list[str], images: np.ndarray,
                  captions: list[str]) -> Path:
    """Save a built image-text dataset's decoded samples beside its shards (``decoded.npz``).

    A cache of what :func:`load_dataset_folder` would decode from the shards, tagged with the
    dataset's manifest hash; the shards stay the data of record.
    """
    buf = io.BytesIO()
    np.savez(buf, images=images, keys=np.asarray(keys), captions=np.asarray(captions),
             dataset_hash=np.asarray(dataset_hash))
    return atomic_write(Path(folder) / DECODED, buf.getvalue())


def load_dataset_folder(folder: str | Path, *, image_size: int = 32, context_length: int | None = None,
                        max_words: int = 4096) -> ShardDataset:
    """A built image-text dataset (``<folder>/image-text.json`` + ``shards/``) for training.

    Reads the decoded samples (``decoded.npz``) when they carry the manifest's hash, else decodes
    the shards; either way the identity is the dataset's manifest hash (not its location), plus
    image size, context, vocabulary and split rule. 32x32 images are used as stored; other sizes
    are resized as :func:`load_shards` does.
    """
    folder = Path(folder)
    manifest = json.loads((folder / POOL_MANIFEST).read_text(encoding="utf-8"))
    data = {}
    if (folder / DECODED).exists():
        with np.load(folder / DECODED) as npz:
            data = {k: npz[k] for k in npz.files}
    if not data or str(data["dataset_hash"]) != manifest["hash"] or data["images"].shape[1] != image_size:
        return load_shards(folder / "shards", image_size=image_size, context_length=context_length,
                           max_words=max_words)
    samples = [(f"{str(folder)!r}: caption {k}", str(k), im, str(c))
               for k, im, c in zip(data["keys"], data["images"], data["captions"])]
    return _dataset(str(folder), samples, {"dataset_hash": manifest["hash"]}, image_size=image_size,
                    context_length=context_length, vocab=None, max_words=max_words)
