"""Regenerate ``overtraining_gadre2024.csv`` from a clone of github.com/mlfoundations/scaling.

Not a speed benchmark: the script that built the over-training table shipped in
``src/scalinglab/datasets/`` (Gadre et al. 2024, "Language models scale reliably with
over-training and on downstream tasks", arXiv:2403.08540; MIT licence). scalinglab never
downloads at run time; this is run by hand when the table must be rebuilt::

    git clone https://github.com/mlfoundations/scaling /tmp/scaling
    .venv/bin/python benchmarks/overtraining_table.py /tmp/scaling

The argument may also be a bare git directory (a mirror); files are then read with
``git show HEAD:<path>``. The output is one row per model (104), sorted by dataset, model and
token multiplier:

* ``dataset`` (``c4_original``, ``rpj``, ``rw_original``), ``model`` (the open_lm config name,
  e.g. ``d=512_l=8_h=4``, or ``open_lm_1b`` / ``open_lm_7b``), ``run_name`` (the JSON's name);
* ``n_params``: ``hyperparameters.params`` of the model JSON, *with* embeddings (the N the
  paper's notebook fits and reports: 10.6M ... 6.89B); ``n_params_no_embed``: the JSON's
  ``params_no_embed``;
* ``n_tokens``: ``hyperparameters.tokens`` (D); ``chinchilla_multiplier``: the JSON's value
  (1.0 means M = 20); ``tokens_per_param``: M = 20 x that multiplier, as in the paper;
  ``flops``: C = 6 N D (the paper's convention);
* ``loss_<split>``: the final loss on each of the 8 evaluation sets (nats/token), named as the
  notebook names them (``loss_c4_val`` is the paper's default, "C4 eval");
* ``err_avg46`` / ``err_avg17``: mean top-1 error over the paper's 46 downstream tasks and its
  17-task subset (the notebook's ``err_avg`` / ``err_avg_subset``), from ``exp_data/evals``.
  The task lists are ``FRIENDLY_CITATIONS`` and ``SUBSET`` of the repository's
  ``scaling/constants.py`` (restated below as data).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

MODEL_DIR = "exp_data/models"
EVAL_DIR = "exp_data/evals"
OUT = Path(__file__).resolve().parents[1] / "src" / "scalinglab" / "datasets" / "overtraining_gadre2024.csv"

# The eval sets, keyed by the path fragment of ``results[i].val_data[0]`` (the notebook's suffixes).
LOSS_SPLITS = ("openlm", "c4_val", "paloma_c4_en", "paloma_dolma_100_programing_languages",
               "paloma_falcon-refinedweb", "paloma_ptb", "paloma_redpajama", "val_de-en_100")

# The 46 downstream tasks of the paper (keys of FRIENDLY_CITATIONS in scaling/constants.py) and
# its 17-task subset (SUBSET there); data restated, not code.
TASKS_46 = (
    "agi_eval_lsat_ar", "agi_eval_lsat_rc", "agi_eval_lsat_lr", "agi_eval_sat_en", "arc_easy",
    "arc_challenge", "bbq", "bigbench_conceptual_combinations", "bigbench_conlang_translation",
    "bigbench_cs_algorithms", "bigbench_dyck_languages", "bigbench_elementary_math_qa",
    "bigbench_misconceptions", "bigbench_language_identification", "bigbench_logical_deduction",
    "bigbench_novel_concepts", "bigbench_operators", "bigbench_repeat_copy_logic",
    "bigbench_qa_wikidata", "bigbench_strange_stories", "bigbench_strategy_qa",
    "bigbench_understanding_fables", "boolq", "commonsense_qa", "copa", "coqa",
    "enterprise_pii_classification", "hellaswag", "hellaswag_zeroshot", "jeopardy", "lambada_openai",
    "logi_qa", "math_qa", "mmlu", "mmlu_zeroshot", "openbook_qa", "piqa", "pubmed_qa_labeled",
    "simple_arithmetic_nospaces", "simple_arithmetic_withspaces", "siqa", "squad",
    "winogender_mc_female", "winogender_mc_male", "winograd", "winogrande",
)
TASKS_17 = (
    "bigbench_operators", "pubmed_qa_labeled", "hellaswag_zeroshot", "boolq", "arc_easy", "coqa",
    "bigbench_dyck_languages", "lambada_openai", "bigbench_novel_concepts", "winograd",
    "bigbench_cs_algorithms", "commonsense_qa", "bigbench_qa_wikidata", "hellaswag", "copa", "squad",
    "piqa",
)
COLUMNS = (("dataset", "model", "run_name", "n_params", "n_params_no_embed", "n_tokens",
            "chinchilla_multiplier", "tokens_per_param", "flops")
           + tuple(f"loss_{s}" for s in LOSS_SPLITS) + ("err_avg46", "err_avg17"))


class Source:
    """Read files of the upstream repository from a work tree or a bare git directory."""

    def __init__(self, root: Path):
        self.root = root
        self.bare = not (root / MODEL_DIR).is_dir()
        if self.bare and not (root / "HEAD").exists():
            sys.exit(f"error: {root} is neither a clone of mlfoundations/scaling (no {MODEL_DIR}/) "
                     "nor a git directory; pass the clone's path")

    def commit(self) -> str:
        args = ["git", f"--git-dir={self.root}"] if self.bare else ["git", "-C", str(self.root)]
        return subprocess.run(args + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()

    def list(self, folder: str) -> list[str]:
        if not self.bare:
            return sorted(p.name for p in (self.root / folder).glob("*.json"))
        out = subprocess.run(["git", f"--git-dir={self.root}", "ls-tree", "--name-only", f"HEAD:{folder}"],
                             check=True, capture_output=True, text=True).stdout
        return sorted(x for x in out.split() if x.endswith(".json"))

    def json(self, path: str) -> dict:
        if not self.bare:
            return json.loads((self.root / path).read_text())
        return json.loads(subprocess.run(["git", f"--git-dir={self.root}", "show", f"HEAD:{path}"],
                                         check=True, capture_output=True, text=True).stdout)


def split_name(val_data: str) -> str:
    """The eval set of one result, as the notebook names it (``c4_val``, ``val_de-en_100``, ...)."""
    parts = val_data.split("/")
    if "de-en" in parts[-2]:
        return parts[-1].split(".")[0]
    return parts[-2]


def row(src: Source, fname: str) -> dict:
    d = src.json(f"{MODEL_DIR}/{fname}")
    hp = d["hyperparameters"]
    n, tokens, mult = int(hp["params"]), int(hp["tokens"]), float(hp["chinchilla_multiplier"])
    out = {"dataset": d["dataset_name"], "model": Path(hp["model"]).stem, "run_name": d["name"],
           "n_params": n, "n_params_no_embed": int(hp["params_no_embed"]), "n_tokens": tokens,
           "chinchilla_multiplier": mult, "tokens_per_param": 20.0 * mult, "flops": 6.0 * n * tokens}
    for r in d["results"]:
        out[f"loss_{split_name(r['val_data'][0])}"] = repr(float(r["loss"]))
    ev = src.json(f"{EVAL_DIR}/evaluation_{Path(fname).stem}_heavy.json")["eval_metrics"]["icl"]
    missing = [t for t in TASKS_46 if t not in ev]
    if missing:
        sys.exit(f"error: {fname}: downstream tasks missing from its eval JSON: {', '.join(missing)}")
    out["err_avg46"] = repr(sum(1.0 - ev[t] for t in TASKS_46) / len(TASKS_46))
    out["err_avg17"] = repr(sum(1.0 - ev[t] for t in TASKS_17) / len(TASKS_17))
    absent = [c for c in COLUMNS if c not in out]
    if absent:
        sys.exit(f"error: {fname}: no value for {', '.join(absent)}")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repo", type=Path, help="clone (or bare git directory) of mlfoundations/scaling")
    ap.add_argument("--out", type=Path, default=OUT, help=f"output CSV (default: {OUT})")
    args = ap.parse_args(argv)
    src = Source(args.repo)
    rows = sorted((row(src, f) for f in src.list(MODEL_DIR)),
                  key=lambda r: (r["dataset"], r["n_params"], r["chinchilla_multiplier"]))
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} models from mlfoundations/scaling@{src.commit()} -> {args.out}")


if __name__ == "__main__":
    main()
