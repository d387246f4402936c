"""A DCLM-style quality classifier: a linear model on hashed word n-grams (numpy + scipy only).

DataComp-LM (Li et al. 2024, "DataComp-LM: In search of the next generation of training sets for
language models", arXiv:2406.11794, Sec. 4.4) keeps the documents of a pool that a fastText
bigram classifier, trained to tell a *reference* set (there: OpenHermes and ELI5) from the pool,
scores highest. This is the same idea without a download: features are word unigrams and bigrams
hashed into ``n_features`` buckets (log(1 + count), rows L2-normalised), the model is L2-penalised
logistic regression fitted by L-BFGS, and the score is P(reference | document).

The score ranks documents by *resemblance to the reference*, not by any absolute quality: a
recipe that keeps the top 30% keeps what looks most like the reference set, whatever that is.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["QualityModel", "hashed_features", "train_quality_model"]

_WORD = re.compile(r"\w+", re.UNICODE)
_MIX = np.uint64(0x9E3779B97F4A7C15)      # golden-ratio multiplier: spreads (h1, h2) pairs over buckets


def _word_hashes(text: str) -> np.ndarray:
    words = _WORD.findall(text.lower())
    return np.fromiter((zlib.crc32(w.encode("utf-8")) for w in words), dtype=np.uint64, count=len(words))


def hashed_features(texts: Iterable[str], *, n_features: int = 1 << 18, ngrams: int = 2):
    """CSR matrix (n_docs, n_features): log(1 + count) of hashed word 1..ngrams-grams, rows L2-normalised.

    Words are ``\\w+`` runs of the lowercased text; a word's hash is its CRC-32 and an n-gram's is
    built from its words' hashes, so features are the same on every machine and Python.
    """
    from scipy import sparse

    rows, cols = [], []
    n = 0
    for i, text in enumerate(texts):
        h = _word_hashes(text)
        grams = [h]
        acc = h
        for k in range(1, ngrams):
            if len(h) <= k:
                break
            acc = (acc[:-1] * _MIX) ^ h[k:]
            grams.append(acc + np.uint64(k))
        idx = np.concatenate(grams) % np.uint64(n_features) if grams else np.zeros(0, np.uint64)
        rows.append(np.full(idx.size, i, dtype=np.int64))
        cols.append(idx.astype(np.int64))
        n = i + 1
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    X = sparse.csr_matrix((np.ones(r.size), (r, c)), shape=(n, n_features))
    X.sum_duplicates()
    X.data = np.log1p(X.data)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms) @ X


@dataclass(frozen=True)
class QualityModel:
    """A fitted hashed-n-gram logistic regression: ``score(texts)`` = P(reference | text)."""

    weights: np.ndarray          # (n_features,)
    bias: float
    n_features: int
    ngrams: int
    threshold: float = 0.5       # documents scoring below are removed by the recipe step
    train_accuracy: float = float("nan")
    heldout_accuracy: float = float("nan")
    n_reference: int = 0
    n_pool: int = 0

    def score(self, texts: Iterable[str]) -> np.ndarray:
        X = hashed_features(texts, n_features=self.n_features, ngrams=self.ngrams)
        z = X @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with open(path, "wb") as fh:
            np.savez(fh, weights=self.weights, meta=np.array([self.bias, self.n_features, self.ngrams,
                                                                  self.threshold, self.train_accuracy,
                                                                  self.heldout_accuracy, self.n_reference,
                                                                  self.n_pool], dtype=float))
        return path

    @classmethod
    def load(cls, path: str | Path) -> QualityModel:
        with np.load(Path(path)) as z:
            m = z["meta"]
            return cls(weights=z["weights"], bias=float(m[0]), n_features=int(m[1]), ngrams=int(m[2]),
                       threshold=float(m[3]), train_accuracy=float(m[4]), heldout_accuracy=float(m[5]),
                       n_reference=int(m[6]), n_pool=int(m[7]))

    def describe(self) -> dict:
        return {"threshold": self.threshold, "train_accuracy": self.train_accuracy,
                "heldout_accuracy": self.heldout_accuracy, "n_reference": self.n_reference,
                "n_pool": self.n_pool, "n_features": self.n_features, "ngrams": self.ngrams}


def _sample(items: list[tuple[str, str]], k: int, seed: int) -> list[tuple[str, str]]:
    """Up to ``k`` items chosen by the SHA-256 of (seed, id): the same choice on every machine."""
    key = lambda it: hashlib.sha256(f"{seed}\0{it[0]}".encode()).digest()   # noqa: E731
    return sorted(items, key=key)[:k]


def train_quality_model(reference: list[tuple[str, str]], pool: list[tuple[str, str]], *,
                        n_features: int = 1 << 18, ngrams: int = 2, l2: float = 1e-4,
                        max_docs: int = 5000, heldout: float = 0.1, seed: int = 0) -> QualityModel:
    """Fit P(reference | text) on ``(id, text)`` lists, balanced by sampling up to ``max_docs`` of each.

    A ``heldout`` fraction of each side (chosen by hash) is kept out of the fit to report accuracy.
    The objective is the mean logistic loss plus ``l2/2 |w|^2`` (bias unpenalised), minimised by
    L-BFGS-B from zero: deterministic for given inputs.
    """
    from scipy.optimize import minimize

    k = min(max_docs, len(reference), len(pool))
    if k < 2:

        raise DataError(f"the quality classifier needs at least 2 reference and 2 pool documents; got "
                        f"{len(reference)} and {len(pool)}")
    ref, pl = _sample(reference, k, seed), _sample(pool, k, seed + 1)
    n_held = int(round(heldout * k)) if k >= 10 else 0
    texts = [t for _, t in ref[n_held:]] + [t for _, t in pl[n_held:]]
    y = np.r_[np.ones(k - n_held), np.zeros(k - n_held)]
    X = hashed_features(texts, n_features=n_features, ngrams=ngrams)
    n = X.shape[0]

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = X @ w + b
        # log(1 + e^z) - y z, computed stably
        loss = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * w @ w
        g = (1.0 / (1.0 + np.exp(-z)) - y) / n
        return loss, np.r_[X.T @ g + l2 * w, g.sum()]

    res = minimize(fun, np.zeros(n_features + 1), jac=True, method="L-BFGS-B",
                   options={"maxiter": 500, "gtol": 1e-8})
    w, b = res.x[:-1], float(res.x[-1])
    model = QualityModel(weights=w, bias=b, n_features=n_features, ngrams=ngrams, n_reference=k, n_pool=k)
    acc = float(np.mean((model.score(texts) >= 0.5) == (y == 1)))
    held = float("nan")
    if n_held:
        ht = [t for _, t in ref[:n_held]] + [t for _, t in pl[:n_held]]
        hy = np.r_[np.ones(n_held), np.zeros(n_held)]
        held = float(np.mean((model.score(ht) >= 0.5) == (hy == 1)))
    return QualityModel(weights=w, bias=b, n_features=n_features, ngrams=ngrams, train_accuracy=acc,
                        heldout_accuracy=held, n_reference=k, n_pool=k)
