"""Shared fixtures and the ``requires`` marker of the scalinglab test suite.

A test (or a module, through ``pytestmark``) that needs an optional package or a system service
says so with one marker, and is skipped with the install hint when it is missing::

    pytestmark = pytest.mark.requires("torch", "typer")

Names are Python packages (the hint names the scalinglab extra that installs them) or one of the
system services in ``SERVICES`` (``slurm``, ``chromium``). The probes live here only; no test
module re-rolls its own ``skipif``. (xarray's ``tests/__init__.py`` ``requires_*`` pattern, as a
marker so that the checks need not be imported across test directories.)
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scalinglab._optional import has

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

#: Python package -> the scalinglab extra that installs it (the skip reason names it).
EXTRAS = {
    "torch": "train", "tokenizers": "tokenizers", "pandas": "pandas", "pyarrow": "pandas",
    "matplotlib": "plot", "typer": "cli", "rich": "cli", "submitit": "slurm", "ray": "ray",
    "httpx": "eval", "transformers": "hf", "datasets": "hf", "lm_eval": "lmeval",
    "threadpoolctl": None, "tenacity": "lmeval", "webdataset": "vision", "PIL": "vision",
}


def chromium_path() -> str | None:
    """The headless browser that opens the HTML report, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def _slurm_up() -> bool:
    if not shutil.which("sinfo"):
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


#: System services: name -> (probe, how to get it).
SERVICES = {
    "slurm": (_slurm_up, "no running Slurm (sinfo does not answer); .ci/run starts one with .ci/slurm-up.sh"),
    "chromium": (lambda: chromium_path() is not None, "needs the chromium browser (apt-get install -y chromium)"),
}


@functools.lru_cache(maxsize=None)
def missing(name: str) -> str | None:
    """Why ``name`` (a package or a service) is unavailable, or None when it is there."""
    if name in SERVICES:
        probe, why = SERVICES[name]
        return None if probe() else why
    if name not in EXTRAS:
        raise ValueError(f"unknown requirement {name!r} in a requires marker; add it to tests/conftest.py "
                         f"EXTRAS or SERVICES (known: {', '.join(sorted([*EXTRAS, *SERVICES]))})")
    if has(name):
        return None
    extra = EXTRAS[name]
    return f"needs {name}" + (f" (pip install 'scalinglab[{extra}]')" if extra else f" (pip install {name})")


def pytest_configure(config):
    config.addinivalue_line("markers", "requires(*names): skip unless every named optional package or "
                                       "service (tests/conftest.py EXTRAS, SERVICES) is available")


def pytest_collection_modifyitems(config, items):
    for item in items:
        for mark in item.iter_markers("requires"):
            for name in mark.args:
                why = missing(name)
                if why:
                    item.add_marker(pytest.mark.skip(reason=why))
                    break


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


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the headless browser (the test is skipped without one)."""
    why = missing("chromium")
    if why:
        pytest.skip(why)
    return chromium_path()


@pytest.fixture
def bench_script():
    """Import a script of ``benchmarks/`` by name (they are scripts, not a package): ``bench_script("closed_loop")``."""
    def load(name: str):
        path = REPO / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod          # a dataclass of the script looks its module up there
        spec.loader.exec_module(mod)
        return mod

    return load
