"""Datasets as specs with manifests: determinism, hashes, registration formats, errors, atomicity."""

from __future__ import annotations

import json

import pytest
from _ds import write_docs

from scalinglab.datasets import Manifest, get_dataset, list_datasets, register_dataset
from scalinglab.datasets.registry import BUILTIN, DatasetSpec, build_dataset
from scalinglab.datasets.sources import FolderSource, chunk_paragraphs, source_from, stdlib_files
from scalinglab.errors import ConfigError, DataError, UnknownNameError

DOCS = [f"Document {i}: the quick brown fox jumps over the lazy dog {i} times.\n" * (2 + i % 3)
        for i in range(30)]


def test_same_inputs_same_hash_and_a_changed_byte_a_new_hash(tmp_path):
    src = write_docs(tmp_path / "corpus", DOCS)
    a = register_dataset("a", str(src), root=tmp_path / "r1")
    b = register_dataset("b", str(src), root=tmp_path / "r2")         # elsewhere, another name
    assert a.hash == b.hash and len(a.hash) == 64
    assert [s.sha256 for s in a.manifest.shards] == [s.sha256 for s in b.manifest.shards]
    assert (a.path / "shards" / "00000.jsonl").read_bytes() == (b.path / "shards" / "00000.jsonl").read_bytes()
    text = (src / "doc_007.txt").read_text()
    (src / "doc_007.txt").write_text(text[:10] + ("X" if text[10] != "X" else "Y") + text[11:])
    c = register_dataset("c", str(src), root=tmp_path / "r1")
    assert c.hash != a.hash
    assert c.manifest.n_bytes == a.manifest.n_bytes and c.manifest.n_documents == a.manifest.n_documents


def test_manifest_records_sizes_sources_and_round_trips(tmp_path):
    src = write_docs(tmp_path / "corpus", DOCS)
    ds = register_dataset("mine", str(src), licence="CC0-1.0", root=tmp_path / "r")
    m = ds.manifest
    assert m.n_documents == len(DOCS)
    assert m.n_bytes == sum(len(d.encode()) for d in DOCS) == m.n_tokens["byte"]
    assert m.licence == "CC0-1.0" and m.sources[0]["kind"] == "folder" and m.sources[0]["n_files"] == 30
    assert len(m.sources[0]["files_sha256"]) == 64
    assert {"python", "scalinglab"} <= set(m.provenance)
    d = json.loads((ds.path / "manifest.json").read_text())
    assert d["hash"] == ds.hash and Manifest.from_dict(d).hash == ds.hash
    assert [t for _, t in ds.documents()] == DOCS
    assert [i for i, _ in ds.documents()] == [f"doc_{i:03d}.txt" for i in range(30)]
    ds.verify()
    shard = ds.path / m.shards[0].path
    shard.write_bytes(shard.read_bytes().replace(b"quick", b"quack", 1))
    with pytest.raises(DataError, match="changed or is missing"):
        ds.verify()


def test_bpe_token_counts_extend_the_manifest_without_changing_its_hash(tmp_path):
    pytest.importorskip("tokenizers")
    from scalinglab.datasets.manifest import count_tokens
    from scalinglab.train.data import load_corpus, train_bpe

    src = write_docs(tmp_path / "corpus", DOCS)
    ds = register_dataset("mine", str(src), root=tmp_path / "r")
    tok = train_bpe(str(src), vocab_size=300, path=tmp_path / "bpe.json")
    m2 = count_tokens(ds.manifest, ds.path, tok)
    key = next(k for k in m2.n_tokens if k.startswith("bpe:"))
    assert m2.hash == ds.hash and 0 < m2.n_tokens[key] < m2.n_tokens["byte"]
    corpus = load_corpus(str(src), tokenizer=str(tok))     # train.data names the tokenizer the same way
    assert corpus.tokenizer == key


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf"])
def test_users_register_jsonl_parquet_and_saved_hf_datasets(tmp_path, fmt):
    texts = [d for d in DOCS[:12]]
    if fmt == "jsonl":
        p = tmp_path / "data.jsonl"
        p.write_text("".join(json.dumps({"content": t}) + "\n" for t in texts))
        spec = f"{p}#content"
    elif fmt == "parquet":
        pa = pytest.importorskip("pyarrow")
        import pyarrow.parquet as pq

        p = tmp_path / "data.parquet"
        pq.write_table(pa.table({"content": texts}), p)
        spec = f"{p}#content"
    else:
        datasets = pytest.importorskip("datasets")
        p = tmp_path / "hf"
        datasets.Dataset.from_dict({"content": texts}).save_to_disk(str(p))
        spec = f"{p}#content"
    ds = register_dataset("user-" + fmt, spec, root=tmp_path / "r")
    assert [t for _, t in ds.documents()] == texts
    assert ds.manifest.sources[0]["kind"] == {"jsonl": "jsonl", "parquet": "parquet", "hf": "hf"}[fmt]
    assert "user-" + fmt in list_datasets(root=tmp_path / "r")


