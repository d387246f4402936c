"""Image-text datasets by name: the shape worlds are datasets that list, plan and train alike."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from scalinglab.datasets import (
    get_dataset,
    get_world,
    list_datasets,
    list_worlds,
    register_world,
)
from scalinglab.datasets.imagetext import check_image_text, open_image_text
from scalinglab.datasets.shapeworld import WorldConfig, manifest_hash
from scalinglab.errors import ConfigError, DataError, UnknownNameError


def test_the_shape_worlds_are_listed_as_image_text_datasets():
    every = list_datasets()
    assert {"shapeworld", "shapeworld-partial", "stdlib"} <= set(every)
    assert set(list_datasets(modality="image-text")) == {"shapeworld", "shapeworld-partial"}
    assert "shapeworld" not in list_datasets(modality="text") and "stdlib" in list_datasets(modality="text")
    with pytest.raises(ConfigError, match="modality"):
        list_datasets(modality="images")


def test_a_world_name_fixes_the_settings_and_the_data_hash():
    base, partial = get_world("shapeworld"), get_world("shapeworld-partial")
    assert base.config == WorldConfig() and partial.config.omit_colour == 0.4
    assert base.hash == manifest_hash(WorldConfig()) and base.hash != partial.hash
    assert open_image_text("shapeworld-partial", image_size=32) == partial.config


def test_a_registered_world_is_seen_by_another_process(tmp_path):
    world = WorldConfig(n_shapes=4, n_colours=4, max_objects=2)
    entry = register_world("tiny-world", world, description="four shapes, four colours")
    assert "tiny-world" in list_worlds() and "tiny-world" in list_datasets(modality="image-text")
    assert get_world("tiny-world").config == world and entry.hash == manifest_hash(world)
    # a worker process (local pool, Slurm job, Ray task) finds it through the shared data folder
    code = ("from scalinglab.datasets import get_world\n"
            "print(get_world('tiny-world').config.n_shapes, get_world('tiny-world').hash)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout.split()
    assert out == ["4", entry.hash]
    with pytest.raises(DataError, match="overwrite=True"):
        register_world("tiny-world", world)
    register_world("tiny-world", WorldConfig(n_shapes=3), overwrite=True)
    assert get_world("tiny-world").config.n_shapes == 3


def test_registration_refuses_taken_and_bad_names():
    with pytest.raises(ConfigError, match="built-in"):
        register_world("shapeworld", WorldConfig())
    with pytest.raises(ConfigError, match="built-in"):
        register_world("stdlib", WorldConfig())
    with pytest.raises(ConfigError, match="lowercase"):
        register_world("My World", WorldConfig())
    with pytest.raises(ConfigError, match="WorldConfig"):
        register_world("w", {"n_shapes": 4})


def test_a_damaged_registration_names_its_file_and_the_fix(tmp_path):
    register_world("w", WorldConfig())
    path = tmp_path / "datasets" / "w" / "world.json"
    path.write_text(json.dumps({"world": {"n_shapez": 3}}))
    with pytest.raises(DataError, match=r"world\.json.*register the world again"):
        get_world("w")


def test_text_and_image_text_names_are_not_mixed_up(tmp_path):
    with pytest.raises(ConfigError, match="image-text dataset.*clip, coca, mammut"):
        get_dataset("shapeworld")
    with pytest.raises(ConfigError, match="'stdlib' is a text dataset"):
        check_image_text("stdlib")
    with pytest.raises(UnknownNameError, match="Did you mean: shapeworld"):
        check_image_text("shapewrld")


def _tar(path, members):
    with tarfile.open(path, "w") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def test_shard_paths_are_checked_before_anything_trains(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        check_image_text(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no \.tar shards"):
        check_image_text(str(tmp_path / "empty"))
    _tar(tmp_path / "empty" / "a.tar", [("k.txt", b"a red circle")])
    check_image_text(str(tmp_path / "empty"))
    check_image_text(str(tmp_path / "empty" / "a.tar"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "b.tar").write_bytes(b"this is not a tar file" * 40)
    with pytest.raises(DataError, match=r"b\.tar.*not a readable tar file.*re-create the shard"):
        check_image_text(str(tmp_path / "broken"))


def test_the_world_must_match_the_model_image_size():
    with pytest.raises(ConfigError, match="renders 32x32 images but the model takes 64x64"):
        open_image_text("shapeworld", image_size=64)
