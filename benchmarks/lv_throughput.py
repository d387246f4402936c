"""Training throughput of CLIP, CoCa and MaMMUT on this CPU, against the fp32 matmul peak of the same run.

For the largest demo rung of each image-text ladder (``clip-tiny``, ``coca-tiny``, ``mammut-tiny``;
``--rungs all`` for every rung) this times real training steps (forward, backward, gradient
clipping, AdamW, the temperature clamp; shape-world batches drawn as the trainer draws them) with
**one thread**, as sweep workers run, and reports:

* samples/s, and the achieved FLOP/s under the ``exact`` convention of
  :meth:`~scalinglab.procedures._imagetext.ImageTextConfig.flops_per_sample` (3 x the forward
  matmul FLOPs, attention over the full context);
* that as a share of the fp32 matmul peak measured in the same run (best 2048^3 ``torch.mm`` on
  one thread, interleaved with the rungs so both see the same contention; target >= 40%);
* the data generator's share of a training step: the CPU time of
  :func:`~scalinglab.datasets.shapeworld.get_batch` for the step's batch over the time of the
  whole step including it (target <= 10%).

One-thread timings use the process's CPU time (``time.process_time``), which other processes on a
shared machine do not inflate; every number is the best of ``--repeats`` trials. ``--profile`` adds
the share of time per operator class on each measured rung.

Usage::

    python benchmarks/lv_throughput.py [--rungs demo|all] [--repeats 5] [--steps 4] [--profile]
        [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import torch

from scalinglab.datasets import shapeworld as sw
from scalinglab.ladders import get_ladder
from scalinglab.train.imagetext import MODELS
from scalinglab.train.towers import LOGIT_SCALE_MAX

LADDERS = ("clip-tiny", "coca-tiny", "mammut-tiny")
DEMO_RUNGS = 4          # the quick demo trains rungs 1-4 of each ladder


def clock() -> float:
    return time.process_time() if torch.get_num_threads() == 1 else time.perf_counter()


def matmul_peak(n: int = 2048, reps: int = 3) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = math.inf
    for _ in range(reps):
        t = clock()
        a @ b
        best = min(best, clock() - t)
    return 2 * n ** 3 / best


def measure(cfg, world, batch_size: int, *, steps: int, repeats: int, peaks: list[float]) -> dict:
    torch.manual_seed(0)
    model = MODELS[type(cfg)](cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-6, foreach=True)
    step_no = [0]

    def step(gen_time: list[float]):
        t = clock()
        b = sw.get_batch(world, step=step_no[0], seed=0, batch_size=batch_size)
        images, tokens = torch.from_numpy(b.images), torch.from_numpy(b.tokens)
        gen_time.append(clock() - t)
        step_no[0] += 1
        loss = model(images, tokens)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            model.logit_scale.clamp_(0, LOGIT_SCALE_MAX)

    step([]), step([])                         # warm up allocator and kernels
    best, best_gen = math.inf, math.inf
    for _ in range(repeats):
        peaks.append(matmul_peak())
        gen: list[float] = []
        t = clock()
        for _ in range(steps):
            step(gen)
        dt = (clock() - t) / steps
        if dt < best:
            best, best_gen = dt, sum(gen) / steps
    return {"samples_per_s": batch_size / best, "step_s": best, "data_s": best_gen,
            "data_share": best_gen / best}


def profile_shares(cfg, world, batch_size: int, steps: int = 3) -> dict:
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    model = MODELS[type(cfg)](cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
    batches = [sw.get_batch(world, step=s, seed=0, batch_size=batch_size) for s in range(steps + 1)]

    def step(b):
        model(torch.from_numpy(b.images), torch.from_numpy(b.tokens))["loss"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step(batches[0])
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for b in batches[1:]:
            step(b)
    classes = {"matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::linear"),
               "attention kernel": ("scaled_dot_product", "_flash_attention", "_efficient_attention"),
               "gelu": ("gelu",), "layer_norm": ("layer_norm",),
               "softmax/cross_entropy": ("log_softmax", "nll_loss", "_softmax"),
               "optimizer": ("_foreach", "norm", "clamp")}
    totals = dict.fromkeys([*classes, "other"], 0.0)
    for ev in prof.key_averages():
        for cls, pats in classes.items():
            if any(p in ev.key for p in pats):
                totals[cls] += ev.self_cpu_time_total
                break
        else:
            totals["other"] += ev.self_cpu_time_total
    s = sum(totals.values())
    return {k: v / s for k, v in totals.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rungs", choices=("demo", "all"), default="demo",
                    help="the largest demo rung of each ladder (default) or every rung")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    world = sw.WorldConfig()
    peaks: list[float] = []
    rows = []
    for name in LADDERS:
        lad = get_ladder(name)
        bs = int(lad.train.batch_size or 64)
        rungs = list(lad)
        if args.rungs == "demo":
            rungs = [rungs[DEMO_RUNGS - 1]]
        for rung in rungs:
            cfg = rung.model
            r = measure(cfg, world, bs, steps=args.steps, repeats=args.repeats, peaks=peaks)
            r.update(procedure=lad.procedure, rung=rung.name, batch_size=bs, n_params=cfg.n_params("total"),
                     flops_per_sample=cfg.flops_per_sample("exact"))
            if args.profile:
                r["profile"] = profile_shares(cfg, world, bs)
            rows.append(r)
            print(f"  measured {rung.name}: {r['samples_per_s']:.0f} samples/s", file=sys.stderr, flush=True)
    peak = max(peaks)
    print(f"\nfp32 matmul peak, 1 thread (best 2048^3 torch.mm, interleaved): {peak / 1e9:.1f} GFLOP/s")
    print("| rung | N (total) | batch | samples/s | GFLOP/s (exact) | % of peak | data share of a step |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        fl = r["samples_per_s"] * r["flops_per_sample"]
        r.update(flops_per_s=fl, pct_peak=100 * fl / peak)
        print(f"| {r['rung']} | {r['n_params']:,} | {r['batch_size']} | {r['samples_per_s']:,.0f} "
              f"| {fl / 1e9:.1f} | {r['pct_peak']:.0f}% | {100 * r['data_share']:.1f}% |")
    if args.profile:
        for r in rows:
            print(f"\nshare of self CPU time, {r['rung']} training step:")
            for k, v in sorted(r["profile"].items(), key=lambda kv: -kv[1]):
                print(f"  {k:24s} {100 * v:5.1f}%")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"peak_flops_1thread": peak, "torch": torch.__version__,
                       "cpu_count": os.cpu_count(), "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
