"""The image-text ladders: each YAML builds its procedure's configs with the stated parameter counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from scalinglab.config import load_mapping
from scalinglab.datasets import shapeworld as sw
from scalinglab.procedures.clip import CLIPConfig
from scalinglab.procedures.coca import CoCaConfig
from scalinglab.procedures.mammut import MaMMUTConfig

LADDERS = Path(__file__).resolve().parents[2] / "src" / "scalinglab" / "ladders"
CASES = [("clip-tiny", "clip", CLIPConfig), ("coca-tiny", "coca", CoCaConfig),
         ("mammut-tiny", "mammut", MaMMUTConfig)]


@pytest.mark.parametrize(("name", "procedure", "C"), CASES)
def test_ladder_builds_its_configs_with_the_stated_counts(name, procedure, C):
    data = load_mapping(LADDERS / f"{name}.yaml")
    assert data["name"] == name and data["procedure"] == procedure == C.PROCEDURE
    world = sw.WorldConfig()
    sizes = []
    for rung, keys in data["rungs"].items():
        keys = dict(keys)
        stated = keys.pop("n_params")
        cfg = C.from_dict({**data["shared"], **keys})
        assert cfg.n_params("non_embedding") == stated, rung
        assert cfg.context_length >= world.context_length
        assert cfg.vocab_size >= len(sw.Vocabulary.from_world(world))
        assert cfg.image_size == world.image_size
        sizes.append(cfg.n_params("total"))
    assert 5 <= len(sizes) <= 7
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert 5e3 <= sizes[0] <= 2e4 and 5e5 <= sizes[-1] <= 1.5e6          # ~10k to ~1M
    assert data["train"] == {"batch_size": 64, "dataset": "shapeworld", "beta2": 0.98}


def test_the_ladder_loader_builds_them_through_the_registry():
    from scalinglab.ladders import get_ladder
    from scalinglab.procedures import get_procedure

    for name, procedure, C in CASES:
        lad = get_ladder(name)
        assert lad.procedure == procedure and lad.train.batch_size == 64
        assert all(isinstance(r.model, C) for r in lad) and len(list(lad)) == 6
        p = get_procedure(procedure)
        assert p.unit == "samples" and p.metrics[0] == "zeroshot_error"
        assert p.param_conventions[0] == "non_embedding"      # what the YAML's n_params states
        assert p.trainer == "scalinglab.train.imagetext:run"


def test_world_configs_and_metrics_import_no_torch():
    """The world, the procedure configs and the metrics are torch-free (planning never loads torch)."""
    import subprocess
    import sys

    code = ("import sys\nimport scalinglab.datasets.shapeworld, scalinglab.procedures.clip, "
            "scalinglab.procedures.coca, scalinglab.procedures.mammut, scalinglab.evals.zeroshot, "
            "scalinglab.datasets.wds\nprint('torch' in sys.modules, 'webdataset' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
