"""Zero-shot classification, retrieval and hard-negative metrics on constructed embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab.datasets import shapeworld as sw
from scalinglab.errors import DataError
from scalinglab.evals import zeroshot as zs

W = sw.WorldConfig()


def test_classifier_normalises_averages_and_renormalises():
    emb = np.array([[[3.0, 0.0], [0.0, 1.0]],          # class 0: two templates
                    [[0.0, -2.0], [0.0, -5.0]]])
    w = zs.zeroshot_classifier(emb)
    assert np.allclose(w[0], [np.sqrt(0.5), np.sqrt(0.5)])   # mean of unit vectors, renormalised
    assert np.allclose(w[1], [0.0, -1.0])
    assert np.allclose(np.linalg.norm(w, axis=1), 1.0)


def test_classify_error_recall_and_standard_errors():
    labels = np.array([0, 0, 0, 0, 1, 1])
    scores = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [1, 0]], dtype=float)
    m = zs.classify(scores, labels, prefix="zs_")
    assert m["zs_error"] == pytest.approx(2 / 6)
    assert m["zs_error_se"] == pytest.approx(np.sqrt((4 / 6) * (2 / 6) / 6))
    assert m["zs_mean_recall"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    se = np.sqrt(0.75 * 0.25 / 4 + 0.5 * 0.5 / 2) / 2
    assert m["zs_mean_recall_se"] == pytest.approx(se)


def test_retrieval_recall_at_k_both_directions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 8))
    m = zs.retrieval(x, x)
    assert m["i2t_r1"] == 1.0 and m["t2i_r1"] == 1.0 and m["i2t_r1_se"] == 0.0
    assert m["error"] == 0.0
    # Shift texts by one: image i's caption is text i+1, so its true text is never first.
    shifted = zs.retrieval(x, np.roll(x, 1, axis=0))
    assert shifted["i2t_r1"] < 0.2
    assert shifted["error"] == pytest.approx(1 - (shifted["i2t_r1"] + shifted["t2i_r1"]) / 2)
    # Ties count against the true pair.
    same = zs.retrieval(np.ones((4, 2)), np.ones((4, 2)))
    assert same["i2t_r1"] == 0.0 and same["i2t_r5"] == 1.0


def test_hard_negatives_are_grammatical_and_wrong():
    batch = sw.split_batch(W, "test", 0, 300)
    vocab = sw.Vocabulary.from_world(W)
    negs = zs.hard_negatives(batch.scenes, W)
    assert set(negs) == set(zs.HARD_NEGATIVE_TYPES)
    for kind, (idx, words) in negs.items():
        assert len(idx) > 30, kind
        for i, w in zip(idx, words):
            pos = vocab.decode(batch.tokens[i]).split()
            assert w != pos and all(x in vocab.index for x in w)
            assert len(w) + 2 <= W.context_length
            if kind in ("replace_rel", "swap_att"):
                assert sorted(w) == sorted(pos) or kind == "replace_rel"
    i, w = negs["replace_rel"][0][0], negs["replace_rel"][1][0]
    pos = vocab.decode(batch.tokens[i])
    assert ("left" in pos.split()) == ("right" in w) or ("above" in pos.split()) == ("below" in w)
    assert zs.choice_accuracy(np.array([1.0, 0.0, 2.0]), np.array([0.5, 0.5, 2.0])) == \
        pytest.approx((1 / 3, np.sqrt(2 / 9 / 3)))


def test_fashion_mnist_from_the_debian_package():
    if not (zs.FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("Fashion-MNIST absent: install it with apt-get install dataset-fashion-mnist")
    images, labels = zs.load_fashion_mnist(n=100)
    assert images.shape == (100, 32, 32, 3) and images.dtype == np.uint8
    assert set(labels.tolist()) <= set(range(10)) and len(set(labels.tolist())) > 5
    assert (images[:, :2] == 0).all() and images[:, 2:30, 2:30].max() > 200


def test_missing_fashion_mnist_says_how_to_install(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        zs.load_fashion_mnist(tmp_path)
