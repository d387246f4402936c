"""train.data on datasets: training by name, the dataset hash, and exact repetition counts."""

from __future__ import annotations

import numpy as np
import pytest
from _ds import write_docs

from scalinglab._optional import has
from scalinglab.datasets import register_dataset
from scalinglab.errors import UnknownNameError
from scalinglab.train.data import get_batch, load_corpus, repetition_stats

DOCS = [f"def f_{i}(x):\n    return x * {i} + {i * i}  # document {i}\n" * (3 + i % 4) for i in range(80)]


def test_a_registered_dataset_loads_by_name_with_its_hash(tmp_path):
    ds = register_dataset("toy", str(write_docs(tmp_path / "src", DOCS)))
    c = load_corpus("toy")
    assert c.dataset_hash == ds.hash
    assert c.train.size + c.val.size == ds.manifest.n_bytes + ds.manifest.n_documents   # + separators
    assert c.n_documents["train"] + c.n_documents["val"] == len(DOCS)
    again = load_corpus("toy")
    assert again.manifest_hash == c.manifest_hash and np.array_equal(again.train, c.train)
    x, y = get_batch(c.train, step=0, seed=0, batch_size=4, seq_len=16)
    assert x.shape == y.shape == (4, 16)
    register_dataset("toy", str(write_docs(tmp_path / "src2", DOCS[:40])), overwrite=True)
    changed = load_corpus("toy")
    assert changed.dataset_hash != ds.hash and changed.manifest_hash != c.manifest_hash
    assert load_corpus("stdlib").dataset_hash is None


def test_an_unknown_corpus_name_suggests_datasets():
    with pytest.raises(UnknownNameError, match="Did you mean: debian-text"):
        load_corpus("debian-txt")


@pytest.mark.skipif(not has("torch"), reason="needs torch")
def test_the_trainer_trains_on_a_dataset_by_name(tmp_path):
    from scalinglab.datasets import get_dataset
    from scalinglab.procedures import GPTConfig
    from scalinglab.store.schema import RunSpec
    from scalinglab.train.data import load_corpus, repetition_stats
    from scalinglab.train.loop import run

    register_dataset("toy", str(write_docs(tmp_path / "src", DOCS)))
    spec = RunSpec(rung="t-1", ladder="test", model=GPTConfig(n_layer=1, d_model=32, n_head=2, seq_len=32,
                                                                vocab_size=256),
                   n_data=60 * 8 * 32, lr=3e-3, batch_size=8, eval_size=1024, dataset="toy")
    rec = run(spec, run_dir=tmp_path / "run")
    assert rec.status == "done"
    assert rec.provenance["corpus"] == "toy"
    # repetition is visible in the record: the dataset's hash, the unique tokens seen, the epochs
    n_train = load_corpus("toy").train.size
    assert rec.dataset_hash == get_dataset("toy").manifest.hash
    exact = repetition_stats(n_train, steps=60, seed=0, batch_size=8, seq_len=32)
    assert rec.n_unique_seen == exact.n_unique_tokens < rec.n_data_seen
    assert rec.epochs == pytest.approx(rec.n_data_seen / n_train)
    assert rec.val_loss is not None and rec.val_loss < np.log(256)          # learned something
    assert rec.curve[-1][1] < rec.curve[0][1]


def _brute_force(n, *, steps, seed, batch_size, seq_len, start_step=0):
    seen = np.zeros(n, dtype=bool)
    stream = np.arange(n)
    for s in range(start_step, steps):
        _, y = get_batch(stream, step=s, seed=seed, batch_size=batch_size, seq_len=seq_len)
        seen[y.ravel()] = True
    return int(seen.sum())


@pytest.mark.parametrize("n,steps,bs,T,start", [(5000, 40, 8, 16, 0), (700, 300, 4, 32, 0),
                                                (20000, 90, 16, 64, 30), (129, 10, 2, 64, 0)])
def test_repetition_stats_are_exact(n, steps, bs, T, start):
    r = repetition_stats(n, steps=steps, seed=7, batch_size=bs, seq_len=T, start_step=start)
    assert r.n_unique_tokens == _brute_force(n, steps=steps, seed=7, batch_size=bs, seq_len=T, start_step=start)
    assert r.n_tokens == (steps - start) * bs * T
    assert r.epochs == pytest.approx(r.n_tokens / n) and r.repeats == pytest.approx(r.n_tokens / r.n_unique_tokens)
    assert 0 < r.coverage <= 1 and r.n_unique_tokens <= min(n, r.n_tokens)


def test_one_epoch_of_random_windows_covers_about_63_percent():
    n = 200_000
    r = repetition_stats(n, steps=n // (32 * 16), seed=0, batch_size=16, seq_len=32)
    assert r.epochs == pytest.approx(1.0, rel=0.01)
    assert r.coverage == pytest.approx(1 - np.exp(-1), abs=0.02)


def test_a_registered_name_wins_over_a_same_named_folder_in_the_working_directory(tmp_path, monkeypatch):
    """A folder called 'stdlib' beside a sweep file must not turn `dataset: stdlib` into that path."""
    from scalinglab.sweep import plan_sweep

    monkeypatch.chdir(tmp_path)
    (tmp_path / "stdlib").mkdir()                    # empty: as a path it would be refused
    plan = plan_sweep({"name": "t", "ladder": "gpt-tiny", "rungs": ["gpt-tiny-1"], "n_tokens": [4096],
                       "lr": [1e-3], "dataset": "stdlib"})
    assert {s.dataset for s in plan.specs} == {"stdlib"}
    (tmp_path / "stdlib" / "a.txt").write_text("def f():\n    return 1\n" * 50)
    assert load_corpus("stdlib").name == "stdlib"    # the standard library, not ./stdlib
    assert load_corpus("./stdlib").train.size + load_corpus("./stdlib").val.size < 5000
