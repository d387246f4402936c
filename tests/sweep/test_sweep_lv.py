"""Image-text sweeps: the clip presets plan, bad input is one line naming the file, failures keep the rest.

Planning tests need no torch; the runs of the shard tests train the smallest CLIP for two steps.
"""

from __future__ import annotations

import io
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from scalinglab.errors import ConfigError, DataError, UnknownNameError
from scalinglab.sweep import plan_sweep

LADDERS = ["clip-tiny", "coca-tiny", "mammut-tiny"]


def _sweep(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_quick_preset_compares_three_procedures_within_the_budget():
    plan = plan_sweep("clip-demo")
    assert set(plan.procedures) == {"clip", "coca", "mammut"} and plan.unit == "samples"
    assert plan.metric == "zeroshot_error"
    specs = plan.specs
    assert {s.dataset for s in specs} == {"shapeworld"}
    assert {s.rung.rsplit("-", 1)[1] for s in specs} == {"1", "2", "3", "4"}
    assert sorted({s.n_data for s in specs}) == [4096, 8192, 16384, 32768, 65536]
    # a per-size learning-rate grid: two rates on the smallest rung of each ladder, one elsewhere
    for s in specs:
        assert s.lr in ((3e-3, 6e-3) if s.rung.endswith("-1") else (3e-3,))
    assert len(plan) == 3 * (5 * 5)
    trunks = [s for s in specs if s.branch_of is None]
    assert len(trunks) == 15 and {s.n_data for s in trunks} == {65536}
    # sized for the demo's 15 minutes on two workers (the estimate is from the preset's throughput)
    assert plan.cost(workers=2).wall_s < 20 * 60


def test_the_full_preset_runs_the_whole_ladders():
    plan = plan_sweep("clip-full")
    from scalinglab.ladders import get_ladder

    assert {s.rung for s in plan.specs} == {r for lad in LADDERS for r in get_ladder(lad).names}
    assert max(s.n_data for s in plan.specs) == 65536 and plan.metric == "zeroshot_error"


def test_world_variants_and_shard_folders_are_datasets_of_a_sweep(tmp_path):
    base = {"ladder": "clip-tiny", "rungs": ["clip-tiny-1"], "n_samples": [1024], "lr": [3e-3]}
    plan = plan_sweep({**base, "dataset": ["shapeworld", "shapeworld-partial"]})
    assert sorted(s.dataset for s in plan.specs) == ["shapeworld", "shapeworld-partial"]
    assert len({s.run_id for s in plan.specs}) == 2
    (tmp_path / "shards").mkdir()
    with tarfile.open(tmp_path / "shards" / "a.tar", "w") as tf:
        info = tarfile.TarInfo("k.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"abc"))
    assert plan_sweep({**base, "dataset": str(tmp_path / "shards")}).specs[0].dataset == str(tmp_path / "shards")


def test_bad_datasets_are_refused_at_planning_time_naming_the_file(tmp_path):
    head = "ladder: clip-tiny\nrungs: [clip-tiny-1]\nn_samples: [1024]\nlr: [3.0e-3]\n"
    f = _sweep(tmp_path, head + "dataset: shapewrld\n")
    with pytest.raises(UnknownNameError, match=rf"^{f}: unknown image-text dataset 'shapewrld'.*shapeworld"):
        plan_sweep(f)
    with pytest.raises(ConfigError, match=rf"^{f}: dataset 'stdlib' is a text dataset"):
        plan_sweep(_sweep(tmp_path, head + "dataset: stdlib\n"))
    with pytest.raises(DataError, match="does not exist"):
        plan_sweep(_sweep(tmp_path, head + f"dataset: {tmp_path / 'nope'}/\n"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.tar").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(DataError, match=r"x\.tar' is not a readable tar file"):
        plan_sweep(_sweep(tmp_path, head + f"dataset: {tmp_path / 'broken'}\n"))
    gpt = "ladder: gpt-tiny\nrungs: [gpt-tiny-1]\nn_tokens: [16384]\nlr: [3.0e-3]\ndataset: shapeworld\n"
    with pytest.raises(ConfigError, match="image-text dataset.*trains on text"):
        plan_sweep(_sweep(tmp_path, gpt))


def test_unknown_rungs_ladders_and_metrics_name_the_file(tmp_path):
    f = _sweep(tmp_path, "ladder: [clip-tiny, coca-tiny]\nrungs: [clip-tiny-9]\nn_samples: [1024]\nlr: [3.0e-3]\n")
    with pytest.raises(UnknownNameError, match=rf"^{f}: unknown rung 'clip-tiny-9'.*Did you mean"):
        plan_sweep(f)
    f = _sweep(tmp_path, "ladder: clip-tny\nn_samples: [1024]\nlr: [3.0e-3]\n")
    with pytest.raises(UnknownNameError, match=rf"^{f}: unknown ladder 'clip-tny'.*clip-tiny"):
        plan_sweep(f)
    f = _sweep(tmp_path, "ladder: [clip-tiny, mammut-tiny]\nn_samples: [1024]\nlr: [3.0e-3]\n"
                         "metric: captioning_zeroshot_error\n")
    with pytest.raises(ConfigError, match=rf"^{f}: metric 'captioning_zeroshot_error' is not reported by every "
                                          "procedure.*Common metrics: zeroshot_error"):
        plan_sweep(f)


@dataclass(frozen=True)
class BlobConfig:
    """A toy image model counted in samples that reports a metric no image-text procedure has."""

    width: int

    @property
    def units_per_example(self) -> int:
        return 1

    def n_params(self, convention: str = "weights") -> int:
        return self.width

    def flops_per_unit(self, convention: str = "exact") -> float:
        return 6.0 * self.width


@pytest.fixture
def blob(tmp_path, monkeypatch):
    from scalinglab import ladders
    from scalinglab.ladders import add_ladder_path
    from scalinglab.procedures import PROCEDURES, Procedure, _base, register_procedure

    monkeypatch.setattr(PROCEDURES, "_entries", dict(PROCEDURES._entries))
    monkeypatch.setattr(_base, "_BY_CONFIG", dict(_base._BY_CONFIG))
    ladders.list_ladders()
    register_procedure(Procedure(name="blob", config=BlobConfig, trainer="no.such:run", unit="samples",
                                 metrics=("blob_loss",), param_conventions=("weights",),
                                 flops_conventions=("exact",), modality="image"))
    monkeypatch.setattr(ladders, "_PATHS", dict(ladders._PATHS))
    monkeypatch.setattr(ladders, "_CACHE", dict(ladders._CACHE))
    (tmp_path / "blob-tiny.yaml").write_text("name: blob-tiny\nprocedure: blob\ntrain: {batch_size: 8}\n"
                                             "rungs:\n  blob-tiny-1: {width: 4}\n")
    add_ladder_path(tmp_path / "blob-tiny.yaml")


def test_procedures_without_a_common_metric_are_one_line_error_naming_the_file(blob, tmp_path, capsys):
    f = _sweep(tmp_path, "ladder: [clip-tiny, blob-tiny]\nrungs: [clip-tiny-1, blob-tiny-1]\n"
                         "n_samples: [1024]\nlr: [3.0e-3]\ndataset: shapeworld\n", "mixed.yaml")
    with pytest.raises(ConfigError, match=rf"^{f}: the procedures clip, blob share no metric \(clip: "
                                          r"zeroshot_error.*; blob: blob_loss\).*separate sweeps"):
        plan_sweep(f)
    pytest.importorskip("typer")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
    from _cli import assert_one_line_error, run_cli

    code, out, err = run_cli(capsys, "sweep", "plan", f)
    assert_one_line_error(code, err, str(f), "share no metric", "put them in separate sweeps")
    code, out, err = run_cli(capsys, "demo", "clip", "--sweep", f, "--out", tmp_path / "out")
    assert_one_line_error(code, err, str(f), "share no metric")
    assert not (tmp_path / "out").exists()             # refused before anything was created


# -- shards that break in the worker: the failed runs say why in one line, the others are kept ----

def _png(seed: int) -> bytes:
    from PIL import Image

    img = np.random.default_rng(seed).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def _shards(folder, *, bad_image: bool = False, long_caption: bool = False):
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "000.tar", "w") as tf:
        for i in range(24):
            data = b"\x89PNG not really" if bad_image and i == 7 else _png(i)
            text = ("a red circle " * 20 if long_caption and i == 5 else
                    f"a {'red blue green'.split()[i % 3]} {'circle square ring'.split()[i % 3]}").encode()
            for ext, payload in (("png", data), ("txt", text)):
                info = tarfile.TarInfo(f"{i:05d}.{ext}")
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
    return folder


@pytest.mark.requires("torch", "webdataset", "PIL")
def test_broken_shards_fail_their_runs_in_one_line_and_finished_runs_are_kept(tmp_path):
    from scalinglab.store import ResultsStore
    from scalinglab.sweep import run_sweep

    bad = _shards(tmp_path / "bad", bad_image=True)
    long = _shards(tmp_path / "long", long_caption=True)
    sweep = {"name": "shards", "ladder": "clip-tiny", "rungs": ["clip-tiny-1"], "n_samples": [128],
             "lr": [3e-3], "batch_size": 32, "dataset": ["shapeworld", str(bad), str(long)],
             "schedule": {"kind": "cosine", "warmup": 32},
             "extra": {"eval_pairs": 64, "eval_per_class": 1, "eval_loglik_per_class": 0}}
    rep = run_sweep(sweep, backend="inline", store=tmp_path / "store", progress=False)
    assert len(rep.done) == 1 and len(rep.failed) == 2
    errors = {spec.dataset: rep.failed[spec.run_id] for spec in plan_sweep(sweep).specs
              if spec.run_id in rep.failed}
    first = {k: v.strip().splitlines()[0] for k, v in errors.items()}
    assert "000.tar" in first[str(bad)] and "image 00007.png does not decode" in first[str(bad)]
    assert "re-encode it" in first[str(bad)]
    assert "caption 00005.txt" in first[str(long)] and "raise the model's context_length" in first[str(long)]
    text = str(rep)
    assert text.count("\n  failed ") == 2 and "does not decode" in text
    with ResultsStore(tmp_path / "store", readonly=True) as st:
        assert st.counts() == {"done": 1, "failed": 2}
    # fix the shards: a second run trains only the two that failed
    _shards(tmp_path / "bad")
    _shards(tmp_path / "long")
    again = run_sweep(sweep, backend="inline", store=tmp_path / "store", progress=False)
    assert len(again.skipped) == 1 and len(again.done) == 2 and not again.failed


def test_image_text_sweeps_train_with_open_clips_adamw_betas():
    # the ladders carry the procedure's optimizer recipe; a GPT sweep keeps RunSpec's default
    assert {s.beta2 for s in plan_sweep("clip-demo").specs} == {0.98}
    assert {s.beta2 for s in plan_sweep("ci").specs} == {0.99}


def test_a_ladder_of_an_unknown_procedure_is_refused_naming_its_file(tmp_path):
    from scalinglab.ladders import add_ladder_path

    f = tmp_path / "clop-tiny.yaml"
    f.write_text("name: clop-tiny\nprocedure: clop\ntrain: {batch_size: 8}\nrungs:\n  clop-tiny-1: {width: 4}\n")
    with pytest.raises(ConfigError, match=r"clop-tiny\.yaml: unknown procedure 'clop'\. Did you mean: clip\?"):
        add_ladder_path(f)


@pytest.mark.requires("torch", "webdataset", "PIL", "typer", "matplotlib")
def test_the_clip_demo_exits_1_when_runs_fail_and_keeps_the_others(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
    from _cli import run_cli

    from scalinglab.store import ResultsStore

    bad = _shards(tmp_path / "bad", bad_image=True)
    f = _sweep(tmp_path, "name: mixed\nladder: [clip-tiny, coca-tiny]\nrungs: [clip-tiny-1, coca-tiny-1]\n"
                         f"n_samples: [128]\nlr: [3.0e-3]\nbatch_size: 32\ndataset: [shapeworld, {bad}]\n"
                         "schedule: {kind: cosine, warmup: 32}\nmetric: retrieval_error\n"
                         "extra: {eval_pairs: 64, eval_per_class: 1, eval_loglik_per_class: 0}\n")
    code, out, err = run_cli(capsys, "demo", "clip", "--sweep", f, "--out", tmp_path / "out", "-q",
                             "--backend", "inline", "--n-boot", "10")
    assert code == 1, err[-2000:]
    assert "2 trained" in out and "2 failed" in out and out.count("image 00007.png does not decode") == 2
    assert (tmp_path / "out" / "report.html").exists()            # the finished runs are analysed
    with ResultsStore(tmp_path / "out" / "store", readonly=True) as st:
        assert st.counts() == {"done": 2, "failed": 2}
