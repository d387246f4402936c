"""YAML ladder file -> validated :class:`Ladder` (parameter counts from ``units.py``; no torch).

A ladder file holds ``name``, ``family``, ``description``, ``shared`` (model keys common to all
rungs), optional ``train`` (suggested sweep defaults such as ``batch_size``) and ``rungs``: a
mapping from rung name (``<ladder>-<index>``) to model keys, optionally with the stated
non-embedding ``n_params``, which must equal :func:`scalinglab.units.gpt_n_params`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import load_mapping
from ..errors import ConfigError, UnknownNameError, suggest
from ..units import gpt_flops_per_token, gpt_n_params

__all__ = ["Ladder", "Rung", "load_ladder"]

_TOP_KEYS = ("name", "family", "description", "shared", "train", "rungs")
_GPT_KEYS = ("n_layer", "d_model", "n_head", "seq_len", "vocab_size", "d_ff")
_GPT_REQUIRED = ("n_layer", "d_model", "n_head", "seq_len", "vocab_size")


@dataclass(frozen=True)
class Rung:
    """One model size: its name, architecture dict (``RunSpec.model``) and non-embedding N."""

    name: str
    model: dict[str, Any]       # n_layer, d_model, n_head, seq_len, vocab_size[, d_ff]
    n_params: int               # non-embedding parameters (Kaplan et al. 2020)

    def n_params_as(self, convention: str = "non_embedding") -> int:
        """Parameters under a convention of :func:`scalinglab.units.gpt_n_params`."""
        return gpt_n_params(**_units_kwargs(self.model), convention=convention)

    def flops_per_token(self, convention: str = "exact") -> float:
        """Training FLOPs per token (:func:`scalinglab.units.gpt_flops_per_token`)."""
        return gpt_flops_per_token(**_units_kwargs(self.model), convention=convention)


def _units_kwargs(model: dict[str, Any]) -> dict[str, Any]:
    return {k: model[k] for k in ("n_layer", "d_model", "vocab_size", "seq_len")} | \
        {"d_ff": model.get("d_ff")}


@dataclass(frozen=True)
class Ladder:
    """A named, ordered set of rungs of one model family (data, not code; STYLE P6).

    Index it by rung name (``ladder["gpt-tiny-3"]``) or iterate over its rungs, smallest first.
    """

    name: str
    family: str
    description: str
    rungs: tuple[Rung, ...]
    train: dict[str, Any] = field(default_factory=dict)   # suggested sweep defaults
    source: str = ""                                      # file it was loaded from

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rungs]

    def rung(self, name: str) -> Rung:
        """The rung called ``name``; :class:`UnknownNameError` with suggestions otherwise."""
        for r in self.rungs:
            if r.name == name:
                return copy.deepcopy(r)
        raise UnknownNameError(f"unknown rung {name!r} in ladder {self.name!r}.{suggest(name, self.names)}"
                               f" Available: {', '.join(self.names)}")

    __getitem__ = rung

    def __iter__(self) -> Iterator[Rung]:
        return iter(self.rungs)

    def __len__(self) -> int:
        return len(self.rungs)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "family": self.family, "description": self.description,
                "train": copy.deepcopy(self.train),
                "rungs": {r.name: {**r.model, "n_params": r.n_params} for r in self.rungs}}

    def __repr__(self) -> str:
        return f"Ladder({self.name!r}, {len(self.rungs)} rungs: {', '.join(self.names)})"


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where} must be a positive integer; got {value!r}")
    return value


def load_ladder(path: str | Path) -> Ladder:
    """Read and validate one ladder YAML file.

    Raises
    ------
    ConfigError
        Unknown keys, missing model keys, non-integer sizes, ``d_model`` not divisible by
        ``n_head``, or a stated ``n_params`` that differs from the computed count.
    """
    path = Path(path)
    data = load_mapping(path)
    where = path.name
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in ladder {where}.{suggest(unknown[0], _TOP_KEYS)} "
                          f"Allowed keys: {', '.join(_TOP_KEYS)}")
    name = data.get("name") or path.stem
    family = data.get("family", "gpt")
    if family != "gpt":
        raise ConfigError(f"ladder {where}: family {family!r} is not supported; use 'gpt'")
    shared = data.get("shared") or {}
    rungs_in = data.get("rungs")
    if not isinstance(rungs_in, dict) or not rungs_in:
        raise ConfigError(f"ladder {where} needs a non-empty 'rungs' mapping")
    rungs = []
    for rname, rdata in rungs_in.items():
        rw = f"{where}: rung {rname!r}"
        if not isinstance(rdata, dict):
            raise ConfigError(f"{rw} must be a mapping of model keys")
        merged = {**shared, **rdata}
        stated = merged.pop("n_params", None)
        bad = [k for k in merged if k not in _GPT_KEYS]
        if bad:
            raise ConfigError(f"{rw}: unknown model key {bad[0]!r}.{suggest(bad[0], _GPT_KEYS)} "
                              f"Allowed keys: {', '.join(_GPT_KEYS)}, n_params")
        missing = [k for k in _GPT_REQUIRED if k not in merged]
        if missing:
            raise ConfigError(f"{rw} is missing {', '.join(missing)} (set them in 'shared' or the rung)")
        model = {k: _int(merged[k], f"{rw}.{k}") for k in _GPT_REQUIRED}
        if merged.get("d_ff") is not None:
            model["d_ff"] = _int(merged["d_ff"], f"{rw}.d_ff")
        if model["d_model"] % model["n_head"]:
            raise ConfigError(f"{rw}: d_model {model['d_model']} is not divisible by n_head {model['n_head']}")
        n = gpt_n_params(**_units_kwargs(model))
        if stated is not None and int(stated) != n:
            raise ConfigError(f"{rw} states n_params={stated} but the model has {n} non-embedding "
                              "parameters (scalinglab.units.gpt_n_params); fix the YAML")
        rungs.append(Rung(name=str(rname), model=model, n_params=n))
    rungs.sort(key=lambda r: r.n_params)
    return Ladder(name=str(name), family=family, description=str(data.get("description", "")),
                  rungs=tuple(rungs), train=dict(data.get("train") or {}), source=str(path))
