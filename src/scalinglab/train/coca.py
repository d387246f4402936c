"""CoCa: contrastive + captioning with a unimodal text tower and a multimodal decoder (one file).

Follows open_clip ``src/open_clip/coca_model.py`` (``CoCa``), ``src/open_clip/transformer.py``
(``AttentionalPooler``, ``TextTransformer`` with ``embed_cls``, ``MultimodalTransformer``) and
``src/open_clip/loss.py`` (``CoCaLoss``: ``clip_loss_weight=1.0``, ``caption_loss_weight=2.0``,
padding ignored). Shapes and counts: :class:`scalinglab.procedures.coca.CoCaConfig`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..procedures.coca import CoCaConfig
from .towers import AttentionalPooler, Block, TextTransformer, VisionTransformer, caption_loss, clip_loss, init_block

__all__ = ["CoCa"]

CLIP_LOSS_WEIGHT = 1.0
CAPTION_LOSS_WEIGHT = 2.0


class MultimodalDecoder(nn.Module):
    """``decoder_layers`` x (causal self-attention block, cross-attention block), ``ln_final``,
    projection to the vocabulary (open_clip ``MultimodalTransformer``)."""

    def __init__(self, cfg: CoCaConfig) -> None:
        super().__init__()
        w, h = cfg.text_width, cfg.text_hidden
        self.self_blocks = nn.ModuleList(Block(w, cfg.text_heads, h) for _ in range(cfg.decoder_layers))
        self.cross_blocks = nn.ModuleList(Block(w, cfg.text_heads, h, cross=True)
                                          for _ in range(cfg.decoder_layers))
        for b in [*self.self_blocks, *self.cross_blocks]:
            init_block(b, w, cfg.decoder_layers)
        self.ln_final = nn.LayerNorm(w)
        self.lm_head = nn.Linear(w, cfg.vocab_size, bias=False)
        nn.init.normal_(self.lm_head.weight, std=w ** -0.5)

    def forward(self, image_tokens: torch.Tensor, text_tokens: torch.Tensor) -> torch.Tensor:
        x = text_tokens
        for sb, cb in zip(self.self_blocks, self.cross_blocks):
            x = sb(x, causal=True)
            x = cb(x, kv=image_tokens)
        return self.lm_head(self.ln_final(x))                                 # (B, L, V)


class CoCa(nn.Module):
    """``forward(images, tokens) -> {"loss", "contrastive_loss", "caption_loss", "logits", ...}``."""

    def __init__(self, cfg: CoCaConfig) -> None:
        super().__init__()
        self.cfg = cfg
        pooler = AttentionalPooler(cfg.embed_dim, cfg.vision_width, cfg.pooler_heads, cfg.n_queries)
        self.visual = VisionTransformer(image_size=cfg.image_size, patch_size=cfg.patch_size,
                                        width=cfg.vision_width, layers=cfg.vision_layers,
                                        heads=cfg.vision_heads, hidden=cfg.vision_hidden,
                                        pooler=pooler)
        self.visual_proj = nn.Linear(cfg.embed_dim, cfg.embed_dim, bias=False)
        self.text = TextTransformer(vocab_size=cfg.vocab_size, context_length=cfg.context_length,
                                    width=cfg.text_width, layers=cfg.text_layers,
                                    heads=cfg.text_heads, hidden=cfg.text_hidden, embed_cls=True)
        self.text_proj = nn.Linear(cfg.text_width, cfg.embed_dim, bias=False)
        self.decoder = MultimodalDecoder(cfg)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        nn.init.normal_(self.visual_proj.weight, std=cfg.embed_dim ** -0.5)
        nn.init.normal_(self.text_proj.weight, std=cfg.text_width ** -0.5)

    def _image(self, images):
        pooled, tokens = self.visual(images)
        return self.visual_proj(pooled), tokens

    def _text(self, tokens):
        pooled, token_out = self.text(tokens)
        return self.text_proj(pooled), token_out

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        z, _ = self._image(images)
        return F.normalize(z, dim=-1) if normalize else z

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        z, _ = self._text(tokens)
        return F.normalize(z, dim=-1) if normalize else z

    def image_context(self, images: torch.Tensor) -> torch.Tensor:
        """What the captioner attends to: the pooler's caption queries ``(B, n_queries - 1, e)``."""
        return self._image(images)[1]

    def caption_logits(self, context: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Next-token logits ``(B, L, V)`` of ``tokens`` given image context (same batch size)."""
        return self.decoder(context, self._text(tokens)[1])

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> dict:
        img, context = self._image(images)
        txt, token_out = self._text(tokens)
        img, txt = F.normalize(img, dim=-1), F.normalize(txt, dim=-1)
        scale = self.logit_scale.exp()
        logits = self.decoder(context, token_out)
        c_loss = CLIP_LOSS_WEIGHT * clip_loss(img, txt, scale)
        cap_loss = CAPTION_LOSS_WEIGHT * caption_loss(logits, tokens)
        return {"loss": c_loss + cap_loss, "contrastive_loss": c_loss, "caption_loss": cap_loss,
                "image_features": img, "text_features": txt, "logits": logits, "logit_scale": scale}
