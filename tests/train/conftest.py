"""Fixtures for the trainer tests: a private corpus cache and tiny specs."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_corpus_cache(tmp_path_factory):
    """Build the tokenised corpus cache in a temporary folder, never in the user's home."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SCALINGLAB_CACHE_DIR", str(tmp_path_factory.mktemp("corpus_cache")))
    yield
    mp.undo()


TINY_MODEL = {"n_layer": 1, "d_model": 32, "n_head": 2, "seq_len": 64, "vocab_size": 256}


@pytest.fixture
def tiny_spec():
    """A RunSpec of a ~12k-parameter model: a few hundred steps take about a second on CPU."""
    from scalinglab.procedures import GPTConfig
    from scalinglab.store.schema import RunSpec

    def make(**kw):
        base = dict(rung="test-tiny-1", ladder="test", model=GPTConfig(**TINY_MODEL), n_data=40 * 512,
                    lr=3e-3, batch_size=8, eval_size=4096)
        base.update(kw)
        return RunSpec(**base)

    return make
