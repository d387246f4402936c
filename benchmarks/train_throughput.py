"""Training throughput of the reference GPT on this CPU, against baselines measured in the same run.

For every rung of a ladder (default: the ``gpt-tiny`` demo ladder) this times real training steps
(forward, backward, gradient clipping, AdamW; batches drawn from the stdlib corpus exactly as the
trainer draws them) with **one thread**, as sweep workers run, and reports:

* tokens/s, and the achieved FLOP/s under the ``exact`` convention of
  :func:`scalinglab.units.gpt_flops_per_token` (which counts attention over the full context) and
  under ``6N_with_last_layer``;
* the fraction of the machine's fp32 matmul peak, measured in the same run as the best of repeated
  large ``torch.mm`` calls on one thread (``--all-threads`` adds the all-threads peak);
* the speed-up over a plain reference implementation of the same model (explicit masked-softmax
  attention, hand-written LayerNorm/GELU/cross-entropy, for-loop AdamW), checked to compute the
  same loss, timed in the same run.

On a shared machine wall-clock times are noise. One-thread measurements therefore use the
process's CPU time (``time.process_time``: the time our one thread actually ran, not the time
other processes held the core), every number is the best of ``--repeats`` trials, and peaks and
rungs are interleaved so both see the same cache and memory-bandwidth contention. The
all-threads numbers use wall time. ``--profile`` adds the share
of time per operator class on the largest rung (why the rest is not matmul). ``--tune`` tries
sequence lengths and batch sizes for the largest rung.

Usage::

    python benchmarks/train_throughput.py [--ladder gpt-tiny] [--repeats 5] [--steps 6]
        [--all-threads] [--profile] [--tune] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import torch
from torch import nn

from scalinglab.ladders import get_ladder
from scalinglab.store.schema import RunSpec
from scalinglab.train.data import get_batch, load_corpus
from scalinglab.train.gpt import GPT, GPTConfig
from scalinglab.train.loop import configure_optimizer

# --- the plain reference implementation ----------------------------------------------------

class NaiveGPT(nn.Module):
    """The same model written plainly: every op by hand, attention as an explicit masked softmax."""

    def __init__(self, ref: GPT) -> None:
        super().__init__()
        self.cfg = ref.cfg
        self.params = nn.ParameterDict({k.replace(".", "_"): nn.Parameter(v.detach().clone())
                                        for k, v in ref.state_dict().items()})
        T = ref.cfg.seq_len
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

    def p(self, name: str) -> torch.Tensor:
        return self.params[name.replace(".", "_")]

    @staticmethod
    def layer_norm(x, w, b, eps=1e-5):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * w + b

    def forward(self, idx, targets):
        B, T = idx.shape
        C, nh = self.cfg.d_model, self.cfg.n_head
        wte = self.p("wte.weight")
        x = wte[idx] + self.p("wpe.weight")[:T]
        for i in range(self.cfg.n_layer):
            pre = f"blocks.{i}."
            h = self.layer_norm(x, self.p(pre + "ln_1.weight"), self.p(pre + "ln_1.bias"))
            qkv = h @ self.p(pre + "attn.c_attn.weight").T
            q, k, v = qkv.split(C, dim=2)
            q = q.view(B, T, nh, C // nh).transpose(1, 2)
            k = k.view(B, T, nh, C // nh).transpose(1, 2)
            v = v.view(B, T, nh, C // nh).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(C // nh)
            att = att.masked_fill(~self.mask[:T, :T], float("-inf")).softmax(dim=-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            x = x + y @ self.p(pre + "attn.c_proj.weight").T
            h = self.layer_norm(x, self.p(pre + "ln_2.weight"), self.p(pre + "ln_2.bias"))
            h = h @ self.p(pre + "mlp.c_fc.weight").T
            h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))
            x = x + h @ self.p(pre + "mlp.c_proj.weight").T
        x = self.layer_norm(x, self.p("ln_f.weight"), self.p("ln_f.bias"))
        logits = x @ wte.T
        logp = logits.log_softmax(-1)
        return -logp.gather(-1, targets.unsqueeze(-1)).mean()


# --- timing --------------------------------------------------------------------------------

def clock() -> float:
    """CPU time with one thread (immune to time-slicing by other processes), else wall time."""
    return time.process_time() if torch.get_num_threads() == 1 else time.perf_counter()


def matmul_peak(n: int = 2048, reps: int = 3) -> float:
    """Best fp32 FLOP/s of an n x n x n ``torch.mm`` with the current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = math.inf
    for _ in range(reps):
        t = clock()
        a @ b
        best = min(best, clock() - t)
    return 2 * n ** 3 / best


