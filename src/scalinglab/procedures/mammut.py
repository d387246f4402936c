"""MaMMUT as a procedure: its typed config and analytic parameter and FLOP counts (no torch).

MaMMUT (Kuo et al. 2023, "MaMMUT: A Simple Architecture for Joint Learning for MultiModal Tasks")
as open_clip builds it (``src/open_clip/mammut_model.py`` ``MaMMUT`` and
``src/open_clip/transformer.py`` ``MultimodalDecoder``; first in LAION's ``open_clip_mammut``
fork, used by Nezhurina et al. 2025): a ViT and **one** text decoder used in two passes per
sample. The contrastive pass is bidirectional with padding masked from attention, skips
cross-attention and mean-pools the non-padding tokens (``pool_type="avg"``), then projects to
``embed_dim``. The caption pass is causal and inserts a cross-attention block after every
``cross_attn_ratio``-th self-attention block (layers 0, 2, 4, ... for the default 2) over the ViT's
patch tokens mapped to the decoder width (``map_viz2txt_kv``); a separate ``lm_head`` predicts the
next token. Loss: ``1.0 x ClipLoss + 2.0 x caption cross-entropy``, padding ignored. The model is
:class:`scalinglab.train.mammut.MaMMUT`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import ConfigError
from ._imagetext import ImageTextConfig, block_macs, block_params, register

__all__ = ["MAMMUT", "MaMMUTConfig"]


@dataclass(frozen=True)
class MaMMUTConfig(ImageTextConfig):
    """Shape of a tiny MaMMUT: :class:`ImageTextConfig` (``text_layers`` = decoder blocks) plus
    where the decoder cross-attends."""

    cross_attn_ratio: int = 2    # a cross-attention block after decoder layers i with i % ratio == 0

    PROCEDURE: ClassVar[str] = "mammut"
    METRICS: ClassVar[tuple[str, ...]] = (
        "zeroshot_error", "retrieval_error", "zeroshot_mean_recall", "heldout_zeroshot_error",
        "retrieval_i2t_r1",
        "retrieval_t2i_r1", "retrieval_i2t_r5", "retrieval_t2i_r5", "hard_negative_accuracy",
        "captioning_zeroshot_error", "val_contrastive_loss", "val_caption_loss")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cross_attn_ratio > self.text_layers:
            raise ConfigError(f"MaMMUTConfig.cross_attn_ratio ({self.cross_attn_ratio}) must be "
                              f"<= text_layers ({self.text_layers})")

    @property
    def n_cross(self) -> int:
        """Cross-attention blocks: one per ``cross_attn_ratio`` decoder layers (rounded up)."""
        return -(-self.text_layers // self.cross_attn_ratio)

    def _param_parts(self) -> tuple[int, int]:
        wv, wt, e, V, T = (self.vision_width, self.text_width, self.embed_dim, self.vocab_size,
                           self.context_length)
        vision_emb = self.vision_embedding_params()
        vision = vision_emb + self.vision_trunk_params() + 2 * wv + wv * e      # ln_post, proj
        text_emb = V * wt + T * wt
        decoder = (text_emb + self.text_block_params(self.text_layers)
                   + self.n_cross * block_params(wt, self.text_hidden, cross=True)
                   + 2 * wt + wt * V + wt * e)                  # ln_final, lm_head, projection
        return vision + decoder + wv * wt + 1, vision_emb + text_emb   # + map_viz2txt_kv, logit_scale

    def _forward_macs(self) -> int:
        wv, wt, e, V, T = (self.vision_width, self.text_width, self.embed_dim, self.vocab_size,
                           self.context_length)
        n_img = self.n_patches
        image = self.vision_trunk_macs() + wv * e + n_img * wv * wt    # proj; map to decoder width
        contrastive = self.text_block_macs(self.text_layers, T) + wt * e
        caption = (self.text_block_macs(self.text_layers, T)
                   + self.n_cross * block_macs(wt, self.text_hidden, T, n_kv=n_img) + T * wt * V)
        return image + contrastive + caption


MAMMUT = register(MaMMUTConfig, description="MaMMUT: ViT + one text decoder used for a bidirectional contrastive and a causal captioning pass",
                citation="Kuo et al. 2023; Nezhurina et al. 2025; open_clip mammut_model.py")
