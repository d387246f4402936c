"""Corpora: the default stdlib corpus, user formats, the split, the cache, batches and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scalinglab.errors import ConfigError, DataError
from scalinglab.train.data import (
    SEPARATOR,
    eval_windows,
    get_batch,
    load_corpus,
    stdlib_files,
    train_bpe,
)

DOCS = [f"def function_{i}(x):\n    return x * {i} + {i * i}  # document {i}\n" * (3 + i % 4)
        for i in range(60)]


def _decode_docs(tokens: np.ndarray) -> set[bytes]:
    return {d for d in bytes(np.asarray(tokens)).split(bytes([SEPARATOR])) if d}


def test_stdlib_corpus_is_deterministic_and_split_without_overlap(tmp_path):
    a = load_corpus("stdlib", cache=tmp_path / "c1")
    b = load_corpus("stdlib", cache=tmp_path / "c2")      # rebuilt from scratch elsewhere
    assert a.manifest_hash == b.manifest_hash and len(a.manifest_hash) == 64
    assert np.array_equal(a.train, b.train) and np.array_equal(a.val, b.val)
    assert a.vocab_size == 256 and a.tokenizer == "byte" and a.split == "hash"
    assert a.n_documents["val"] > 0 and a.n_documents["train"] > 10 * a.n_documents["val"]
    assert 0.01 < a.val.size / (a.train.size + a.val.size) < 0.15
    assert not (_decode_docs(a.val) & _decode_docs(a.train))   # no document on both sides


def test_stdlib_walk_excludes_tests_site_packages_and_generated_files():
    files = stdlib_files()
    parts = {p for f in files for p in f.parts}
    assert files == sorted(files, key=lambda p: p.as_posix()) or len(files) > 100
    assert not parts & {"site-packages", "test", "tests", "__pycache__", "encodings"}
    assert not any(f.name.startswith("_sysconfigdata") for f in files)
    assert all(f.suffix == ".py" for f in files)
    assert any(f.name == "dataclasses.py" for f in files)


def test_cache_is_reused_and_memory_mapped(tmp_path):
    a = load_corpus("stdlib", cache=tmp_path)
    entries = [p for p in (tmp_path / "corpus").iterdir() if p.name != "index"]
    assert len(entries) == 1 and (entries[0] / "train.bin").stat().st_size == a.train.size
    b = load_corpus("stdlib", cache=tmp_path)
    assert isinstance(b.train, np.memmap) and b.manifest_hash == a.manifest_hash


def _write_folder(root, docs):
    root.mkdir()
    for i, d in enumerate(docs):
        (root / f"doc_{i:03d}.txt").write_text(d)
    return root


def test_folder_corpus_split_depends_only_on_each_path(tmp_path):
    folder = _write_folder(tmp_path / "txt", DOCS)
    (folder / ".hidden.txt").write_text("never read")
    (folder / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    c = load_corpus(str(folder), cache=tmp_path / "cache")
    assert c.split == "hash" and sum(c.n_documents.values()) == len(DOCS)
    assert b"never read" not in bytes(np.asarray(c.train)) + bytes(np.asarray(c.val))
    val_before = _decode_docs(c.val)
    # adding documents changes the manifest but moves no existing document across the split
    (folder / "doc_new.txt").write_text("def new():\n    pass\n" * 5)
    c2 = load_corpus(str(folder), cache=tmp_path / "cache")
    assert c2.manifest_hash != c.manifest_hash
    assert val_before <= _decode_docs(c2.val)
    assert not (val_before & _decode_docs(c2.train))


def test_jsonl_corpus_with_default_and_named_field(tmp_path):
    p = tmp_path / "docs.jsonl"
    p.write_text("\n".join(json.dumps({"text": d, "content": d.upper()}) for d in DOCS) + "\n\n")
    c = load_corpus(str(p), cache=tmp_path / "cache")
    assert sum(c.n_documents.values()) == len(DOCS)
    assert _decode_docs(c.train) | _decode_docs(c.val) == {d.encode() for d in DOCS}
    upper = load_corpus(f"{p}#content", cache=tmp_path / "cache")
    assert upper.manifest_hash != c.manifest_hash
    assert bytes(np.asarray(upper.train)).isupper() or b"DEF FUNCTION" in bytes(np.asarray(upper.train))


def test_parquet_corpus(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    p = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"body": DOCS, "n": list(range(len(DOCS)))}), p)
    c = load_corpus(f"{p}#body", cache=tmp_path / "cache")
    assert _decode_docs(c.train) | _decode_docs(c.val) == {d.encode() for d in DOCS}
    with pytest.raises(DataError, match="no text column 'text'.*body"):
        load_corpus(str(p), cache=tmp_path / "cache")


def test_saved_hugging_face_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "hf"
    datasets.Dataset.from_dict({"text": DOCS}).save_to_disk(str(path))
    c = load_corpus(str(path), cache=tmp_path / "cache")
    assert _decode_docs(c.train) | _decode_docs(c.val) == {d.encode() for d in DOCS}
    # a DatasetDict with its own validation split keeps it
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": DOCS[:50]}),
                               "validation": datasets.Dataset.from_dict({"text": DOCS[50:]})})
    dd.save_to_disk(str(tmp_path / "hfdd"))
    c2 = load_corpus(str(tmp_path / "hfdd"), cache=tmp_path / "cache")
    assert c2.n_documents == {"train": 50, "val": 10}
    assert _decode_docs(c2.val) == {d.encode() for d in DOCS[50:]}


def test_single_file_falls_back_to_a_tail_split(tmp_path):
    p = tmp_path / "one.txt"
    p.write_text("".join(DOCS))
    c = load_corpus(str(p), cache=tmp_path / "cache")
    assert c.split == "tail" and c.val.size > 0 and c.train.size > 10 * c.val.size
    assert bytes(np.asarray(c.train)) + bytes(np.asarray(c.val)) == "".join(DOCS).encode() + b"\x00"


def test_missing_and_empty_corpora_raise_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_corpus(str(tmp_path / "nope"), cache=tmp_path / "cache")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no text files"):
        load_corpus(str(tmp_path / "empty"), cache=tmp_path / "cache")
    blank = tmp_path / "blank.jsonl"
    blank.write_text(json.dumps({"text": "   "}) + "\n")
    with pytest.raises(DataError, match="no text"):
        load_corpus(str(blank), cache=tmp_path / "cache")
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"body": "x"}) + "\n")
    with pytest.raises(DataError, match="no text field 'text'.*body"):
        load_corpus(str(wrong), cache=tmp_path / "cache")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(DataError, match="bad.jsonl:1"):
        load_corpus(str(bad), cache=tmp_path / "cache")
    with pytest.raises(ConfigError, match="tokenizer"):
        load_corpus("stdlib", tokenizer=str(tmp_path / "missing.json"), cache=tmp_path / "cache")


def test_batches_are_a_function_of_seed_and_step():
    tokens = np.arange(10_000, dtype=np.uint8)
    x1, y1 = get_batch(tokens, step=7, seed=3, batch_size=4, seq_len=16)
    x2, y2 = get_batch(tokens, step=7, seed=3, batch_size=4, seq_len=16)
    x3, _ = get_batch(tokens, step=8, seed=3, batch_size=4, seq_len=16)
    x4, _ = get_batch(tokens, step=7, seed=4, batch_size=4, seq_len=16)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3) and not np.array_equal(x1, x4)
    assert x1.shape == (4, 16) and x1.dtype == np.int64
    assert np.array_equal(x1[:, 1:], y1[:, :-1])          # targets are the next tokens
    with pytest.raises(DataError, match="fewer than one window"):
        get_batch(tokens[:10], step=0, seed=0, batch_size=1, seq_len=16)


def test_eval_windows_are_fixed_spread_and_capped():
    tokens = np.arange(1000, dtype=np.int64)
    w = eval_windows(tokens, seq_len=10, n_tokens=200)
    assert w.shape == (20, 11) and w[0, 0] == 0 and w[-1, -1] >= 900      # spread to the end
    assert np.array_equal(w, eval_windows(tokens, seq_len=10, n_tokens=200))
    assert eval_windows(tokens, seq_len=10, n_tokens=10**6).shape[0] == 99  # capped, no overlap
    with pytest.raises(DataError):
        eval_windows(tokens[:5], seq_len=10, n_tokens=100)


def test_bpe_tokenizer_trained_locally(tmp_path):
    pytest.importorskip("tokenizers")
    folder = _write_folder(tmp_path / "txt", DOCS)
    tok_path = train_bpe(str(folder), vocab_size=300, path=tmp_path / "bpe.json")
    c = load_corpus(str(folder), tokenizer=str(tok_path), cache=tmp_path / "cache")
    byte = load_corpus(str(folder), cache=tmp_path / "cache")
    assert c.tokenizer.startswith("bpe:") and 256 < c.vocab_size <= 300
    assert c.train.dtype == np.uint16 and int(c.train.max()) < c.vocab_size
    assert c.train.size < 0.8 * byte.train.size                       # merges compress the text
    assert c.manifest_hash == byte.manifest_hash                       # same documents
    with pytest.raises(ConfigError, match="> 256"):
        train_bpe(str(folder), vocab_size=100, path=tmp_path / "small.json")
