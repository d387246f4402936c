"""Regenerate tests/evals/golden/aiw_prompt_hashes.json after a deliberate prompt or answer change.

Run: python tests/evals/tools/update_prompt_hashes.py
The golden file pins, per family, a hash of every rendered prompt (all variations x all prompt
types) with its right answer, next to the family's version. tests/evals/test_aiw_tasks.py fails
when a hash changes while the version stays the same: bump `version` in the YAML first.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from scalinglab.evals import task

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "aiw_prompt_hashes.json"


def fingerprints() -> dict:
    fams = {}
    for name in task.list_families():
        f = task.get_family(name)
        rows = sorted(f"{p.prompt_id}\t{p.right_answer}\t{p.text}"
                      for v in f.variations for p in (f.render(v, pt) for pt in task.list_prompt_types()))
        fams[name] = {"version": f.version, "sha256": hashlib.sha256("\n\0".join(rows).encode()).hexdigest()}
    pts = {}
    for name in task.list_prompt_types():
        pt = task.get_prompt_type(name)
        pts[name] = {"version": pt.version,
                     "sha256": hashlib.sha256(f"{pt.template}\0{pt.style}\0{pt.stop}".encode()).hexdigest()}
    return {"families": fams, "prompt_types": pts}


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(fingerprints(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
