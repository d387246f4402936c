"""Training text: the default corpus, user corpora, tokenisation, the on-disk cache and batches.

What to use when
----------------
* ``corpus="stdlib"`` (default): the Python standard-library sources of the running interpreter
  (``sysconfig.get_paths()["stdlib"]``), present on every machine with no download. Files are
  walked in sorted order; ``site-packages``, test directories, generated tables (``encodings``,
  ``pydoc_data``) and the machine-specific ``_sysconfigdata*`` are left out.
* ``corpus="<dataset name>"``: a dataset of :mod:`scalinglab.datasets` -- a built-in
  (``"python-sci"``, ``"debian-text"``; built on first use), one you registered, or a recipe's
  output. Documents are keyed by their dataset id; :attr:`Corpus.dataset_hash` is the dataset's
  manifest hash. (``"stdlib"`` keeps the path below, so its manifest hash is unchanged.)
* ``corpus="<path>"``: your own text. A folder (every non-hidden, non-binary file below it is one
  document), a text file (one document), ``*.jsonl`` (one document per line, field ``text``),
  ``*.parquet`` (column ``text``), or a Hugging Face dataset saved with ``save_to_disk`` (column
  ``text``; a ``DatasetDict`` with a ``validation``/``test`` split keeps that split). Name another
  field or column with a ``#`` suffix: ``"data.jsonl#content"``. A registered dataset name wins
  over a file or folder of the same name in the working directory: write ``"./name"`` for the path.
* ``tokenizer="byte"`` (default, vocab 256, byte 0 separates documents) or the path of a
  ``tokenizers`` BPE JSON trained locally with :func:`train_bpe`.

Validation split: a document goes to validation when a hash of its key (relative path, or the
text of a record) falls in the lowest :data:`VAL_PERMILLE` per mille, so the split never depends
on the order or number of other files. If that leaves one side empty (a corpus of one file), the
last 5% of the token stream is held out instead. The corpus is identified by a *manifest hash*
(keys, sizes and SHA-256 of every document, the split rule and the separator), stored with every
run; the tokenised splits are cached as ``uint8``/``uint16`` memmaps under
``$SCALINGLAB_CACHE_DIR`` (default ``~/.cache/scalinglab``) keyed by that hash and the tokenizer.

Batches are windows of ``seq_len + 1`` tokens at offsets drawn from a generator seeded by
``(seed, step)``: any step's batch can be recomputed, so resuming needs no sampler state. For the
same reason :func:`repetition_stats` can count exactly how many distinct training tokens a run
saw and how many epochs it made, without training.
"""

from __future__ import annotations

import hashlib
import json
import os
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._optional import require
from ..datasets.registry import get_dataset, list_datasets
from ..datasets.sources import stdlib_files
from ..errors import ConfigError, DataError, UnknownNameError

__all__ = [
    "VAL_PERMILLE",
    "Corpus",
    "RepetitionStats",
    "batch_offsets",
    "eval_windows",
    "get_batch",
    "load_corpus",
    "repetition_stats",
    "stdlib_files",
    "train_bpe",
]

VAL_PERMILLE = 50                      # 5% of documents go to validation
SPLIT_RULE = "sha256(key)%1000<50;v1"  # changes here change every manifest hash
SEPARATOR = 0                          # byte-level document separator (NUL never occurs in text)
_BINARY_PROBE = 8192


@dataclass(frozen=True, eq=False)
class Corpus:
    """A tokenised corpus: train/validation token arrays plus what identifies them."""

    name: str                   # "stdlib" or the resolved path spec
    manifest_hash: str          # SHA-256 of the document manifest and split rule
    tokenizer: str              # "byte" or "bpe:<sha256 prefix of the tokenizer JSON>"
    vocab_size: int             # tokens the tokenizer can emit
    train: np.ndarray           # 1-D token ids (memmap)
    val: np.ndarray
    n_documents: dict = field(default_factory=dict)   # {"train": int, "val": int}
    split: str = "hash"         # "hash" or "tail" (fallback for corpora of one document)
    dataset_hash: str | None = None   # manifest hash of a scalinglab.datasets dataset (None otherwise)


