"""``scalinglab sweep plan|run|status``, ``runs``, ``train``, ``store rebuild`` through the real CLI."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from scalinglab.procedures import GPTConfig
from scalinglab.store import ResultsStore, RunSpec

pytestmark = pytest.mark.requires("typer")

TOY = "scalinglab.sweep._toy:train"


def cli(*args: str) -> int:
    from scalinglab.cli.main import main

    return main([str(a) for a in args])


@pytest.fixture
def toy_yaml(tmp_path):
    p = tmp_path / "toy.yaml"
    p.write_text(yaml.safe_dump({
        "name": "toy", "ladder": "gpt-tiny", "rungs": ["gpt-tiny-1", "gpt-tiny-2"],
        "n_tokens": [4096, 8192], "lr": [3e-3], "trainer": TOY, "extra": {"toy_steps": 1}}))
    return p


def test_plan_prints_runs_and_cost(capsys):
    assert cli("sweep", "plan", "ci", "--workers", "2") == 0
    out = capsys.readouterr().out
    assert "gpt-tiny-1_D32.8k_lr0.003_s0_" in out and "total: 4 runs" in out and "FLOPs" in out


@pytest.mark.parametrize("edit, message", [
    ({"sedes": [0]}, "unknown key 'sedes' in sweep. Did you mean: seeds"),
    ({"rungs": ["gpt-tiny-7"]}, "unknown rung 'gpt-tiny-7'"),
    ({"dataset": "/nonexistent/corpus"}, "dataset '/nonexistent/corpus' does not exist"),
    ({"schedule": {"kind": "cosin"}}, "Did you mean: cosine"),
])
def test_bad_sweep_files_are_one_line_errors_with_exit_2(tmp_path, toy_yaml, capsys, edit, message):
    cfg = yaml.safe_load(toy_yaml.read_text())
    cfg.update(edit)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    for cmd in (("sweep", "plan", bad), ("sweep", "run", bad, "--store", tmp_path / "st")):
        assert cli(*cmd) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and message in err[-1]
        assert len(err) == 1
    assert not (tmp_path / "st").exists()            # nothing was created or trained


def test_empty_corpus_and_missing_sweep_file(tmp_path, toy_yaml, capsys):
    (tmp_path / "empty.txt").write_text("")
    cfg = yaml.safe_load(toy_yaml.read_text())
    cfg["dataset"] = str(tmp_path / "empty.txt")
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(cfg))
    assert cli("sweep", "plan", tmp_path / "e.yaml") == 2
    assert "is empty" in capsys.readouterr().err
    assert cli("sweep", "plan", tmp_path / "missing.yaml") == 2
    assert "does not exist" in capsys.readouterr().err


def test_run_status_runs_export_and_rebuild(tmp_path, toy_yaml, capsys):
    store = tmp_path / "st"
    assert cli("sweep", "run", toy_yaml, "--store", store, "--backend", "inline", "--no-progress") == 0
    out = capsys.readouterr().out
    assert "4 trained" in out
    assert cli("sweep", "run", toy_yaml, "--store", store, "--backend", "inline", "--no-progress") == 0
    assert "4 already in the store" in capsys.readouterr().out

    assert cli("sweep", "status", toy_yaml, "--store", store, "--all") == 0
    out = capsys.readouterr().out
    assert "4 runs: done 4" in out and "no coordinator running" in out

    assert cli("runs", "--store", store, "--status", "done", "--rung", "gpt-tiny-2") == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("2 runs") and "gpt-tiny-1_" not in out
    assert cli("runs", "--store", store, "--export", tmp_path / "runs.csv") == 0
    assert "wrote 4 runs" in capsys.readouterr().out
    from scalinglab.laws import load_runs

    assert len(load_runs(tmp_path / "runs.csv", target="val_loss", run_id="run_id")) == 4

    for name in ("results.sqlite", "results.sqlite-wal", "results.sqlite-shm"):
        (store / name).unlink(missing_ok=True)
    assert cli("store", "rebuild", store) == 0
    assert "rebuilt" in capsys.readouterr().out
    with ResultsStore(store, readonly=True) as st:
        assert st.counts() == {"done": 4}


def test_bad_input_on_an_existing_store_loses_nothing(tmp_path, toy_yaml, capsys):
    store = tmp_path / "st"
    assert cli("sweep", "run", toy_yaml, "--store", store, "--backend", "inline", "--no-progress") == 0
    capsys.readouterr()
    before = sorted(p.read_text() for p in store.glob("runs/*/record.json"))
    assert cli("sweep", "run", toy_yaml, "--store", store, "--backend", "slurmm") == 2
    assert "Did you mean: slurm" in capsys.readouterr().err
    assert cli("runs", "--store", store, "--status", "don") == 2
    assert "Did you mean: done" in capsys.readouterr().err
    assert sorted(p.read_text() for p in store.glob("runs/*/record.json")) == before
    with ResultsStore(store, readonly=True) as st:
        assert st.counts() == {"done": 4}


def test_unwritable_store_is_exit_2(tmp_path, toy_yaml, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert cli("sweep", "run", toy_yaml, "--store", f / "st", "--backend", "inline") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: store path") and "not writable" in err[-1]
    assert cli("runs", "--store", tmp_path / "nostore") == 2
    assert "no results store" in capsys.readouterr().err
    assert cli("store", "rebuild", f / "st") == 2


def test_failed_runs_make_sweep_run_exit_1_and_are_recorded(tmp_path, toy_yaml, capsys):
    cfg = yaml.safe_load(toy_yaml.read_text())
    cfg["extra"]["toy_fail"] = True
    toy_yaml.write_text(yaml.safe_dump(cfg))
    assert cli("sweep", "run", toy_yaml, "--store", tmp_path / "st", "--backend", "inline",
               "--no-progress") == 1
    assert "4 failed" in capsys.readouterr().out
    with ResultsStore(tmp_path / "st", readonly=True) as st:
        assert st.counts() == {"failed": 4}


def test_train_one_spec_into_the_store(tmp_path, capsys):
    spec = RunSpec(rung="gpt-tiny-1", model=GPTConfig(n_layer=2, d_model=32, n_head=2,
                                                      seq_len=128, vocab_size=256),
                   n_data=4096, lr=3e-3, extra={"toy_steps": 1})
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec.to_dict()))
    store = tmp_path / "st"
    assert cli("train", path, "--store", store, "--trainer", TOY) == 0
    assert f"{spec.run_id} done" in capsys.readouterr().out
    assert cli("train", path, "--store", store, "--trainer", TOY) == 0
    assert "nothing to do" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**spec.to_dict(), "n_dta": 5}))
    assert cli("train", bad, "--store", store) == 2
    assert "Did you mean: n_data" in capsys.readouterr().err
    assert cli("train", path, "--store", store, "--trainer", "no.such:thing") == 2


@pytest.mark.requires("torch")
def test_train_with_the_real_trainer(tmp_path, capsys):
    spec = RunSpec(rung="gpt-tiny-1", model=GPTConfig(n_layer=2, d_model=32, n_head=2,
                                                      seq_len=128, vocab_size=256),
                   n_data=16384, lr=3e-3, eval_size=4096)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec.to_dict()))
    assert cli("train", path, "--store", tmp_path / "st") == 0
    assert f"{spec.run_id} done val_loss" in capsys.readouterr().out
    with ResultsStore(tmp_path / "st", readonly=True) as st:
        rec = st.get(spec.run_id)
        assert rec.n_data_seen == 16384 and rec.val_loss > 0
        assert (st.run_dir(spec.run_id) / "ckpt" / "last.pt").exists()
    shutil.rmtree(tmp_path / "st")
