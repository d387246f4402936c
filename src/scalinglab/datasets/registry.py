"""Datasets by name: the built-in registry, users' registrations, building and opening.

Built-in text datasets exist on a fresh machine without a download (:data:`BUILTIN`):

=============  ==================================================================  =========
name           documents                                                           size
=============  ==================================================================  =========
stdlib         the Python standard library's ``*.py`` files (the corpus "stdlib")  ~9 MB
python-sci     ``*.py`` sources of installed numpy, scipy and sympy (no tests)     ~33 MB
debian-text    English prose from Debian packages: GCIDE (Webster 1913), the       ~41 MB
               Jargon File, the Debian Reference (installed by ``.ci/run``)
=============  ==================================================================  =========

A dataset is *built* (materialised) into ``<data_dir>/<name>/`` the first time it is used:
documents are written as JSONL shards with a manifest (:class:`~.manifest.Manifest`), into a
temporary folder that is renamed into place, so nothing half-written is ever visible. A built-in
whose source files changed (another Python, a package upgrade) is rebuilt on the next use and gets
a new hash. Users register their own with :func:`register_dataset` (a folder, JSONL, Parquet or a
saved Hugging Face dataset); recipes (:mod:`.recipe`) write datasets the same way.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .._registry import Registry
from .._version import __version__
from ..errors import ConfigError, DataError, UnknownNameError, suggest
from . import imagetext  # a module reference: the shape worlds are datasets too, and live in data_dir()
from .audit import Audit
from .manifest import Manifest, read_shard, scan_shard
from .sources import DebianTextSource, PythonPackagesSource, Source, StdlibSource, source_from

__all__ = [
    "BUILTIN",
    "Dataset",
    "DatasetSpec",
    "build_dataset",
    "check_name",
    "commit_dataset",
    "data_dir",
    "get_dataset",
    "list_datasets",
    "register_dataset",
    "staging_dir",
    "tool_versions",
]

SHARD_BYTES = 16 << 20          # a new shard starts once a shard holds this many bytes of text
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is made of, before it is built."""

    name: str                       # registry name (lowercase letters, digits, '-', '_', '.')
    sources: tuple[Source, ...]     # read in order; ids are prefixed by the source's kind when several
    description: str = ""
    licence: str = ""               # default: the sources' licences joined


BUILTIN: Registry[DatasetSpec] = Registry("dataset")
BUILTIN.register("stdlib", DatasetSpec(
    "stdlib", (StdlibSource(),),
    "Python standard library sources of the running interpreter (the corpus 'stdlib' of train.data)"))
BUILTIN.register("python-sci", DatasetSpec(
    "python-sci", (PythonPackagesSource(("numpy", "scipy", "sympy")),),
    "Python sources of the installed numpy, scipy and sympy, test folders left out"))
BUILTIN.register("debian-text", DatasetSpec(
    "debian-text", (DebianTextSource(("dict-gcide", "jargon-text", "debian-reference-en")),),
    "English prose from Debian packages: GCIDE (Webster 1913 and additions), the Jargon File 4.4.7, "
    "the Debian Reference; paragraphs joined into ~4 KB documents"))


def data_dir() -> Path:
    """Where built datasets live: ``$SCALINGLAB_DATA_DIR``, else ``$SCALINGLAB_CACHE_DIR/datasets``,
    else ``~/.cache/scalinglab/datasets``."""
    if os.environ.get("SCALINGLAB_DATA_DIR"):
        return Path(os.environ["SCALINGLAB_DATA_DIR"])
    base = os.environ.get("SCALINGLAB_CACHE_DIR") or Path.home() / ".cache" / "scalinglab"
    return Path(base) / "datasets"


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid dataset name, else raise ConfigError."""
    if not isinstance(name, str) or not name or not set(name) <= NAME_CHARS or name[0] in ".-":
        raise ConfigError(f"dataset name {name!r} must be lowercase letters, digits, '-', '_' or '.', "
                          "starting with a letter or digit")
    return name


@dataclass(frozen=True, eq=False)
class Dataset:
    """A built dataset: a folder of JSONL shards and its manifest.

    Use :func:`get_dataset` to open one by name. ``documents()`` streams ``(id, text)`` in manifest
    order; ``hash`` is the manifest's content hash, what runs record.
    """

    name: str
    path: Path
    manifest: Manifest

    @property
    def hash(self) -> str:
        return self.manifest.hash

    def records(self) -> Iterator[dict[str, Any]]:
        """Every shard record (``id``, ``text``, ``source``), in manifest order."""
        for s in self.manifest.shards:
            yield from read_shard(self.path / s.path)

    def documents(self) -> Iterator[tuple[str, str]]:
        for rec in self.records():
            yield str(rec.get("id", "")), rec["text"]

    @property
    def shard_dir(self) -> Path:
        return self.path / "shards"

    @cached_property
    def audit(self):
        """The recipe's :class:`~.audit.Audit` (None for datasets not built by a recipe)."""
        p = self.path / "audit.json"
        if not p.exists():
            return None

        return Audit.load(p)

    def verify(self) -> None:
        """Re-hash every shard; raise DataError naming the first shard that changed."""
        for s in self.manifest.shards:
            p = self.path / s.path
            if not p.exists() or scan_shard(p, s.path).sha256 != s.sha256:
                raise DataError(f"dataset {self.name!r}: shard {str(p)!r} changed or is missing since it "
                                f"was built; rebuild it (scalinglab datasets build) or delete {str(self.path)!r}")

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, hash={self.hash[:12]}, documents={self.manifest.n_documents})"

    def __str__(self) -> str:
        return self.manifest.summary()


