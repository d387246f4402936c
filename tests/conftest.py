"""Shared fixtures and markers for the scalinglab test suite."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from scalinglab._optional import has

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

has_torch = has("torch")
requires_torch = pytest.mark.skipif(not has_torch, reason="needs torch (pip install 'scalinglab[train]')")
has_matplotlib = has("matplotlib")
requires_matplotlib = pytest.mark.skipif(not has_matplotlib, reason="needs matplotlib (scalinglab[plot])")
has_typer = has("typer")
requires_typer = pytest.mark.skipif(not has_typer, reason="needs typer (scalinglab[cli])")


def _slurm_up() -> bool:
    if not shutil.which("sinfo"):
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


requires_slurm = pytest.mark.skipif(not _slurm_up(), reason="no running Slurm (sinfo); .ci/run starts one")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def chinchilla_csv() -> Path:
    """The Chinchilla points: ../shared/data when present, else the copy shipped in the package."""
    p = SHARED_DATA / "chinchilla_epoch_points.csv"
    if p.exists():
        return p
    from scalinglab.datasets import path

    return path("chinchilla_epoch_points.csv")
