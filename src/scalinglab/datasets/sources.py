"""Where a dataset's documents come from: built-in sources and users' files (no downloads).

A *source* yields ``(id, text)`` documents in a deterministic order and describes itself for the
manifest (what was read, package versions, a digest of the files). Kinds:

* :class:`StdlibSource` -- the ``*.py`` files of the running interpreter's standard library
  (the corpus ``"stdlib"`` of :mod:`scalinglab.train.data`; the same files, the same order).
* :class:`PythonPackagesSource` -- the ``*.py`` sources of installed packages (numpy, scipy,
  sympy, ...), test folders left out; versions from ``importlib.metadata``.
* :class:`DebianTextSource` -- natural-language text shipped by Debian packages that ``.ci/run``
  installs (:data:`DEBIAN_TEXTS`), cut into documents of consecutive paragraphs.
* :class:`FolderSource`, :class:`JsonlSource`, :class:`ParquetSource`, :class:`HFDiskSource` --
  users' text: every file of a folder is one document (a binary or non-UTF-8 file is an error
  that names the file), one JSONL line or Parquet row per document, a Hugging Face dataset saved
  with ``save_to_disk``.

:func:`source_from` turns a string (``"stdlib"``, ``"python:numpy,scipy"``,
``"debian:dict-gcide"``, a path with an optional ``#field``) into a source.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import sysconfig
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._optional import require
from ..errors import ConfigError, DataError, UnknownNameError, suggest

__all__ = [
    "DEBIAN_TEXTS",
    "DebianTextSource",
    "FolderSource",
    "HFDiskSource",
    "JsonlSource",
    "ParquetSource",
    "PythonPackagesSource",
    "Source",
    "StdlibSource",
    "chunk_paragraphs",
    "debian_package_version",
    "source_from",
    "stdlib_files",
]

# Folders left out of the standard library and of package sources: tests, generated tables and
# demos. (Changing this set changes the corpus "stdlib" and so every manifest hash built on it.)
EXCLUDED_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__",
                           "encodings", "pydoc_data", "turtledemo", "lib2to3"})
BINARY_PROBE = 8192          # bytes read to decide that a file is binary (a NUL byte)
DOC_TARGET_BYTES = 4096      # Debian texts: paragraphs are joined until a document reaches this size

# Debian packages whose text is natural language, with the file read and its licence (from the
# package's /usr/share/doc/<pkg>/copyright). All are in .ci/run's apt line.
DEBIAN_TEXTS: dict[str, dict[str, str]] = {
    "dict-gcide": {
        "path": "/usr/share/dictd/gcide.dict.dz",
        "what": "GNU Collaborative International Dictionary of English (Webster 1913 + additions)",
        "licence": "GPL-2.0-or-later",
    },
    "jargon-text": {
        "path": "/usr/share/doc/jargon-text/jargon.txt.gz",
        "what": "The Jargon File 4.4.7 (plain text)",
        "licence": "public-domain",
    },
    "debian-reference-en": {
        "path": "/usr/share/debian-reference/debian-reference.en.txt.gz",
        "what": "Debian Reference (English, plain text)",
        "licence": "GPL-2.0-or-later",
    },
}


class Source(ABC):
    """A source of documents. Subclasses implement :meth:`documents` and :meth:`describe`."""

    kind: str = ""
    licence: str = "unknown"

    @abstractmethod
    def documents(self) -> Iterator[tuple[str, str]]:
        """``(id, text)`` pairs in a deterministic order; ids are unique within the source."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What the manifest records about this source (kind, paths, versions, file digest)."""

    def stat_key(self) -> str:
        """A cheap fingerprint (names, sizes, mtimes) that changes when the source's files change."""
        return ""


def _is_binary(data: bytes) -> bool:
    return b"\x00" in data[:BINARY_PROBE]


