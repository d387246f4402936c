"""The :class:`Procedure` spec and its registry (torch-free).

A *procedure* is what a scaling-law comparison compares: a model family plus its training
objective (a decoder-only language model trained on next-token prediction; CLIP's contrastive
objective; CoCa's contrastive + captioning objective ...). Registering one is all it takes for the
ladder loader, the sweep planner, the store, the unit conventions and the report to handle it:
each reads the spec through :func:`get_procedure`, never through model-specific code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from .._registry import Registry, import_target
from ..config import from_dict, to_dict
from ..errors import ConfigError, UnknownNameError, suggest

__all__ = [
    "PROCEDURES",
    "ModelConfig",
    "Procedure",
    "get_procedure",
    "list_procedures",
    "procedure_of",
    "register_procedure",
]

Unit = Literal["tokens", "samples"]


@runtime_checkable
class ModelConfig(Protocol):
    """What a procedure's config dataclass provides (frozen, torch-free).

    ``UNITS_PER_EXAMPLE`` is how many units of D one training example holds: ``seq_len`` tokens
    for a language model, 1 sample for an image-text model.
    """

    def n_params(self, convention: str = ...) -> int: ...

    def flops_per_unit(self, convention: str = ...) -> float: ...

    @property
    def units_per_example(self) -> int: ...


@dataclass(frozen=True)
class Procedure:
    """One registered training procedure (a model family + its objective).

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"gpt"``; also the ``procedure`` group of every run.
    config : type
        The frozen, torch-free dataclass of the model's shape (``RunSpec.model``). It implements
        :class:`ModelConfig`.
    trainer : str
        ``"module:attr"`` of ``run(spec, *, run_dir, resume=True, progress=None, ...) ->
        RunRecord``; imported only in workers, so planning never imports torch.
    unit : {"tokens", "samples"}
        What D (``RunSpec.n_data``) counts.
    metrics : tuple of str
        What every finished run of this procedure reports (``RunRecord.metrics`` keys);
        ``metrics[0]`` is the default target of a fit.
    param_conventions, flops_conventions : tuple of str
        Conventions of ``config.n_params`` and ``config.flops_per_unit``; the first of each is
        the default N and the default per-unit C.
    modality : str
        ``"text"`` or ``"image-text"``.
    lower_is_better : bool
        Whether smaller metric values are better (losses, error rates).
    description, citation : str
    """

    name: str
    config: type
    trainer: str
    unit: Unit
    metrics: tuple[str, ...]
    param_conventions: tuple[str, ...]
    flops_conventions: tuple[str, ...]
    modality: str = "text"
    lower_is_better: bool = True
    description: str = ""
    citation: str = ""

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.config) or not self.config.__dataclass_params__.frozen:
            raise ConfigError(f"procedure {self.name!r}: config must be a frozen dataclass; got "
                              f"{self.config!r}")
        if ":" not in self.trainer:
            raise ConfigError(f"procedure {self.name!r}: trainer must look like 'package.module:run'; "
                              f"got {self.trainer!r}")
        if self.unit not in ("tokens", "samples"):
            raise ConfigError(f"procedure {self.name!r}: unit must be 'tokens' or 'samples'; "
                              f"got {self.unit!r}")
        for what in ("metrics", "param_conventions", "flops_conventions"):
            if not getattr(self, what):
                raise ConfigError(f"procedure {self.name!r} needs at least one entry in {what}")

    # -- the model config ----------------------------------------------------------------------
    def model_from_dict(self, data: Mapping[str, Any], *, where: str = "model") -> Any:
        """The config from a mapping (a ladder rung, a stored spec); strict about keys and types.

        Every key must be known to the config and every key whose default is not null must be
        given: a model's shape is never filled in silently from defaults.
        """
        data = dict(data)
        keys = [f.name for f in dataclasses.fields(self.config)]
        unknown = [k for k in data if k not in keys]
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} in {where} (procedure {self.name!r})."
                              f"{suggest(str(unknown[0]), keys)} Allowed keys: {', '.join(keys)}")
        missing = [f.name for f in dataclasses.fields(self.config)
                   if f.name not in data and f.default is not None]
        if missing:
            raise ConfigError(f"{where} is missing {', '.join(map(repr, missing))} (procedure "
                              f"{self.name!r}; only keys whose default is null may be left out)")
        return from_dict(self.config, data, where=where)

    def model_to_dict(self, model: Any) -> dict[str, Any]:
        return to_dict(model)

    def check_model(self, model: Any) -> None:
        if not isinstance(model, self.config):
            raise ConfigError(f"procedure {self.name!r} expects a {self.config.__name__}; got "
                              f"{type(model).__name__}")

    def load_trainer(self) -> Any:
        """Import the trainer (``run(spec, *, run_dir, ...) -> RunRecord``); imports torch."""
        fn = import_target(self.trainer, what=f"trainer of procedure {self.name!r}")
        if not callable(fn):
            raise ConfigError(f"trainer {self.trainer!r} of procedure {self.name!r} is not callable")
        return fn

    # -- units ---------------------------------------------------------------------------------
    def n_params(self, model: Any, convention: str | None = None) -> int:
        """N of ``model`` under ``convention`` (default: ``param_conventions[0]``)."""
        conv = convention or self.param_conventions[0]
        if conv not in self.param_conventions:
            raise UnknownNameError(f"procedure {self.name!r} has no parameter convention {conv!r}."
                                   f"{suggest(conv, self.param_conventions)} Available: "
                                   f"{', '.join(self.param_conventions)}")
        return int(model.n_params(conv))

    def flops_per_unit(self, model: Any, convention: str | None = None) -> float:
        """Training FLOPs per unit of D (token or sample) under ``convention``."""
        conv = convention or self.flops_conventions[0]
        if conv not in self.flops_conventions:
            raise UnknownNameError(f"procedure {self.name!r} has no FLOP convention {conv!r}."
                                   f"{suggest(conv, self.flops_conventions)} Available: "
                                   f"{', '.join(self.flops_conventions)}")
        return float(model.flops_per_unit(conv))

    def counts(self, model: Any, n_data: float) -> tuple[dict[str, int], dict[str, float]]:
        """Every parameter count and every total-FLOP count of a run that saw ``n_data`` units."""
        return ({c: self.n_params(model, c) for c in self.param_conventions},
                {c: self.flops_per_unit(model, c) * float(n_data) for c in self.flops_conventions})

    def __repr__(self) -> str:
        return (f"Procedure({self.name!r}, config={self.config.__name__}, unit={self.unit!r}, "
                f"metrics={list(self.metrics)})")


PROCEDURES: Registry[Procedure] = Registry("procedure")
_BY_CONFIG: dict[type, str] = {}


def register_procedure(proc: Procedure, *, overwrite: bool = False) -> Procedure:
    """Register ``proc`` under ``proc.name`` (``overwrite=True`` to replace an existing one)."""
    PROCEDURES.register(proc.name, proc, overwrite=overwrite)
    _BY_CONFIG[proc.config] = proc.name
    return proc


def get_procedure(name: str | Procedure) -> Procedure:
    """The procedure called ``name``; :class:`UnknownNameError` with suggestions otherwise."""
    if isinstance(name, Procedure):
        return name
    return PROCEDURES.get(name)


def list_procedures() -> list[str]:
    """Names of the registered procedures, sorted."""
    return PROCEDURES.names()


def procedure_of(model: Any) -> Procedure:
    """The registered procedure whose config type ``model`` is."""
    name = _BY_CONFIG.get(type(model))
    if name is None:
        raise ConfigError(f"{type(model).__name__} is not the config of a registered procedure; "
                          f"register it with scalinglab.procedures.register_procedure. Registered: "
                          f"{', '.join(list_procedures())}")
    return PROCEDURES.get(name)
