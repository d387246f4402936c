"""CLIP as a procedure: its typed config and analytic parameter and FLOP counts (no torch).

CLIP (Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
Supervision") as open_clip builds it (``src/open_clip/model.py`` ``CLIP``): a ViT image tower and a
causal text transformer whose embedding is read at the end-of-text token, both projected to
``embed_dim`` and trained with the symmetric InfoNCE loss (``src/open_clip/loss.py`` ``ClipLoss``)
with a learnable temperature initialised to ``log(1/0.07)``. The model is
:class:`scalinglab.train.clip.CLIP`; counting rules are in :mod:`scalinglab.procedures._imagetext`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._imagetext import ImageTextConfig, register

__all__ = ["CLIP", "CLIPConfig"]


@dataclass(frozen=True)
class CLIPConfig(ImageTextConfig):
    """Shape of a tiny CLIP. Fields (all integers) are those of :class:`ImageTextConfig`.

    Examples
    --------
    >>> cfg = CLIPConfig(vision_width=32, text_width=32, embed_dim=32, vocab_size=47)
    >>> cfg.n_params() > cfg.n_params("non_embedding")
    True
    """

    PROCEDURE: ClassVar[str] = "clip"
    METRICS: ClassVar[tuple[str, ...]] = (
        "zeroshot_error", "retrieval_error", "zeroshot_mean_recall", "heldout_zeroshot_error",
        "retrieval_i2t_r1",
        "retrieval_t2i_r1", "retrieval_i2t_r5", "retrieval_t2i_r5", "hard_negative_accuracy",
        "val_contrastive_loss")

    def _param_parts(self) -> tuple[int, int]:
        wv, wt, e, V, T = (self.vision_width, self.text_width, self.embed_dim, self.vocab_size,
                           self.context_length)
        vision_emb = self.vision_embedding_params()
        vision = vision_emb + self.vision_trunk_params() + 2 * wv + wv * e     # + ln_post, proj
        text_emb = V * wt + T * wt
        text = text_emb + self.text_block_params(self.text_layers) + 2 * wt + wt * e
        return vision + text + 1, vision_emb + text_emb                         # + logit_scale

    def _forward_macs(self) -> int:
        e = self.embed_dim
        image = self.vision_trunk_macs() + self.vision_width * e               # proj of the cls token
        text = self.text_block_macs(self.text_layers, self.context_length) + self.text_width * e
        return image + text


CLIP = register(CLIPConfig, description="CLIP: ViT + causal text transformer, symmetric InfoNCE (zero-shot error first)",
                citation="Radford et al. 2021; open_clip (Ilharco et al. 2021) model.py, loss.py")