def _digest(entries: list[tuple[str, bytes]]) -> str:
    """SHA-256 over ``name NUL sha256(bytes)`` lines: one hash that pins every file read."""
    h = hashlib.sha256()
    for name, data in entries:
        h.update(f"{name}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    return h.hexdigest()


def _stat_key(paths: list[Path], root: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _py_files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and not d.startswith("."))
        for f in filenames:
            if f.endswith(".py") and not f.startswith("_sysconfigdata"):
                out.append(Path(dirpath, f))
    return sorted(out, key=lambda p: p.relative_to(root).as_posix())


def stdlib_files(root: str | Path | None = None) -> list[Path]:
    """The ``*.py`` files of the standard library, in deterministic (sorted relative path) order.

    ``site-packages``, test directories, generated tables (``encodings``, ``pydoc_data``) and the
    machine-specific ``_sysconfigdata*`` are left out.
    """
    return _py_files(Path(root or sysconfig.get_paths()["stdlib"]))


def _decode(data: bytes, where: str) -> str:
    if _is_binary(data):
        raise DataError(f"{where} is binary (it holds a NUL byte); remove it from the corpus folder "
                        "or list it in exclude=")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r}); "
                        "re-encode it as UTF-8 or list it in exclude=") from None


@dataclass(frozen=True)
class StdlibSource(Source):
    """The standard library of the running interpreter (licence: PSF-2.0)."""

    kind = "stdlib"
    licence = "PSF-2.0"

    @property
    def root(self) -> Path:
        return Path(sysconfig.get_paths()["stdlib"])

    def _files(self) -> list[Path]:
        files = stdlib_files(self.root)
        if not files:
            raise DataError(f"no Python sources found under the standard library {str(self.root)!r}; "
                            "use a folder of text instead")
        return files

    def documents(self) -> Iterator[tuple[str, str]]:
        root = self.root
        for p in self._files():
            yield p.relative_to(root).as_posix(), p.read_bytes().decode("utf-8", errors="replace")

    def describe(self) -> dict[str, Any]:
        root = self.root
        files = self._files()
        return {"kind": self.kind, "python": sys.version.split()[0], "n_files": len(files),
                "files_sha256": _digest([(p.relative_to(root).as_posix(), p.read_bytes()) for p in files]),
                "licence": self.licence}

    def stat_key(self) -> str:
        return _stat_key(self._files(), self.root)


@dataclass(frozen=True)
class PythonPackagesSource(Source):
    """The ``*.py`` sources of installed packages, test folders left out.

    Ids are ``<package>/<relative path>``; the manifest pins each package's version and a digest
    of its files. Finding a package does not import it.
    """

    packages: tuple[str, ...] = ("numpy", "scipy", "sympy")
    kind = "python-packages"
    licence = "BSD-3-Clause (numpy, scipy, sympy); see each package's metadata"

    def _roots(self) -> list[tuple[str, Path]]:
        out = []
        for name in self.packages:
            spec = importlib.util.find_spec(name)
            if spec is None or not spec.submodule_search_locations:
                raise DataError(f"package {name!r} is not installed, so its sources cannot be read; "
                                f"pip install {name} or drop it from the source")
            out.append((name, Path(list(spec.submodule_search_locations)[0])))
        return out

    def _files(self) -> list[tuple[str, Path, Path]]:
        return [(name, root, p) for name, root in self._roots() for p in _py_files(root)]

    def documents(self) -> Iterator[tuple[str, str]]:
        for name, root, p in self._files():
            yield f"{name}/{p.relative_to(root).as_posix()}", p.read_bytes().decode("utf-8", errors="replace")

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "packages": {}}
        for name, root in self._roots():
            files = _py_files(root)
            try:
                version = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                version = "unknown"
            try:
                licence = importlib.metadata.metadata(name).get("License-Expression") or \
                    importlib.metadata.metadata(name).get("License", "unknown")
            except importlib.metadata.PackageNotFoundError:
                licence = "unknown"
            out["packages"][name] = {
                "version": version, "n_files": len(files), "licence": str(licence).splitlines()[0][:80],
                "files_sha256": _digest([(p.relative_to(root).as_posix(), p.read_bytes()) for p in files])}
        return out

    def stat_key(self) -> str:
        h = hashlib.sha256()
        for name, root in self._roots():
            h.update(f"{name}\0{_stat_key(_py_files(root), root)}\n".encode())
        return h.hexdigest()


