"""Tests of the bottom layer: units, strict config, registry, error tree, optional imports."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest

from scalinglab import errors
from scalinglab._optional import has, require
from scalinglab._registry import Registry
from scalinglab.config import from_dict, load_mapping, to_dict
from scalinglab.units import FLOPS_CONVENTIONS, format_quantity, parse_quantity


@pytest.mark.parametrize(
    "text, value",
    [("70M", 7e7), ("1.4e12", 1.4e12), ("3B", 3e9), ("2.5k", 2500.0), ("1T", 1e12), ("12", 12.0),
     (" 5 G ", 5e9), ("1_000", 1000.0), (7, 7.0), (2.5, 2.5), ("1e-3", 1e-3), ("0.5P", 5e14)],
)
def test_parse_quantity(text, value):
    assert parse_quantity(text) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("bad", ["seventy", "70X", "", "1.2.3", True, None, [1]])
def test_parse_quantity_rejects_with_hint(bad):
    with pytest.raises(errors.DataError, match=r"(suffix|boolean)"):
        parse_quantity(bad, name="n_params")


def test_format_quantity_round_trips():
    for x in (7e7, 1.4e12, 3e9, 2500.0, 12.0):
        assert parse_quantity(format_quantity(x)) == pytest.approx(x, rel=1e-3)


def test_flops_conventions_compute():
    assert FLOPS_CONVENTIONS["6ND"].compute(n_params=2.0, n_tokens=3.0) == 36.0
    assert FLOPS_CONVENTIONS["gflops_per_sample"].compute(gflops_per_sample=2.0, samples_seen=10) == 2e10
    assert FLOPS_CONVENTIONS["gmacs_per_sample"].compute(gmacs_per_sample=2.0, samples_seen=10) == 4e10


@dataclasses.dataclass(frozen=True)
class _Inner:
    width: int = 4


@dataclasses.dataclass(frozen=True)
class _Cfg:
    lr: float = 1e-3
    steps: int = 10
    name: str = "x"
    mode: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = (1, 2)
    inner: _Inner = dataclasses.field(default_factory=_Inner)
    tag: str | None = None


def test_config_round_trip_and_coercion():
    cfg = from_dict(_Cfg, {"lr": "3e-4", "steps": "2k", "sizes": [3, 4], "inner": {"width": 8}})
    assert cfg == _Cfg(lr=3e-4, steps=2000, sizes=(3, 4), inner=_Inner(8))
    assert from_dict(_Cfg, to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    "data, message",
    [({"stpes": 3}, "unknown key 'stpes' in _Cfg. Did you mean: steps"),
     ({"steps": 1.5}, "_Cfg.steps must be an integer; got 1.5"),
     ({"mode": "c"}, "_Cfg.mode must be one of 'a', 'b'; got 'c'"),
     ({"inner": {"widht": 2}}, "unknown key 'widht' in _Cfg.inner. Did you mean: width?"),
     ({"lr": True}, "_Cfg.lr must be a number"),
     ([1, 2], "_Cfg must be a mapping")],
)
def test_config_errors_say_how_to_fix(data, message):
    with pytest.raises(errors.ConfigError) as info:
        from_dict(_Cfg, data)
    assert message in str(info.value)


def test_load_mapping_errors(tmp_path):
    with pytest.raises(errors.ConfigError, match="does not exist"):
        load_mapping(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(errors.ConfigError, match="is empty"):
        load_mapping(tmp_path / "empty.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(errors.ConfigError, match="mapping at top level"):
        load_mapping(tmp_path / "list.yaml")
    (tmp_path / "bad.yaml").write_text("a: [1, 2\n")
    with pytest.raises(errors.ConfigError, match="cannot parse"):
        load_mapping(tmp_path / "bad.yaml")
    (tmp_path / "ok.json").write_text('{"a": 1}')
    assert load_mapping(tmp_path / "ok.json") == {"a": 1}


def test_registry_lazy_and_strict():
    reg: Registry = Registry("widget")
    reg.register("json-dumps", target="json:dumps")
    assert "json-dumps" in reg and reg.names() == ["json-dumps"]

    @reg.register("double")
    def double(x):
        return 2 * x

    assert reg.get("double")(3) == 6
    import json

    assert reg.get("json-dumps") is json.dumps
    with pytest.raises(errors.UnknownNameError, match="unknown widget 'doubel'. Did you mean: double?"):
        reg.get("doubel")
    with pytest.raises(errors.ConfigError, match="already registered"):
        reg.register("double", lambda x: x)
    with pytest.raises(errors.ConfigError, match="package.module:attr"):
        reg.register("bad", target="no_colon")
    reg.freeze()
    with pytest.raises(errors.ConfigError, match="frozen"):
        reg.register("late", lambda: None)


def test_error_tree_is_catchable_by_builtin_bases():
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.MissingColumnError, KeyError)
    assert issubclass(errors.UnknownNameError, KeyError)
    assert issubclass(errors.NotFittedError, AttributeError)
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, Warning):
            assert issubclass(obj, errors.ScalingLabError), name
        if isinstance(obj, type) and issubclass(obj, Warning):
            assert issubclass(obj, errors.ScalingLabWarning), name
    # KeyError subclasses must not print their message wrapped in quotes
    assert str(errors.UnknownNameError("unknown law 'x'")) == "unknown law 'x'"


def test_require_names_the_extra():
    assert has("json") and not has("surely_not_a_module_xyz")
    with pytest.raises(ImportError, match=r"pip install 'scalinglab\[train\]'"):
        require("surely_not_a_module_xyz", extra="train")
