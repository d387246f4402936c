"""The evals core imports no heavy package and nothing above it; its public names are explicit and lazy ones real."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import scalinglab.evals as ev

HEAVY = ("torch", "transformers", "httpx", "matplotlib", "typer", "pandas", "lm_eval")
# evals sits below train, sweep and report (pyproject.toml's import-linter layers): none of them
# may be loaded by importing it; the scalinglab_ckpt client loads train only when it is created.
ABOVE = ("scalinglab.train", "scalinglab.sweep", "scalinglab.report", "scalinglab.cli", "scalinglab.demo")
CORE = ["scalinglab.evals", "scalinglab.evals.task", "scalinglab.evals.extraction", "scalinglab.evals.runner",
        "scalinglab.evals.stats", "scalinglab.evals.records", "scalinglab.evals.clients",
        "scalinglab.evals.clients.base", "scalinglab.evals.clients.responses_file",
        "scalinglab.evals.clients.openai_http", "scalinglab.evals.clients.transformers_local",
        "scalinglab.evals.clients.scalinglab_ckpt", "scalinglab.evals.lm_eval_pack",
        "scalinglab.evals.zeroshot"]


def _loaded(code: str) -> list[str]:
    code = "import sys\n" + code + f"\nprint(' '.join(m for m in sys.modules if m.startswith({ABOVE + HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_core_modules_import_no_heavy_package_and_nothing_above_evals():
    code = "\n".join(f"import {m}" for m in CORE) + \
        "\nimport scalinglab.evals as ev\nev.render_all()\nev.list_clients()"
    assert _loaded(code) == []


def test_public_names_are_sorted_and_exist():
    assert ev.__all__ == sorted(ev.__all__)
    for name in ev.__all__:
        assert getattr(ev, name) is not None


def test_lazy_exports_are_the_real_objects_with_their_signatures():
    """PEP 562, as in the top-level package: no wrapper hides the signature or the docstring."""
    from scalinglab.evals import lm_eval_pack

    assert "export_lm_eval" in dir(ev)
    assert ev.export_lm_eval is lm_eval_pack.export_lm_eval
    sig = inspect.signature(ev.export_lm_eval)
    assert list(sig.parameters)[:2] == ["out_dir", "families"]
    assert sig.parameters["repeats"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig == inspect.signature(lm_eval_pack.export_lm_eval)
    with pytest.raises(AttributeError, match="has no attribute 'write_report'"):
        ev.write_report  # noqa: B018 - the page moved to scalinglab.report


def test_lazy_exports_load_their_module_on_first_use_only():
    assert _loaded("import scalinglab.evals\nimport sys\nassert 'scalinglab.evals.lm_eval_pack' not in sys.modules\n"
                   "scalinglab.evals.export_lm_eval\nassert 'scalinglab.evals.lm_eval_pack' in sys.modules") == []
