"""ResultsStore: a real SQLite database in WAL mode plus atomic per-run record files."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import warnings

import pytest

from scalinglab.errors import ConfigError, DataError, DataWarning, StoreError
from scalinglab.laws import Runs, load_runs
from scalinglab.procedures import GPTConfig
from scalinglab.store import ResultsStore, RunRecord, RunSpec, rebuild_store, rundir

MODEL = GPTConfig(n_layer=2, d_model=32, n_head=2, seq_len=128, vocab_size=256)


def spec(n_data=16384, lr=3e-3, seed=0, rung="gpt-tiny-1", **kw) -> RunSpec:
    return RunSpec(rung=rung, model=MODEL, n_data=n_data, lr=lr, seed=seed, **kw)


def record(s: RunSpec, status="done", val_loss=3.0, **kw) -> RunRecord:
    metrics = {} if val_loss is None else {"val_loss": val_loss}
    return RunRecord(run_id=s.run_id, spec=s, status=status, metrics=metrics,
                     n_data_seen=s.n_data, n_params={"non_embedding": 24896, "total": 37184},
                     flops={"exact": 1e10, "6N": 6 * 24896 * s.n_data}, wall_s=1.0, **kw)


@pytest.fixture
def store(tmp_path):
    with ResultsStore(tmp_path / "store") as st:
        yield st


def test_put_get_roundtrip_and_record_file(store):
    s = spec()
    rec = record(s, curve=[(8192, 3.5), (16384, 3.0)])
    assert store.put(rec) is True
    assert store.get(s.run_id) == rec
    assert s.run_id in store and len(store) == 1
    on_disk = json.loads((store.run_dir(s.run_id) / "record.json").read_text())
    assert RunRecord.from_dict(on_disk) == rec
    assert store.counts() == {"done": 1}


def test_database_is_wal_and_survives_reopen(tmp_path):
    path = tmp_path / "st"
    with ResultsStore(path) as st:
        st.put(record(spec()))
    conn = sqlite3.connect(path / "results.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with ResultsStore(path, readonly=True) as ro:
        assert len(ro.records(status="done")) == 1
        with pytest.raises(StoreError, match="read-only"):
            ro.put(record(spec(seed=1)))


def test_identical_put_is_a_noop_that_keeps_the_file(store):
    s = spec()
    store.put(record(s))
    path = store.run_dir(s.run_id) / "record.json"
    mtime = path.stat().st_mtime_ns
    assert store.put(record(s)) is False
    assert path.stat().st_mtime_ns == mtime


def test_refuses_a_different_record_under_a_finished_id(store):
    s = spec()
    store.put(record(s, val_loss=3.0))
    with pytest.raises(StoreError, match="refusing to replace"):
        store.put(record(s, val_loss=2.5))
    assert store.get(s.run_id).val_loss == 3.0
    assert store.put(record(s, val_loss=2.5), replace=True)
    assert store.get(s.run_id).val_loss == 2.5


def test_refuses_a_different_spec_under_an_existing_id(store):
    s, other = spec(), spec(seed=7)
    forged = RunRecord(run_id=s.run_id, spec=other, status="running")
    store.put(RunRecord(run_id=s.run_id, spec=s, status="running"))
    with pytest.raises(StoreError, match="different spec"):
        store.put(forged)


def test_running_and_failed_records_are_replaced_by_results(store):
    s = spec()
    store.put(RunRecord(run_id=s.run_id, spec=s, status="running"))
    assert not (store.run_dir(s.run_id) / "record.json").exists()   # no file for live states
    store.put(RunRecord(run_id=s.run_id, spec=s, status="failed", error="boom"))
    assert store.get(s.run_id).error == "boom"
    store.put(record(s))
    assert store.get(s.run_id).status == "done" and len(store) == 1


@pytest.mark.parametrize("make_bad", ["parent_is_file", "path_is_file"])
def test_unwritable_store_path_is_a_clear_store_error(tmp_path, make_bad):
    f = tmp_path / "afile"
    f.write_text("x")
    bad = f / "store" if make_bad == "parent_is_file" else f
    with pytest.raises(StoreError, match="store path"):
        ResultsStore(bad)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_read_only_directory_is_a_store_error(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="not writable"):
            ResultsStore(d / "store")
    finally:
        d.chmod(0o700)


def test_readonly_open_of_a_missing_store(tmp_path):
    with pytest.raises(StoreError, match="no results store"):
        ResultsStore(tmp_path / "nothing", readonly=True)
    assert not (tmp_path / "nothing").exists()


def test_rebuild_restores_the_database_from_record_files(tmp_path):
    path = tmp_path / "st"
    recs = [record(spec(seed=i), val_loss=3.0 + i) for i in range(3)]
    with ResultsStore(path) as st:
        for r in recs:
            st.put(r)
        st.put(RunRecord(run_id=spec(seed=9).run_id, spec=spec(seed=9), status="running"))
    (path / "results.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        (path / f"results.sqlite{suffix}").unlink(missing_ok=True)
    with ResultsStore(path) as st:
        assert len(st) == 0
        assert st.rebuild() == 3
        assert sorted(r.val_loss for r in st.records()) == [3.0, 4.0, 5.0]
        assert st.get(recs[1].run_id) == recs[1]


def test_rebuild_store_moves_a_corrupt_database_aside(tmp_path):
    path = tmp_path / "st"
    with ResultsStore(path) as st:
        st.put(record(spec()))
    for suffix in ("-wal", "-shm"):
        (path / f"results.sqlite{suffix}").unlink(missing_ok=True)
    (path / "results.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="store rebuild"):
        ResultsStore(path)
    st, n = rebuild_store(path)
    with st:
        assert n == 1 and st.get(spec().run_id).status == "done"
    assert list(path.glob("results.sqlite.broken-*"))


def test_rebuild_skips_unreadable_record_files_with_a_warning(store):
    store.put(record(spec()))
    bad = store.runs_dir / "junk"
    bad.mkdir()
    (bad / "record.json").write_text("{not json")
    with pytest.warns(Warning, match="skipped 1 unreadable"):
        assert store.rebuild() == 1


def test_record_files_are_written_atomically(tmp_path):
    s = spec()
    rundir.write_record(tmp_path, record(s))
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]   # no temp file left behind
    assert rundir.read_record(tmp_path).run_id == s.run_id
    (tmp_path / "record.json").write_text('{"run_id": 1')
    with pytest.raises(StoreError, match="not a valid run record"):
        rundir.read_record(tmp_path)


def test_query_filters_and_typo_suggestions(store):
    for lr in (1e-3, 3e-3):
        for seed in (0, 1):
            store.put(record(spec(lr=lr, seed=seed, variant="a" if seed else "b")))
    assert len(store.records(lr=3e-3)) == 2
    assert len(store.records(variant=["a"], status="done")) == 2
    with pytest.raises(ConfigError, match="Did you mean: procedure"):
        store.records(procedur="a")
    with pytest.raises(ConfigError, match="Did you mean: done"):
        store.records(status="don")


def test_export_csv_parquet_jsonl_and_frame(store, tmp_path):
    store.put(record(spec()))
    store.put(record(spec(lr=1.0), status="diverged", val_loss=math.nan, error="nan loss"))
    n = store.export(tmp_path / "out.csv")
    assert n == 2
    with pytest.warns(DataWarning, match="excluded 1 of 2"):
        back = load_runs(tmp_path / "out.csv", target="val_loss", flops="flops_exact", run_id="run_id")
    assert len(back) == 1   # the diverged row has no finite loss
    pq = pytest.importorskip("pyarrow.parquet")
    store.export(tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet").to_pydict()
    assert table["status"] == ["done", "diverged"] and table["n_params"] == [24896, 24896]
    store.export(tmp_path / "out.jsonl", status="done")
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1
    pytest.importorskip("pandas")
    df = store.to_frame()
    assert list(df["status"]) == ["done", "diverged"]
    with pytest.raises(ConfigError, match="csv"):
        store.export(tmp_path / "out.xlsx")


def test_to_runs_excludes_diverged_with_a_counting_warning(store):
    for i, n in enumerate((16384, 32768, 65536)):
        store.put(record(spec(n_data=n), val_loss=4.0 - i))
    store.put(record(spec(lr=1.0), status="diverged", val_loss=None, error="nan"))
    store.put(RunRecord(run_id=spec(seed=5).run_id, spec=spec(seed=5), status="failed"))
    with pytest.warns(DataWarning, match="excluded 1 diverged"):
        runs = store.to_runs()
    assert isinstance(runs, Runs) and len(runs) == 3
    assert list(runs.excluded["reason"]) == ["diverged"]
    assert list(runs.n_params) == [24896.0] * 3
    assert sorted(runs.n_tokens) == [16384.0, 32768.0, 65536.0]
    assert set(runs.groups) == {"ladder", "rung", "procedure", "variant", "dataset", "schedule", "lr", "seed"}
    assert runs.filter(rung="gpt-tiny-1").target.size == 3


def test_to_runs_conventions(store):
    s = spec()
    store.put(record(s))
    exact = store.to_runs(flops_convention="exact")
    assert exact.flops[0] == 1e10
    six = store.to_runs(flops_convention="6ND", n_params_convention="total")
    assert six.n_params[0] == 37184 and six.flops[0] == 6 * 37184 * s.n_data
    # a convention the record lacks is computed from the spec's model through its procedure
    wl = store.to_runs(n_params_convention="with_last_layer", flops_convention="6N")
    assert wl.n_params[0] == MODEL.n_params("with_last_layer")
    assert "N=with_last_layer" in wl.source


def test_to_runs_on_an_empty_store_says_what_to_do(store):
    with pytest.raises(DataError, match="Run a sweep first"):
        store.to_runs()
    with pytest.raises(ConfigError, match="val_loss"):
        store.to_runs(target="val_los")


def test_writer_lock_is_exclusive_across_processes(store):
    code = ("import sys\nfrom scalinglab.store import ResultsStore\n"
            "from scalinglab.errors import StoreError\n"
            f"st = ResultsStore({str(store.root)!r})\n"
            "try:\n    st.writer_lock().__enter__()\nexcept StoreError as e:\n    print('LOCKED', e)\n")
    with store.writer_lock():
        out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
        assert "LOCKED" in out.stdout and str(os.getpid()) in out.stdout
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert "LOCKED" not in out.stdout


def test_readers_see_committed_rows_while_a_writer_holds_the_store(store):
    store.put(record(spec()))
    with store.writer_lock():
        with ResultsStore(store.root, readonly=True) as ro:
            assert ro.get(spec().run_id).status == "done"
        store.put(record(spec(seed=3)))
        with ResultsStore(store.root, readonly=True) as ro:
            assert len(ro) == 2


def test_nan_losses_roundtrip_without_false_conflicts(store):
    s = spec(lr=1.0)
    rec = record(s, status="diverged", val_loss=math.nan, error="nan")
    store.put(rec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.put(rec) is False     # NaN != NaN must not look like a different record


def test_repetition_columns_reach_the_runs_table(store):
    for i, n in enumerate((16384, 32768)):
        store.put(record(spec(n_data=n), val_loss=3.0 - i, n_unique_seen=n // 2, epochs=2.0,
                         dataset_hash="abc"))
    runs = store.to_runs(group_by=("rung", "n_unique_tokens", "epochs"))
    assert sorted(float(x) for x in runs.groups["n_unique_tokens"]) == [8192.0, 16384.0]
    assert {r["dataset_hash"] for r in store.rows()} == {"abc"}
    assert len(store.records(dataset_hash="abc")) == 2
    store.put(record(spec(n_data=65536), val_loss=2.5))           # trained before it was recorded
    with pytest.raises(DataError, match="1 run.* record no n_unique_seen"):
        store.to_runs(group_by=("n_unique_tokens",))
