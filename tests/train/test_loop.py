"""The training loop on CPU: loss falls, determinism, resume, divergence, the record, the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")

from scalinglab.errors import ConfigError, TrainingError
from scalinglab.procedures import GPTConfig
from scalinglab.store.schema import RunRecord
from scalinglab.train.checkpoint import checkpoint_path
from scalinglab.train.loop import run


class Crash(Exception):
    pass


def test_a_few_steps_on_the_stdlib_make_the_loss_fall(tiny_spec, tmp_path):
    rec = run(tiny_spec(n_data=60 * 512), run_dir=tmp_path)
    assert rec.status == "done" and rec.error is None
    first, last = rec.curve[0][1], rec.curve[-1][1]
    assert last < first < math.log(256) + 0.1            # starts near uniform, falls
    assert rec.val_loss < math.log(256) - 1.0            # byte-level code is very learnable
    assert 0 < rec.val_loss_se < 0.2
    assert rec.n_data_seen == 60 * 512
    assert [t for t, _ in rec.curve] == sorted({t for t, _ in rec.curve})


def test_record_holds_every_convention_and_the_provenance(tiny_spec, tmp_path):
    spec = tiny_spec(seed=5)
    rec = run(spec, run_dir=tmp_path)
    assert rec.run_id == spec.run_id and rec.spec == spec
    for conv in ("non_embedding", "with_last_layer", "total"):
        assert rec.n_params[conv] == spec.model.n_params(conv)
    for conv in ("6N", "6N_with_last_layer", "exact"):
        assert rec.flops[conv] == pytest.approx(spec.model.flops_per_unit(conv) * rec.n_data_seen)
    p = rec.provenance
    for key in ("git_commit", "versions", "hostname", "cpu", "torch_threads",
                "corpus_manifest_hash", "tokenizer", "seed", "wall_s", "warmup"):
        assert key in p, key
    assert {"torch", "numpy", "python", "scalinglab"} <= set(p["versions"])   # the one provenance record
    assert p["seed"] == 5 and p["tokenizer"] == "byte" and p["torch_threads"] == 1
    assert p["warmup"] <= 0.1 * rec.n_data_seen + 512     # short warmup
    assert rec.wall_s > 0
    assert RunRecord.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec   # JSON round trip


def test_same_spec_gives_bit_identical_validation_loss(tiny_spec, tmp_path):
    spec = tiny_spec(seed=1)
    a = run(spec, run_dir=tmp_path / "a")
    b = run(spec, run_dir=tmp_path / "b")
    assert a.val_loss == b.val_loss and a.val_loss_se == b.val_loss_se and a.curve == b.curve
    c = run(tiny_spec(seed=2), run_dir=tmp_path / "c")
    assert c.val_loss != a.val_loss


def test_resumed_run_matches_an_uninterrupted_one(tiny_spec, tmp_path):
    spec = tiny_spec(seed=3, schedule="wsd")
    full = run(spec, run_dir=tmp_path / "full")

    def crash_at_step_23(event):
        if event["step"] >= 23:
            raise Crash

    with pytest.raises(Crash):
        run(spec, run_dir=tmp_path / "cut", progress=crash_at_step_23, checkpoint_every_steps=10)
    state = torch.load(checkpoint_path(tmp_path / "cut"), weights_only=False)
    assert state["step"] == 20 and not state["done"]                 # last periodic checkpoint
    resumed = run(spec, run_dir=tmp_path / "cut")
    assert resumed.provenance["resumed_from_step"] == 20
    assert resumed.val_loss == full.val_loss and resumed.curve == full.curve
    # a finished run resumes to its final state without training again
    again = run(spec, run_dir=tmp_path / "cut")
    assert again.val_loss == full.val_loss and again.provenance["resumed_from_step"] == 40


_TERM_CHILD = """
import json, pathlib, sys
from scalinglab.store.schema import RunSpec
from scalinglab.train.loop import run
spec, run_dir, marker = RunSpec.from_dict(json.loads(sys.argv[1])), sys.argv[2], pathlib.Path(sys.argv[3])
def progress(event):
    if event["step"] >= 5 and not marker.exists():
        marker.write_text(str(event["step"]))
