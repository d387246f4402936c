"""DataComp's baselines as image-text recipe steps: exact rules, audited precision/recall, strict YAML."""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab.datasets import load_recipe, run_recipe
from scalinglab.datasets.imagefilters import basic_filter, clip_score_filter, concept_filter, image_dedup
from scalinglab.datasets.imagesets import get_image_text
from scalinglab.datasets.pool import PoolConfig, build_pool
from scalinglab.datasets.shapeworld import WorldConfig, get_batch
from scalinglab.errors import ConfigError, DataError

pytestmark = pytest.mark.requires("PIL", "webdataset")

COLOURS = ["red", "blue", "green", "yellow", "white", "cyan", "magenta", "orange"]


def test_basic_filter_removes_exactly_what_its_rules_say():
    caps = ["a red circle", "an image", "img_0423.jpg", "a photo of 3 dogs", "click to enlarge",
            "Click  To Enlarge", "a b", "x y z", "view larger image", "a red circle " + "and a blue square " * 10]
    got = basic_filter(caps, min_words=3, max_words=40, min_chars=6)
    assert got.tolist() == ["", "too_few_words", "too_few_words", "filename", "stock_phrase", "stock_phrase",
                            "too_few_words", "too_short", "", "too_many_words"]
    assert basic_filter(["a photo of 3 dogs"], filenames=False).tolist() == [""]


def test_concept_filter_keeps_captions_that_name_a_concept():
    caps = ["a red circle", "two pink squares", "image", "a dark red thing", "reddish"]
    assert concept_filter(caps, concepts=("red",)).tolist() == ["", "no_target_concept", "no_target_concept",
                                                               "", "no_target_concept"]
    assert concept_filter(caps, concepts=("dark red",)).tolist() == ["no_target_concept"] * 3 + ["", "no_target_concept"]


def test_clip_score_filter_keeps_the_top_fraction_and_ties():
    s = np.array([0.1, 0.9, 0.5, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6])
    reasons, thr = clip_score_filter(s, keep_fraction=0.3)
    assert thr == 0.7 and np.flatnonzero(reasons == "").tolist() == [1, 5, 7]
    reasons, thr = clip_score_filter(s, keep_fraction=0.5)          # 5th best is 0.5, tied with the 6th: both kept
    assert thr == 0.5 and (reasons == "").sum() == 6
    reasons, thr = clip_score_filter(s, threshold=0.65)
    assert thr == 0.65 and (reasons == "").sum() == 3


def test_image_dedup_finds_copies_and_re_renders_not_other_scenes_with_the_same_caption():
    w = WorldConfig()
    b = get_batch(w, step=0, seed=0, batch_size=4).images
    again = b.copy()
    noise = np.random.default_rng(1).normal(0, 12, size=b.shape)      # the world's pixel noise, fresh
    near = np.clip(b + noise, 0, 255).astype(np.uint8)
    images = np.concatenate([b, again[:1], near[1:2], b[2:3], b[3:4]])
    caps = ["a", "b", "c", "d", "a", "b", "x", "c"]      # 6: same pixels, another caption; 7: another scene, caption c
    assert image_dedup(images, caps).tolist() == ["", "", "", "", "exact_duplicate", "near_duplicate", "", ""]
    assert image_dedup(images, caps, near=False).tolist() == ["", "", "", "", "exact_duplicate", "", "", ""]


@pytest.fixture(scope="module")
def pool_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    build_pool(PoolConfig(n_samples=600, seed=1), "pool", root=root)
    return root


def _recipe(steps, name="filtered", **more):
    return {"name": name, "inputs": ["pool"], "steps": steps, **more}


def test_each_rule_is_audited_against_the_planted_noise_with_stated_thresholds(pool_root):
    steps = [{"basic_filter": {}}, {"image_dedup": {}}, {"concept_filter": {"concepts": COLOURS}}]
    ds = run_recipe(_recipe(steps), root=pool_root)
    a = ds.audit
    info = {s.kind: s.info for s in a.steps}
    # basic filtering catches boilerplate only (clean captions have >= 3 words and no digits); two of
    # the ten templates are three plain words that no rule names, so recall is about 0.8
    assert info["basic_filter"]["precision"] == 1.0 and info["basic_filter"]["recall"] >= 0.7
    # duplicates: first occurrences kept; the threshold stated in imagefilters (pooled cells, tol 40, 2%)
    assert info["image_dedup"]["precision"] >= 0.95 and info["image_dedup"]["recall"] >= 0.95
    # concept matching removes every shifted caption (unseen colours) and the boilerplate that survived
    assert info["concept_filter"]["recall"] == 1.0 and info["concept_filter"]["precision"] >= 0.8
    assert info["concept_filter"]["removed_share_by_kind"]["clean"] == 0.0
    s0 = a.steps[0]
    assert s0.docs_in == 600 and s0.docs_removed == sum(s0.reasons.values())
    assert sum(v["documents"] for v in s0.removed_by_source.values()) == s0.docs_removed
    assert all(e["reason"] and e["source"] for e in s0.examples)
    assert ds.n_samples == a.docs_out and ds.counts["shifted"] == 0
    text = a.as_text()
    assert "precision 1.00" in text and "targets exact_duplicate, near_duplicate" in text
    assert "precision" in a._repr_html_()