# --- document sources ------------------------------------------------------------------------

def _is_binary(path: Path) -> bool:
    with open(path, "rb") as fh:
        return b"\x00" in fh.read(_BINARY_PROBE)


def _split_spec(corpus: str) -> tuple[str, str | None]:
    if "#" in corpus and not Path(corpus).exists():
        path, _, fld = corpus.rpartition("#")
        return path, fld or None
    return corpus, None


def _is_hf_saved(path: Path) -> bool:
    return path.is_dir() and any((path / f).exists() for f in
                                 ("dataset_info.json", "state.json", "dataset_dict.json"))


def _stat_key(paths: list[Path], root: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p.relative_to(root).as_posix() if p != root else p.name}\0{st.st_size}\0"
                 f"{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _text_field(obj: object, fld: str, where: str) -> str:
    if not isinstance(obj, dict) or fld not in obj:
        keys = ", ".join(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise DataError(f"{where}: no text field {fld!r} (found: {keys}). Name the field with "
                        f"a '#' suffix, e.g. 'data.jsonl#content'")
    val = obj[fld]
    if not isinstance(val, str):
        raise DataError(f"{where}: field {fld!r} must be a string; got {type(val).__name__}")
    return val


def _documents(corpus: str) -> tuple[str, str, Iterator[tuple[str, bytes, str | None]]]:
    """Return (kind, stat key, iterator of (split key, document bytes, fixed split or None))."""
    if corpus == "stdlib":
        root = Path(sysconfig.get_paths()["stdlib"])
        files = stdlib_files(root)
        if not files:
            raise DataError(f"no Python sources found under the standard library {str(root)!r}; "
                            "point corpus= at a folder of text instead")
        return "stdlib", _stat_key(files, root), (
            (p.relative_to(root).as_posix(), p.read_bytes(), None) for p in files)
    path_s, fld = _split_spec(corpus)
    path = Path(path_s).expanduser()
    registered = _looks_like_name(corpus) and corpus in list_datasets(modality="text")
    if registered or not path.exists():       # a registered name wins over a same-named path here
        if _looks_like_name(corpus):
            ds = _dataset(corpus)
            return "dataset", ds.hash, ((k, t.encode("utf-8"), None) for k, t in ds.documents())
        raise ConfigError(f"corpus {corpus!r} does not exist. Use 'stdlib', a dataset name, a folder or "
                          "file of text, a .jsonl/.parquet file or a dataset saved with save_to_disk")
    fld = fld or "text"
    if _is_hf_saved(path):
        ds_mod = require("datasets", extra="hf", purpose="reading a saved Hugging Face dataset")
        ds = ds_mod.load_from_disk(str(path))
        files = sorted(p for p in path.rglob("*") if p.is_file())
        return "hf", _stat_key(files, path), _hf_docs(ds, fld, str(path))
    if path.is_dir():
        files = [p for p in sorted(path.rglob("*"), key=lambda p: p.relative_to(path).as_posix())
                 if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)]
        files = [p for p in files if not _is_binary(p)]
        if not files:
            raise DataError(f"corpus folder {str(path)!r} holds no text files")
        return "folder", _stat_key(files, path), (
            (p.relative_to(path).as_posix(), p.read_bytes(), None) for p in files)
    key = _stat_key([path], path)
    if path.suffix.lower() == ".jsonl":
        return "jsonl", key, _jsonl_docs(path, fld)
    if path.suffix.lower() == ".parquet":
        return "parquet", key, _parquet_docs(path, fld)
    if _is_binary(path):
        raise DataError(f"corpus file {str(path)!r} is binary; give a text, .jsonl or .parquet file")
    return "file", key, iter([(path.name, path.read_bytes(), None)])