def step_fn(model, opt, params, batches, naive: bool):
    it = iter(batches)

    def step():
        x, y = next(it)
        loss = model(x, y) if naive else model(x, y)[1]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=not naive)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    return step


def time_steps(make_step, steps: int) -> float:
    step = make_step()
    t = clock()
    for _ in range(steps):
        step()
    return (clock() - t) / steps


def measure_rung(cfg: GPTConfig, batch_size: int, corpus, *, steps: int, repeats: int,
                 peaks: list[float], naive: bool = True) -> dict:
    torch.manual_seed(0)
    model = GPT(cfg)
    spec = RunSpec(rung="bench", model=cfg.to_dict(), n_tokens=1, lr=1e-3, batch_size=batch_size)
    opt = configure_optimizer(model, spec)
    n_batches = 2 + steps * repeats
    batches = [tuple(torch.from_numpy(a) for a in get_batch(corpus.train, step=s, seed=0,
                                                            batch_size=batch_size, seq_len=cfg.seq_len))
               for s in range(n_batches)]
    ref = NaiveGPT(model)
    with torch.no_grad():   # same model, same loss
        x, y = batches[0]
        ours, theirs = model(x, y)[1].item(), ref(x, y).item()
    assert abs(ours - theirs) < 1e-4, (ours, theirs)
    ref_opt = torch.optim.AdamW(ref.parameters(), lr=1e-3, betas=(0.9, 0.99), foreach=False)
    fast = step_fn(model, opt, list(model.parameters()), batches, naive=False)
    slow = step_fn(ref, ref_opt, list(ref.parameters()), batches, naive=True)
    fast(), fast()                         # warm up allocator and kernels
    if naive:
        slow(), slow()
    best_fast = best_slow = math.inf
    for _ in range(repeats):               # interleave: both see the same contention
        peaks.append(matmul_peak())
        best_fast = min(best_fast, time_steps(lambda: fast, steps))
        if naive:
            best_slow = min(best_slow, time_steps(lambda: slow, max(2, steps // 2)))
    tok = batch_size * cfg.seq_len
    return {"tokens_per_s": tok / best_fast,
            "naive_tokens_per_s": tok / best_slow if naive else None,
            "tokens_per_step": tok}


def profile_shares(cfg: GPTConfig, batch_size: int, corpus, steps: int = 5) -> dict:
    """Share of self CPU time per operator class during training steps."""
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    model = GPT(cfg)
    opt = configure_optimizer(model, RunSpec(rung="b", model=cfg.to_dict(), n_tokens=1, lr=1e-3))
    batches = [tuple(torch.from_numpy(a) for a in get_batch(corpus.train, step=s, seed=0,
                                                            batch_size=batch_size, seq_len=cfg.seq_len))
               for s in range(steps + 2)]
    step = step_fn(model, opt, list(model.parameters()), batches, naive=False)
    step(), step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    classes = {"matmul": ("aten::mm", "aten::addmm", "aten::bmm"),
               "attention kernel": ("scaled_dot_product",),
               "gelu": ("gelu",), "layer_norm": ("layer_norm",),
               "cross_entropy/softmax": ("log_softmax", "nll_loss", "_softmax"),
               "optimizer+clip": ("_foreach", "norm", "clamp")}
    totals = dict.fromkeys([*classes, "other"], 0.0)
    for ev in prof.key_averages():
        name = ev.key
        t = ev.self_cpu_time_total
        for cls, pats in classes.items():
            if any(pat in name for pat in pats):
                totals[cls] += t
                break
        else:
            totals["other"] += t
    s = sum(totals.values())
    return {k: v / s for k, v in totals.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ladder", default="gpt-tiny")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--all-threads", action="store_true", help="also measure the all-threads peak")
    ap.add_argument("--profile", action="store_true", help="operator-class shares on the largest rung")
    ap.add_argument("--tune", action="store_true", help="try seq_len x batch_size on the largest rung")
    ap.add_argument("--no-naive", action="store_true", help="skip the plain reference implementation")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    corpus = load_corpus("stdlib")
    lad = get_ladder(args.ladder)
    bs = int(lad.train.get("batch_size", 16))
    peaks: list[float] = []
    rows = []
    for rung in lad:
        cfg = GPTConfig.from_dict(rung.model)
        r = measure_rung(cfg, bs, corpus, steps=args.steps, repeats=args.repeats, peaks=peaks,
                         naive=not args.no_naive)
        r.update(rung=rung.name, n_params=rung.n_params,
                 flops_per_token_exact=cfg.flops_per_token("exact"),
                 flops_per_token_6N_last=cfg.flops_per_token("6N_with_last_layer"))
        rows.append(r)
        print(f"  measured {rung.name}: {r['tokens_per_s']:.0f} tokens/s", file=sys.stderr, flush=True)
    peak1 = max(peaks)
    out = {"ladder": lad.name, "batch_size": bs, "threads": 1, "peak_flops_1thread": peak1,
           "torch": torch.__version__, "cpu_count": os.cpu_count(), "rungs": rows}
    if args.all_threads:   # is one multi-threaded worker better than one worker per core?
        torch.set_num_threads(os.cpu_count() or 1)
        out["peak_flops_all_threads"] = max(matmul_peak() for _ in range(3))
        big = list(lad)[-1]
        r = measure_rung(GPTConfig.from_dict(big.model), bs, corpus, steps=args.steps,
                         repeats=args.repeats, peaks=[], naive=False)
        out["largest_all_threads_tokens_per_s"] = r["tokens_per_s"]
        torch.set_num_threads(1)

    print(f"\nfp32 matmul peak, 1 thread (best 2048^3 torch.mm): {peak1 / 1e9:.1f} GFLOP/s")
    if "peak_flops_all_threads" in out:
        print(f"fp32 matmul peak, {os.cpu_count()} threads: {out['peak_flops_all_threads'] / 1e9:.1f} GFLOP/s")
    if "largest_all_threads_tokens_per_s" in out:
        print(f"{list(lad)[-1].name} with {os.cpu_count()} threads: "
              f"{out['largest_all_threads_tokens_per_s']:,.0f} tokens/s "
              f"(vs {rows[-1]['tokens_per_s']:,.0f} with 1 thread)")
    print(f"ladder {lad.name}, batch {bs} sequences, 1 thread, fp32\n")
    print("| rung | N (non-emb.) | tokens/step | tokens/s | GFLOP/s exact | % peak exact "
          "| % peak 6N+last | naive tokens/s | speed-up | s per 1M tokens |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        fe = r["tokens_per_s"] * r["flops_per_token_exact"]
        f6 = r["tokens_per_s"] * r["flops_per_token_6N_last"]
        r.update(flops_exact=fe, pct_peak_exact=100 * fe / peak1, pct_peak_6N_last=100 * f6 / peak1)
        nv = r["naive_tokens_per_s"]
        naive = "-" if nv is None else f"{nv:,.0f}"
        speedup = "-" if nv is None else f"{r['tokens_per_s'] / nv:.2f}x"
        print(f"| {r['rung']} | {r['n_params']:,} | {r['tokens_per_step']} | {r['tokens_per_s']:,.0f} "
              f"| {fe / 1e9:.1f} | {r['pct_peak_exact']:.0f}% | {r['pct_peak_6N_last']:.0f}% "
              f"| {naive} | {speedup} | {1e6 / r['tokens_per_s']:.0f} |")

    largest = GPTConfig.from_dict(list(lad)[-1].model)
    if args.profile:
        shares = profile_shares(largest, bs, corpus)
        out["profile_largest"] = shares
        print(f"\nshare of self CPU time, {list(lad)[-1].name} training step:")
        for k, v in sorted(shares.items(), key=lambda kv: -kv[1]):
            print(f"  {k:24s} {100 * v:5.1f}%")
    if args.tune:
        print(f"\ntuning {list(lad)[-1].name} (exact convention, % of 1-thread peak):")
        out["tune"] = []
        for T in (64, 128, 256):
            for b in (8, 16, 32):
                cfg = GPTConfig.from_dict({**largest.to_dict(), "seq_len": T})
                r = measure_rung(cfg, b, corpus, steps=args.steps, repeats=max(2, args.repeats // 2),
                                 peaks=peaks, naive=False)
                pct = 100 * r["tokens_per_s"] * cfg.flops_per_token("exact") / max(peaks)
                out["tune"].append({"seq_len": T, "batch_size": b, **r, "pct_peak_exact": pct})
                print(f"  seq_len {T:4d} batch {b:3d}: {r['tokens_per_s']:8,.0f} tokens/s  {pct:4.0f}%")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
