"""``scalinglab demo datasets``: dataset builds, sweep, store, analysis, report and summary, end to end.

The real pipeline on a scaled-down sweep: the demo's recipes on a 400 kB pool (datatrove filters
and dedup), two gpt-tiny rungs x three tiny budgets on each of the three datasets (18 runs, the
inline backend), every run scored on its own split and on the standard library's, a law per
dataset, the report. The statistics of the comparison itself are tested on runs from known laws
in ``tests/report/test_report_datasets.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.requires("typer", "matplotlib", "torch")
pytest.importorskip("datatrove")

sys.path.insert(0, str(Path(__file__).resolve().parent / "cli"))
from _cli import assert_one_line_error, run_cli  # noqa: E402

DATASETS = ("datasets-demo-raw", "datasets-demo-filtered", "datasets-demo-clean")
TINY = """\
name: datasets-tiny
description: two rungs x three tiny budgets on the demo's three datasets (test of the pipeline)
ladder: gpt-tiny
rungs: [gpt-tiny-1, gpt-tiny-2]
n_tokens: [16384, 32768, 65536]
dataset: [datasets-demo-raw, datasets-demo-filtered, datasets-demo-clean]
lr: [6.0e-3]
seeds: [0]
schedule: {kind: cosine}
eval: {eval_tokens: 4096, common_dataset: stdlib}
variant: datasets-tiny
"""


@pytest.fixture(autouse=True)
def _private_caches(tmp_path, monkeypatch):
    """Datasets and tokenised corpora are built under the test's folder, never in the home."""
    monkeypatch.setenv("SCALINGLAB_DATA_DIR", str(tmp_path / "datasets"))
    monkeypatch.setenv("SCALINGLAB_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.slow
def test_the_datasets_demo_builds_trains_compares_and_reports(tmp_path, capsys):
    from scalinglab.datasets import get_dataset
    from scalinglab.store.store import ResultsStore

    sweep = tmp_path / "tiny.yaml"
    sweep.write_text(TINY)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(capsys, "demo", "datasets", "--sweep", sweep, "--out", out, "--backend",
                                   "inline", "--n-boot", "20", "--pool-tokens", "400000", "-q")
    assert code == 0, stderr[-3000:]
    assert "sweep 'datasets-tiny' on inline: 18 runs: 18 trained" in stdout
    assert "datasets-demo-clean (built)" in stdout and "planted in datasets-demo-raw" in stdout
    assert "common held-out set: the validation split of stdlib (val_loss_common)" in stdout
    assert f"report:  {out / 'report.html'}" in stdout
    # every run is scored on its own split and on the common one, and records its dataset's hash
    with ResultsStore(out / "store", readonly=True) as st:
        recs = st.records(status="done")
        assert len(recs) == 18 and {r.spec.dataset for r in recs} == set(DATASETS)
        for r in recs:
            assert set(r.metrics) >= {"val_loss", "val_loss_common"} and r.dataset_hash
            assert r.dataset_hash == get_dataset(r.spec.dataset, build=False).hash
    # each recipe step removed something real, and the audit chain reaches the filters
    analysis = json.loads((out / "analysis.json").read_text())
    chain = {a["name"]: a for a in analysis["audits"]["datasets-demo-clean"]}
    assert set(chain) == {"datasets-demo-clean", "datasets-demo-filtered"}
    removed = {s["kind"]: s["docs_in"] - s["docs_out"] for a in chain.values() for s in a["steps"]}
    assert removed["gopher_repetition"] + removed["fineweb_quality"] > 0
    assert removed["exact_dedup"] + removed["minhash_dedup"] >= 1      # the planted duplicates
    assert [h["metric"] for h in analysis["held_out"]] == ["val_loss", "val_loss_common"]
    assert len(analysis["held_out"][1]["comparisons"]) == 3             # every pair
    html = (out / "report.html").read_text()
    for d in DATASETS:
        assert f"Dataset {d}" in html, d
    assert "Recipe audit of datasets-demo-filtered" in html and "minhash_dedup" in html
    assert "easier to predict is not a better dataset" in html
    assert "tokens of datasets-demo-clean per token of datasets-demo-raw" in html
    assert (out / "summary.txt").exists() and list((out / "fits").glob("*_common.json"))

    # a second run reuses the datasets and every finished run
    code, stdout, _ = run_cli(capsys, "demo", "datasets", "--sweep", sweep, "--out", out, "--backend", "inline",
                              "--n-boot", "10", "--pool-tokens", "400000", "-q")
    assert code == 0 and "18 already in the store" in stdout and "datasets-demo-raw (reused)" in stdout


@pytest.mark.parametrize("datasets, needle", [
    ("stdlib", "names one dataset"),
    ("[stdlib, stdlib]", "duplicates"),
])
def test_a_sweep_without_two_datasets_is_a_one_line_error(tmp_path, capsys, datasets, needle):
    sweep = tmp_path / "one.yaml"
    sweep.write_text(TINY.replace("[datasets-demo-raw, datasets-demo-filtered, datasets-demo-clean]", datasets))
    code, _, err = run_cli(capsys, "demo", "datasets", "--sweep", sweep, "--out", tmp_path / "o", "-q")
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "o").exists()          # nothing trained, nothing written


def test_datasets_options_belong_to_the_datasets_demo(tmp_path, capsys):
    code, _, err = run_cli(capsys, "demo", "--pool-tokens", "1000", "--out", tmp_path / "o")
    assert_one_line_error(code, err, "--pool-tokens")
    code, _, err = run_cli(capsys, "demo", "datasets", "--full", "--out", tmp_path / "o")
    assert_one_line_error(code, err, "one preset")
    code, _, err = run_cli(capsys, "demo", "dataset", "--out", tmp_path / "o")
    assert_one_line_error(code, err, "Did you mean: datasets")


