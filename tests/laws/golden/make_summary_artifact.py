"""Regenerate ``fit_chinchilla_ls.json``: the stored fit whose summary the golden files pin.

Run from the repository root, then regenerate the golden text and HTML from it::

    .venv/bin/python tests/laws/golden/make_summary_artifact.py
    SCALINGLAB_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/laws/test_result.py -k golden

The golden files are rendered from this artifact, never from a fresh fit: loading is bit-exact,
while a fresh fit's last digits (bootstrap bounds, optimum spread, iteration counts) depend on the
machine's CPU and BLAS. ``test_result.py`` compares a fresh fit with this artifact separately,
with tolerances.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from test_result import ARTIFACT, fit_golden_subject  # noqa: E402


def main() -> None:
    res = fit_golden_subject()
    res.save(ARTIFACT)
    print(f"wrote {ARTIFACT}")


if __name__ == "__main__":
    main()
