"""The project's contrastive and captioning losses against open_clip's on the same tensors (GPU).

open_clip cannot be imported with this repository's CPU build of torch (its torchvision
dependency ships only a CUDA-linked build), so this runs where a GPU machine has open_clip and a
CUDA torch installed (``pip install open_clip_torch``); elsewhere it skips with the reason.
"""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.gpu

torch = pytest.importorskip("torch")


def _open_clip_loss():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device (these tests compare with open_clip on a GPU machine)")
    try:
        from open_clip.loss import ClipLoss, CoCaLoss
    except Exception as exc:  # ImportError, or torchvision failing to load its CUDA build
        pytest.skip(f"open_clip is not importable here ({type(exc).__name__}: {exc}); "
                    "pip install open_clip_torch on a CUDA machine")
    return ClipLoss, CoCaLoss


def _features(B=16, e=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    img = torch.nn.functional.normalize(torch.randn(B, e, generator=g), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(B, e, generator=g), dim=-1)
    return img.cuda(), txt.cuda()


def test_clip_loss_matches_open_clip():
    ClipLoss, _ = _open_clip_loss()
    from scalinglab.train.towers import clip_loss

    img, txt = _features()
    scale = torch.tensor(1 / 0.07).cuda()
    theirs = ClipLoss()(img, txt, scale)
    ours = clip_loss(img, txt, scale)
    assert float(ours) == pytest.approx(float(theirs), rel=1e-5)


def test_coca_loss_matches_open_clip():
    _, CoCaLoss = _open_clip_loss()
    from scalinglab.datasets.shapeworld import PAD
    from scalinglab.train.towers import caption_loss, clip_loss

    img, txt = _features()
    g = torch.Generator().manual_seed(1)
    B, L, V = img.shape[0], 12, 40
    tokens = torch.randint(4, V, (B, L), generator=g)
    for i in range(B):
        tokens[i, 3 + i % 6:] = PAD
    logits = torch.randn(B, L, V, generator=g)
    tokens, logits = tokens.cuda(), logits.cuda()
    scale = torch.tensor(math.exp(2.0)).cuda()
    loss = CoCaLoss(caption_loss_weight=2.0, clip_loss_weight=1.0, pad_id=PAD)
    c, cap = loss(img, txt, logits[:, :-1], tokens[:, 1:], scale)    # open_clip CoCaTask's shift
    assert float(clip_loss(img, txt, scale)) == pytest.approx(float(c), rel=1e-5)
    assert 2.0 * float(caption_loss(logits, tokens)) == pytest.approx(float(cap), rel=1e-5)
