"""CoCa as a procedure: its typed config and analytic parameter and FLOP counts (no torch).

CoCa (Yu et al. 2022, "CoCa: Contrastive Captioners are Image-Text Foundation Models") as
open_clip builds it (``src/open_clip/coca_model.py`` ``CoCa``): the ViT ends in an attentional
pooler (``AttentionalPooler``, ``n_queries`` learned queries); query 0 is the contrastive image
embedding, the other ``n_queries - 1`` are the image tokens the captioner attends to. The
unimodal text transformer is causal with a class token appended at the end
(``embed_cls=True``), whose output is the text embedding. The multimodal decoder
(``MultimodalTransformer``) runs ``decoder_layers`` x (causal self-attention block +
cross-attention block) over the unimodal token outputs and predicts the next token through a
projection to the vocabulary. Loss: ``1.0 x ClipLoss + 2.0 x caption cross-entropy`` with padding
ignored (``src/open_clip/loss.py`` ``CoCaLoss``, weights from ``open_clip_train/params.py``).
As in open_clip, the pooler's output width is ``embed_dim`` and the decoder's is ``text_width``,
so the two must be equal. The model is :class:`scalinglab.train.coca.CoCa`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import ConfigError
from ._imagetext import ImageTextConfig, block_macs, block_params, register

__all__ = ["COCA", "CoCaConfig"]


@dataclass(frozen=True)
class CoCaConfig(ImageTextConfig):
    """Shape of a tiny CoCa: :class:`ImageTextConfig` plus the decoder and the pooler."""

    decoder_layers: int = 2      # multimodal decoder layers (each: self-attention + cross-attention block)
    n_queries: int = 17          # attentional-pooler queries: 1 contrastive + n_queries - 1 caption tokens
    pooler_heads: int = 2        # attention heads of the pooler (embed_dim must be divisible)

    PROCEDURE: ClassVar[str] = "coca"
    METRICS: ClassVar[tuple[str, ...]] = (
        "zeroshot_error", "retrieval_error", "zeroshot_mean_recall", "heldout_zeroshot_error",
        "retrieval_i2t_r1",
        "retrieval_t2i_r1", "retrieval_i2t_r5", "retrieval_t2i_r5", "hard_negative_accuracy",
        "captioning_zeroshot_error", "val_contrastive_loss", "val_caption_loss")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.embed_dim != self.text_width:
            raise ConfigError(f"CoCaConfig: embed_dim ({self.embed_dim}) must equal text_width "
                              f"({self.text_width}): the pooled image tokens feed the decoder's "
                              "cross-attention (as in open_clip's CoCa)")
        if self.n_queries < 2:
            raise ConfigError(f"CoCaConfig.n_queries must be >= 2 (one contrastive query and at "
                              f"least one caption token); got {self.n_queries}")
        if self.embed_dim % self.pooler_heads:
            raise ConfigError(f"CoCaConfig: embed_dim ({self.embed_dim}) must be divisible by "
                              f"pooler_heads ({self.pooler_heads})")

    def _param_parts(self) -> tuple[int, int]:
        wv, wt, e, V, T = (self.vision_width, self.text_width, self.embed_dim, self.vocab_size,
                           self.context_length)
        nq = self.n_queries
        vision_emb = self.vision_embedding_params()
        pooler = nq * e + (e * e + 2 * e * wv + 3 * e) + (e * e + e) + 2 * e + 2 * wv
        vision = vision_emb + self.vision_trunk_params() + pooler + 2 * e + e * e   # ln_post, proj
        text_emb = V * wt + (T + 1) * wt + wt                  # tokens, positions (+ cls), cls token
        text = text_emb + self.text_block_params(self.text_layers) + 2 * wt + wt * e
        decoder = (self.decoder_layers * (block_params(wt, self.text_hidden)
                                          + block_params(wt, self.text_hidden, cross=True))
                   + 2 * wt + wt * V)                          # ln_final, projection to the vocabulary
        return vision + text + decoder + 1, vision_emb + text_emb

    def _forward_macs(self) -> int:
        wv, wt, e, V, T = (self.vision_width, self.text_width, self.embed_dim, self.vocab_size,
                           self.context_length)
        nq, Tv = self.n_queries, self.n_patches + 1
        pooler = nq * e * e + Tv * 2 * e * wv + 2 * nq * Tv * e + nq * e * e
        image = self.vision_trunk_macs() + pooler + e * e       # proj of the contrastive query
        text = self.text_block_macs(self.text_layers, T + 1) + wt * e
        per_layer = (block_macs(wt, self.text_hidden, T)
                     + block_macs(wt, self.text_hidden, T, n_kv=nq - 1))
        decoder = self.decoder_layers * per_layer + T * wt * V
        return image + text + decoder


COCA = register(CoCaConfig, description="CoCa: ViT + attentional pooler, unimodal text tower, multimodal decoder; 1 x contrastive + 2 x captioning",
                citation="Yu et al. 2022; open_clip coca_model.py, loss.py CoCaLoss")