def _looks_like_name(corpus: str) -> bool:
    return "/" not in corpus and os.sep not in corpus and "#" not in corpus and not corpus.startswith(".")


def _dataset(name: str):
    """The registered dataset ``name`` (built-ins are built on first use)."""

    try:
        return get_dataset(name)
    except UnknownNameError as exc:
        raise UnknownNameError(f"corpus {name!r} is neither a path nor a dataset: {exc}") from None


def _record_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _jsonl_docs(path: Path, fld: str) -> Iterator[tuple[str, bytes, None]]:
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{i}: not valid JSON ({exc.msg})") from None
            text = _text_field(obj, fld, f"{path}:{i}")
            yield _record_key(text), text.encode("utf-8"), None


def _parquet_docs(path: Path, fld: str) -> Iterator[tuple[str, bytes, None]]:
    pq = require("pyarrow.parquet", extra="pandas", purpose="reading Parquet corpora")
    table = pq.read_table(path)
    if fld not in table.column_names:
        raise DataError(f"{path}: no text column {fld!r} (columns: {', '.join(table.column_names)}). "
                        f"Name the column with a '#' suffix, e.g. 'data.parquet#content'")
    for text in table.column(fld).to_pylist():
        if text is None:
            continue
        if not isinstance(text, str):
            raise DataError(f"{path}: column {fld!r} must hold strings; got {type(text).__name__}")
        yield _record_key(text), text.encode("utf-8"), None


def _hf_docs(ds, fld: str, where: str) -> Iterator[tuple[str, bytes, str | None]]:
    splits = dict(ds) if isinstance(ds.column_names, dict) else {None: ds}   # DatasetDict or Dataset
    val_name = next((s for s in ("validation", "valid", "test") if s in splits), None)
    use_fixed = "train" in splits and val_name is not None
    for name in sorted(splits, key=str):
        if use_fixed and name not in ("train", val_name):
            continue
        part = splits[name]
        if fld not in part.column_names:
            raise DataError(f"{where}: no text column {fld!r} (columns: {', '.join(part.column_names)})."
                            f" Name the column with a '#' suffix, e.g. 'path#content'")
        fixed = None if not use_fixed else ("train" if name == "train" else "val")
        for text in part[fld]:
            if text:
                yield _record_key(text), text.encode("utf-8"), fixed


# --- tokenisers ------------------------------------------------------------------------------

class _ByteTokenizer:
    name = "byte"
    vocab_size = 256
    dtype = np.uint8

    def encode(self, data: bytes) -> np.ndarray:
        return np.frombuffer(data, dtype=np.uint8)

    separator = np.array([SEPARATOR], dtype=np.uint8)


class _BPETokenizer:
    dtype = np.uint16

    def __init__(self, path: Path) -> None:
        tk = require("tokenizers", extra="tokenizers", purpose="BPE tokenisation")
        if not path.exists():
            raise ConfigError(f"tokenizer {str(path)!r} does not exist; use 'byte' or the JSON "
                              "written by scalinglab.train.data.train_bpe")
        self.tok = tk.Tokenizer.from_file(str(path))
        self.vocab_size = self.tok.get_vocab_size()
        if self.vocab_size > 65535:
            raise ConfigError(f"BPE vocabularies above 65535 tokens are not supported; got {self.vocab_size}")
        self.name = "bpe:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        sep = self.tok.token_to_id("<|endoftext|>")
        self.separator = np.array([] if sep is None else [sep], dtype=np.uint16)

    def encode(self, data: bytes) -> np.ndarray:
        ids = self.tok.encode(data.decode("utf-8", errors="replace")).ids
        return np.asarray(ids, dtype=np.uint16)


def _tokenizer(spec: str):
    return _ByteTokenizer() if spec == "byte" else _BPETokenizer(Path(spec).expanduser())


