"""The image-text trainer: determinism, resume, cooldown branches, divergence, bad input, shards."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scalinglab.datasets import shapeworld as sw  # noqa: E402
from scalinglab.errors import ConfigError, DataError, TrainingError, UnknownNameError  # noqa: E402
from scalinglab.evals import zeroshot as zs  # noqa: E402
from scalinglab.procedures.clip import CLIPConfig  # noqa: E402
from scalinglab.procedures.mammut import MaMMUTConfig  # noqa: E402
from scalinglab.store.schema import RunRecord, RunSpec  # noqa: E402
from scalinglab.train.imagetext import build_model, evaluate, run, train  # noqa: E402

W = sw.WorldConfig()
V = len(sw.Vocabulary.from_world(W))
TINY = dict(vision_width=16, vision_layers=1, vision_heads=2, text_width=16, text_layers=1,
            text_heads=2, embed_dim=16, patch_size=8, context_length=W.context_length, vocab_size=V)
EVAL = dict(eval_pairs=256, eval_per_class=1, eval_loglik_per_class=1)


def _run(tmp, name, cfg=None, **kw):
    args = dict(n_samples=32 * 12, batch_size=32, lr=3e-3, seed=0, **EVAL)
    args.update(kw)
    return train(cfg or CLIPConfig(**TINY), run_dir=tmp / name, **args)


def test_same_seed_gives_bit_identical_results(tmp_path):
    a, b = _run(tmp_path, "a"), _run(tmp_path, "b")
    c = _run(tmp_path, "c", seed=1)
    assert a["status"] == "done" and a["train_loss"] == b["train_loss"]
    assert a["metrics"] == b["metrics"] and a["curve"] == b["curve"]
    assert a["train_loss"] != c["train_loss"]
    assert a["samples_seen"] == 32 * 12
    assert a["flops"]["exact"] == CLIPConfig(**TINY).flops_per_sample("exact") * 32 * 12
    assert a["n_params"]["total"] == CLIPConfig(**TINY).n_params()
    for k in ("zeroshot_error", "heldout_zeroshot_error", "retrieval_i2t_r1", "retrieval_t2i_r5",
              "hard_negative_accuracy", "val_contrastive_loss"):
        assert np.isfinite(a["metrics"][k]) and np.isfinite(a["metrics"][k + "_se"])
    assert a["provenance"]["data_manifest_hash"] == sw.manifest_hash(W)


def test_captioners_report_caption_metrics(tmp_path):
    r = _run(tmp_path, "m", MaMMUTConfig(**{**TINY, "cross_attn_ratio": 1}), n_samples=32 * 4)
    for k in ("val_caption_loss", "captioning_zeroshot_error", "captioning_zeroshot_mean_recall"):
        assert k in r["metrics"] and k + "_se" in r["metrics"]


def test_an_interrupted_run_resumes_to_the_same_result(tmp_path):
    full = _run(tmp_path, "full")

    class Stop(Exception):
        pass

    def stop_at_7(ev):
        if ev["step"] == 7:
            raise Stop

    with pytest.raises(Stop):
        _run(tmp_path, "cut", progress=stop_at_7, checkpoint_every_steps=5)
    resumed = _run(tmp_path, "cut")
    assert resumed["provenance"]["resumed_from_step"] == 5
    assert resumed["train_loss"] == full["train_loss"] and resumed["metrics"] == full["metrics"]
    with pytest.raises(TrainingError, match="different run"):
        _run(tmp_path, "cut", lr=1e-3)


def test_cooldown_branch_equals_a_standalone_wsd_run(tmp_path):
    kw = dict(schedule="wsd", warmup_samples=64, cooldown_frac=0.25)
    short = _run(tmp_path, "short", n_samples=32 * 8, **kw)           # cooldown starts at step 6
    _run(tmp_path, "trunk", n_samples=32 * 16, checkpoint_at_samples=[32 * 6], **kw)
    branch = _run(tmp_path, "branch", n_samples=32 * 8, branch_of=tmp_path / "trunk",
                  branch_at_samples=32 * 6, **kw)
    assert branch["provenance"]["role"] == "branch"
    assert branch["train_loss"] == short["train_loss"]
    assert branch["metrics"] == short["metrics"]
    with pytest.raises(ConfigError, match="differs from its trunk"):
        _run(tmp_path, "bad", n_samples=32 * 8, branch_of=tmp_path / "trunk",
             branch_at_samples=32 * 6, seed=3, **kw)


def test_a_huge_learning_rate_is_recorded_as_diverged(tmp_path):
    r = _run(tmp_path, "div", lr=1e4, n_samples=32 * 30)
    assert r["status"] == "diverged" and "lower the learning rate" in r["error"]
    assert r["metrics"] == {}


def test_bad_input_raises_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="context_length"):
        _run(tmp_path, "x", CLIPConfig(**{**TINY, "context_length": 8}))
    with pytest.raises(ConfigError, match="vocab_size"):
        _run(tmp_path, "x", CLIPConfig(**{**TINY, "vocab_size": 10}))
    with pytest.raises(ConfigError, match="n_samples"):
        _run(tmp_path, "x", n_samples=8)
    with pytest.raises(UnknownNameError, match="clip"):
        build_model({"procedure": "clp"})


# --- WebDataset shards ---------------------------------------------------------------------------

def test_world_shards_round_trip_and_train(tmp_path):
    pytest.importorskip("webdataset")
    from scalinglab.datasets.wds import load_shards, write_shards

    man = write_shards(W, tmp_path / "shards", split="val", n=300, samples_per_shard=128)
    assert len(man["shards"]) == 3 and len(man["manifest_hash"]) == 64
    assert man == write_shards(W, tmp_path / "again", split="val", n=300, samples_per_shard=128)
    ds = load_shards(tmp_path / "shards", vocab=sw.Vocabulary.from_world(W),
                     context_length=W.context_length)
    assert len(ds) + len(ds.val_images) == 300
    ref = sw.split_batch(W, "val", 0, 300)
    tok = np.concatenate([ds.tokens, ds.val_tokens])
    assert {tuple(t) for t in tok} == {tuple(t) for t in ref.tokens}     # PNG + text are lossless
    assert {im.tobytes() for im in ds.images} <= {im.tobytes() for im in ref.images}
    r = _run(tmp_path, "shards", data=ds, n_samples=32 * 3)
    assert r["status"] == "done" and "retrieval_i2t_r1" in r["metrics"]
    assert r["provenance"]["data"] == "shards"


def _tar(path, members):
    with tarfile.open(path, "w") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def _png():
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_user_shards_bad_input(tmp_path):
    pytest.importorskip("webdataset")
    from scalinglab.datasets.wds import load_shards

    d = tmp_path / "broken"
    d.mkdir()
    (d / "a.tar").write_bytes(b"this is not a tar file at all" * 40)
    with pytest.raises(DataError, match=r"a\.tar.*not a readable tar file"):
        load_shards(d)
    d = tmp_path / "undecodable"
    d.mkdir()
    _tar(d / "s.tar", [("k1.png", b"\x89PNG garbage"), ("k1.txt", b"a red circle")])
    with pytest.raises(DataError, match=r"s\.tar.*k1\.png does not decode"):
        load_shards(d)
    d = tmp_path / "long"
    d.mkdir()
    _tar(d / "s.tar", [("k1.png", _png()), ("k1.txt", b"red " * 50)])
    with pytest.raises(DataError, match=r"s\.tar.*k1\.txt.*context"):
        load_shards(d, context_length=16)
    d = tmp_path / "nocaption"
    d.mkdir()
    _tar(d / "s.tar", [("k1.png", _png())])
    with pytest.raises(DataError, match="no a caption|caption"):
        load_shards(d)
    with pytest.raises(DataError, match="no .tar shards"):
        load_shards(tmp_path / "nocaption" / "..")


def test_fashion_mnist_zeroshot_runs_and_sits_at_chance_for_a_shapes_model():
    if not (zs.FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("Fashion-MNIST absent: install it with apt-get install dataset-fashion-mnist")
    torch.manual_seed(0)
    model = build_model(CLIPConfig(**TINY))
    m = evaluate(model, W, n_pairs=256, n_per_class=1, n_loglik_per_class=0, fashion_mnist=200)
    assert 0.0 <= m["fmnist_zeroshot_error_se"] < 0.05
    # The world's vocabulary has no garment names: every prompt is <unk>s, the classes cannot be
    # told apart, and the error is at chance or worse (see docs/language-vision.md).
    assert m["fmnist_zeroshot_error"] >= 0.75


def test_the_registered_trainer_takes_a_run_spec(tmp_path):
    spec = RunSpec(rung="clip-test-1", model=CLIPConfig(**TINY), n_data=32 * 6, lr=3e-3,
                   batch_size=32, dataset="shapeworld",
                   extra={"eval_pairs": 256, "eval_per_class": 1})
    assert spec.procedure == "clip" and spec.unit == "samples"
    rec = run(spec, run_dir=tmp_path / spec.run_id)
    assert isinstance(rec, RunRecord) and rec.status == "done" and rec.run_id == spec.run_id
    assert rec.n_data_seen == 32 * 6 and rec.dataset_hash == sw.manifest_hash(W)
    assert {"zeroshot_error", "retrieval_error", "train_loss"} <= set(rec.metrics)
    assert rec.metrics_se["zeroshot_error"] > 0
    assert rec.flops["exact"] == CLIPConfig(**TINY).flops_per_sample() * 32 * 6
    assert rec.curve and all(0 <= e <= 1 for _, e in rec.curve)
    same = train(CLIPConfig(**TINY), n_samples=32 * 6, batch_size=32, lr=3e-3,
                 run_dir=tmp_path / "direct", beta2=spec.beta2, eval_pairs=256, eval_per_class=1)
    assert same["metrics"]["zeroshot_error"] == rec.metrics["zeroshot_error"]
