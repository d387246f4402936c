"""What the three image-text procedures share: the tower shapes and their counting rules (no torch).

The towers follow open_clip (``src/open_clip/transformer.py``): pre-LN residual blocks
(``ResidualAttentionBlock``: LayerNorm with weight and bias, a fused q/k/v projection with bias, an
output projection with bias, an MLP ``w -> mlp_ratio w -> w`` with biases and GELU), a ViT
(``VisionTransformer``: a stride-``patch_size`` patch embedding without bias, a class token,
learned positions, ``ln_pre``, the blocks, ``ln_post``, a projection without bias) and a text
transformer (``TextTransformer``: token and position embeddings, the blocks, ``ln_final``, a
projection without bias). ``scalinglab.train.towers`` builds exactly these modules and
``tests/train/test_lv_counts.py`` checks every count here against the torch modules.

Counting rules (per sample):

* **MACs** (multiply-accumulates) of every matmul a forward pass executes: each Linear layer
  ``tokens x in x out``; attention ``2 x Lq x Lk x width`` (scores and the weighted sum), over
  the full ``Lq x Lk`` even where a mask hides part of it (as Hoffmann et al. 2022, App. F,
  count causal attention); the patch embedding as the Linear map it is. Embedding look-ups,
  LayerNorms, softmaxes, GELUs and the contrastive similarity matrix (``2 B e`` MACs per sample,
  which depends on the batch, not the sample) are not counted.
* ``flops_per_sample("forward")`` = 2 x MACs: the forward FLOPs of one training sample, the
  quantity OpenCLIP's profiler reports per sample (Cherti et al. 2023, "Reproducible scaling laws
  for contrastive language-image learning", Sec. 3) summed over every pass training makes.
* ``flops_per_sample("exact")`` = 3 x forward: training FLOPs (the backward pass costs twice the
  forward; Kaplan et al. 2020, Sec. 2.1).

Parameter conventions: ``total`` counts every parameter (``sum(p.numel())`` of the torch model);
``non_embedding`` leaves out the input embedding tables (token embedding, text and image
position embeddings, class tokens), which do no matmul, and keeps every projection and output
head (Kaplan et al. 2020, Sec. 2.1, for the language part).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from ..config import from_dict
from ..errors import ConfigError, UnknownNameError, suggest
from ._base import Procedure, register_procedure

__all__ = [
    "FLOP_CONVENTIONS",
    "PARAM_CONVENTIONS",
    "ImageTextConfig",
    "block_macs",
    "block_params",
    "check_convention",
    "register",
]

PARAM_CONVENTIONS = ("non_embedding", "total")   # the first is the default N of fits
FLOP_CONVENTIONS = ("exact", "forward")


def check_convention(name: str, allowed: tuple[str, ...], what: str) -> None:
    if name not in allowed:
        raise UnknownNameError(f"unknown {what} convention {name!r}.{suggest(name, allowed)} "
                               f"Available: {', '.join(allowed)}")


def block_params(width: int, hidden: int, cross: bool = False) -> int:
    """One ``ResidualAttentionBlock``: two LayerNorms, q/k/v + out projections, MLP (with biases).

    A cross-attention block adds ``ln_1_kv`` (its keys and values come from the other modality,
    already at ``width``).
    """
    norms = (3 if cross else 2) * 2 * width
    attn = 3 * width * width + 3 * width + width * width + width
    mlp = width * hidden + hidden + hidden * width + width
    return norms + attn + mlp


def block_macs(width: int, hidden: int, n_q: int, n_kv: int | None = None) -> int:
    """MACs of one block on ``n_q`` query tokens; ``n_kv`` key/value tokens for cross-attention."""
    if n_kv is None:       # self-attention: q, k, v from the same n_q tokens
        proj = n_q * 3 * width * width
        n_kv = n_q
    else:
        proj = n_q * width * width + n_kv * 2 * width * width
    attn = 2 * n_q * n_kv * width
    out = n_q * width * width
    mlp = 2 * n_q * width * hidden
    return proj + attn + out + mlp


@dataclass(frozen=True)
class ImageTextConfig(ABC):
    """The image tower and text shape every image-text procedure has (subclassed per procedure)."""

    image_size: int = 32         # pixels per side of the square RGB input
    patch_size: int = 4          # ViT patch side in pixels (image_size must be a multiple)
    vision_width: int = 64       # ViT residual width
    vision_layers: int = 2       # ViT blocks
    vision_heads: int = 2        # ViT attention heads (vision_width must be divisible)
    text_width: int = 64         # text transformer residual width
    text_layers: int = 2         # text transformer blocks (MaMMUT: decoder blocks)
    text_heads: int = 2          # text attention heads (text_width must be divisible)
    context_length: int = 32     # caption tokens incl. <sot> and <eot>
    vocab_size: int = 64         # word-level vocabulary (pad = 0)
    embed_dim: int = 64          # shared image-text embedding width of the contrastive loss
    mlp_ratio: int = 4           # MLP hidden width = mlp_ratio x width (both towers)

    PROCEDURE: ClassVar[str] = ""
    UNITS_PER_EXAMPLE: ClassVar[int] = 1       # D counts image-text samples seen
    TRAINER: ClassVar[str] = "scalinglab.train.imagetext:run"

    def __post_init__(self) -> None:
        name = type(self).__name__
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"{name}.{f.name} must be an integer; got {v!r}")
            if v < 1:
                raise ConfigError(f"{name}.{f.name} must be >= 1; got {v}")
        if self.image_size % self.patch_size:
            raise ConfigError(f"{name}: image_size ({self.image_size}) must be a multiple of "
                              f"patch_size ({self.patch_size})")
        for tower in ("vision", "text"):
            w, h = getattr(self, f"{tower}_width"), getattr(self, f"{tower}_heads")
            if w % h:
                raise ConfigError(f"{name}: {tower}_width ({w}) must be divisible by "
                                  f"{tower}_heads ({h}); e.g. {tower}_heads={max(1, w // 32)}")
        if self.context_length < 3:
            raise ConfigError(f"{name}.context_length must be >= 3 (<sot>, a word, <eot>); "
                              f"got {self.context_length}")
        if self.vocab_size < 5:
            raise ConfigError(f"{name}.vocab_size must be >= 5 (4 special tokens and a word); "
                              f"got {self.vocab_size}")

    # --- (de)serialisation --------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict):
        """Strict construction (unknown keys and wrong types raise ConfigError)."""
        return from_dict(cls, dict(data), where=cls.__name__)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    # --- shapes ---------------------------------------------------------------------------------
    @property
    def n_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def vision_hidden(self) -> int:
        return self.mlp_ratio * self.vision_width

    @property
    def text_hidden(self) -> int:
        return self.mlp_ratio * self.text_width

    # --- the ViT (open_clip VisionTransformer, pool_type="tok") ---------------------------------
    def vision_embedding_params(self) -> int:
        """Class token + position embeddings (the image tower's embedding tables)."""
        return self.vision_width + (self.n_patches + 1) * self.vision_width

    def vision_trunk_params(self) -> int:
        """Patch embedding, ln_pre, blocks (no embeddings, no ln_post, no projection)."""
        w = self.vision_width
        return (3 * self.patch_size ** 2 * w + 2 * w
                + self.vision_layers * block_params(w, self.vision_hidden))

    def vision_trunk_macs(self) -> int:
        w, T = self.vision_width, self.n_patches + 1
        return (self.n_patches * 3 * self.patch_size ** 2 * w
                + self.vision_layers * block_macs(w, self.vision_hidden, T))

    def text_block_params(self, n_layers: int) -> int:
        return n_layers * block_params(self.text_width, self.text_hidden)

    def text_block_macs(self, n_layers: int, n_tokens: int) -> int:
        return n_layers * block_macs(self.text_width, self.text_hidden, n_tokens)

    # --- the per-procedure parts ----------------------------------------------------------------
    @abstractmethod
    def _param_parts(self) -> tuple[int, int]:
        """(total, embedding) parameters; each procedure's config defines it."""

    @abstractmethod
    def _forward_macs(self) -> int:
        """Multiply-accumulates of one sample's forward pass; each procedure's config defines it."""

    def n_params(self, convention: str = "total") -> int:
        """Parameters under ``convention`` (``total`` or ``non_embedding``; see module docs)."""
        check_convention(convention, PARAM_CONVENTIONS, "parameter")
        total, emb = self._param_parts()
        return total if convention == "total" else total - emb

    def flops_per_sample(self, convention: str = "exact") -> float:
        """FLOPs per image-text sample: ``exact`` (training, 3 x forward) or ``forward``."""
        check_convention(convention, FLOP_CONVENTIONS, "FLOP")
        fwd = 2.0 * self._forward_macs()
        return 3.0 * fwd if convention == "exact" else fwd

    # The procedure registry's ModelConfig protocol (D counts samples: one per example).
    flops_per_unit = flops_per_sample

    @property
    def units_per_example(self) -> int:
        return self.UNITS_PER_EXAMPLE


def register(config: type, *, description: str, citation: str):
    """Register an image-text procedure (name ``config.PROCEDURE``) in the procedure registry."""
    return register_procedure(Procedure(
        name=config.PROCEDURE, config=config, trainer=config.TRAINER, unit="samples",
        metrics=config.METRICS, param_conventions=PARAM_CONVENTIONS,
        flops_conventions=FLOP_CONVENTIONS, modality="image-text", lower_is_better=True,
        description=description, citation=citation))