def train_bpe(corpus: str = "stdlib", *, vocab_size: int = 1024, path: str | Path) -> Path:
    """Train a byte-level BPE tokenizer on the corpus's *training* documents; write its JSON.

    Uses the ``tokenizers`` package (``pip install 'scalinglab[tokenizers]'``) locally; nothing is
    downloaded. Pass the returned path as ``RunSpec.tokenizer`` and set ``model.vocab_size`` to at
    least ``vocab_size``. Document separator: ``<|endoftext|>`` (id 0).
    """
    tk = require("tokenizers", extra="tokenizers", purpose="training a BPE tokenizer")
    if vocab_size < 257:
        raise ConfigError(f"vocab_size must be > 256 for a byte-level BPE; got {vocab_size}")
    _, _, docs = _documents(corpus)

    def texts() -> Iterator[str]:
        for key, data, fixed in docs:
            if (fixed or _split_of(key)) == "train":
                yield data.decode("utf-8", errors="replace")

    tok = tk.Tokenizer(tk.models.BPE())
    tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tk.decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                     initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
                                     show_progress=False)
    tok.train_from_iterator(texts(), trainer=trainer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


# --- manifest, split, cache ------------------------------------------------------------------

def _split_of(key: str) -> str:
    h = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16)
    return "val" if h % 1000 < VAL_PERMILLE else "train"


def cache_dir() -> Path:
    """``$SCALINGLAB_CACHE_DIR`` or ``~/.cache/scalinglab``."""
    return Path(os.environ.get("SCALINGLAB_CACHE_DIR") or Path.home() / ".cache" / "scalinglab")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _open(cdir: Path, meta: dict, dtype) -> Corpus:
    def mm(name: str) -> np.ndarray:
        p = cdir / f"{name}.bin"
        return np.memmap(p, dtype=dtype, mode="r") if p.stat().st_size else np.zeros(0, dtype)

    return Corpus(name=meta["corpus"], manifest_hash=meta["manifest_hash"], tokenizer=meta["tokenizer"],
                  vocab_size=meta["vocab_size"], train=mm("train"), val=mm("val"),
                  n_documents=meta["n_documents"], split=meta["split"],
                  dataset_hash=meta.get("dataset_hash"))


