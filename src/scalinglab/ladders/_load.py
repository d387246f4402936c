"""YAML ladder file -> validated :class:`Ladder` (model shapes from the procedure registry; no torch).

A ladder file holds ``name``, ``procedure`` (a registered procedure, e.g. ``gpt``),
``description``, ``shared`` (model keys common to all rungs), optional ``train`` (suggested sweep
defaults: ``batch_size``, ``dataset``, ``tokenizer``) and ``rungs``: a mapping from rung name
(``<ladder>-<index>``) to model keys, optionally with the stated ``n_params`` (the procedure's
default convention), which must equal the count of the procedure's config.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import from_dict, load_mapping
from ..errors import ConfigError, UnknownNameError, suggest
from ..procedures import Procedure, get_procedure

__all__ = ["Ladder", "LadderDefaults", "Rung", "load_ladder"]

_TOP_KEYS = ("name", "procedure", "description", "shared", "train", "rungs")


@dataclass(frozen=True)
class LadderDefaults:
    """Sweep defaults a ladder suggests (a sweep file overrides each)."""

    batch_size: int | None = None       # examples per optimizer step
    dataset: str | None = None          # registered dataset name or path
    tokenizer: str | None = None        # text tokenizer ("byte" or a BPE JSON path)
    beta2: float | None = None          # AdamW beta2 of the procedure's recipe (default: RunSpec's)


@dataclass(frozen=True)
class Rung:
    """One model size: its name, its typed model config (``RunSpec.model``) and its default N."""

    name: str
    model: Any                  # the procedure's config dataclass
    procedure: str              # registered procedure name
    n_params: int               # parameters under the procedure's default convention

    def n_params_as(self, convention: str | None = None) -> int:
        """Parameters under a convention of the procedure (``None``: the default one)."""
        return get_procedure(self.procedure).n_params(self.model, convention)

    def flops_per_unit(self, convention: str | None = None) -> float:
        """Training FLOPs per unit of D (token or sample) under a convention of the procedure."""
        return get_procedure(self.procedure).flops_per_unit(self.model, convention)


@dataclass(frozen=True)
class Ladder:
    """A named, ordered set of rungs of one procedure (data, not code; STYLE P6).

    Index it by rung name (``ladder["gpt-tiny-3"]``) or iterate over its rungs, smallest first.
    Rungs and their configs are frozen, so a ladder can be shared without copying.
    """

    name: str
    procedure: str
    description: str
    rungs: tuple[Rung, ...]
    train: LadderDefaults = LadderDefaults()
    source: str = ""                   # file it was loaded from

    @property
    def procedure_spec(self) -> Procedure:
        return get_procedure(self.procedure)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rungs]

    def rung(self, name: str) -> Rung:
        """The rung called ``name``; :class:`UnknownNameError` with suggestions otherwise."""
        for r in self.rungs:
            if r.name == name:
                return r
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
        proc = self.procedure_spec
        return {"name": self.name, "procedure": self.procedure, "description": self.description,
                "train": {k: v for k, v in vars(self.train).items() if v is not None},
                "rungs": {r.name: {**proc.model_to_dict(r.model), "n_params": r.n_params}
                          for r in self.rungs}}

    def __repr__(self) -> str:
        return (f"Ladder({self.name!r}, procedure={self.procedure!r}, {len(self.rungs)} rungs: "
                f"{', '.join(self.names)})")


def load_ladder(path: str | Path) -> Ladder:
    """Read and validate one ladder YAML file.

    Raises
    ------
    ConfigError
        Unknown keys, an unknown procedure, model keys the procedure's config rejects, or a
        stated ``n_params`` that differs from the computed count; each message names the file.
    """
    path = Path(path)
    data = load_mapping(path)
    where = path.name
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        hint = " (ladders name their procedure now: write 'procedure: gpt')" if unknown[0] == "family" \
            else suggest(unknown[0], _TOP_KEYS)
        raise ConfigError(f"unknown key {unknown[0]!r} in ladder {where}.{hint} "
                          f"Allowed keys: {', '.join(_TOP_KEYS)}")
    name = data.get("name") or path.stem
    if "procedure" not in data:
        raise ConfigError(f"ladder {where} must name its procedure, e.g. 'procedure: gpt'")
    try:
        proc = get_procedure(str(data["procedure"]))
    except UnknownNameError as exc:
        raise ConfigError(f"ladder {where}: {exc.args[0]}") from None
    shared = data.get("shared") or {}
    if not isinstance(shared, Mapping):
        raise ConfigError(f"ladder {where}: 'shared' must be a mapping of model keys")
    rungs_in = data.get("rungs")
    if not isinstance(rungs_in, Mapping) or not rungs_in:
        raise ConfigError(f"ladder {where} needs a non-empty 'rungs' mapping")
    train = from_dict(LadderDefaults, dict(data.get("train") or {}), where=f"ladder {where}: train")
    rungs = []
    for rname, rdata in rungs_in.items():
        rw = f"ladder {where}: rung {rname!r}"
        if not isinstance(rdata, Mapping):
            raise ConfigError(f"{rw} must be a mapping of model keys")
        merged = {**shared, **rdata}
        stated = merged.pop("n_params", None)
        model = proc.model_from_dict(merged, where=rw)
        n = proc.n_params(model)
        if stated is not None and int(stated) != n:
            raise ConfigError(f"{rw} states n_params={stated} but the model has {n} parameters "
                              f"({proc.param_conventions[0]}, {proc.config.__name__}.n_params); "
                              "fix the YAML")
        rungs.append(Rung(name=str(rname), model=model, procedure=proc.name, n_params=n))
    rungs.sort(key=lambda r: r.n_params)
    return Ladder(name=str(name), procedure=proc.name, description=str(data.get("description", "")),
                  rungs=tuple(rungs), train=train, source=str(path))
