"""The reference GPT matches every parameter and FLOP convention of its procedure (GPTConfig)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from scalinglab.errors import ConfigError, UnknownNameError
from scalinglab.procedures import get_procedure
from scalinglab.procedures.gpt import FLOPS_CONVENTIONS, PARAM_CONVENTIONS, GPTConfig
from scalinglab.train.gpt import GPT

SHAPES = [
    dict(n_layer=1, d_model=32, n_head=2, seq_len=16, vocab_size=256),
    dict(n_layer=3, d_model=48, n_head=3, seq_len=64, vocab_size=260),
    dict(n_layer=2, d_model=64, n_head=4, seq_len=32, vocab_size=512, d_ff=96),
    dict(n_layer=4, d_model=128, n_head=4, seq_len=128, vocab_size=256),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("convention", PARAM_CONVENTIONS)
def test_param_count_matches_the_config_for_every_convention(shape, convention):
    model = GPT(GPTConfig(**shape))
    assert model.get_num_params(convention) == GPTConfig(**shape).n_params(convention)


def test_param_conventions_count_what_they_say():
    cfg = GPTConfig(**SHAPES[1])
    model = GPT(cfg)
    real_total = sum(p.numel() for p in model.parameters())
    assert model.get_num_params("total") == real_total
    # the output layer is the token embedding: counted once in 'total', and in 'with_last_layer'
    assert model.get_num_params("with_last_layer") - model.get_num_params("non_embedding") \
        == cfg.vocab_size * cfg.d_model
    assert model.get_num_params("total") - model.get_num_params("with_last_layer") \
        == cfg.seq_len * cfg.d_model


@pytest.mark.parametrize("shape", SHAPES[:3])
def test_exact_flops_match_a_counted_forward_backward(shape):
    """FlopCounterMode on the math attention path counts what the 'exact' convention states."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    cfg = GPTConfig(**shape)
    model = GPT(cfg)
    B, T = 2, cfg.seq_len
    x = torch.randint(0, cfg.vocab_size, (B, T))
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter:
        _, loss = model(x, x)
        loss.backward()
    per_token = counter.get_total_flops() / (B * T)
    exact = cfg.flops_per_unit("exact")
    # the math path also multiplies the masked (future) half, like the convention (full context)
    assert per_token == pytest.approx(exact, rel=1e-9)


def test_flop_conventions_are_ordered_and_positive():
    shape = SHAPES[3]
    f = {c: GPTConfig(**shape).flops_per_unit(c) for c in FLOPS_CONVENTIONS}
    assert 0 < f["6N"] < f["6N_with_last_layer"] < f["exact"]
    assert GPTConfig(**shape).flops_per_unit("6N") == 6 * GPTConfig(**shape).n_params()


def test_unknown_convention_raises():
    with pytest.raises(UnknownNameError, match="non_embedding"):
        GPT(GPTConfig(**SHAPES[0])).get_num_params("non_embeding")


def test_bad_config_is_a_config_error():
    with pytest.raises(ConfigError, match="divisible"):
        GPTConfig(n_layer=1, d_model=30, n_head=4)
    with pytest.raises(ConfigError, match="unknown key 'n_layers'"):
        get_procedure("gpt").model_from_dict({"n_layers": 2})
    with pytest.raises(ConfigError, match="seq_len"):
        GPT(GPTConfig(**SHAPES[0]))(torch.zeros(1, 17, dtype=torch.long))


def test_forward_shapes_tied_output_and_initial_loss():
    cfg = GPTConfig(**SHAPES[0])
    torch.manual_seed(0)
    model = GPT(cfg)
    x = torch.randint(0, 256, (4, cfg.seq_len))
    y = torch.randint(0, 256, (4, cfg.seq_len))
    logits, loss = model(x, y)
    assert logits.shape == (4, cfg.seq_len, cfg.vocab_size)
    assert abs(loss.item() - math.log(cfg.vocab_size)) < 0.1      # near-uniform at init
    _, per_tok = model(x, y, reduction="none")
    assert per_tok.shape == (4, cfg.seq_len)
    assert per_tok.mean().item() == pytest.approx(loss.item(), rel=1e-5)
    # tied: the embedding is the output layer, so rows of tokens absent from the input get gradient
    x1 = torch.zeros(1, cfg.seq_len, dtype=torch.long)
    _, l1 = model(x1, x1)
    l1.backward()
    assert model.wte.weight.grad[1:].abs().sum() > 0
    assert not any("head" in n for n, _ in model.named_parameters())


def test_gpt2_init_scales_residual_projections():
    cfg = GPTConfig(n_layer=8, d_model=128, n_head=4, seq_len=16)
    torch.manual_seed(0)
    model = GPT(cfg)
    std_proj = model.blocks[0].mlp.c_proj.weight.std().item()
    std_fc = model.blocks[0].mlp.c_fc.weight.std().item()
    assert std_fc == pytest.approx(0.02, rel=0.05)
    assert std_proj == pytest.approx(0.02 / math.sqrt(2 * cfg.n_layer), rel=0.05)


def test_attention_is_causal():
    cfg = GPTConfig(**SHAPES[0])
    model = GPT(cfg).eval()
    x = torch.randint(0, 256, (1, cfg.seq_len))
    y = x.clone()
    y[0, -1] = (x[0, -1] + 1) % 256
    with torch.no_grad():
        a, _ = model(x)
        b, _ = model(y)
    assert torch.equal(a[0, :-1], b[0, :-1])       # changing the last token changes no earlier logit
    assert not torch.equal(a[0, -1], b[0, -1])
