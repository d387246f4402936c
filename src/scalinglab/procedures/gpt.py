"""The reference GPT procedure: a decoder-only language model trained on next-token prediction.

:class:`GPTConfig` is the model's shape (torch-free); the torch module that it builds is
:class:`scalinglab.train.gpt.GPT` and the trainer is :func:`scalinglab.train.loop.run`. The
parameter and FLOP counts below mirror that module exactly (pre-LN blocks, no biases in Linear
layers, LayerNorms with weight and bias, learned positions, output layer tied to the token
embedding); ``tests/train/test_gpt_model.py`` checks them against the torch model's parameters.

Conventions
-----------
Parameters (:meth:`GPTConfig.n_params`):

* ``non_embedding`` (default; Kaplan et al. 2020, Sec. 2.1): attention ``4 d^2`` + MLP
  ``2 d d_ff`` + two LayerNorms ``4 d`` per layer, plus the final LayerNorm ``2 d``;
* ``with_last_layer``: + the (tied) output projection ``V d`` (Pearce & Song 2024 and Porian et
  al. 2024 show that omitting it biases small-scale exponents);
* ``total``: + position embeddings ``T d`` (token embedding = output layer, counted once).

Training FLOPs per token (:meth:`GPTConfig.flops_per_unit`; forward + backward = 3 x forward):

* ``exact`` (default): 3 x [2 x matmul parameters per layer + attention scores and weighted sum
  ``2 * 2 * T * d`` per layer + output logits ``2 V d``] (Hoffmann et al. 2022, App. F; the
  attention term uses the full context ``T`` as Chinchilla does, not the causal half). At tiny
  scale the attention and output terms dominate, so the convention matters;
* ``6N``: 6 x non-embedding parameters (Kaplan et al. 2020, Eq. 2.1);
* ``6N_with_last_layer``: 6 x (non-embedding + V d).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError, UnknownNameError, suggest
from ._base import Procedure, register_procedure

__all__ = ["FLOPS_CONVENTIONS", "GPT", "GPTConfig", "PARAM_CONVENTIONS"]

PARAM_CONVENTIONS = ("non_embedding", "with_last_layer", "total")
FLOPS_CONVENTIONS = ("exact", "6N", "6N_with_last_layer")


@dataclass(frozen=True)
class GPTConfig:
    """Shape of the reference GPT (``RunSpec.model`` of the ``gpt`` procedure)."""

    n_layer: int = 4            # transformer blocks
    d_model: int = 128          # residual stream width
    n_head: int = 4             # attention heads (d_model must be divisible by n_head)
    seq_len: int = 256          # context length in tokens (learned positions)
    vocab_size: int = 256       # 256 = raw bytes (document separator = byte 0)
    d_ff: int | None = None     # MLP hidden width; None means 4 * d_model

    def __post_init__(self) -> None:
        for name in ("n_layer", "d_model", "n_head", "seq_len", "vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"GPTConfig.{name} must be a positive integer; got {value!r}")
        if self.d_model % self.n_head:
            raise ConfigError(f"GPTConfig: d_model ({self.d_model}) must be divisible by "
                              f"n_head ({self.n_head}); e.g. use n_head={self.d_model // 32 or 1}")
        if self.d_ff is not None and (isinstance(self.d_ff, bool) or not isinstance(self.d_ff, int)
                                      or self.d_ff < 1):
            raise ConfigError(f"GPTConfig.d_ff must be a positive integer or null; got {self.d_ff!r}")

    @property
    def ff_width(self) -> int:
        """MLP hidden width (``d_ff``, or ``4 d_model`` when unset)."""
        return 4 * self.d_model if self.d_ff is None else self.d_ff

    @property
    def units_per_example(self) -> int:
        """Tokens per training sequence (D counts tokens)."""
        return self.seq_len

    def n_params(self, convention: str = "non_embedding") -> int:
        """Parameters under a convention of :data:`PARAM_CONVENTIONS` (module docstring)."""
        d, f = self.d_model, self.ff_width
        per_layer = 4 * d * d + 2 * d * f + 4 * d
        non_emb = self.n_layer * per_layer + 2 * d
        if convention == "non_embedding":
            return non_emb
        if convention == "with_last_layer":
            return non_emb + self.vocab_size * d
        if convention == "total":
            return non_emb + self.vocab_size * d + self.seq_len * d
        raise UnknownNameError(f"unknown parameter convention {convention!r}."
                               f"{suggest(convention, PARAM_CONVENTIONS)} Available: "
                               f"{', '.join(PARAM_CONVENTIONS)}")

    def flops_per_unit(self, convention: str = "exact") -> float:
        """Training FLOPs per token under a convention of :data:`FLOPS_CONVENTIONS`."""
        d, f = self.d_model, self.ff_width
        if convention == "6N":
            return 6.0 * self.n_params("non_embedding")
        if convention == "6N_with_last_layer":
            return 6.0 * self.n_params("with_last_layer")
        if convention == "exact":
            matmul = self.n_layer * (4 * d * d + 2 * d * f)
            attn = self.n_layer * 2 * 2 * self.seq_len * d
            logits = 2 * self.vocab_size * d
            return 3.0 * (2.0 * matmul + attn + logits)
        raise UnknownNameError(f"unknown FLOP convention {convention!r}."
                               f"{suggest(convention, FLOPS_CONVENTIONS)} Available: "
                               f"{', '.join(FLOPS_CONVENTIONS)}")

    flops_per_token = flops_per_unit


GPT = register_procedure(Procedure(
    name="gpt",
    config=GPTConfig,
    trainer="scalinglab.train.loop:run",
    unit="tokens",
    metrics=("val_loss", "val_loss_common"),   # val_loss_common: on a fixed dataset's split (eval.common_dataset)
    param_conventions=PARAM_CONVENTIONS,
    flops_conventions=FLOPS_CONVENTIONS,
    modality="text",
    description="decoder-only transformer language model, next-token cross-entropy (nats/token)",
    citation="Radford et al. 2019 (GPT-2); Karpathy, nanoGPT",
))
