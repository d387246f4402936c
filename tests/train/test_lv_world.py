"""The shape world: determinism, held-out combinations, captions, vocabulary, manifest."""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab.datasets import shapeworld as sw
from scalinglab.errors import ConfigError, DataError

W = sw.WorldConfig()


def test_batches_are_a_function_of_seed_and_step():
    a = sw.get_batch(W, step=7, seed=3, batch_size=32)
    b = sw.get_batch(W, step=7, seed=3, batch_size=32)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.tokens, b.tokens)
    c = sw.get_batch(W, step=8, seed=3, batch_size=32)
    d = sw.get_batch(W, step=7, seed=4, batch_size=32)
    assert not np.array_equal(a.images, c.images) and not np.array_equal(a.images, d.images)
    assert a.images.shape == (32, 32, 32, 3) and a.images.dtype == np.uint8
    assert a.tokens.shape == (32, W.context_length)


def test_fixed_splits_have_random_access_by_index():
    whole = sw.split_batch(W, "val", 0, 2 * sw.BLOCK + 10)
    part = sw.split_batch(W, "val", sw.BLOCK - 5, 20)          # straddles a block boundary
    assert np.array_equal(part.images, whole.images[sw.BLOCK - 5:sw.BLOCK + 15])
    assert np.array_equal(part.tokens, whole.tokens[sw.BLOCK - 5:sw.BLOCK + 15])
    test = sw.split_batch(W, "test", 0, 16)
    assert not np.array_equal(test.images, whole.images[:16])
    with pytest.raises(ConfigError, match="unknown split"):
        sw.split_batch(W, "train", 0, 4)


def _pairs(batch):
    s = batch.scenes
    return set(zip(s["shape"][s["present"]].tolist(), s["colour"][s["present"]].tolist()))


def test_heldout_pairs_never_appear_outside_the_heldout_split():
    held = set(W.heldout_pairs())
    assert len(held) == W.n_shapes
    assert {c for _, c in held} == set(range(W.n_colours))     # every colour still seen elsewhere
    seen = set()
    for step in range(40):
        seen |= _pairs(sw.get_batch(W, step=step, seed=0, batch_size=256))
    for split in ("val", "test"):
        seen |= _pairs(sw.split_batch(W, split, 0, 1024))
    assert not seen & held
    assert len(seen) == W.n_shapes * W.n_colours - len(held)   # everything else does appear
    h = sw.split_batch(W, "heldout", 0, 512).scenes
    assert all((int(a), int(b)) in held for a, b in zip(h["shape"][:, 0], h["colour"][:, 0]))
    batch, labels, classes = sw.classification_set(W, split="heldout", n_per_class=3)
    assert {classes[i] for i in labels} == held


def test_captions_follow_the_scene():
    vocab = sw.Vocabulary.from_world(W)
    b = sw.get_batch(W, step=0, seed=0, batch_size=200)
    for i in range(200):
        groups = sw.describe(b.scenes, i)
        text = vocab.decode(b.tokens[i])
        assert "<unk>" not in text
        for g in groups:
            named = W.colours[g["colour"]] in text.split()
            assert named or not g["say_colour"]
            assert sw.PLURALS[W.shapes[g["shape"]]] in text.split() or W.shapes[g["shape"]] in text.split()
        assert sum(g["count"] for g in groups) == b.scenes["n_objects"][i]
        row = b.tokens[i]
        assert row[0] == sw.SOT and (row == sw.EOT).sum() == 1
        assert np.all(row[np.argmax(row == sw.EOT) + 1:] == sw.PAD)
    partial = sw.WorldConfig(omit_colour=0.4)
    p = sw.get_batch(partial, step=0, seed=0, batch_size=200)
    said = np.mean([g["say_colour"] for i in range(200) for g in sw.describe(p.scenes, i)])
    assert abs(said - 0.6) < 0.08                                # colours go unnamed as configured
    texts = [vocab.decode(t).split() for t in p.tokens]
    assert any(not set(t) & set(W.colours) for t in texts)
    # Relations: "left of" means a smaller x.
    a, c = {"x": 3.0, "y": 10.0}, {"x": 20.0, "y": 12.0}
    assert sw.relation(a, c) == "left of" and sw.relation(c, a) == "right of"
    assert sw.relation({"x": 5.0, "y": 2.0}, {"x": 6.0, "y": 20.0}) == "above"


def test_zipf_makes_a_long_tail():
    counts = np.zeros(W.n_colours)
    for step in range(10):
        s = sw.get_batch(W, step=step, seed=1, batch_size=256).scenes
        counts += np.bincount(s["colour"][s["present"]], minlength=W.n_colours)
    assert counts[0] > 4 * counts[-1] > 0
    flat = sw.WorldConfig(zipf_exponent=0.0, holdout=False)
    s = sw.get_batch(flat, step=0, seed=1, batch_size=2048).scenes
    c = np.bincount(s["colour"][s["present"]], minlength=flat.n_colours)
    assert c.max() < 1.3 * c.min()


def test_vocabulary_encode_decode_and_errors():
    vocab = sw.Vocabulary.from_world(W)
    ids = vocab.encode("a red circle left of two blue squares", W.context_length)
    assert vocab.decode(ids) == "a red circle left of two blue squares"
    assert vocab.encode("a zebra", 8)[2] == sw.UNK
    with pytest.raises(DataError, match="context"):
        vocab.encode(" ".join(["red"] * 40), W.context_length, where="shard-0.tar/x.txt")
    built = sw.Vocabulary.build(["b a a", "c a"], max_words=2)
    assert built.words[4:] == ("a", "b")


def test_classification_set_is_balanced_and_labelled():
    batch, labels, classes = sw.classification_set(W, split="test", n_per_class=4)
    assert len(classes) == W.n_shapes * W.n_colours
    assert np.all(np.bincount(labels, minlength=len(classes))[labels] == 4)
    s = batch.scenes
    assert np.all(s["n_objects"] == 1)
    assert [tuple(classes[i]) for i in labels] == list(zip(s["shape"][:, 0], s["colour"][:, 0]))


def test_manifest_identifies_the_world():
    m = sw.manifest(W)
    assert m["vocabulary"] == list(sw.Vocabulary.from_world(W).words)
    assert sw.manifest_hash(W) == sw.manifest_hash(sw.WorldConfig())
    assert sw.manifest_hash(W) != sw.manifest_hash(sw.WorldConfig(clutter=2))
    with pytest.raises(ConfigError, match="max_objects"):
        sw.WorldConfig(max_objects=9)
    with pytest.raises(ConfigError, match="unknown key"):
        sw.WorldConfig.from_dict({"clutte": 3})