run(spec, run_dir=run_dir, progress=progress)
print("finished")
"""


def test_sigterm_checkpoints_at_the_next_step_and_the_rerun_resumes_there(tiny_spec, tmp_path):
    # a long run with no periodic checkpoint: only the SIGTERM handler can save one
    spec = tiny_spec(seed=4, n_data=20_000 * 512)
    marker = tmp_path / "started"
    child = subprocess.Popen([sys.executable, "-c", _TERM_CHILD, json.dumps(spec.to_dict()),
                              str(tmp_path / "cut"), str(marker)], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGTERM and "finished" not in out   # died as SIGTERM says
    state = torch.load(checkpoint_path(tmp_path / "cut"), weights_only=False)
    assert int(marker.read_text()) <= state["step"] < 20_000 and not state["done"]
    # the rerun continues from that step, not from scratch (stopped again after one report)
    steps = []

    def stop_at_first_report(event):
        steps.append(event["step"])
        raise Crash

    with pytest.raises(Crash):
        run(spec, run_dir=tmp_path / "cut", progress=stop_at_first_report)
    assert steps[0] > state["step"]


def test_checkpoint_of_another_spec_is_refused(tiny_spec, tmp_path):
    run(tiny_spec(seed=0), run_dir=tmp_path)
    with pytest.raises(TrainingError, match="different spec"):
        run(tiny_spec(seed=9), run_dir=tmp_path)
    assert run(tiny_spec(seed=9), run_dir=tmp_path, resume=False).status == "done"


def test_absurd_learning_rate_is_recorded_as_diverged(tiny_spec, tmp_path):
    rec = run(tiny_spec(lr=1e4, grad_clip=0.0, weight_decay=0.0), run_dir=tmp_path)
    assert rec.status == "diverged"
    assert "diverged at step" in rec.error and "lower the learning rate" in rec.error
    assert rec.val_loss is None and rec.n_data_seen < 40 * 512


def test_inconsistent_specs_raise_config_errors(tiny_spec, tmp_path):
    with pytest.raises(ConfigError, match="less than one optimizer step"):
        run(tiny_spec(n_data=100), run_dir=tmp_path)
    with pytest.raises(ConfigError, match="vocab_size"):
        run(tiny_spec(model=dataclasses.replace(tiny_spec().model, vocab_size=100)), run_dir=tmp_path)
    with pytest.raises(ConfigError, match="divisible"):
        run(tiny_spec(model=dataclasses.replace(tiny_spec().model, n_head=3)), run_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown device"):
        run(tiny_spec(device="tpu"), run_dir=tmp_path)
    with pytest.raises(ConfigError, match="branch_at"):
        run(tiny_spec(schedule="wsd", branch_of="x", branch_at=512), run_dir=tmp_path)


def test_schedules_decay_to_near_zero_at_the_runs_own_end():
    from scalinglab.store.schema import RunSpec
    from scalinglab.train.schedule import lr_at, plan_run

    model = GPTConfig(n_layer=2, d_model=64, n_head=2, seq_len=128, vocab_size=256)
    for schedule in ("cosine", "wsd"):
        spec = RunSpec(rung="r", model=model, n_data=2048 * 500, lr=1e-3, schedule=schedule)
        plan = plan_run(spec)
        lrs = [lr_at(s, lr=spec.lr, plan=plan, schedule=schedule) for s in range(plan.total_steps)]
        assert max(lrs) == pytest.approx(1e-3) and lrs[-1] < 0.05 * 1e-3
        assert all(a >= b for a, b in zip(lrs[plan.warmup_steps:], lrs[plan.warmup_steps + 1:]))
        assert plan.warmup == pytest.approx(model.n_params(), abs=2048)       # about N tokens
    wsd = plan_run(RunSpec(rung="r", model=model, n_data=2048 * 500, lr=1e-3, schedule="wsd"))
    assert wsd.cooldown_start == 400                                   # last 20% cools down
    short = plan_run(RunSpec(rung="r", model=model, n_data=2048 * 20, lr=1e-3))
    assert short.warmup_steps == 2                                     # capped at 10% of the run


def test_python_dash_m_entry_point_writes_a_record(tiny_spec, tmp_path):
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(tiny_spec(n_data=10 * 512).to_dict()))
    out = subprocess.run([sys.executable, "-m", "scalinglab.train", str(spec_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rec = RunRecord.from_dict(json.loads((tmp_path / "trainer_record.json").read_text()))
    assert rec.status == "done" and rec.provenance["torch_threads"] == 1
    inline = run(tiny_spec(n_data=10 * 512), run_dir=tmp_path / "inline")
    assert rec.val_loss == inline.val_loss                 # the same run in a worker process
    assert json.loads(out.stdout.strip().splitlines()[-1])["run_id"] == rec.run_id
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**tiny_spec().to_dict(), "lrr": 1}))
    out = subprocess.run([sys.executable, "-m", "scalinglab.train", str(bad)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "unknown key 'lrr'" in out.stderr


def test_training_on_a_user_corpus_with_a_local_bpe_tokenizer(tiny_spec, tmp_path):
    pytest.importorskip("tokenizers")
    from scalinglab.train.data import train_bpe

    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(200):
        (folder / f"m{i:03d}.py").write_text(
            "".join(f"def f_{i}_{j}(x, y):\n    return x * {j} + y - {i}\n\n" for j in range(12)))
    tok = train_bpe(str(folder), vocab_size=320, path=tmp_path / "bpe.json")
    model = dataclasses.replace(tiny_spec().model, vocab_size=320)
    rec = run(tiny_spec(model=model, dataset=str(folder), tokenizer=str(tok), eval_size=1024),
              run_dir=tmp_path / "run")
    assert rec.status == "done" and rec.provenance["tokenizer"].startswith("bpe:")
    assert rec.val_loss < math.log(320) - 1.0
    with pytest.raises(ConfigError, match="vocab_size"):
        run(tiny_spec(dataset=str(folder), tokenizer=str(tok)), run_dir=tmp_path / "small")
