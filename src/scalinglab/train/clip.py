"""CLIP: a ViT and a causal text transformer trained with symmetric InfoNCE (one readable file).

Follows open_clip ``src/open_clip/model.py`` (``CLIP``: ``encode_image``, ``encode_text``,
``logit_scale`` initialised to ``log(1/0.07)``) and ``src/open_clip/loss.py`` (``ClipLoss``). The
text embedding is read at the ``<eot>`` token (open_clip's ``argmax`` pooling finds the same
position, the end-of-text id being the largest in its BPE vocabulary). Shapes and counts:
:class:`scalinglab.procedures.clip.CLIPConfig`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..procedures.clip import CLIPConfig
from .towers import TextTransformer, VisionTransformer, clip_loss

__all__ = ["CLIP"]


class CLIP(nn.Module):
    """``forward(images, tokens) -> {"loss", "contrastive_loss", "image_features", ...}``.

    Examples
    --------
    >>> import torch
    >>> cfg = CLIPConfig(vision_width=32, text_width=32, embed_dim=32, vocab_size=47)
    >>> m = CLIP(cfg)
    >>> sum(p.numel() for p in m.parameters()) == cfg.n_params()
    True
    """

    def __init__(self, cfg: CLIPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.visual = VisionTransformer(image_size=cfg.image_size, patch_size=cfg.patch_size,
                                        width=cfg.vision_width, layers=cfg.vision_layers,
                                        heads=cfg.vision_heads, hidden=cfg.vision_hidden)
        self.visual_proj = nn.Linear(cfg.vision_width, cfg.embed_dim, bias=False)
        self.text = TextTransformer(vocab_size=cfg.vocab_size, context_length=cfg.context_length,
                                    width=cfg.text_width, layers=cfg.text_layers,
                                    heads=cfg.text_heads, hidden=cfg.text_hidden)
        self.text_proj = nn.Linear(cfg.text_width, cfg.embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        nn.init.normal_(self.visual_proj.weight, std=cfg.vision_width ** -0.5)
        nn.init.normal_(self.text_proj.weight, std=cfg.text_width ** -0.5)

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        pooled, _ = self.visual(images)
        z = self.visual_proj(pooled)
        return F.normalize(z, dim=-1) if normalize else z

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        pooled, _ = self.text(tokens)
        z = self.text_proj(pooled)
        return F.normalize(z, dim=-1) if normalize else z

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> dict:
        img, txt = self.encode_image(images), self.encode_text(tokens)
        scale = self.logit_scale.exp()
        loss = clip_loss(img, txt, scale)
        return {"loss": loss, "contrastive_loss": loss, "image_features": img,
                "text_features": txt, "logit_scale": scale}
