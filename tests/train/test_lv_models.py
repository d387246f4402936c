"""CLIP, CoCa and MaMMUT: losses against hand computation, the passes MaMMUT must keep apart,
and a few CPU steps that make each loss fall."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scalinglab.datasets import shapeworld as sw  # noqa: E402
from scalinglab.procedures.clip import CLIPConfig  # noqa: E402
from scalinglab.procedures.coca import CoCaConfig  # noqa: E402
from scalinglab.procedures.mammut import MaMMUTConfig  # noqa: E402
from scalinglab.train.clip import CLIP  # noqa: E402
from scalinglab.train.coca import CoCa  # noqa: E402
from scalinglab.train.mammut import MaMMUT  # noqa: E402
from scalinglab.train.towers import caption_loss, clip_loss  # noqa: E402

W = sw.WorldConfig()
V = len(sw.Vocabulary.from_world(W))
TINY = dict(vision_width=32, vision_layers=1, vision_heads=2, text_width=32, text_layers=2,
            text_heads=2, embed_dim=32, patch_size=8, context_length=W.context_length, vocab_size=V)


@pytest.fixture(autouse=True)
def _one_thread():
    """One thread, as sweep workers train (two threads on tiny matrices thrash a shared CPU)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _batch(n=8, step=0):
    b = sw.get_batch(W, step=step, seed=0, batch_size=n)
    return torch.from_numpy(b.images), torch.from_numpy(b.tokens)


def test_clip_loss_equals_hand_computation():
    img = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    txt = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    s = 2.0
    # logits = s * img @ txt.T = [[2, 1.2], [0, 1.6]]
    rows = [-2 + math.log(math.exp(2) + math.exp(1.2)), -1.6 + math.log(math.exp(0) + math.exp(1.6))]
    cols = [-2 + math.log(math.exp(2) + math.exp(0)), -1.6 + math.log(math.exp(1.2) + math.exp(1.6))]
    want = (sum(rows) / 2 + sum(cols) / 2) / 2
    assert float(clip_loss(img, txt, torch.tensor(s))) == pytest.approx(want, rel=1e-6)


def test_caption_loss_equals_hand_computation_and_ignores_padding():
    logits = torch.tensor([[[0.0, 1.0, 2.0, 0.5], [3.0, 0.0, 0.0, 1.0], [9.0, 9.0, 9.0, 9.0]]])
    tokens = torch.tensor([[1, 2, 0]])          # <sot> <eot> <pad>
    # position 0 predicts token 2; position 1 predicts <pad> (ignored); position 2 predicts nothing
    want = -(2.0 - math.log(math.exp(0) + math.exp(1) + math.exp(2) + math.exp(0.5)))
    assert float(caption_loss(logits, tokens)) == pytest.approx(want, rel=1e-6)
    tokens2 = torch.tensor([[1, 2, 3]])
    assert float(caption_loss(logits, tokens2)) != pytest.approx(want)


@pytest.mark.parametrize(("C", "M"), [(CoCaConfig, CoCa), (MaMMUTConfig, MaMMUT)])
def test_captioner_loss_weights_are_one_and_two(C, M):
    torch.manual_seed(0)
    model = M(C(**TINY)).eval()
    images, tokens = _batch()
    with torch.no_grad():
        out = model(images, tokens)
        c = clip_loss(out["image_features"], out["text_features"], out["logit_scale"])
        cap = caption_loss(out["logits"], tokens)
    assert float(out["contrastive_loss"]) == pytest.approx(1.0 * float(c), rel=1e-6)
    assert float(out["caption_loss"]) == pytest.approx(2.0 * float(cap), rel=1e-6)
    assert float(out["loss"]) == pytest.approx(float(c) + 2.0 * float(cap), rel=1e-6)


def test_logit_scale_starts_at_log_one_over_0_07():
    for M, C in ((CLIP, CLIPConfig), (CoCa, CoCaConfig), (MaMMUT, MaMMUTConfig)):
        assert float(M(C(**TINY)).logit_scale.detach()) == pytest.approx(math.log(1 / 0.07))


def test_mammut_contrastive_pass_ignores_the_image_and_cross_attention():
    torch.manual_seed(0)
    model = MaMMUT(MaMMUTConfig(**TINY)).eval()
    images, tokens = _batch()
    other, _ = _batch(step=5)
    calls = []
    hooks = [b.register_forward_hook(lambda *a: calls.append(1)) for b in model.text.cross_blocks]
    with torch.no_grad():
        t = model.encode_text(tokens)
        assert calls == []                              # no cross-attention block ran
        a, b = model(images, tokens), model(other, tokens)
    assert len(calls) == 2 * len(model.text.cross_blocks)   # the caption passes did use them
    for h in hooks:
        h.remove()
    assert torch.equal(a["text_features"], b["text_features"])
    assert torch.equal(a["text_features"], t)
    assert not torch.equal(a["logits"], b["logits"])   # the captioner does see the image


def test_mammut_pooling_and_attention_exclude_padding():
    torch.manual_seed(0)
    model = MaMMUT(MaMMUTConfig(**TINY)).eval()
    _, tokens = _batch()
    assert (tokens == sw.PAD).any()
    with torch.no_grad():
        before = model.encode_text(tokens)
        g = torch.Generator().manual_seed(1)
        w = model.cfg.text_width
        # (random, not constant, changes: a pre-LN tower cannot see a constant shift at all)
        model.text.token_embedding.weight[sw.PAD] += torch.randn(w, generator=g)   # padding
        model.text.positional_embedding[-1] += torch.randn(w, generator=g)          # last position
        after = model.encode_text(tokens)
        model.text.token_embedding.weight[tokens[0, 1]] += torch.randn(w, generator=g)  # a real word
        changed = model.encode_text(tokens)
    assert torch.allclose(before, after, atol=1e-6)
    assert not torch.allclose(before[0], changed[0], atol=1e-3)


def test_mammut_cross_attention_every_other_layer():
    cfg = MaMMUTConfig(**{**TINY, "text_layers": 4, "cross_attn_ratio": 2})
    assert len(MaMMUT(cfg).text.cross_blocks) == 2 == cfg.n_cross


def test_clip_reads_the_text_at_end_of_text():
    torch.manual_seed(0)
    model = CLIP(CLIPConfig(**TINY)).eval()
    _, tokens = _batch()
    with torch.no_grad():
        before = model.encode_text(tokens)
        model.text.token_embedding.weight[sw.PAD] += torch.randn(model.cfg.text_width)
        after = model.encode_text(tokens)
    assert torch.allclose(before, after, atol=1e-6)


@pytest.mark.parametrize(("C", "M"), [(CLIPConfig, CLIP), (CoCaConfig, CoCa), (MaMMUTConfig, MaMMUT)])
def test_a_few_cpu_steps_make_the_loss_fall(C, M):
    torch.manual_seed(0)
    model = M(C(**TINY))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for step in range(30):
        images, tokens = _batch(32, step=step % 4)
        loss = model(images, tokens)["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-4:]) < np.mean(losses[:4]) - 0.1