def test_binary_and_non_utf8_files_are_named_in_a_one_line_error(tmp_path):
    src = write_docs(tmp_path / "corpus", DOCS[:3])
    (src / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DataError, match=r"image\.png is binary.*exclude") as e:
        register_dataset("bad", str(src), root=tmp_path / "r")
    assert "\n" not in str(e.value)
    (src / "image.png").unlink()
    (src / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.txt is not UTF-8.*re-encode"):
        register_dataset("bad", str(src), root=tmp_path / "r")
    assert not (tmp_path / "r" / "bad").exists()                       # nothing half-written
    assert not [p for p in (tmp_path / "r").iterdir() if p.name.startswith(".tmp")]
    ok = register_dataset("ok", str(src), exclude=("latin1.txt",), root=tmp_path / "r")
    assert ok.manifest.n_documents == 3


def test_unknown_names_existing_names_and_bad_names_are_refused(tmp_path):
    with pytest.raises(UnknownNameError, match="Did you mean: debian-text"):
        get_dataset("debian-txt", root=tmp_path)
    src = write_docs(tmp_path / "corpus", DOCS[:3])
    register_dataset("mine", str(src), root=tmp_path / "r")
    with pytest.raises(DataError, match="already exists.*overwrite"):
        register_dataset("mine", str(src), root=tmp_path / "r")
    register_dataset("mine", str(src), root=tmp_path / "r", overwrite=True)
    with pytest.raises(ConfigError, match="built-in"):
        register_dataset("stdlib", str(src), root=tmp_path / "r")
    with pytest.raises(ConfigError, match="lowercase"):
        register_dataset("Bad Name", str(src), root=tmp_path / "r")
    with pytest.raises(ConfigError, match="does not exist"):
        source_from(str(tmp_path / "nope"))


def test_an_interrupted_build_leaves_nothing_under_the_name(tmp_path):
    class Boom(FolderSource):
        def documents(self):
            yield from list(super().documents())[:2]
            raise KeyboardInterrupt

    src = write_docs(tmp_path / "corpus", DOCS[:5])
    with pytest.raises(KeyboardInterrupt):
        build_dataset(DatasetSpec("half", (Boom(str(src)),)), root=tmp_path / "r")
    assert list((tmp_path / "r").iterdir()) == []


def test_builtin_stdlib_dataset_holds_the_stdlib_corpus_files(tmp_path):
    ds = get_dataset("stdlib", root=tmp_path)
    ids = [i for i, _ in ds.documents()]
    files = stdlib_files()
    assert len(ids) <= len(files) and len(ids) >= len(files) - 5       # empty files are skipped
    assert "dataclasses.py" in ids and ids == sorted(ids)
    assert ds.manifest.licence == "PSF-2.0" and ds.manifest.sources[0]["python"]
    again = get_dataset("stdlib", root=tmp_path)
    assert again.hash == ds.hash and again.path == ds.path


def test_builtin_registry_has_three_text_datasets_of_different_character():
    assert {"stdlib", "python-sci", "debian-text"} <= set(BUILTIN.names())
    kinds = {BUILTIN.get(n).sources[0].kind for n in ("stdlib", "python-sci", "debian-text")}
    assert kinds == {"stdlib", "python-packages", "debian"}


def test_python_sci_manifest_pins_package_versions(tmp_path):
    import importlib.metadata as md

    from scalinglab.datasets.sources import PythonPackagesSource

    d = PythonPackagesSource(("numpy", "scipy")).describe()
    assert d["packages"]["numpy"]["version"] == md.version("numpy")
    assert d["packages"]["scipy"]["n_files"] > 100 and len(d["packages"]["scipy"]["files_sha256"]) == 64
    with pytest.raises(DataError, match="not installed.*pip install"):
        PythonPackagesSource(("no_such_pkg_xyz",)).describe()


def test_debian_text_sources_are_installed_and_versioned():
    from scalinglab.datasets.sources import DEBIAN_TEXTS, DebianTextSource, debian_package_version

    missing = [p for p, v in DEBIAN_TEXTS.items() if not __import__("os").path.exists(v["path"])]
    if missing:
        pytest.skip(f"Debian packages not installed: {missing} (.ci/run installs them)")
    src = DebianTextSource(("jargon-text",))
    d = src.describe()["packages"]["jargon-text"]
    assert d["version"] == debian_package_version("jargon-text") and d["licence"] == "public-domain"
    docs = list(src.documents())
    assert len(docs) > 100 and all(i.startswith("jargon-text/") for i, _ in docs)
    assert sum(len(t.encode()) >= 4096 for _, t in docs) >= len(docs) - 1


def test_chunk_paragraphs_keeps_paragraphs_whole():
    paras = [f"paragraph {i} " + "word " * (i * 7 % 50) for i in range(40)]
    docs = chunk_paragraphs("\n\n".join(paras), target_bytes=200)
    assert "\n\n".join(docs).split("\n\n") == paras
    assert all(len(d.encode()) >= 200 for d in docs[:-1])
