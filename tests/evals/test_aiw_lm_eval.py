"""The exported task pack loads in lm-evaluation-harness and scores every repeat.

Runs lm-eval's own command line (``python -m lm_eval run``) on the tiny local model, and its
``local-completions`` API model against the real ``transformers serve`` server, where lm-eval's
constant request seed makes all repeats identical (``distinct_frac`` = 1/repeats).
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

from scalinglab.evals import export_lm_eval, score

pytestmark = pytest.mark.requires("lm_eval")

REPEATS = 3


def _lm_eval(args, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "lm_eval", "run", *args, "--output_path",
                          str(tmp_path / "out"), "--log_samples"],
                         capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (res,) = glob.glob(str(tmp_path / "out" / "*" / "results_*.json"))
    samples = {os.path.basename(p).split("_20")[0].removeprefix("samples_"): [json.loads(x) for x in open(p)]
               for p in glob.glob(str(tmp_path / "out" / "*" / "samples_*.jsonl"))}
    return json.load(open(res))["results"], samples


def _pack(tmp_path):
    pack = tmp_path / "pack"
    names = export_lm_eval(pack, families=["aiw"], variations=["1"], prompt_types=["standard", "completion"],
                           repeats=REPEATS, max_gen_toks=12)
    assert names == ["aiw_1_standard", "aiw_1_completion"]
    return pack


@pytest.mark.slow
def test_pack_scores_every_repeat_with_the_hf_model(tiny_model_dir, tmp_path):
    pack = _pack(tmp_path)
    results, samples = _lm_eval(["--model", "hf", "--model_args", f"pretrained={tiny_model_dir}",
                                 "--device", "cpu", "--include_path", str(pack),
                                 "--tasks", "aiw_1_standard", "aiw_1_completion"], tmp_path)
    for task in ("aiw_1_standard", "aiw_1_completion"):
        r = results[task]
        assert r["n_trials,all_repeats"] == REPEATS  # not 1: every repeat was scored
        assert r["acc,all_repeats"] == pytest.approx(r["n_correct,all_repeats"] / REPEATS)
        (doc,) = samples[task]
        assert len(doc["filtered_resps"][0]) == REPEATS
        # the pack's score is scalinglab's score of each stored repeat
        k = sum(score(t, doc["doc"]["right_answer"], mode=doc["doc"]["extract_mode"],
                      style=doc["doc"]["style"]).correct for t in doc["filtered_resps"][0])
        assert k == r["n_correct,all_repeats"]
        assert r["distinct_frac,all_repeats"] == pytest.approx(1.0)  # hf sampling: distinct repeats


@pytest.mark.slow
@pytest.mark.server
@pytest.mark.requires("tenacity")
def test_api_model_repeats_are_identical_on_a_seed_honouring_server(aiw_server, tmp_path):
    aiw_server.ensure_up()
    pack = tmp_path / "pack"
    export_lm_eval(pack, families=["aiw"], variations=["1"], prompt_types=["completion"],
                   repeats=REPEATS, max_gen_toks=12)
    results, _ = _lm_eval(["--model", "local-completions", "--model_args",
                           f"model={aiw_server.model},base_url={aiw_server.base_url}/completions,"
                           "tokenizer_backend=None,tokenized_requests=False,num_concurrent=1",
                           "--include_path", str(pack), "--tasks", "aiw_1_completion"], tmp_path)
    r = results["aiw_1_completion"]
    assert r["n_trials,all_repeats"] == REPEATS
    # lm-eval sends seed=1234 with every request: the server returns the same text each time
    assert r["distinct_frac,all_repeats"] == pytest.approx(1 / REPEATS)
