"""The noisy shape-world pool: stated rates, labelled noise, deterministic shards, usable by name."""

from __future__ import annotations

import json
import tarfile
from collections import Counter

import numpy as np
import pytest

from scalinglab.datasets import list_datasets
from scalinglab.datasets.imagesets import KINDS, get_image_text
from scalinglab.datasets.imagetext import check_image_text, open_image_text
from scalinglab.datasets.pool import PoolConfig, build_pool, pool_samples
from scalinglab.datasets.shapeworld import COLOURS, WorldConfig
from scalinglab.errors import ConfigError, DataError, UnknownNameError

pytestmark = pytest.mark.requires("PIL", "webdataset")

CFG = PoolConfig(n_samples=400, seed=3)


@pytest.fixture(scope="module")
def samples():
    return pool_samples(CFG)


def test_each_noise_kind_is_planted_at_its_stated_rate(samples):
    counts = Counter(samples.kinds.tolist())
    want = CFG.counts()
    assert counts == want
    for k in KINDS[1:]:
        assert want[k] == round(getattr(CFG, k) * CFG.n_samples)
    assert want["clean"] == CFG.n_samples - sum(want[k] for k in KINDS[1:])


def test_every_sample_says_what_was_done_to_it(samples):
    world = CFG.world
    key_of = {k: i for i, k in enumerate(samples.keys)}
    for i, m in enumerate(samples.meta):
        cap, true, d = samples.captions[i], m["true_caption"], m["detail"]
        if m["kind"] in ("clean", "shifted", "exact_duplicate", "near_duplicate"):
            assert cap == true
        if m["kind"] == "misaligned":
            j = key_of[d["caption_of"]]
            assert j != i and cap == samples.meta[j]["true_caption"]
        elif m["kind"] == "partial":
            assert d["groups"] >= 2 and len(cap.split()) < len(true.split())
        elif m["kind"] == "wrong_attribute":
            assert d["from"] != d["to"] and cap != true
            assert d["to"] in cap.split() or d["to"] == "medium"     # "medium" is the size never said
        elif m["kind"] == "boilerplate":
            assert not set(cap.split()) & set(world.colours)
        elif m["kind"] in ("exact_duplicate", "near_duplicate"):
            j = key_of[d["duplicate_of"]]
            assert j < i and samples.meta[j]["kind"] == "clean" and samples.captions[j] == cap
            same = np.array_equal(samples.images[i], samples.images[j])
            assert same == (m["kind"] == "exact_duplicate")
            if m["kind"] == "near_duplicate":     # the same scene, fresh pixel noise: close, not equal
                assert np.abs(samples.images[i].astype(int) - samples.images[j]).mean() < 20
        elif m["kind"] == "shifted":
            unseen = {c for c, _ in COLOURS[world.n_colours:world.n_colours + CFG.shift_colours]}
            said = set(cap.split()) & {c for c, _ in COLOURS}
            assert said and said <= unseen


def test_a_pool_is_deterministic_and_a_changed_seed_or_rate_changes_its_hash(tmp_path):
    a = build_pool(CFG, "pool-a", root=tmp_path)
    b = build_pool(CFG, "pool-b", root=tmp_path)
    assert a.hash == b.hash
    assert [s["sha256"] for s in a.manifest["shards"]] == [s["sha256"] for s in b.manifest["shards"]]
    assert build_pool(PoolConfig(n_samples=400, seed=4), "pool-c", root=tmp_path).hash != a.hash
    assert build_pool(PoolConfig(n_samples=400, seed=3, misaligned=0.2), "pool-d", root=tmp_path).hash != a.hash
    m = a.manifest
    assert m["counts"] == CFG.counts() and m["seed"] == 3 and m["version"] >= 1
    assert m["config"] == CFG.to_dict() and PoolConfig.from_dict(m["config"]) == CFG


def test_shards_are_webdataset_records_with_the_labels(tmp_path):
    ds = build_pool(PoolConfig(n_samples=64, samples_per_shard=50), "pool", root=tmp_path)
    shards = sorted(ds.shard_dir.glob("*.tar"))
    assert [p.name for p in shards] == ["00000.tar", "00001.tar"]
    with tarfile.open(shards[0]) as tf:
        names = tf.getnames()
        assert names[:3] == ["00000000.png", "00000000.txt", "00000000.json"]
        meta = json.loads(tf.extractfile("00000000.json").read())
    assert meta["kind"] in KINDS and "true_caption" in meta
    back = ds.samples()
    fresh = pool_samples(PoolConfig(n_samples=64, samples_per_shard=50))
    assert back.keys == fresh.keys and back.captions == fresh.captions
    assert np.array_equal(back.images, fresh.images) and back.png == fresh.png


def test_a_pool_is_an_image_text_dataset_by_name(tmp_path):
    build_pool(PoolConfig(n_samples=64), "noisy", root=tmp_path)
    assert "noisy" in list_datasets(root=tmp_path, modality="image-text")
    assert "noisy" not in list_datasets(root=tmp_path, modality="text")
    check_image_text("noisy", root=tmp_path)
    data = open_image_text("noisy", image_size=32, context_length=30, vocab_size=47, root=tmp_path)
    assert len(data) + len(data.val_images) == 64 and len(data.vocab) <= 47
    # the decoded cache gives what decoding the shards gives; the identity is the dataset's, not its path
    from scalinglab.datasets.wds import load_shards

    direct = load_shards(tmp_path / "noisy" / "shards", image_size=32, context_length=30, max_words=43)
    assert np.array_equal(direct.images, data.images) and np.array_equal(direct.val_tokens, data.val_tokens)
    (tmp_path / "noisy").rename(tmp_path / "moved")
    again = open_image_text("moved", image_size=32, context_length=30, vocab_size=47, root=tmp_path)
    assert again.manifest_hash == data.manifest_hash
    with pytest.raises(UnknownNameError, match="unknown image-text dataset 'movd'.*moved"):
        get_image_text("movd", root=tmp_path)


def test_bad_pool_settings_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="misaligned must be a rate"):
        PoolConfig(misaligned=1.5)
    with pytest.raises(ConfigError, match="sum to 0.9"):
        PoolConfig(misaligned=0.4, partial=0.3, shifted=0.2, wrong_attribute=0.0, boilerplate=0.0,
                   exact_duplicate=0.0, near_duplicate=0.0)
    with pytest.raises(ConfigError, match="shift_colours must be in"):
        PoolConfig(world=WorldConfig(n_colours=10))
    with pytest.raises(ConfigError, match="unknown key 'misalinged'.*misaligned"):
        PoolConfig.from_dict({"misalinged": 0.1})
    build_pool(PoolConfig(n_samples=32), "taken", root=tmp_path)
    with pytest.raises(DataError, match="already exists.*overwrite=True"):
        build_pool(PoolConfig(n_samples=32), "taken", root=tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]     # nothing half-written
