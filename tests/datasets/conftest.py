"""Fixtures for the dataset tests: private data and corpus caches, small text folders."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_caches(tmp_path, monkeypatch):
    """Datasets and tokenised corpora are built under the test's folder, never in the home."""
    monkeypatch.setenv("SCALINGLAB_DATA_DIR", str(tmp_path / "datasets"))
    monkeypatch.setenv("SCALINGLAB_CACHE_DIR", str(tmp_path / "cache"))
