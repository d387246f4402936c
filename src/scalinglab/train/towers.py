"""The parts CLIP, CoCa and MaMMUT share: blocks, the ViT, the text transformer, the two losses.

Each part follows open_clip and says which class it mirrors. Every matmul is an ``nn.Linear`` (the
patch embedding and the projections included, where open_clip uses a convolution or a bare
``nn.Parameter``: the same maps, written so that a forward hook sees them) and attention goes
through :class:`SDPA`, so ``tests/train/test_lv_counts.py`` can count a forward pass's MACs with
hooks and compare them with :mod:`scalinglab.procedures._imagetext`.

Initialisation follows open_clip's text tower (``TextTransformer.init_parameters``) in both
towers: q/k/v ``N(0, w^-1/2)``, output projections ``N(0, w^-1/2 (2L)^-1/2)``, MLP in
``N(0, (2w)^-1/2)``, token embeddings ``N(0, 0.02)``, text positions ``N(0, 0.01)``, image
positions and class token ``N(0, w^-1/2)``, projections ``N(0, w^-1/2)``, biases zero.
(open_clip leaves its ViT blocks at PyTorch's defaults; one rule for both towers is simpler and
trains these tiny models as well.)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..datasets.shapeworld import EOT, PAD

__all__ = [
    "IMAGE_MEAN",
    "IMAGE_STD",
    "Attention",
    "AttentionalPooler",
    "Block",
    "SDPA",
    "TextTransformer",
    "VisionTransformer",
    "caption_loss",
    "clip_loss",
    "init_block",
    "pad_key_mask",
]

IMAGE_MEAN = 0.5            # images are scaled to [0, 1], then (x - mean) / std
IMAGE_STD = 0.25
LOGIT_SCALE_MAX = math.log(100.0)   # open_clip_train clamps the temperature to 100


class SDPA(nn.Module):
    """``F.scaled_dot_product_attention`` as a module (a hook point for FLOP counting)."""

    def forward(self, q, k, v, mask=None, causal=False):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)


class Attention(nn.Module):
    """Multi-head attention with biased projections (open_clip ``transformer.py`` ``Attention``).

    Self-attention uses one fused q/k/v projection; cross-attention (``kv_width`` given) a query
    projection and a key/value projection from the other modality. Both have ``3 w^2 + 3 w``
    parameters when ``kv_width == w``.
    """

    def __init__(self, width: int, heads: int, kv_width: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.cross = kv_width is not None
        if self.cross:
            self.q_proj = nn.Linear(width, width)
            self.kv_proj = nn.Linear(kv_width, 2 * width)
        else:
            self.in_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)
        self.sdpa = SDPA()

    def forward(self, x, kv=None, mask=None, causal=False):
        B, L, C = x.shape
        if self.cross:
            q = self.q_proj(x)
            k, v = self.kv_proj(kv).chunk(2, dim=-1)
        else:
            q, k, v = self.in_proj(x).chunk(3, dim=-1)
        hs = C // self.heads
        q = q.view(B, L, self.heads, hs).transpose(1, 2)                     # (B, nh, L, hs)
        k = k.view(B, -1, self.heads, hs).transpose(1, 2)
        v = v.view(B, -1, self.heads, hs).transpose(1, 2)
        y = self.sdpa(q, k, v, mask, causal)
        return self.out_proj(y.transpose(1, 2).reshape(B, L, C))


class Block(nn.Module):
    """Pre-LN residual block (open_clip ``ResidualAttentionBlock``), self- or cross-attention.

    ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``; a cross-attention block normalises its keys
    and values with ``ln_1_kv`` (open_clip ``is_cross_attention=True``).
    """

    def __init__(self, width: int, heads: int, hidden: int, cross: bool = False) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads, kv_width=width if cross else None)
        if cross:
            self.ln_1_kv = nn.LayerNorm(width)
        self.ln_2 = nn.LayerNorm(width)
        self.c_fc = nn.Linear(width, hidden)
        self.c_proj = nn.Linear(hidden, width)

    def forward(self, x, kv=None, mask=None, causal=False):
        if kv is not None:
            kv = self.ln_1_kv(kv)
        x = x + self.attn(self.ln_1(x), kv=kv, mask=mask, causal=causal)
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x))))


def init_block(block: Block, width: int, n_layers: int) -> None:
    """open_clip's text-tower initialisation of one block (see the module docstring)."""
    attn_std, proj_std, fc_std = width ** -0.5, width ** -0.5 * (2 * n_layers) ** -0.5, (2 * width) ** -0.5
    for name, p in block.named_parameters():
        if name.endswith("bias"):
            nn.init.zeros_(p)
        elif "ln_" in name:
            nn.init.ones_(p)
        elif name.startswith("attn.out_proj") or name.startswith("c_proj"):
            nn.init.normal_(p, std=proj_std)
        elif name.startswith("c_fc"):
            nn.init.normal_(p, std=fc_std)
        else:                                            # in_proj, q_proj, kv_proj
            nn.init.normal_(p, std=attn_std)


