"""The core never imports heavy optional packages (STYLE P12), checked in a clean interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "matplotlib", "typer", "submitit", "ray", "transformers", "pandas")


def _loaded_after(code: str) -> set[str]:
    probe = (f"import sys\n{code}\n"
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return {m for m in out.stdout.strip().split(",") if m}


@pytest.mark.parametrize(
    "module",
    ["scalinglab", "scalinglab.laws", "scalinglab.units", "scalinglab.config", "scalinglab.errors",
     "scalinglab.store.schema", "scalinglab.datasets"],
)
def test_core_imports_no_heavy_package(module):
    assert _loaded_after(f"import {module}") == set()


def test_fitting_modules_import_no_heavy_package():
    import pkgutil

    import scalinglab.laws as fitpkg

    mods = [f"scalinglab.laws.{m.name}" for m in pkgutil.iter_modules(fitpkg.__path__)]
    assert "scalinglab.laws.runs" in mods and "scalinglab.laws.tables" in mods
    code = "\n".join(f"import {m}" for m in mods)
    assert _loaded_after(code) == set()


@pytest.mark.parametrize("module", ["scalinglab.ladders", "scalinglab.sweep", "scalinglab.evals",
                                    "scalinglab.store"])
def test_planning_and_eval_cores_do_not_load_torch(module):
    loaded = _loaded_after(f"import {module}")
    assert "torch" not in loaded and "matplotlib" not in loaded and "typer" not in loaded


# -- import-linter: the layer order of docs/ARCHITECTURE.md -------------------------------------

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _lint(config, cwd, monkeypatch) -> int:
    pytest.importorskip("importlinter")
    from importlinter.cli import lint_imports

    monkeypatch.chdir(cwd)
    monkeypatch.syspath_prepend(str(cwd / "src") if (cwd / "src").is_dir() else str(cwd))
    return lint_imports(config_filename=str(config), no_cache=True, no_logo=True)


def test_import_linter_contracts_are_kept(monkeypatch, capsys):
    rc = _lint(ROOT / "pyproject.toml", ROOT, monkeypatch)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "Contracts: 2 kept, 0 broken." in out


def test_import_linter_catches_an_upward_import(tmp_path, monkeypatch, capsys):
    """The same kind of contract fails on a package whose low layer imports a high one."""
    pkg = tmp_path / "layered"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("from . import high\n")
    (pkg / "high.py").write_text("X = 1\n")
    cfg = tmp_path / "setup.cfg"
    cfg.write_text("[importlinter]\nroot_package = layered\n\n[importlinter:contract:1]\n"
                   "name = layers\ntype = layers\nlayers =\n    layered.high\n    layered.low\n")
    assert _lint(cfg, tmp_path, monkeypatch) == 1
    assert "layered.low -> layered.high" in capsys.readouterr().out


def test_the_project_imports_its_own_modules_at_module_level():
    """Inside a function, only an import that defers a heavy optional package is allowed (issue 10)."""
    import ast

    allowed = {("datasets/recipe.py", "_datatrove"),                 # datatrove, when a recipe runs
               ("datasets/recipe.py", "_slurm"),                     # its Slurm executor, when one runs there
               ("evals/clients/scalinglab_ckpt.py", "train.gpt")}    # torch, the one upward edge
    src = ROOT / "src" / "scalinglab"
    found = []
    for path in sorted(src.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("scalinglab")):
                    target = (node.module or node.names[0].name).removeprefix("scalinglab.")
                    rel = path.relative_to(src).as_posix()
                    if (rel, target) not in allowed:
                        found.append(f"{rel}:{node.lineno} imports {'.' * node.level}{node.module or ''} in a function")
    assert not found, found
