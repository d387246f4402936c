"""scalinglab's own GPT checkpoints as an AIW backend (base model: the completion prompt type)."""

from __future__ import annotations

import pytest

from scalinglab.errors import ConfigError
from scalinglab.evals import get_backend, render, run

pytestmark = pytest.mark.requires("torch")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from scalinglab.train.loop import run as train

    root = tmp_path_factory.mktemp("aiw_ckpt")
    corpus = root / "corpus.txt"
    lines = [p.text + str(p.right_answer) + "\n" for p in render("aiw", prompt_types=["completion"])]
    corpus.write_text("".join(lines) * 20)
    mp = pytest.MonkeyPatch()
    mp.setenv("SCALINGLAB_CACHE_DIR", str(root / "cache"))
    try:
        rec = train({"procedure": "gpt", "rung": "aiw-tiny",
                     "model": {"n_layer": 1, "d_model": 32, "n_head": 2, "seq_len": 128, "vocab_size": 256},
                     "n_data": 8192, "lr": 3e-3, "batch_size": 4, "dataset": str(corpus),
                     "eval_size": 512}, run_dir=root / "run")
    finally:
        mp.undo()
    assert rec.status == "done"
    return root / "run"


def test_checkpoint_backend_runs_the_completion_slice(trained_run, tmp_path):
    be = get_backend("scalinglab_ckpt", trained_run)
    assert be.info()["tokenizer"] == "byte" and be.model == "aiw-tiny"
    prompts = render("aiw", variations=["1", "2"], prompt_types=["completion"])
    res = run(be, prompts, out=tmp_path / "ckpt.jsonl", n_trials=3, max_tokens=16, concurrency=1)
    assert len(res.records) == 6 and {r["backend"] for r in res.records} == {"scalinglab_ckpt"}
    assert all(r["scorer"] == "completion-v1" for r in res.records)
    assert len({r["seed"] for r in res.records}) == 6
    assert all("###" not in r["raw_text"] for r in res.records)  # cut at the stop sequence
    (fam,) = res.summary.family("aiw")
    assert fam.n == 6 and fam.prompt_type == "completion"


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no checkpoint at"):
        get_backend("scalinglab_ckpt", tmp_path)