def _open(path: Path) -> Dataset:
    m = Manifest.load(path / "manifest.json")
    return Dataset(name=m.name, path=path, manifest=m)


def _source_key(sources: tuple[Source, ...]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(f"{s.kind}:{s.stat_key()}" for s in sources).encode()).hexdigest()


def tool_versions() -> dict[str, Any]:
    """Versions of the tools that write datasets (recorded in manifests, not hashed)."""

    out: dict[str, Any] = {"python": sys.version.split()[0], "scalinglab": __version__}
    try:
        import importlib.metadata as md

        out["datatrove"] = md.version("datatrove")
    except Exception:   # datatrove is optional for built-ins
        out["datatrove"] = None
    return out


class _ShardWriter:
    """Write records into ``shards/NNNNN.jsonl`` files of about :data:`SHARD_BYTES` of text each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.index, self.size, self.fh = 0, 0, None
        self.paths: list[Path] = []

    def write(self, rec: dict[str, Any]) -> None:
        import json

        if self.fh is None or self.size >= SHARD_BYTES:
            self.close()
            p = self.folder / f"{self.index:05d}.jsonl"
            self.paths.append(p)
            self.fh = open(p, "w", encoding="utf-8")
            self.index, self.size = self.index + 1, 0
        self.fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.size += len(rec["text"].encode("utf-8"))

    def close(self) -> None:
        if self.fh is not None:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            self.fh = None


def commit_dataset(tmp: Path, dest: Path, *, overwrite: bool) -> None:
    """Move a fully written dataset folder into place (a rename; the old one is removed after)."""
    if dest.exists():
        if not overwrite:
            raise DataError(f"a dataset already exists at {str(dest)!r}; pass overwrite=True "
                            "(CLI: --overwrite) to replace it")
        old = dest.with_name(f".old-{dest.name}-{os.getpid()}")
        os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dest)


def staging_dir(root: Path, name: str) -> Path:
    """A fresh temporary folder beside ``root/name`` (same filesystem, so the final move is a rename)."""
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=root))


def build_dataset(spec: DatasetSpec, *, root: str | Path | None = None, overwrite: bool = False,
                  progress: Callable[[str], None] | None = None) -> Dataset:
    """Materialise ``spec`` into ``root/<name>`` (default :func:`data_dir`) and return it.

    Documents are written in source order into JSONL shards of about 16 MB of text, in a
    temporary folder that is renamed into place once the manifest is written: an interrupted build
    leaves nothing under the dataset's name. Deterministic: the same source files give
    byte-identical shards and so the same :attr:`Manifest.hash`.

    Raises
    ------
    DataError
        A source holds a binary or non-UTF-8 file, no documents, or the dataset exists and
        ``overwrite`` is False.
    """
    name = check_name(spec.name)
    root = Path(root) if root is not None else data_dir()
    dest = root / name
    if dest.exists() and not overwrite:
        raise DataError(f"a dataset named {name!r} already exists at {str(dest)!r}; pass overwrite=True "
                        "(CLI: --overwrite) to replace it")
    tmp = staging_dir(root, name)
    try:
        w = _ShardWriter(tmp / "shards")
        many = len(spec.sources) > 1
        seen: set[str] = set()
        n = 0
        for src in spec.sources:
            for doc_id, text in src.documents():
                if not text.strip():
                    continue
                doc_id = f"{src.kind}:{doc_id}" if many else doc_id
                if doc_id in seen:
                    raise DataError(f"dataset {name!r}: document id {doc_id!r} occurs twice; give the "
                                    "sources distinct files")
                seen.add(doc_id)
                w.write({"id": doc_id, "text": text, "source": src.kind})
                n += 1
                if progress and n % 2000 == 0:
                    progress(f"{name}: {n} documents")
        w.close()
        if n == 0:
            raise DataError(f"dataset {name!r}: its sources hold no text (every document is empty)")
        shards = tuple(scan_shard(p, f"shards/{p.name}") for p in w.paths)
        licence = spec.licence or "; ".join(dict.fromkeys(s.licence for s in spec.sources))
        manifest = Manifest(name=name, shards=shards, sources=tuple(s.describe() for s in spec.sources),
                            licence=licence, recipe=None, description=spec.description,
                            provenance={**tool_versions(), "source_key": _source_key(spec.sources)})
        manifest.save(tmp / "manifest.json")
        commit_dataset(tmp, dest, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        progress(f"{name}: built, {manifest.summary()}")
    return _open(dest)


def _built(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").exists())


def list_datasets(*, root: str | Path | None = None, modality: str | None = None) -> list[str]:
    """Names of the built-in datasets and of every dataset built or registered under ``root``.

    ``modality="text"`` lists the text datasets (language models train on them),
    ``"image-text"`` the shape worlds and the built image-text datasets (pools and image-text recipe
    outputs; :mod:`.imagetext`, :mod:`.pool`; image-text procedures train on them, or on a folder of
    WebDataset shards); the default lists both.
    """
    if modality not in (None, "text", "image-text"):
        raise ConfigError(f"modality must be 'text', 'image-text' or None; got {modality!r}")
    root = Path(root) if root is not None else data_dir()
    text = set(BUILTIN.names()) | set(_built(root)) if modality != "image-text" else set()
    if modality == "text":
        return sorted(text)

    shards = {p.name for p in root.iterdir()
              if not p.name.startswith(".") and imagetext.is_shard_dataset(p.name, root=root)} \
        if root.is_dir() else set()
    return sorted(text | set(imagetext.list_worlds(root=root)) | shards)


def get_dataset(name: str, *, root: str | Path | None = None, build: bool = True,
                progress: Callable[[str], None] | None = None) -> Dataset:
    """Open a dataset by name, building a built-in on first use (or when its files changed).

    Raises
    ------
    UnknownNameError
        No built-in and no built dataset has that name (close names are suggested).
    """
    root = Path(root) if root is not None else data_dir()
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a dataset name must be a non-empty string; got {name!r}")
    dest = root / name
    if name in BUILTIN:
        spec = BUILTIN.get(name)
        if (dest / "manifest.json").exists():
            ds = _open(dest)
            if not build or ds.manifest.provenance.get("source_key") == _source_key(spec.sources):
                return ds
        if not build:
            raise DataError(f"built-in dataset {name!r} is not built yet under {str(root)!r}; "
                            f"run `scalinglab datasets show {name}` to build it")
        return build_dataset(spec, root=root, overwrite=True, progress=progress)
    if name in _built(root):
        return _open(dest)

    if imagetext.is_world(name, root=root) or imagetext.is_shard_dataset(name, root=root):
        raise ConfigError(f"dataset {name!r} is an image-text dataset (a shape world or a pool); train it with an "
                          "image-text procedure (clip, coca, mammut). Text datasets: "
                          f"{', '.join(list_datasets(root=root, modality='text'))}")
    avail = list_datasets(root=root, modality="text")
    raise UnknownNameError(f"unknown dataset {name!r}.{suggest(name, avail)} Available: {', '.join(avail)}. "
                           "Register your own with scalinglab.datasets.register_dataset or "
                           "`scalinglab datasets register NAME PATH`")


def register_dataset(name: str, source: str | Source, *, licence: str = "unknown",
                     exclude: tuple[str, ...] = (), description: str = "",
                     root: str | Path | None = None, overwrite: bool = False,
                     progress: Callable[[str], None] | None = None) -> Dataset:
    """Register (build) a user's dataset from a folder, JSONL, Parquet or saved HF dataset.

    ``source`` is a path (``"corpus/"``, ``"data.jsonl#content"``) or a :class:`~.sources.Source`.
    The documents are copied into ``<root>/<name>/`` with a manifest, so later changes to the
    original files do not change the dataset (register again with ``overwrite=True``).

    Raises
    ------
    ConfigError
        The name is a built-in's, or the path does not exist.
    DataError
        A binary or non-UTF-8 file in a folder (named in the message; leave it out with
        ``exclude=``), no text, or the name is taken and ``overwrite`` is False.
    """
    check_name(name)
    if name in BUILTIN:
        raise ConfigError(f"{name!r} is a built-in dataset; register yours under another name")
    src = source_from(source, licence=licence, exclude=tuple(exclude))
    spec = DatasetSpec(name=name, sources=(src,), description=description, licence=licence)
    return build_dataset(spec, root=root, overwrite=overwrite, progress=progress)
