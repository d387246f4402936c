"""Recipes on a real single-node Slurm (.ci/slurm-up.sh): the same recipe gives the same dataset on the
local executor and on Slurm job arrays; a stage that fails on the cluster is reported with its log
and leaves nothing written."""

from __future__ import annotations

import json
import random
import subprocess

import pytest

pytest.importorskip("datatrove")

from scalinglab.datasets import get_dataset, list_datasets, register_dataset, run_recipe  # noqa: E402
from scalinglab.errors import DataError, UnknownNameError  # noqa: E402

pytestmark = [pytest.mark.slurm, pytest.mark.requires("slurm")]


def _register(tmp_path, name, texts):
    (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return register_dataset(name, str(tmp_path / f"{name}.jsonl"))


@pytest.fixture
def pools(tmp_path):
    rng = random.Random(3)
    vocab = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 8))) for _ in range(400)]
    for name in ("a", "b"):
        docs = [" ".join(rng.choice(vocab) for _ in range(rng.randint(10, 120))) + "." for _ in range(50)]
        docs += [d + " tail" for d in docs[:6]]              # near duplicates for MinHash
        _register(tmp_path, name, docs)
    return tmp_path


def test_the_same_recipe_gives_the_same_dataset_on_slurm_as_locally(pools):
    # 2 MinHash bands (not 14) keep the job arrays short; the planted copies have Jaccard > 0.9
    steps = [{"length": {"min_words": 30}}, {"minhash_dedup": {"num_buckets": 2}}]
    local = run_recipe({"name": "here", "inputs": ["a", "b"], "steps": steps, "executor": {"tasks": 2}})
    said = []
    slurm = run_recipe({"name": "there", "inputs": ["a", "b"], "steps": steps,
                        "executor": {"kind": "slurm", "tasks": 2, "workers": 2, "time": "00:10:00", "poll_s": 0.5}},
                       progress=said.append)
    assert slurm.manifest.recipe == {**local.manifest.recipe, "name": "there"}
    assert [s.path for s in slurm.manifest.shards] == [s.path for s in local.manifest.shards]
    assert [s.sha256 for s in slurm.manifest.shards] == [s.sha256 for s in local.manifest.shards]   # byte-identical shards
    assert slurm.audit.to_dict()["steps"] == local.audit.to_dict()["steps"]
    assert slurm.audit.steps[1].docs_removed > 0                         # the near duplicates went
    assert any("submitted to Slurm as job arrays" in m for m in said)
    assert any("minhash-cluster-01 done" in m for m in said)


def test_a_stage_that_fails_on_the_cluster_names_it_quotes_its_log_and_writes_nothing(pools):
    recipe = {"name": "broken", "inputs": ["a"], "steps": [{"length": {"min_words": 30}}],
              "executor": {"kind": "slurm", "time": "00:05:00", "poll_s": 0.5,
                           "env_command": "echo 'no such environment on this node' >&2; exit 3"}}
    with pytest.raises(DataError) as e:
        run_recipe(recipe)
    msg = str(e.value)
    assert "Slurm stage 'output'" in msg and "a task ended FAILED" in msg and "0 of 1 task(s) completed" in msg
    assert "no such environment on this node" in msg and "Nothing was written" in msg
    assert "broken" not in list_datasets()
    with pytest.raises(UnknownNameError):
        get_dataset("broken")
    jobs = subprocess.run(["squeue", "-h", "-n", "broken-output"], capture_output=True, text=True).stdout
    assert jobs.strip() == ""                                           # nothing left queued or running