def test_a_common_held_out_set_is_named_in_extra_and_leaves_other_run_ids_alone(tmp_path):
    import yaml

    from scalinglab.errors import ConfigError, UnknownNameError
    from scalinglab.sweep import plan_sweep

    base = yaml.safe_load(TINY)
    base["dataset"] = ["stdlib", "debian-text"]
    with_common = plan_sweep(base, check_data=False)
    assert {s.extra.get("eval_common") for s in with_common.specs} == {"stdlib"}
    without = plan_sweep({**base, "eval": {"eval_tokens": 4096}}, check_data=False)
    assert all("eval_common" not in s.extra for s in without.specs)
    assert not set(with_common.run_ids) & set(without.run_ids)      # a different evaluation, a different run
    # the ci preset, which names no common set, plans the ids it always planned (no new key hashed)
    assert all("eval_common" not in s.extra for s in plan_sweep("ci", check_data=False).specs)
    with pytest.raises(UnknownNameError, match="unknown dataset 'stdlb'"):
        plan_sweep({**base, "eval": {"eval_tokens": 4096, "common_dataset": "stdlb"}})
    # image-text procedures take a shape world as their common held-out set (its fixed test split)
    clip = {"ladder": "clip-tiny", "rungs": ["clip-tiny-1"], "n_samples": [128], "lr": [1e-3],
            "dataset": "shapeworld", "eval": {"eval_samples": 64, "common_dataset": "stdlib"}}
    with pytest.raises(ConfigError, match="'stdlib' is a text dataset"):
        plan_sweep(clip)
    ok = plan_sweep({**clip, "eval": {"eval_samples": 64, "common_dataset": "shapeworld-partial"}})
    assert {s.extra.get("eval_common") for s in ok.specs} == {"shapeworld-partial"}


TINY_CLIP = """\
name: datasets-tiny-clip
description: two clip rungs x three tiny budgets on the noisy pool and its CLIP-score-filtered subset
ladder: clip-tiny
rungs: [clip-tiny-1, clip-tiny-2]
n_samples: [256, 512, 1024]
lr: [3.0e-3]
dataset: [datasets-demo-pool, datasets-demo-pool-clipscore]
metric: val_contrastive_loss
seeds: [0]
schedule: {kind: cosine}
eval: {eval_samples: 64, common_dataset: shapeworld}
extra: {eval_pairs: 64, eval_per_class: 1, eval_loglik_per_class: 0}
variant: datasets-tiny
"""


@pytest.mark.slow
@pytest.mark.requires("PIL", "webdataset")
def test_the_image_text_half_filters_a_noisy_pool_trains_clip_on_both_and_compares(tmp_path):
    from scalinglab.datasets.imagesets import get_image_text
    from scalinglab.demo.datasets import run_datasets_demo
    from scalinglab.store.store import ResultsStore

    sweep = tmp_path / "clip.yaml"
    sweep.write_text(TINY_CLIP)
    out = tmp_path / "out"
    r = run_datasets_demo(out, text=False, image_sweep=sweep, backend="inline", pool_samples=512, n_boot=10,
                          recipe_options={"clip_score": {"reference_rung": "clip-tiny-1", "reference_samples": 512}})
    assert r.built == {"datasets-demo-pool": "built", "datasets-demo-pool-clipscore": "built",
                       "datasets-demo-pool-baselines": "built"}
    pool, sub = get_image_text("datasets-demo-pool"), get_image_text("datasets-demo-pool-clipscore")
    assert pool.n_samples == 512 and sub.n_samples == 154                # ceil(30%)
    with ResultsStore(out / "store", readonly=True) as st:
        recs = st.records(status="done")
    assert len(recs) == 12
    for rec in recs:       # each run: its own split and the clean world's test split, named apart
        assert {"val_contrastive_loss", "val_contrastive_loss_common", "zeroshot_error_common"} <= set(rec.metrics)
        assert rec.spec.extra["eval_common"] == "shapeworld"
        assert rec.dataset_hash                                       # the data it trained on
    a = r.analysis
    assert a.datasets == ("datasets-demo-pool", "datasets-demo-pool-clipscore")
    assert [h.metric for h in a.held_out] == ["val_contrastive_loss", "val_contrastive_loss_common"]
    assert "fixed test split of the clean world 'shapeworld'" in a.held_out[1].description
    assert a.options["unit"] == "samples"
    chain = dict(a.audits["datasets-demo-pool"])
    assert [s.kind for s in chain["datasets-demo-pool-baselines"].steps] == [
        "basic_filter", "image_dedup", "concept_filter", "clip_score"]
    assert [s.kind for s in dict(a.audits["datasets-demo-pool-clipscore"])["datasets-demo-pool-clipscore"].steps] == [
        "clip_score"]
    html = r.report_path.read_text()
    assert "Recipe audit of datasets-demo-pool-baselines (a recipe on datasets-demo-pool)" in html
    assert "precision" in html and "val_contrastive_loss_common" in html
    again = run_datasets_demo(out, text=False, image_sweep=sweep, backend="inline", pool_samples=512, n_boot=10,
                              recipe_options={"clip_score": {"reference_rung": "clip-tiny-1",
                                                             "reference_samples": 512}})
    assert set(again.built.values()) == {"reused"}
