"""Find, by exact text, which upstream LAION-AI/AIW prompt ids each shipped AIW prompt reproduces.

Run: python tests/evals/tools/discover_upstream_ids.py [path/to/aiw_prompts.json]
Prints, for every (family, variation, prompt type) whose rendered text equals one or more upstream
prompts, the matching ids with their upstream right answers and descriptions. The `upstream:` ids in
the task YAML files were chosen from this output (the paper's ids where the text is duplicated);
tests/evals/test_aiw_tasks.py checks every claimed id against the upstream text.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

from scalinglab.datasets import path as dataset_path
from scalinglab.evals import task


def main(argv: list[str]) -> None:
    src = argv[1] if len(argv) > 1 else dataset_path("aiw_prompts.json")
    upstream = json.load(open(src))
    by_text = defaultdict(list)
    for r in upstream:
        if isinstance(r["prompt"], str):
            by_text[r["prompt"]].append(r)
    for fam in task.list_families():
        f = task.get_family(fam)
        for v in f.variations:
            for pt in task.list_prompt_types():
                p = f.render(v, pt)
                hits = by_text.get(p.text, [])
                if hits or pt in f.prompt_types:
                    claimed = p.upstream_id
                    ids = ", ".join(f"{h['id']}(ans={h['right_answer']!r}: {h['description']})" for h in hits)
                    print(f"{p.prompt_id:32s} ans={p.right_answer} claimed={claimed} -> {ids or '-'}")


if __name__ == "__main__":
    main(sys.argv)