def pad_key_mask(tokens: torch.Tensor, causal: bool = False, extra_valid: int = 0) -> torch.Tensor:
    """Boolean attention mask ``(B, 1, L, L)``: True where a query may attend to a key.

    Keys that are padding are hidden; ``causal`` also hides later keys; ``extra_valid`` appends
    that many always-valid keys (a class token at the end, open_clip ``embed_cls``).
    """
    valid = tokens != PAD
    if extra_valid:
        valid = torch.cat([valid, valid.new_ones(valid.shape[0], extra_valid)], dim=1)
    L = valid.shape[1]
    mask = valid[:, None, None, :].expand(-1, 1, L, -1)
    if causal:
        mask = mask & torch.ones(L, L, dtype=torch.bool, device=tokens.device).tril()
    return mask


class AttentionalPooler(nn.Module):
    """``n_queries`` learned queries attend to the image tokens (open_clip ``AttentionalPooler``)."""

    def __init__(self, width: int, context_width: int, heads: int, n_queries: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(n_queries, width))
        self.attn = Attention(width, heads, kv_width=context_width)
        self.ln_q = nn.LayerNorm(width)
        self.ln_k = nn.LayerNorm(context_width)
        for name, p in self.attn.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            else:
                nn.init.normal_(p, std=width ** -0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.ln_q(self.query).unsqueeze(0).expand(x.shape[0], -1, -1)
        return self.attn(q, kv=self.ln_k(x))


class VisionTransformer(nn.Module):
    """ViT image tower (open_clip ``transformer.py`` ``VisionTransformer``, ``pool_type="tok"``).

    ``forward(images) -> (pooled, tokens)``: the class token after ``ln_post`` (not yet
    projected) and the patch tokens after ``ln_post`` (what MaMMUT's cross-attention reads).
    With an :class:`AttentionalPooler` (CoCa, open_clip ``attentional_pool=True``) the pooler's
    query 0 is ``pooled`` and its other queries are ``tokens``. ``images`` are uint8 or float
    ``(B, H, W, 3)`` in 0..255.
    """

    def __init__(self, *, image_size: int, patch_size: int, width: int, layers: int, heads: int,
                 hidden: int, pooler: AttentionalPooler | None = None) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.grid = image_size // patch_size
        self.patch_embed = nn.Linear(3 * patch_size * patch_size, width, bias=False)  # = stride-p conv
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(self.grid ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList(Block(width, heads, hidden) for _ in range(layers))
        for b in self.blocks:
            init_block(b, width, layers)
        # With an attentional pooler (CoCa), ln_post normalises the pooler's outputs instead.
        self.attn_pool = pooler
        self.ln_post = nn.LayerNorm(width if pooler is None else pooler.query.shape[1])

    def patches(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, 3)`` 0..255 -> normalised patches ``(B, n_patches, 3 p^2)``."""
        x = (images.float() / 255.0 - IMAGE_MEAN) / IMAGE_STD
        B, p, g = x.shape[0], self.patch_size, self.grid
        x = x.reshape(B, g, p, g, p, 3).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(B, g * g, p * p * 3)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.patch_embed(self.patches(images))                           # (B, n, w)
        cls = self.class_embedding.view(1, 1, -1).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.ln_pre(x)
        for b in self.blocks:
            x = b(x)
        if self.attn_pool is not None:
            x = self.attn_pool(x)                                            # (B, n_queries, e)
        x = self.ln_post(x)
        return x[:, 0], x[:, 1:]


class TextTransformer(nn.Module):
    """Text tower (open_clip ``transformer.py`` ``TextTransformer``).

    ``causal=True`` with ``embed_cls=False`` is CLIP's tower: the embedding is the ``ln_final``
    output at the ``<eot>`` token. ``embed_cls=True`` is CoCa's unimodal tower: a class token is
    appended after the text (padding hidden from it), its output after ``ln_final`` is the
    embedding, and the text positions' outputs (before ``ln_final``) are returned as tokens for
    the multimodal decoder. ``forward(tokens) -> (pooled, token_outputs)``.
    """

    def __init__(self, *, vocab_size: int, context_length: int, width: int, layers: int,
                 heads: int, hidden: int, embed_cls: bool = False) -> None:
        super().__init__()
        self.embed_cls = embed_cls
        self.token_embedding = nn.Embedding(vocab_size, width)
        n_pos = context_length + (1 if embed_cls else 0)
        self.positional_embedding = nn.Parameter(torch.empty(n_pos, width))
        self.cls_emb = nn.Parameter(torch.empty(width)) if embed_cls else None
        self.blocks = nn.ModuleList(Block(width, heads, hidden) for _ in range(layers))
        self.ln_final = nn.LayerNorm(width)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        if self.cls_emb is not None:
            nn.init.normal_(self.cls_emb, std=0.01)
        for b in self.blocks:
            init_block(b, width, layers)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, L = tokens.shape
        x = self.token_embedding(tokens)
        if self.embed_cls:
            x = torch.cat([x, self.cls_emb.view(1, 1, -1).expand(B, -1, -1)], dim=1)
            mask, causal = pad_key_mask(tokens, causal=True, extra_valid=1), False
        else:
            mask, causal = None, True        # right padding: causal keeps pads out of real positions
        x = x + self.positional_embedding[:x.shape[1]]
        for b in self.blocks:
            x = b(x, mask=mask, causal=causal)
        if self.embed_cls:
            return self.ln_final(x[:, -1]), x[:, :-1]
        x = self.ln_final(x)
        eot = (tokens == EOT).int().argmax(dim=-1)                            # end-of-text position
        return x[torch.arange(B, device=x.device), eot], x


def clip_loss(image_features: torch.Tensor, text_features: torch.Tensor,
              logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE (open_clip ``loss.py`` ``ClipLoss``, one process).

    ``(CE(s I T^T, diag) + CE(s T I^T, diag)) / 2`` with normalised features and ``s =
    exp(logit_scale)`` already applied by the caller (``logit_scale`` is the multiplier).
    """
    logits = logit_scale * image_features @ text_features.T                   # (B, B)
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def caption_loss(logits: torch.Tensor, tokens: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Next-token cross-entropy, padding ignored (open_clip ``CoCaLoss`` caption term).

    Position ``t`` predicts token ``t + 1`` (``logits[:, :-1]`` against ``tokens[:, 1:]``, the
    shift of open_clip's ``CoCaTask``). ``reduction="none"`` returns ``(B, L-1)`` with zeros at
    padding.
    """
    lg = logits[:, :-1].float()
    tgt = tokens[:, 1:]
    loss = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), tgt.reshape(-1), ignore_index=PAD,
                           reduction="mean" if reduction == "mean" else "none")
    return loss if reduction == "mean" else loss.view(tgt.shape)