def load_corpus(corpus: str = "stdlib", *, tokenizer: str = "byte",
                cache: str | Path | None = None) -> Corpus:
    """Load (building and caching on first use) the tokenised train/validation splits.

    Parameters
    ----------
    corpus : str
        ``"stdlib"`` or a path spec (see the module docstring).
    tokenizer : str
        ``"byte"`` or the path of a ``tokenizers`` JSON.
    cache : path, optional
        Cache root; default :func:`cache_dir`. Concurrent workers may build the same entry; each
        file is written to a temporary name and renamed, so readers never see half a file.

    Raises
    ------
    ConfigError
        The corpus path or tokenizer file does not exist.
    DataError
        The corpus holds no text, or too little to form a validation split.
    """
    if not isinstance(corpus, str) or not corpus:
        raise ConfigError(f"corpus must be 'stdlib' or a path; got {corpus!r}")
    tok = _tokenizer(tokenizer)
    root = Path(cache) if cache is not None else cache_dir()
    kind, stat_key, docs = _documents(corpus)
    dataset_hash = stat_key if kind == "dataset" else None
    stat_key = hashlib.sha256(f"{corpus}\0{SPLIT_RULE}\0{stat_key}".encode()).hexdigest()
    index = root / "corpus" / "index" / f"{stat_key[:24]}-{tok.name.replace(':', '_')}.json"
    if index.exists():   # fast path: same files (names, sizes, mtimes) and tokenizer as before
        try:
            meta = json.loads(index.read_text())
            cdir = root / "corpus" / meta["entry"]
            return _open(cdir, meta, tok.dtype)
        except (OSError, KeyError, ValueError):
            pass   # stale or partial entry: rebuild below
    manifest = hashlib.sha256(f"{kind}\n{SPLIT_RULE}\nsep={SEPARATOR}\n".encode())
    if kind not in ("stdlib", "dataset"):   # the field read from records is part of the corpus identity
        manifest.update(f"field={_split_spec(corpus)[1] or 'text'}\n".encode())
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": []}
    n_docs = {"train": 0, "val": 0}
    for key, data, fixed in docs:
        if not data.strip():
            continue
        side = fixed or _split_of(key)
        manifest.update(f"{key}\0{len(data)}\0{hashlib.sha256(data).hexdigest()}\0{side}\n".encode())
        parts[side] += [tok.encode(data), tok.separator]
        n_docs[side] += 1
    manifest_hash = manifest.hexdigest()
    if n_docs["train"] + n_docs["val"] == 0:
        raise DataError(f"corpus {corpus!r} holds no text (every document is empty)")
    arrays = {k: (np.concatenate(v).astype(tok.dtype) if v else np.zeros(0, tok.dtype))
              for k, v in parts.items()}
    split = "hash"
    if not n_docs["train"] or not n_docs["val"]:   # one document, or all hashed to one side
        both = np.concatenate([arrays["train"], arrays["val"]])
        cut = int(len(both) * (1 - VAL_PERMILLE / 1000))
        arrays = {"train": both[:cut], "val": both[cut:]}
        split = "tail"
    meta = {"corpus": corpus, "kind": kind, "manifest_hash": manifest_hash, "tokenizer": tok.name,
            "vocab_size": int(tok.vocab_size), "n_documents": n_docs, "split": split,
            "entry": f"{manifest_hash[:24]}-{tok.name.replace(':', '_')}", "dataset_hash": dataset_hash}
    cdir = root / "corpus" / meta["entry"]
    try:
        cdir.mkdir(parents=True, exist_ok=True)
        index.parent.mkdir(parents=True, exist_ok=True)
        for name, arr in arrays.items():
            if not (cdir / f"{name}.bin").exists():
                _atomic_write(cdir / f"{name}.bin", arr.tobytes())
        _atomic_write(cdir / "meta.json", json.dumps(meta, indent=1).encode())
        _atomic_write(index, json.dumps(meta, indent=1).encode())
        return _open(cdir, meta, tok.dtype)
    except OSError:   # read-only home: keep the arrays in memory for this process
        return Corpus(name=corpus, manifest_hash=manifest_hash, tokenizer=tok.name,
                      vocab_size=int(tok.vocab_size), train=arrays["train"], val=arrays["val"],
                      n_documents=n_docs, split=split, dataset_hash=dataset_hash)


# --- batches ---------------------------------------------------------------------------------

