"""Records of the results store: what a run *is* (:class:`RunSpec`) and what it *gave* (:class:`RunRecord`).

A ``RunSpec`` is the complete, canonical description of one training run. Its ``run_id`` is a
readable prefix plus a hash of the canonical JSON of the spec, so the same spec always has the
same id on every machine, and the store can refuse a different record under an existing id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from ..config import from_dict, to_dict
from ..units import format_quantity

__all__ = ["SCHEMA_VERSION", "RunRecord", "RunSpec", "RunStatus"]

SCHEMA_VERSION = 1

RunStatus = Literal["pending", "running", "done", "diverged", "failed"]


@dataclass(frozen=True)
class RunSpec:
    """One training run, fully specified (units in names; every field hashed into ``run_id``)."""

    rung: str                               # ladder rung name, e.g. "gpt-tiny-3"
    model: dict[str, Any]                   # resolved architecture (n_layer, d_model, n_head, seq_len, vocab_size, d_ff)
    n_tokens: int                           # training tokens D of this run's horizon
    lr: float                               # peak learning rate
    batch_size: int = 16                    # sequences per optimizer step
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
    warmup_tokens: int = 0                  # linear warmup length in tokens (0: auto = about N tokens, capped)
    cooldown_frac: float = 0.2              # WSD: fraction of the run spent in the 1-sqrt cooldown
    min_lr_frac: float = 0.0                # LR at the end of the decay, as a fraction of peak
    beta1: float = 0.9
    beta2: float = 0.99                     # AdamW beta2 (0.99 suits the small batches used here)
    weight_decay: float = 0.1               # applied to matrices only
    grad_clip: float = 1.0                  # max global grad norm (0 disables)
    seed: int = 0
    corpus: str = "stdlib"                  # "stdlib" (the interpreter's Python sources) or a path spec
    tokenizer: str = "byte"                 # "byte" or a path to a tokenizers BPE json
    eval_tokens: int = 65536                # held-out tokens scored for val_loss
    branch_of: str | None = None            # run_id of the constant-LR trunk this cooldown branches from
    branch_at_tokens: int | None = None     # trunk checkpoint (tokens) the branch starts from
    procedure: str = "reference"            # label for comparing procedures (group key)
    ladder: str = "gpt-tiny"                # ladder the rung comes from
    device: str = "cpu"                     # "cpu", "cuda", "cuda:1" ... (not hashed: same run anywhere)
    extra: dict[str, Any] = field(default_factory=dict)  # free-form, hashed

    _UNHASHED = ("device",)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return from_dict(cls, data)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def canonical_json(self) -> str:
        d = {k: v for k, v in self.to_dict().items() if k not in self._UNHASHED}
        return json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)

    @property
    def run_id(self) -> str:
        """``<rung>_D<tokens>_lr<lr>_s<seed>[_<schedule>]_<hash6>``, e.g. ``gpt-tiny-3_D2M_lr0.003_s0_9f3a1c``."""
        h = hashlib.sha256(self.canonical_json().encode()).hexdigest()[:6]
        sched = "" if self.schedule == "cosine" else f"_{self.schedule}"
        return f"{self.rung}_D{format_quantity(self.n_tokens)}_lr{self.lr:g}_s{self.seed}{sched}_{h}"


@dataclass(frozen=True)
class RunRecord:
    """What a finished (or diverged / failed) run produced, with its provenance.

    ``n_params`` holds every parameter-count convention (``non_embedding``, ``with_last_layer``,
    ``total``) and ``flops`` every FLOP convention (``6N``, ``6N_with_last_layer``, ``exact``;
    total training FLOPs = per-token x tokens), so results can be refit under any of them.
    """

    run_id: str
    spec: dict[str, Any]
    status: RunStatus
    val_loss: float | None = None           # mean held-out loss (nats/token)
    val_loss_se: float | None = None        # standard error of val_loss over eval batches
    train_loss: float | None = None         # smoothed final training loss
    tokens_seen: int = 0
    n_params: dict[str, int] = field(default_factory=dict)
    flops: dict[str, float] = field(default_factory=dict)
    curve: list[tuple[int, float]] = field(default_factory=list)   # (tokens, val_loss) along the run
    wall_s: float = 0.0
    error: str | None = None                 # message for failed/diverged runs
    provenance: dict[str, Any] = field(default_factory=dict)       # git, versions, host, corpus hash, seed
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        data = dict(data)
        data["curve"] = [tuple(x) for x in data.get("curve", [])]
        return from_dict(cls, data)