def test_an_image_text_recipe_is_deterministic_and_usable_by_name(pool_root):
    steps = [{"image_dedup": {}}]
    a = run_recipe(_recipe(steps, name="dedup-a"), root=pool_root)
    b = run_recipe(_recipe(steps, name="dedup-b"), root=pool_root)
    assert a.hash == b.hash and a.manifest["inputs"] == [{"name": "pool", "hash": get_image_text("pool", root=pool_root).hash}]
    kept = a.samples()
    src = get_image_text("pool", root=pool_root).samples()
    idx = [src.keys.index(k) for k in kept.keys]
    assert [src.png[i] for i in idx] == kept.png          # kept samples are byte-identical
    assert a.world == WorldConfig()


def test_image_text_recipes_are_strict(pool_root, tmp_path):
    with pytest.raises(ConfigError, match=r"steps\[0\]: unknown step 'clip_scor'.*clip_score"):
        load_recipe(_recipe([{"clip_scor": {}}]), root=pool_root)
    with pytest.raises(ConfigError, match="unknown option 'keep_frac'.*keep_fraction"):
        load_recipe(_recipe([{"clip_score": {"keep_frac": 0.3}}]), root=pool_root)
    with pytest.raises(ConfigError, match="keep_fraction must be in"):
        load_recipe(_recipe([{"clip_score": {"keep_fraction": 1.5}}]), root=pool_root)
    with pytest.raises(ConfigError, match="step 'concept_filter' needs option"):
        load_recipe(_recipe([{"concept_filter": {}}]), root=pool_root)
    with pytest.raises(ConfigError, match="'minhash_dedup' is a text step"):
        load_recipe(_recipe([{"minhash_dedup": {}}]), root=pool_root)
    with pytest.raises(ConfigError, match="'mix' is for text recipes"):
        load_recipe(_recipe([{"image_dedup": {}}], mix={"pool": 1.0}), root=pool_root)
    with pytest.raises(ConfigError, match="image-text recipes run on this machine"):
        load_recipe({**_recipe([{"image_dedup": {}}]), "executor": {"kind": "slurm"}}, root=pool_root)
    with pytest.raises(ConfigError, match="'shapeworld' is a shape world"):
        load_recipe({"name": "x", "inputs": ["shapeworld"], "steps": [{"image_dedup": {}}]}, root=pool_root)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("some text")
    from scalinglab.datasets import register_dataset

    register_dataset("words", str(tmp_path / "docs"), root=pool_root)
    with pytest.raises(ConfigError, match="'image_dedup' is an image-text step, but the inputs are text"):
        load_recipe({"name": "x", "inputs": ["words"], "steps": [{"image_dedup": {}}]}, root=pool_root)
    with pytest.raises(ConfigError, match="mix image-text"):
        load_recipe({"name": "x", "inputs": ["words", "pool"], "steps": []}, root=pool_root)
    # an empty result names the step; nothing is written under the name
    with pytest.raises(DataError, match=r"step 0 \(concept_filter\) removed every remaining sample"):
        run_recipe(_recipe([{"concept_filter": {"concepts": ["chartreuse"]}}], name="empty"), root=pool_root)
    assert not (pool_root / "empty").exists()
    assert not [p for p in pool_root.iterdir() if p.name.startswith(".tmp")]


@pytest.mark.requires("torch")
def test_clip_score_step_trains_its_reference_once_and_keeps_the_top_fraction(pool_root):
    opts = {"keep_fraction": 0.3, "reference_rung": "clip-tiny-1", "reference_samples": 1024}
    ds = run_recipe(_recipe([{"clip_score": opts}], name="clip-a"), root=pool_root)
    step = ds.audit.steps[0]
    assert step.docs_out == 180 and set(step.reasons) == {"clip_score_below_threshold"}
    ref = step.info["reference"]
    assert ref["rung"] == "clip-tiny-1" and ref["n_samples"] == 1024 and 0 <= ref["zeroshot_error"] <= 1
    means = step.info["mean_score_by_kind"]
    assert means["clean"] > means["misaligned"]          # even a tiny reference CLIP tells these apart
    cached = list((pool_root / ".models").iterdir())
    again = run_recipe(_recipe([{"clip_score": opts}], name="clip-b"), root=pool_root)
    assert list((pool_root / ".models").iterdir()) == cached and again.hash == ds.hash


@pytest.mark.requires("typer")
def test_an_image_text_recipe_builds_from_the_command_line(tmp_path, capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
    from _cli import assert_one_line_error, run_cli

    build_pool(PoolConfig(n_samples=200), "pool")                 # into the test's data folder
    good = tmp_path / "dedup.yaml"
    good.write_text("name: pool-dedup\ninputs: [pool]\nsteps:\n  - basic_filter: {}\n  - image_dedup: {}\n")
    code, out, err = run_cli(capsys, "datasets", "build", good, "-q")
    assert code == 0, err
    assert "targets boilerplate: precision 1.00" in out and "pool-dedup" in out and "image-text samples" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: pool-x\ninputs: [pool]\nsteps:\n  - image_dedupe: {}\n")
    code, _, err = run_cli(capsys, "datasets", "build", bad, "-q")
    assert_one_line_error(code, err, "unknown step 'image_dedupe'")
    assert "bad.yaml" in err and "image_dedup" in err
