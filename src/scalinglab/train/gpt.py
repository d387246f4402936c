"""The reference GPT: a small pre-LN decoder-only transformer, one readable file (nanoGPT-like).

The model's shape is :class:`scalinglab.procedures.gpt.GPTConfig` (torch-free). Every detail
below is mirrored by its ``n_params`` and ``flops_per_unit`` counts; ``tests/train/test_gpt_model.py``
checks them against this module's real parameters:

* token embedding ``V x d`` tied with the output layer (Press & Wolf 2017), learned positions
  ``T x d``;
* ``n_layer`` pre-LN blocks: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``; LayerNorms have a
  weight and a bias, Linear layers have no bias;
* causal multi-head attention through ``F.scaled_dot_product_attention(is_causal=True)`` (fused
  kernels on CPU and GPU);
* MLP ``d -> d_ff -> d`` with exact (erf) GELU, ``d_ff = 4 d`` by default;
* a final LayerNorm, then logits against the tied embedding.

Initialisation follows GPT-2 (Radford et al. 2019, Sec. 2.3): N(0, 0.02) everywhere, residual
output projections scaled by ``1/sqrt(2 n_layer)`` so the residual stream's variance does not grow
with depth.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..procedures.gpt import GPTConfig

__all__ = ["GPT", "GPTConfig"]


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)   # q, k, v in one matmul
        self.c_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)       # residual projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        hs = C // self.n_head
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)                    # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)         # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.d_model, cfg.ff_width, bias=False)
        self.c_proj = nn.Linear(cfg.ff_width, cfg.d_model, bias=False)      # residual projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.d_model)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """The reference decoder. ``forward(idx, targets=None) -> (logits, loss)``.

    Parameters
    ----------
    cfg : GPTConfig
        Shape of the model.

    Examples
    --------
    >>> import torch
    >>> m = GPT(GPTConfig(n_layer=1, d_model=32, n_head=2, seq_len=16))
    >>> m.get_num_params() == GPTConfig(n_layer=1, d_model=32, n_head=2, seq_len=16).n_params()
    True
    >>> logits, loss = m(torch.zeros(2, 16, dtype=torch.long), torch.zeros(2, 16, dtype=torch.long))
    >>> tuple(logits.shape)
    (2, 16, 256)
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        # GPT-2 init; residual projections get std 0.02 / sqrt(2 n_layer) (two per block).
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def get_num_params(self, convention: str = "non_embedding") -> int:
        """Count this module's real parameters under a convention of :meth:`GPTConfig.n_params`.

        ``non_embedding``: all but token and position embeddings; ``with_last_layer``: + the
        tied output layer (= token embedding, counted once); ``total``: every parameter.
        """
        total = sum(p.numel() for p in self.parameters())   # tied weight appears once
        if convention == "total":
            return total
        if convention == "with_last_layer":
            return total - self.wpe.weight.numel()
        if convention == "non_embedding":
            return total - self.wpe.weight.numel() - self.wte.weight.numel()
        return self.cfg.n_params(convention)                 # raises UnknownNameError

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                reduction: str = "mean") -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, T, V)`` and, with ``targets``, the cross-entropy (nats/token).

        ``reduction="none"`` returns the per-token loss ``(B, T)`` (used for evaluation).
        """
        B, T = idx.shape
        if T > self.cfg.seq_len:
            raise ConfigError(f"sequence of {T} tokens exceeds the model's seq_len {self.cfg.seq_len}")
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)                                    # (B, T, d)
        for block in self.blocks:
            x = block(x)
        x = self.ln_f(x)
        logits = F.linear(x, self.wte.weight)                               # tied output layer
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(B * T, -1).float(), targets.reshape(B * T),
                               reduction=reduction)
        if reduction == "none":
            loss = loss.view(B, T)
        return logits, loss
