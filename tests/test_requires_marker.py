"""The ``requires`` marker of tests/conftest.py skips with the install hint and rejects unknown names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")

TESTS = '''
import pytest

@pytest.mark.requires("json")
def test_present():
    pass

@pytest.mark.requires("json", "surely_not_installed_xyz")
def test_absent():
    raise AssertionError("must not run")

pytestmark = pytest.mark.requires("json")
'''


def _run(tmp_path, tests: str, extra: str = "") -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text() + extra)
    (tmp_path / "test_probe.py").write_text(tests)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_a_missing_package_skips_with_its_extra_and_a_present_one_runs(tmp_path):
    out = _run(tmp_path, TESTS, '\nEXTRAS.update({"json": None, "surely_not_installed_xyz": "train"})\n')
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed, 1 skipped" in out.stdout
    assert "needs surely_not_installed_xyz (pip install 'scalinglab[train]')" in out.stdout


def test_an_unknown_requirement_is_an_error_not_a_silent_skip(tmp_path):
    out = _run(tmp_path, TESTS)          # "json" is not declared in EXTRAS
    assert out.returncode != 0
    assert "unknown requirement 'json'" in out.stdout + out.stderr