def get_batch(tokens: np.ndarray, *, step: int, seed: int, batch_size: int,
              seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-token targets ``(batch_size, seq_len)`` (int64) for update ``step``.

    Window offsets are uniform over the training stream, drawn from
    ``numpy.random.default_rng([seed, step])``: the same (seed, step) always gives the same batch.
    """
    starts = batch_offsets(len(tokens), step=step, seed=seed, batch_size=batch_size, seq_len=seq_len)
    win = np.asarray(tokens[starts[:, None] + np.arange(seq_len + 1)], dtype=np.int64)
    return win[:, :-1], win[:, 1:]


def batch_offsets(n_train_tokens: int, *, step: int, seed: int, batch_size: int,
                  seq_len: int) -> np.ndarray:
    """The window start offsets :func:`get_batch` uses for update ``step`` (int64, ``(batch_size,)``)."""
    n = int(n_train_tokens) - seq_len - 1
    if n <= 0:
        raise DataError(f"the training split has {n_train_tokens} tokens, fewer than one window of "
                        f"seq_len + 1 = {seq_len + 1}; use a larger corpus or a shorter seq_len")
    rng = np.random.default_rng([int(seed), 0x5CA1AB1E, int(step)])
    return rng.integers(0, n + 1, size=batch_size)


@dataclass(frozen=True)
class RepetitionStats:
    """How much of the training stream a run saw, and how often (exact, from the batch offsets).

    Attributes
    ----------
    n_tokens : int
        Training tokens processed, D = steps x batch_size x seq_len (each target position counts).
    n_unique_tokens : int
        Distinct positions of the training stream that were a target at least once (U <= D).
    n_train_tokens : int
        Length of the training stream.
    epochs : float
        D / n_train_tokens: passes over the stream, as a sampler without replacement would make.
    repeats : float
        D / U: how many times each seen token was seen on average; R = repeats - 1 is the
        repetition of Muennighoff et al. (2023) with U the unique tokens seen.
    coverage : float
        U / n_train_tokens.
    """

    n_tokens: int
    n_unique_tokens: int
    n_train_tokens: int
    epochs: float
    repeats: float
    coverage: float

    def to_dict(self) -> dict:
        return {"n_tokens": self.n_tokens, "n_unique_tokens": self.n_unique_tokens,
                "n_train_tokens": self.n_train_tokens, "epochs": self.epochs,
                "repeats": self.repeats, "coverage": self.coverage}


def repetition_stats(n_train_tokens: int, *, steps: int, seed: int, batch_size: int, seq_len: int,
                     start_step: int = 0) -> RepetitionStats:
    """Exactly which training tokens updates ``start_step .. steps - 1`` saw, as :func:`get_batch` draws them.

    Replays the batch offsets (no data, no model) and marks every target position
    ``[start + 1, start + seq_len]`` of every window with a difference array: O(steps x batch_size +
    n_train_tokens) time and 4 bytes per training token. A 4.2M-token run of 64 x 32 windows over
    the 9.1M-token stdlib corpus replays in well under a second.

    Uniform random windows are not a permutation: a run of exactly one epoch sees about
    1 - 1/e = 63% of the stream (for windows much shorter than the stream), so ``repeats`` exceeds
    1 long before ``epochs`` does.
    """
    n_train_tokens, steps, start_step = int(n_train_tokens), int(steps), int(start_step)
    if steps < start_step or start_step < 0:
        raise ConfigError(f"need 0 <= start_step <= steps; got start_step={start_step}, steps={steps}")
    cover = np.zeros(n_train_tokens + 1, dtype=np.int32)
    chunk = max(1, 65536 // max(1, batch_size))
    for lo in range(start_step, steps, chunk):
        starts = np.concatenate([batch_offsets(n_train_tokens, step=s, seed=seed, batch_size=batch_size,
                                               seq_len=seq_len) for s in range(lo, min(steps, lo + chunk))])
        np.add.at(cover, starts + 1, 1)
        np.add.at(cover, starts + 1 + seq_len, -1)
    seen = int(np.count_nonzero(np.cumsum(cover[:-1], dtype=np.int64)))
    d = (steps - start_step) * batch_size * seq_len
    return RepetitionStats(n_tokens=d, n_unique_tokens=seen, n_train_tokens=n_train_tokens,
                           epochs=d / n_train_tokens if n_train_tokens else float("nan"),
                           repeats=d / seen if seen else float("nan"),
                           coverage=seen / n_train_tokens if n_train_tokens else float("nan"))


def eval_windows(tokens: np.ndarray, *, seq_len: int, n_tokens: int) -> np.ndarray:
    """Fixed validation windows ``(n, seq_len + 1)``: non-overlapping, evenly spread.

    ``n = min(n_tokens // seq_len, (len(tokens) - 1) // seq_len)``. Spreading the windows over
    the whole validation stream (many documents) makes their losses closer to independent,
    which the standard error of ``val_loss`` assumes.
    """
    cap = (len(tokens) - 1) // seq_len
    n = min(max(1, n_tokens // seq_len), cap)
    if cap < 1:
        raise DataError(f"the validation split has {len(tokens)} tokens, fewer than one window of "
                        f"{seq_len + 1}; use a larger corpus or a shorter seq_len")
    slots = np.linspace(0, cap - 1, n).round().astype(np.int64) * seq_len
    return np.asarray(tokens[slots[:, None] + np.arange(seq_len + 1)], dtype=np.int64)
