"""Records of the results store: what a run *is* (:class:`RunSpec`) and what it *gave* (:class:`RunRecord`).

A ``RunSpec`` is the complete, canonical description of one training run. Its ``model`` is the
typed config of a registered procedure (:mod:`scalinglab.procedures`), serialised with the
procedure's name. Its ``run_id`` is a readable prefix plus a hash of the canonical JSON of the
spec, so the same spec has the same id on every machine and the store can refuse a different
record under an existing id.

D is counted in the procedure's unit (:attr:`RunSpec.unit`: tokens for a language model,
samples for an image-text model): ``n_data``, ``warmup``, ``branch_at`` and ``eval_size`` are all
in that unit; :attr:`RunSpec.n_tokens` and :attr:`RunSpec.n_samples` name it.

Both types are frozen all the way down: ``extra``, ``metrics``, ``n_params``, ``flops`` and
``provenance`` are read-only mappings, ``curve`` a tuple. Schema 1 (before procedures existed)
is migrated by :func:`migrate_record_v1`, which ``scalinglab store rebuild`` applies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from .._io import canonical_json
from ..config import freeze, from_dict, to_dict
from ..errors import ConfigError
from ..procedures import Procedure, get_procedure, procedure_of
from ..units import format_quantity

__all__ = ["SCHEMA_VERSION", "RunRecord", "RunSpec", "RunStatus", "migrate_record_v1"]

SCHEMA_VERSION = 2

RunStatus = Literal["pending", "running", "done", "diverged", "failed"]
_EMPTY: Mapping[str, Any] = freeze({})


@dataclass(frozen=True)
class RunSpec:
    """One training run, fully specified (every field but ``device`` hashed into ``run_id``).

    D-valued fields (``n_data``, ``warmup``, ``eval_size``, ``branch_at``) count the procedure's
    unit: tokens (``gpt``) or samples (image-text procedures).
    """

    rung: str                               # ladder rung name, e.g. "gpt-tiny-3"
    model: Any                              # the procedure's config dataclass, e.g. GPTConfig(...)
    n_data: int                             # D of this run's horizon (tokens or samples)
    lr: float                               # peak learning rate
    batch_size: int = 16                    # examples (sequences, image-caption pairs) per optimizer step
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
    warmup: int = 0                         # linear warmup length in D units (0: auto = about N, capped)
    cooldown_frac: float = 0.2              # WSD: fraction of the run spent in the 1-sqrt cooldown
    min_lr_frac: float = 0.0                # LR at the end of the decay, as a fraction of peak
    beta1: float = 0.9
    beta2: float = 0.99                     # AdamW beta2 (0.99 suits the small batches used here)
    weight_decay: float = 0.1               # applied to matrices only
    grad_clip: float = 1.0                  # max global grad norm (0 disables)
    seed: int = 0
    dataset: str = "stdlib"                 # registered dataset name, or a path
    tokenizer: str | None = None            # text tokenizer ("byte" or a BPE JSON path); None: the procedure's own
    eval_size: int = 65536                  # held-out D units scored at the end of the run
    branch_of: str | None = None            # run_id of the constant-LR trunk this cooldown branches from
    branch_at: int | None = None            # trunk checkpoint (D units) the branch starts from
    variant: str = "reference"              # free label for comparing variants of a procedure (group key)
    ladder: str = ""                        # ladder the rung comes from
    device: str = "cpu"                     # "cpu", "cuda", "cuda:1" ... (not hashed: same run anywhere)
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)   # free-form, hashed, read-only

    _UNHASHED = ("device",)
    # Fields of run schema 2, always hashed. A field added later is hashed only when it differs
    # from its default, so adding one never changes the id of an existing run.
    _SCHEMA2_FIELDS = ("procedure", "rung", "model", "n_data", "lr", "batch_size", "schedule", "warmup",
                       "cooldown_frac", "min_lr_frac", "beta1", "beta2", "weight_decay", "grad_clip",
                       "seed", "dataset", "tokenizer", "eval_size", "branch_of", "branch_at", "variant",
                       "ladder", "device", "extra")

    def __post_init__(self) -> None:
        procedure_of(self.model)          # raises for a config no procedure registered
        object.__setattr__(self, "extra", freeze(dict(self.extra)))

    # -- what the spec is ----------------------------------------------------------------------
    @property
    def procedure(self) -> str:
        """The registered procedure's name (``"gpt"`` ...), from the type of ``model``."""
        return procedure_of(self.model).name

    @property
    def procedure_spec(self) -> Procedure:
        return procedure_of(self.model)

    @property
    def unit(self) -> str:
        """What D counts: ``"tokens"`` or ``"samples"``."""
        return procedure_of(self.model).unit

    @property
    def n_tokens(self) -> int | None:
        """D in tokens (None for a sample-counted procedure)."""
        return self.n_data if self.unit == "tokens" else None

    @property
    def n_samples(self) -> int | None:
        """D in samples (None for a token-counted procedure)."""
        return self.n_data if self.unit == "samples" else None

    # -- serialisation ---------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """Build from :meth:`to_dict` output (strict: unknown keys and wrong types raise)."""
        data = dict(data)
        if "procedure" not in data:
            hint = (" It looks like a schema-1 spec (before procedures): migrate its store with "
                    "`scalinglab store rebuild STORE`.") if "n_tokens" in data else ""
            raise ConfigError(f"RunSpec needs 'procedure' (one of the registered procedures).{hint}")
        proc = get_procedure(data.pop("procedure"))
        model = data.get("model")
        if not isinstance(model, proc.config):
            if not isinstance(model, Mapping):
                raise ConfigError(f"RunSpec.model must be a mapping of {proc.config.__name__} keys; "
                                  f"got {model!r}")
            data["model"] = proc.model_from_dict(model, where="RunSpec.model")
        return from_dict(cls, data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict: ``{"procedure": ..., "model": {...}, ...}``."""
        d = {"procedure": self.procedure}
        d.update(to_dict(self))
        return d

    def canonical_json(self) -> str:
        """The hashed text: :meth:`to_dict` without the unhashed fields, canonical JSON.

        Fields added after run schema 2 enter only when set away from their default.
        """
        defaults = {f.name: f.default for f in fields(self)}
        return canonical_json({k: v for k, v in self.to_dict().items() if k not in self._UNHASHED
                               and (k in self._SCHEMA2_FIELDS or v != defaults.get(k))})

    @property
    def spec_hash(self) -> str:
        """SHA-256 of :meth:`canonical_json` (checkpoints carry it to refuse a foreign spec)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @property
    def run_id(self) -> str:
        """``<rung>_D<n_data>_lr<lr>_s<seed>[_<schedule>]_<hash6>``, e.g. ``gpt-tiny-3_D2M_lr0.003_s0_9f3a1c``."""
        sched = "" if self.schedule == "cosine" else f"_{self.schedule}"
        return (f"{self.rung}_D{format_quantity(self.n_data)}_lr{self.lr:g}_s{self.seed}{sched}_"
                f"{self.spec_hash[:6]}")


@dataclass(frozen=True)
class RunRecord:
    """What a finished (or diverged / failed) run produced, with its provenance.

    ``metrics`` holds every number the procedure reports (:attr:`Procedure.metrics`; ``val_loss``
    and ``train_loss`` for a language model) and ``metrics_se`` their standard errors where they
    exist. ``n_unique_seen``, ``epochs`` and ``dataset_hash`` make repetition visible in every
    record (Muennighoff et al. 2023 fit losses on unique data seen). ``n_params`` holds every parameter convention and ``flops`` every FLOP convention
    (total training FLOPs = per-unit count x ``n_data_seen``), so results can be refit under any.
    """

    run_id: str
    spec: RunSpec
    status: RunStatus
    metrics: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    metrics_se: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    n_data_seen: int = 0                    # D units trained on (tokens or samples)
    n_unique_seen: int | None = None        # distinct D units among them (repetition = seen / unique)
    epochs: float | None = None             # n_data_seen / the training split's size
    dataset_hash: str | None = None         # manifest hash of the data trained on
    n_params: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    flops: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    curve: tuple[tuple[int, float], ...] = ()   # (D units, first metric) along the run
    wall_s: float = 0.0
    error: str | None = None                # message for failed/diverged runs
    provenance: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)   # git, versions, host, data hash, seed
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        for name in ("metrics", "metrics_se", "n_params", "flops", "provenance"):
            object.__setattr__(self, name, freeze(dict(getattr(self, name))))
        object.__setattr__(self, "curve", tuple((int(a), float(b)) for a, b in self.curve))

    @property
    def val_loss(self) -> float | None:
        """``metrics["val_loss"]`` (None when the run reports no held-out loss)."""
        return self.metrics.get("val_loss")

    @property
    def val_loss_se(self) -> float | None:
        return self.metrics_se.get("val_loss")

    @property
    def train_loss(self) -> float | None:
        return self.metrics.get("train_loss")

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: to_dict(getattr(self, f.name)) for f in fields(self)}
        d["spec"] = self.spec.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        data = dict(data)
        version = int(data.get("schema_version", 1))
        if version < SCHEMA_VERSION:
            raise ConfigError(f"run record {data.get('run_id')!r} has schema {version}, older than "
                              f"{SCHEMA_VERSION}: migrate its store with `scalinglab store rebuild STORE`")
        if version > SCHEMA_VERSION:
            raise ConfigError(f"run record {data.get('run_id')!r} has schema {version}, newer than this "
                              f"scalinglab understands ({SCHEMA_VERSION}); upgrade scalinglab")
        if not isinstance(data.get("spec"), RunSpec):
            data["spec"] = RunSpec.from_dict(data.get("spec") or {})
        data["curve"] = tuple(tuple(x) for x in data.get("curve") or ())
        return from_dict(cls, data)


