"""Parameter and FLOP counts of the image-text procedures against the torch models themselves.

Parameters: ``n_params("total")`` must equal ``sum(p.numel())`` of the built model, and
``non_embedding`` must equal it minus the embedding tables found by name. FLOPs: forward hooks on
every ``nn.Linear`` (tokens x in x out MACs, from the input the layer really received) and every
attention kernel (2 x Lq x Lk x width, from the real q and k) count one training forward pass;
``flops_per_sample("forward")`` must equal 2 x that count per sample, and ``exact`` 3 x forward.
The hooks read shapes, not formulas: a missing or extra layer in either place fails the test.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from scalinglab.datasets import shapeworld as sw  # noqa: E402
from scalinglab.errors import ConfigError, UnknownNameError  # noqa: E402
from scalinglab.procedures.clip import CLIPConfig  # noqa: E402
from scalinglab.procedures.coca import CoCaConfig  # noqa: E402
from scalinglab.procedures.mammut import MaMMUTConfig  # noqa: E402
from scalinglab.train.clip import CLIP  # noqa: E402
from scalinglab.train.coca import CoCa  # noqa: E402
from scalinglab.train.mammut import MaMMUT  # noqa: E402
from scalinglab.train.towers import SDPA  # noqa: E402

WORLD = sw.WorldConfig()
SHAPES = [
    dict(vision_width=24, vision_layers=1, vision_heads=2, text_width=32, text_layers=3,
         text_heads=4, embed_dim=16, patch_size=8),
    dict(vision_width=48, vision_layers=2, vision_heads=3, text_width=48, text_layers=2,
         text_heads=2, embed_dim=48, patch_size=4, mlp_ratio=2),
]
CASES = [(CLIPConfig, CLIP, {}), (CoCaConfig, CoCa, {"decoder_layers": 2, "n_queries": 5}),
         (MaMMUTConfig, MaMMUT, {"cross_attn_ratio": 2}), (MaMMUTConfig, MaMMUT, {"cross_attn_ratio": 3})]
EMBEDDING_NAMES = ("token_embedding", "positional_embedding", "class_embedding", "cls_emb")


def _config(C, shape, extra):
    kw = dict(shape, context_length=WORLD.context_length,
              vocab_size=len(sw.Vocabulary.from_world(WORLD)), **extra)
    if C is CoCaConfig:
        kw["embed_dim"] = kw["text_width"]
    if C is MaMMUTConfig and kw.get("cross_attn_ratio", 2) > kw["text_layers"]:
        kw["text_layers"] = kw["cross_attn_ratio"]
    return C(**kw)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("C", "M", "extra"), CASES)
def test_n_params_match_the_model(C, M, extra, shape):
    cfg = _config(C, shape, extra)
    model = M(cfg)
    total = sum(p.numel() for p in model.parameters())
    emb = sum(p.numel() for n, p in model.named_parameters() if any(e in n for e in EMBEDDING_NAMES))
    assert cfg.n_params("total") == total
    assert cfg.n_params("non_embedding") == total - emb
    assert emb > 0


def _count_macs(model, images, tokens) -> int:
    macs = [0]

    def linear_hook(mod, inp, out):
        x = inp[0]
        macs[0] += x.numel() // x.shape[-1] * mod.in_features * mod.out_features

    def sdpa_hook(mod, inp, out):
        q, k = inp[0], inp[1]                       # (B, heads, L, hs)
        B, H, Lq, hs = q.shape
        macs[0] += 2 * B * H * Lq * k.shape[2] * hs

    hooks = []
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, SDPA):
            hooks.append(m.register_forward_hook(sdpa_hook))
    with torch.no_grad():
        model(images, tokens)
    for h in hooks:
        h.remove()
    return macs[0]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("C", "M", "extra"), CASES)
def test_flops_per_sample_match_a_hook_count(C, M, extra, shape):
    cfg = _config(C, shape, extra)
    model = M(cfg)
    batch = sw.get_batch(WORLD, step=0, seed=0, batch_size=5)
    macs = _count_macs(model, torch.from_numpy(batch.images), torch.from_numpy(batch.tokens))
    assert macs % 5 == 0
    assert cfg.flops_per_sample("forward") == 2 * macs // 5
    assert cfg.flops_per_sample("exact") == 3 * cfg.flops_per_sample("forward")


def test_mammut_counts_two_text_passes():
    """MaMMUT's text cost is the contrastive pass plus the caption pass (one tower, used twice)."""
    kw = dict(text_layers=2, cross_attn_ratio=2, context_length=WORLD.context_length, vocab_size=47)
    one = MaMMUTConfig(**kw)
    clip = CLIPConfig(**{k: v for k, v in kw.items() if k != "cross_attn_ratio"})
    # The caption pass alone costs more than CLIP's one text pass (cross-attention, lm head).
    assert one.flops_per_sample("forward") - clip.flops_per_sample("forward") > \
        clip.text_block_macs(2, WORLD.context_length) * 2


def test_conventions_and_validation():
    cfg = CLIPConfig()
    assert cfg.UNITS_PER_EXAMPLE == 1
    with pytest.raises(UnknownNameError, match="non_embedding"):
        cfg.n_params("non_embeding")
    with pytest.raises(UnknownNameError, match="forward"):
        cfg.flops_per_sample("fwd")
    with pytest.raises(ConfigError, match="patch_size"):
        CLIPConfig(image_size=32, patch_size=5)
    with pytest.raises(ConfigError, match="text_heads"):
        CLIPConfig(text_width=30, text_heads=4)
    with pytest.raises(ConfigError, match="embed_dim"):
        CoCaConfig(text_width=64, embed_dim=32)
    with pytest.raises(ConfigError, match="cross_attn_ratio"):
        MaMMUTConfig(text_layers=2, cross_attn_ratio=3)
    with pytest.raises(ConfigError, match="unknown key"):
        CLIPConfig.from_dict({"vision_widht": 3})
    assert CoCaConfig.from_dict(CoCaConfig().to_dict()) == CoCaConfig()
