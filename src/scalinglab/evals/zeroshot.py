"""Image-text evaluation as CLIP_benchmark does it: zero-shot classification, retrieval, hard negatives.

numpy only: these functions take embeddings or scores (computed by the trainer's models, see
:func:`scalinglab.train.imagetext.evaluate`) and return metrics, each with its standard error.

What to use when
----------------
* :func:`zeroshot_classifier` + :func:`classify`: zero-shot classification (Radford et al. 2021,
  Sec. 3.1.4; LAION CLIP_benchmark ``zeroshot_classification.py``): each class name is filled into
  several templates, the text embeddings are L2-normalised, averaged over templates and
  renormalised; an image goes to the class of largest cosine similarity. Reports top-1 error and
  mean per-class recall (balanced accuracy).
* :func:`retrieval`: image-to-text and text-to-image recall@k over a fixed pool of pairs, one
  caption per image (CLIP_benchmark ``zeroshot_retrieval.py``).
* :func:`hard_negatives` + :func:`choice_accuracy`: SugarCrepe-style caption selection (Hsieh et
  al. 2023): the true caption against one negative that swaps or replaces an attribute, an
  object or a relation, drawn from the same grammar so it is equally fluent; accuracy per type.
* :func:`classify` on caption log-likelihoods (CoCa, MaMMUT): the class whose prompt the captioner
  finds most likely given the image.
* :func:`load_fashion_mnist`: the one real-image check (Debian ``dataset-fashion-mnist``).

Standard errors
---------------
Each rate is a mean of independent Bernoulli outcomes over the *fixed evaluation set*, so its
standard error is ``sqrt(p (1 - p) / n)``; mean per-class recall has ``sqrt(sum_c p_c (1 - p_c) /
n_c) / C``. They measure the finite size of the evaluation set only, not the seed-to-seed spread of
training (usually larger), and they are invalid when outcomes are not independent (e.g. many
near-duplicate images).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ..datasets import shapeworld as sw
from ..errors import DataError

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DIR",
    "HARD_NEGATIVE_TYPES",
    "TEMPLATES",
    "choice_accuracy",
    "class_prompts",
    "classify",
    "hard_negatives",
    "load_fashion_mnist",
    "rate",
    "retrieval",
    "zeroshot_classifier",
]

# Templates are data, as in open_clip's zero_shot_metadata.py; these use only the world's words.
TEMPLATES = ("{}", "a picture of {}", "there is {}", "an image of {}")
HARD_NEGATIVE_TYPES = ("replace_att", "replace_obj", "replace_rel", "swap_att")
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                         "sneaker", "bag", "ankle boot")


def rate(hits: np.ndarray) -> tuple[float, float]:
    """Mean of 0/1 outcomes and its binomial standard error ``sqrt(p (1 - p) / n)``."""
    hits = np.asarray(hits, dtype=np.float64)
    n = hits.size
    if n == 0:
        return float("nan"), float("nan")
    p = float(hits.mean())
    return p, float(np.sqrt(p * (1 - p) / n))


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def class_prompts(classes, world: sw.WorldConfig, templates=TEMPLATES) -> list[list[str]]:
    """Prompts per (shape, colour) class: ``"a red circle"`` filled into each template."""
    out = []
    for s, c in classes:
        name = f"a {world.colours[c]} {world.shapes[s]}"
        out.append([t.format(name) for t in templates])
    return out


def zeroshot_classifier(text_embeddings: np.ndarray) -> np.ndarray:
    """``(C, n_templates, e)`` text embeddings -> ``(C, e)`` class weights.

    Normalise each prompt's embedding, average over templates, renormalise (open_clip
    ``zero_shot_classifier.py`` ``build_zero_shot_classifier``).
    """
    return _normalize(_normalize(text_embeddings).mean(axis=1))


def classify(scores: np.ndarray, labels: np.ndarray, *, prefix: str = "") -> dict:
    """Top-1 error and mean per-class recall (with standard errors) of ``argmax`` over classes.

    ``scores`` is ``(N, C)``: cosine similarities to a :func:`zeroshot_classifier` or caption
    log-likelihoods. Ties go to the lowest class index.
    """
    scores, labels = np.asarray(scores), np.asarray(labels)
    pred = scores.argmax(axis=1)
    correct = pred == labels
    acc, acc_se = rate(correct)
    recalls, var = [], 0.0
    for c in np.unique(labels):
        r, se = rate(correct[labels == c])
        recalls.append(r)
        var += se ** 2
    C = len(recalls)
    return {f"{prefix}error": 1.0 - acc, f"{prefix}error_se": acc_se,
            f"{prefix}mean_recall": float(np.mean(recalls)),
            f"{prefix}mean_recall_se": float(np.sqrt(var) / C)}


def retrieval(image_embeddings: np.ndarray, text_embeddings: np.ndarray, ks=(1, 5)) -> dict:
    """Recall@k in both directions for paired embeddings (pair ``i`` is image ``i``, text ``i``).

    ``i2t_r{k}``: the true caption is among the ``k`` captions most similar to the image;
    ``t2i_r{k}`` likewise for captions; ``error`` = 1 - the mean recall@1 of both directions.
    Ties count against the true pair (strict rank).
    """
    sim = _normalize(image_embeddings) @ _normalize(text_embeddings).T        # (N, N)
    true = np.diag(sim)
    out, hits1 = {}, []
    for name, s, t in (("i2t", sim, true), ("t2i", sim.T, true)):
        rank = (s > t[:, None]).sum(axis=1) + ((s == t[:, None]).sum(axis=1) - 1)
        hits1.append(rank < 1)
        for k in ks:
            r, se = rate(rank < k)
            out[f"{name}_r{k}"], out[f"{name}_r{k}_se"] = r, se
    # error = 1 - mean recall@1 of the two directions; SE over pairs (each pair's two outcomes
    # averaged first, so their correlation is accounted for)
    per_pair = (hits1[0].astype(float) + hits1[1].astype(float)) / 2
    out["error"] = 1.0 - float(per_pair.mean())
    out["error_se"] = float(per_pair.std(ddof=1) / np.sqrt(len(per_pair))) if len(per_pair) > 1 else float("nan")
    return out


def _other(rng, n: int, exclude: set[int]) -> int | None:
    choices = [i for i in range(n) if i not in exclude]
    return int(rng.choice(choices)) if choices else None


def hard_negatives(scenes: dict, world: sw.WorldConfig, *, seed: int = 0) -> dict:
    """One negative caption per scene and type, where the type applies.

    Types (SugarCrepe, Hsieh et al. 2023, Sec. 3): ``replace_att`` (one named group's colour replaced by
    a colour absent from the scene), ``replace_obj`` (one group's shape replaced by an absent
    shape), ``replace_rel`` (the first relation reversed: left <-> right, above <-> below),
    ``swap_att`` (the colours of the first two groups exchanged). Returns ``{type: (index, words)}``
    where ``index`` lists the scenes that have a negative of that type.
    """
    rng = np.random.default_rng([int(seed), 0x5A6A])
    flip = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
    out = {t: ([], []) for t in HARD_NEGATIVE_TYPES}
    for i in range(len(scenes["present"])):
        groups = sw.describe(scenes, i)
        prefix = int(scenes["prefix"][i])
        rels = [sw.relation(groups[j], groups[j + 1]) for j in range(0, len(groups) - 1, 2)]

        def add(kind, gs, rs=rels):
            out[kind][0].append(i)
            out[kind][1].append(sw.caption_words(gs, world, prefix, rs))

        j = int(rng.integers(len(groups)))
        named = [k for k, g in enumerate(groups) if g.get("say_colour", True)]
        c = _other(rng, world.n_colours, {g["colour"] for g in groups})
        if c is not None and named:
            jc = named[int(rng.integers(len(named)))]
            add("replace_att", [dict(g, colour=c) if k == jc else g for k, g in enumerate(groups)])
        s = _other(rng, world.n_shapes, {g["shape"] for g in groups})
        if s is not None:
            add("replace_obj", [dict(g, shape=s) if k == j else g for k, g in enumerate(groups)])
        if rels:
            add("replace_rel", groups, [flip[rels[0]], *rels[1:]])
        if len(groups) >= 2 and groups[0]["colour"] != groups[1]["colour"] \
                and groups[0]["shape"] != groups[1]["shape"] \
                and groups[0].get("say_colour", True) and groups[1].get("say_colour", True):
            g0, g1 = dict(groups[0], colour=groups[1]["colour"]), dict(groups[1], colour=groups[0]["colour"])
            add("swap_att", [g0, g1, *groups[2:]])
    return {t: (np.asarray(idx, dtype=np.int64), words) for t, (idx, words) in out.items()}


def choice_accuracy(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float]:
    """Share of items whose true caption scores strictly higher than its negative, with its SE."""
    return rate(np.asarray(positive) > np.asarray(negative))


def load_fashion_mnist(root: str | Path = FASHION_MNIST_DIR, *, split: str = "t10k",
                       n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST images as ``(N, 32, 32, 3)`` uint8 (padded by 2, grey to RGB) and labels.

    The files come from Debian's ``dataset-fashion-mnist`` package (Xiao et al. 2017); nothing is
    downloaded. ``n`` takes the first ``n`` images of the split.
    """
    root = Path(root)
    img_p, lab_p = root / f"{split}-images-idx3-ubyte.gz", root / f"{split}-labels-idx1-ubyte.gz"
    if not img_p.exists() or not lab_p.exists():
        raise DataError(f"Fashion-MNIST is not installed: {str(img_p)!r} is missing. Install it "
                        "with: apt-get install dataset-fashion-mnist (Debian/Ubuntu)")
    with gzip.open(img_p, "rb") as fh:
        raw = np.frombuffer(fh.read(), dtype=np.uint8)
    with gzip.open(lab_p, "rb") as fh:
        labels = np.frombuffer(fh.read(), dtype=np.uint8)[8:].astype(np.int64)
    images = raw[16:].reshape(-1, 28, 28)
    if n is not None:
        images, labels = images[:n], labels[:n]
    padded = np.zeros((len(images), 32, 32), dtype=np.uint8)
    padded[:, 2:30, 2:30] = images
    return np.repeat(padded[..., None], 3, axis=3), labels