# -- schema 1 -> 2 ---------------------------------------------------------------------------------

_V1_RENAMES = {"n_tokens": "n_data", "warmup_tokens": "warmup", "branch_at_tokens": "branch_at",
               "eval_tokens": "eval_size", "corpus": "dataset", "procedure": "variant"}


def migrate_record_v1(data: Mapping[str, Any], new_ids: Mapping[str, str]) -> dict[str, Any]:
    """A schema-1 record dict (GPT runs, before procedures existed) as a schema-2 record dict.

    Spec keys are renamed (``n_tokens`` -> ``n_data``, ``warmup_tokens`` -> ``warmup``,
    ``branch_at_tokens`` -> ``branch_at``, ``eval_tokens`` -> ``eval_size``, ``corpus`` ->
    ``dataset``, the free label ``procedure`` -> ``variant``), the model becomes a ``GPTConfig``
    of the ``gpt`` procedure, ``extra["checkpoint_at_tokens"]`` becomes ``extra["checkpoint_at"]``
    and ``branch_of`` is mapped through ``new_ids`` (old trunk id -> new id; migrate trunks first).
    The run id changes because the spec's canonical form did; results are copied unchanged.
    """
    old = dict(data)
    spec = migrate_spec_v1(old.get("spec") or {}, new_ids)
    metrics = {k: old[k] for k in ("val_loss", "train_loss") if old.get(k) is not None}
    metrics_se = {"val_loss": old["val_loss_se"]} if old.get("val_loss_se") is not None else {}
    rec = RunRecord(run_id=spec.run_id, spec=spec, status=old["status"], metrics=metrics,
                    metrics_se=metrics_se, n_data_seen=int(old.get("tokens_seen") or 0),
                    n_params=old.get("n_params") or {}, flops=old.get("flops") or {},
                    curve=tuple(tuple(c) for c in old.get("curve") or ()),
                    wall_s=float(old.get("wall_s") or 0.0), error=old.get("error"),
                    provenance={**(old.get("provenance") or {}), "migrated_from": {
                        "schema_version": int(old.get("schema_version", 1)),
                        "run_id": old.get("run_id")}})
    return rec.to_dict()


def migrate_spec_v1(spec: Mapping[str, Any], new_ids: Mapping[str, str]) -> RunSpec:
    """A schema-1 spec dict as a :class:`RunSpec` (see :func:`migrate_record_v1`)."""
    if "procedure" in spec and "n_data" in spec:
        return RunSpec.from_dict(spec)          # already schema 2
    d = {_V1_RENAMES.get(k, k): v for k, v in spec.items()}
    extra = dict(d.get("extra") or {})
    if "checkpoint_at_tokens" in extra:
        extra["checkpoint_at"] = extra.pop("checkpoint_at_tokens")
    d["extra"] = extra
    if d.get("branch_of") is not None:
        if d["branch_of"] not in new_ids:
            raise ConfigError(f"cannot migrate a branch of {d['branch_of']!r}: its trunk was not "
                              "migrated first")
        d["branch_of"] = new_ids[d["branch_of"]]
    d["procedure"] = "gpt"
    return RunSpec.from_dict(d)
