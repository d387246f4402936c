"""The evals core imports no heavy package, and its public names are explicit."""

from __future__ import annotations

import subprocess
import sys

import scalinglab.evals as ev

HEAVY = ("torch", "transformers", "httpx", "matplotlib", "typer", "pandas", "lm_eval")
CORE = ["scalinglab.evals", "scalinglab.evals.task", "scalinglab.evals.extract", "scalinglab.evals.runner",
        "scalinglab.evals.stats", "scalinglab.evals.records", "scalinglab.evals.backends",
        "scalinglab.evals.backends.responses_file", "scalinglab.evals.plots", "scalinglab.evals.report",
        "scalinglab.evals.lm_eval_pack"]


def test_core_modules_import_no_heavy_package():
    code = "import sys\n" + "\n".join(f"import {m}" for m in CORE) + \
        "\nimport scalinglab.evals as ev\nev.render_all()\nev.list_backends()\n" + \
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_public_names_are_sorted_and_exist():
    assert ev.__all__ == sorted(ev.__all__)
    for name in ev.__all__:
        assert getattr(ev, name) is not None