def debian_package_version(package: str, status: str | Path = "/var/lib/dpkg/status") -> str | None:
    """The installed version of a Debian package, read from dpkg's status file (None if absent)."""
    try:
        text = Path(status).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != " ")
        if fields.get("Package") == package and "installed" in fields.get("Status", "").split():
            return fields.get("Version")
    return None


def chunk_paragraphs(text: str, *, target_bytes: int = DOC_TARGET_BYTES) -> list[str]:
    """Cut ``text`` into documents of consecutive paragraphs (split at blank lines).

    Paragraphs are appended until a document holds at least ``target_bytes`` UTF-8 bytes, so
    every document but the last is at least that long and no paragraph is split.
    """
    docs, cur, size = [], [], 0
    for para in text.replace("\r\n", "\n").split("\n\n"):
        if not para.strip():
            continue
        size += len(para.encode("utf-8")) + (2 if cur else 0)    # "\n\n" joins paragraphs
        cur.append(para)
        if size >= target_bytes:
            docs.append("\n\n".join(cur))
            cur, size = [], 0
    if cur:
        docs.append("\n\n".join(cur))
    return docs


@dataclass(frozen=True)
class DebianTextSource(Source):
    """Natural-language text from installed Debian packages (:data:`DEBIAN_TEXTS`).

    Each package's text file (gzip or dictzip) is cut into documents of consecutive paragraphs of
    about :data:`DOC_TARGET_BYTES` bytes (:func:`chunk_paragraphs`); ids are ``<package>/<index>``.
    """

    packages: tuple[str, ...] = ("dict-gcide", "jargon-text", "debian-reference-en")
    kind = "debian"

    @property
    def licence(self) -> str:  # type: ignore[override]
        return "; ".join(f"{p}: {DEBIAN_TEXTS[p]['licence']}" for p in self.packages if p in DEBIAN_TEXTS)

    def _paths(self) -> list[tuple[str, Path]]:
        out = []
        for pkg in self.packages:
            if pkg not in DEBIAN_TEXTS:

                raise UnknownNameError(f"no Debian text source {pkg!r}.{suggest(pkg, DEBIAN_TEXTS)} "
                                       f"Available: {', '.join(sorted(DEBIAN_TEXTS))}")
            path = Path(DEBIAN_TEXTS[pkg]["path"])
            if not path.exists():
                raise DataError(f"{path} is missing: the Debian package {pkg!r} is not installed; "
                                f"run `apt-get install -y {pkg}` (.ci/run installs it)")
            out.append((pkg, path))
        return out

    @staticmethod
    def _read(path: Path) -> bytes:
        opener = gzip.open if path.suffix in (".gz", ".dz") else open
        with opener(path, "rb") as fh:
            return fh.read()

    @staticmethod
    def _text(data: bytes) -> tuple[str, int]:
        """UTF-8, except lines that are not: those are read as cp1252 (GCIDE has a few stray
        Windows-1252 quotes). Returns the text and the number of such lines."""
        try:
            return data.decode("utf-8"), 0
        except UnicodeDecodeError:
            pass
        lines, n = [], 0
        for line in data.split(b"\n"):
            try:
                lines.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(line.decode("cp1252", errors="replace"))
                n += 1
        return "\n".join(lines), n

    def documents(self) -> Iterator[tuple[str, str]]:
        for pkg, path in self._paths():
            text, _ = self._text(self._read(path))
            for i, doc in enumerate(chunk_paragraphs(text)):
                yield f"{pkg}/{i:06d}", doc

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "packages": {}}
        for pkg, path in self._paths():
            data = path.read_bytes()
            out["packages"][pkg] = {"version": debian_package_version(pkg) or "unknown",
                                    "path": str(path),
                                    "cp1252_lines": self._text(self._read(path))[1], "what": DEBIAN_TEXTS[pkg]["what"],
                                    "licence": DEBIAN_TEXTS[pkg]["licence"],
                                    "file_sha256": hashlib.sha256(data).hexdigest()}
        return out

    def stat_key(self) -> str:
        paths = self._paths()
        h = hashlib.sha256()
        for pkg, p in paths:
            st = p.stat()
            h.update(f"{pkg}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


@dataclass(frozen=True)
class FolderSource(Source):
    """Every non-hidden file below a folder is one document (id: its relative path).

    A binary file (a NUL byte in its first 8 KiB) or a file that is not UTF-8 is an error naming
    the file; leave such files out with ``exclude`` (glob patterns on the relative path).
    """

    path: str
    exclude: tuple[str, ...] = ()
    licence: str = "unknown"
    kind = "folder"

    def _files(self) -> list[Path]:
        root = Path(self.path).expanduser()
        if not root.is_dir():
            raise ConfigError(f"corpus folder {self.path!r} does not exist")
        files = []
        for p in sorted(root.rglob("*"), key=lambda q: q.relative_to(root).as_posix()):
            rel = p.relative_to(root)
            if not p.is_file() or any(part.startswith(".") for part in rel.parts):
                continue
            if any(fnmatch.fnmatch(rel.as_posix(), pat) for pat in self.exclude):
                continue
            files.append(p)
        if not files:
            raise DataError(f"corpus folder {self.path!r} holds no files")
        return files

    def documents(self) -> Iterator[tuple[str, str]]:
        root = Path(self.path).expanduser()
        for p in self._files():
            yield p.relative_to(root).as_posix(), _decode(p.read_bytes(), str(p))

    def describe(self) -> dict[str, Any]:
        root = Path(self.path).expanduser()
        files = self._files()
        return {"kind": self.kind, "path": str(root.resolve()), "exclude": list(self.exclude),
                "n_files": len(files), "licence": self.licence,
                "files_sha256": _digest([(p.relative_to(root).as_posix(), p.read_bytes()) for p in files])}

    def stat_key(self) -> str:
        return _stat_key(self._files(), Path(self.path).expanduser())


def _file_describe(kind: str, path: Path, field: str, licence: str) -> dict[str, Any]:
    return {"kind": kind, "path": str(path.resolve()), "field": field, "licence": licence,
            "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _check_text(value: Any, fld: str, where: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"{where}: field {fld!r} must be a string; got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class _OneFileSource(Source):
    """A corpus in one file, a document per record of its text field ``field``."""

    path: str
    field: str = "text"
    licence: str = "unknown"
    _format = ""      # the file format, as error messages name it

    def _path(self) -> Path:
        p = Path(self.path).expanduser()
        if not p.is_file():
            raise ConfigError(f"{self._format} file {self.path!r} does not exist")
        return p

    def describe(self) -> dict[str, Any]:
        return _file_describe(self.kind, self._path(), self.field, self.licence)

    def stat_key(self) -> str:
        p = self._path()
        return _stat_key([p], p.parent)


@dataclass(frozen=True)
class JsonlSource(_OneFileSource):
    """One document per JSONL line (field ``field``); id: ``<line number>``."""

    kind = "jsonl"
    _format = "JSONL"

    def documents(self) -> Iterator[tuple[str, str]]:
        p = self._path()
        with open(p, "rb") as fh:
            for i, raw in enumerate(fh, 1):
                line = _decode(raw, f"{p}:{i}")
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{p}:{i}: not valid JSON ({exc.msg}); fix the line or remove it") from None
                if not isinstance(obj, dict) or self.field not in obj:
                    keys = ", ".join(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
                    raise DataError(f"{p}:{i}: no text field {self.field!r} (found: {keys}); name the "
                                    f"field with '#', e.g. '{p.name}#content'")
                yield f"{i:08d}", _check_text(obj[self.field], self.field, f"{p}:{i}")


@dataclass(frozen=True)
class ParquetSource(_OneFileSource):
    """One document per Parquet row (column ``field``); id: ``<row number>``. Needs pyarrow."""

    kind = "parquet"
    _format = "Parquet"

    def documents(self) -> Iterator[tuple[str, str]]:
        pq = require("pyarrow.parquet", extra="pandas", purpose="reading Parquet corpora")
        p = self._path()
        table = pq.read_table(p)
        if self.field not in table.column_names:
            raise DataError(f"{p}: no text column {self.field!r} (columns: {', '.join(table.column_names)}); "
                            f"name the column with '#', e.g. '{p.name}#content'")
        for i, text in enumerate(table.column(self.field).to_pylist()):
            if text is not None:
                yield f"{i:08d}", _check_text(text, self.field, f"{p} row {i}")


@dataclass(frozen=True)
class HFDiskSource(Source):
    """A Hugging Face dataset saved with ``save_to_disk`` (column ``field``). Needs ``datasets``.

    A ``DatasetDict`` contributes every split, in sorted split order; ids are ``<split>/<row>``.
    """

    path: str
    field: str = "text"
    licence: str = "unknown"
    kind = "hf"

    def _files(self) -> list[Path]:
        root = Path(self.path).expanduser()
        return sorted((p for p in root.rglob("*") if p.is_file()), key=lambda q: q.as_posix())

    def documents(self) -> Iterator[tuple[str, str]]:
        ds_mod = require("datasets", extra="hf", purpose="reading a saved Hugging Face dataset")
        ds = ds_mod.load_from_disk(str(Path(self.path).expanduser()))
        splits = dict(ds) if isinstance(ds.column_names, dict) else {"data": ds}
        for name in sorted(splits):
            part = splits[name]
            if self.field not in part.column_names:
                raise DataError(f"{self.path}: no text column {self.field!r} in split {name!r} (columns: "
                                f"{', '.join(part.column_names)}); name the column with '#'")
            for i, text in enumerate(part[self.field]):
                if text is not None:
                    yield f"{name}/{i:08d}", _check_text(text, self.field, f"{self.path} {name} row {i}")

    def describe(self) -> dict[str, Any]:
        root = Path(self.path).expanduser()
        return {"kind": self.kind, "path": str(root.resolve()), "field": self.field, "licence": self.licence,
                "files_sha256": _digest([(p.relative_to(root).as_posix(), p.read_bytes()) for p in self._files()])}

    def stat_key(self) -> str:
        root = Path(self.path).expanduser()
        return _stat_key(self._files(), root)


def _is_hf_saved(path: Path) -> bool:
    return path.is_dir() and any((path / f).exists() for f in
                                 ("dataset_info.json", "state.json", "dataset_dict.json"))


def source_from(spec: str | Source, *, licence: str = "unknown", exclude: tuple[str, ...] = ()) -> Source:
    """A :class:`Source` from a string.

    ``"stdlib"``; ``"python:numpy,scipy"`` (installed packages); ``"debian:dict-gcide,jargon-text"``;
    or a path: a folder, ``*.jsonl``, ``*.parquet`` or a saved Hugging Face dataset, with an optional
    ``#field`` naming the text field (default ``text``).
    """
    if isinstance(spec, Source):
        return spec
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"a source must be 'stdlib', 'python:PKG,...', 'debian:PKG,...' or a path; got {spec!r}")
    if spec == "stdlib":
        return StdlibSource()
    if spec.startswith("python:"):
        return PythonPackagesSource(tuple(p for p in spec[7:].split(",") if p))
    if spec.startswith("debian:"):
        return DebianTextSource(tuple(p for p in spec[7:].split(",") if p))
    path_s, fld = spec, "text"
    if "#" in spec and not Path(spec).exists():
        path_s, _, fld = spec.rpartition("#")
        fld = fld or "text"
    path = Path(path_s).expanduser()
    if not path.exists():
        raise ConfigError(f"source {spec!r} does not exist. Use 'stdlib', 'python:PKG,...', "
                          "'debian:PKG,...', a folder, a .jsonl/.parquet file or a saved HF dataset")
    if _is_hf_saved(path):
        return HFDiskSource(str(path), fld, licence)
    if path.is_dir():
        return FolderSource(str(path), tuple(exclude), licence)
    if path.suffix.lower() == ".jsonl":
        return JsonlSource(str(path), fld, licence)
    if path.suffix.lower() == ".parquet":
        return ParquetSource(str(path), fld, licence)
    raise ConfigError(f"source {spec!r} is a file that is neither .jsonl nor .parquet; put text files in "
                      "a folder, or convert it to JSONL")
