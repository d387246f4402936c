"""Ladders are data: loading, lookup errors, stated parameter counts vs the procedure and the model."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scalinglab.errors import ConfigError, UnknownNameError
from scalinglab.ladders import add_ladder_path, get_ladder, get_rung, list_ladders
from scalinglab.procedures import GPTConfig


def test_shipped_ladders_are_listed_and_ordered():
    assert {"gpt-tiny", "gpt-small"} <= set(list_ladders())
    tiny = get_ladder("gpt-tiny")
    assert tiny.names == [f"gpt-tiny-{i}" for i in range(1, len(tiny) + 1)]
    sizes = [r.n_params for r in tiny]
    assert sizes == sorted(sizes)
    assert 20_000 <= sizes[0] <= 30_000 and 700_000 <= sizes[-1] <= 900_000   # ~25k .. ~800k
    small = get_ladder("gpt-small")
    assert min(r.n_params for r in small) > max(sizes)                          # larger for --full


def test_ladders_are_frozen_and_name_their_procedure():
    import dataclasses

    a = get_ladder("gpt-tiny")
    assert a.procedure == "gpt" and isinstance(a["gpt-tiny-1"].model, GPTConfig)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.rungs[0].model.d_model = 999
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.train.batch_size = -1
    with pytest.raises(AttributeError):
        a.rungs.append(a.rungs[0])
    assert get_ladder("gpt-tiny")["gpt-tiny-1"].model.d_model == 32


def test_unknown_names_suggest_close_ones():
    with pytest.raises(UnknownNameError, match="Did you mean: gpt-tiny"):
        get_ladder("gpt-tiy")
    with pytest.raises(UnknownNameError, match="Did you mean: gpt-tiny-3"):
        get_ladder("gpt-tiny")["gpt-tiny-33"]
    with pytest.raises(UnknownNameError, match="gpt-small-2"):
        get_rung("gpt-smal-2")
    assert get_rung("gpt-small-2").model.d_model == 256


@pytest.mark.parametrize("name", ["gpt-tiny", "gpt-small"])
def test_stated_parameter_counts_match_the_procedure_and_the_model(name):
    lad = get_ladder(name)
    for rung in lad:
        assert rung.n_params == rung.model.n_params("non_embedding")
        assert rung.n_params_as("with_last_layer") == rung.model.n_params("with_last_layer")
    torch = pytest.importorskip("torch")
    from scalinglab.train.gpt import GPT

    for rung in list(lad)[:3] if name == "gpt-small" else lad:   # the big ones cost memory/time
        with torch.device("meta"):
            model = GPT(rung.model)
        for conv in ("non_embedding", "with_last_layer", "total"):
            assert model.get_num_params(conv) == rung.n_params_as(conv), (rung.name, conv)


def test_add_ladder_path_and_validation(tmp_path, monkeypatch):
    from scalinglab import ladders

    list_ladders()   # scan the shipped files, then keep this test's additions private
    monkeypatch.setattr(ladders, "_PATHS", dict(ladders._PATHS))
    monkeypatch.setattr(ladders, "_CACHE", dict(ladders._CACHE))
    good = tmp_path / "mine.yaml"
    good.write_text("name: mine\nprocedure: gpt\nshared: {seq_len: 32, vocab_size: 256, n_head: 2}\n"
                    "rungs:\n  mine-2: {n_layer: 2, d_model: 64}\n  mine-1: {n_layer: 1, d_model: 32}\n")
    assert add_ladder_path(tmp_path) == ["mine"]
    lad = get_ladder("mine")
    assert "mine" in list_ladders() and lad.names == ["mine-1", "mine-2"]   # sorted by size
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "wrong.yaml").write_text("name: wrong\nprocedure: gpt\nshared: {seq_len: 32, vocab_size: 256}\n"
                                    "rungs:\n  wrong-1: {n_layer: 1, d_model: 32, n_head: 2, n_params: 5}\n")
    with pytest.raises(ConfigError, match="states n_params=5 but the model has 12480"):
        add_ladder_path(bad / "wrong.yaml")
    (bad / "wrong.yaml").write_text("name: wrong\nprocedure: gpt\nrungs:\n  wrong-1: {n_layer: 1, d_modl: 32}\n")
    with pytest.raises(ConfigError, match="Did you mean: d_model"):
        add_ladder_path(bad)
    (bad / "wrong.yaml").write_text("name: wrong\nprocedure: gpt\nshared: {seq_len: 32, vocab_size: 256}\n"
                                    "rungs:\n  wrong-1: {n_layer: 1, d_model: 32}\n")
    with pytest.raises(ConfigError, match="wrong.yaml: rung 'wrong-1' is missing 'n_head'"):
        add_ladder_path(bad)
    (bad / "wrong.yaml").write_text("name: wrong\nfamily: gpt\nrungs: {}\n")
    with pytest.raises(ConfigError, match="write 'procedure: gpt'"):
        add_ladder_path(bad)
    (bad / "wrong.yaml").write_text("name: wrong\nprocedure: gtp\nrungs:\n  w-1: {}\n")
    with pytest.raises(ConfigError, match="wrong.yaml: unknown procedure 'gtp'. Did you mean: gpt"):
        add_ladder_path(bad)
    (bad / "wrong.yaml").write_text("name: wrong\nprocedure: gpt\nrungz: {}\n")
    with pytest.raises(ConfigError, match="Did you mean: rungs"):
        add_ladder_path(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        add_ladder_path(tmp_path / "nowhere")


def test_importing_ladders_does_not_import_torch():
    code = ("import sys, scalinglab.ladders as L; L.get_ladder('gpt-tiny'); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
