"""MaMMUT: one text decoder used twice, contrastive (bidirectional) and captioning (causal + xattn).

Follows open_clip ``src/open_clip/mammut_model.py`` (``MaMMUT``) and
``src/open_clip/transformer.py`` (``MultimodalDecoder``: ``mode="contrastive"`` is bidirectional
with padding masked from attention, no cross-attention, masked mean pooling; ``mode="caption"`` is
causal with a cross-attention block after every ``cross_attn_ratio``-th layer over the image
tokens mapped by ``map_viz2txt_kv``). Loss as CoCa (``CoCaLoss``: 1.0 contrastive + 2.0 caption,
padding ignored). Shapes and counts: :class:`scalinglab.procedures.mammut.MaMMUTConfig`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..datasets.shapeworld import PAD
from ..procedures.mammut import MaMMUTConfig
from .towers import Block, VisionTransformer, caption_loss, clip_loss, init_block, pad_key_mask

__all__ = ["MaMMUT", "TextDecoder"]

CLIP_LOSS_WEIGHT = 1.0
CAPTION_LOSS_WEIGHT = 2.0


class TextDecoder(nn.Module):
    """The single text decoder of MaMMUT (open_clip ``MultimodalDecoder``)."""

    def __init__(self, cfg: MaMMUTConfig) -> None:
        super().__init__()
        w, h = cfg.text_width, cfg.text_hidden
        self.cross_step = cfg.cross_attn_ratio
        self.token_embedding = nn.Embedding(cfg.vocab_size, w)
        self.positional_embedding = nn.Parameter(torch.empty(cfg.context_length, w))
        self.blocks = nn.ModuleList(Block(w, cfg.text_heads, h) for _ in range(cfg.text_layers))
        self.cross_blocks = nn.ModuleList(Block(w, cfg.text_heads, h, cross=True)
                                          for i in range(cfg.text_layers) if i % self.cross_step == 0)
        self.ln_final = nn.LayerNorm(w)
        self.lm_head = nn.Linear(w, cfg.vocab_size, bias=False)
        self.text_projection = nn.Linear(w, cfg.embed_dim, bias=False)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        for b in [*self.blocks, *self.cross_blocks]:
            init_block(b, w, cfg.text_layers)
        nn.init.normal_(self.lm_head.weight, std=w ** -0.5)
        nn.init.normal_(self.text_projection.weight, std=w ** -0.5)

    def _embed(self, tokens):
        return self.token_embedding(tokens) + self.positional_embedding[:tokens.shape[1]]

    def contrastive(self, tokens: torch.Tensor) -> torch.Tensor:
        """Bidirectional pass, no cross-attention: mean of the non-padding outputs, projected."""
        x = self._embed(tokens)
        mask = pad_key_mask(tokens, causal=False)
        for b in self.blocks:
            x = b(x, mask=mask)
        x = self.ln_final(x)
        valid = (tokens != PAD).unsqueeze(-1).to(x.dtype)                     # (B, L, 1)
        pooled = (x * valid).sum(dim=1) / valid.sum(dim=1).clamp_min(1.0)
        return self.text_projection(pooled)

    def caption(self, tokens: torch.Tensor, image_tokens: torch.Tensor) -> torch.Tensor:
        """Causal pass with cross-attention after layers 0, r, 2r, ...: logits ``(B, L, V)``."""
        x = self._embed(tokens)
        for i, b in enumerate(self.blocks):
            x = b(x, causal=True)
            if i % self.cross_step == 0:
                x = self.cross_blocks[i // self.cross_step](x, kv=image_tokens)
        return self.lm_head(self.ln_final(x))


class MaMMUT(nn.Module):
    """``forward(images, tokens) -> {"loss", "contrastive_loss", "caption_loss", "logits", ...}``."""

    def __init__(self, cfg: MaMMUTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.visual = VisionTransformer(image_size=cfg.image_size, patch_size=cfg.patch_size,
                                        width=cfg.vision_width, layers=cfg.vision_layers,
                                        heads=cfg.vision_heads, hidden=cfg.vision_hidden)
        self.visual_proj = nn.Linear(cfg.vision_width, cfg.embed_dim, bias=False)
        self.map_viz2txt_kv = nn.Linear(cfg.vision_width, cfg.text_width, bias=False)
        self.text = TextDecoder(cfg)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        nn.init.normal_(self.visual_proj.weight, std=cfg.vision_width ** -0.5)
        nn.init.normal_(self.map_viz2txt_kv.weight, std=cfg.vision_width ** -0.5)

    def _image(self, images):
        pooled, tokens = self.visual(images)
        return self.visual_proj(pooled), tokens

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        z, _ = self._image(images)
        return F.normalize(z, dim=-1) if normalize else z

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        z = self.text.contrastive(tokens)
        return F.normalize(z, dim=-1) if normalize else z

    def image_context(self, images: torch.Tensor) -> torch.Tensor:
        """Image tokens at the decoder's width ``(B, n_patches, text_width)`` for cross-attention."""
        return self.map_viz2txt_kv(self._image(images)[1])

    def caption_logits(self, context: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return self.text.caption(tokens, context)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> dict:
        img, patches = self._image(images)
        img = F.normalize(img, dim=-1)
        txt = F.normalize(self.text.contrastive(tokens), dim=-1)
        scale = self.logit_scale.exp()
        logits = self.text.caption(tokens, self.map_viz2txt_kv(patches))
        c_loss = CLIP_LOSS_WEIGHT * clip_loss(img, txt, scale)
        cap_loss = CAPTION_LOSS_WEIGHT * caption_loss(logits, tokens)
        return {"loss": c_loss + cap_loss, "contrastive_loss": c_loss, "caption_loss": cap_loss,
                "image_features": img, "text_features": txt, "logits": logits, "logit_scale": scale}
