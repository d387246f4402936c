"""Closed loops that compare two arms (``winner at C* at 95%``) on toy worlds: FLOPs to a decision.

Not a speed benchmark. Each world is the toy trainer's known Chinchilla law (``scalinglab.sweep._toy``)
with independent per-run noise (``--noise``, SD of the log loss; a world's draws are fixed by its
``toy_world`` key), for two datasets, the second's loss multiplied by ``--scales`` (so the first
arm is better at every compute, by that factor). The space is 4 rungs (gpt-tiny-1..4) x 5 budgets
(16k-262k tokens) x 3 learning rates, branched; C* = 5e12 FLOPs (~0.9 decades beyond the largest
point), so a winner can only be declared once both arms' rolling backtests calibrate. The budget
is the whole space's cost. For each world and scale: decided or not, the share of the budget
spent, rounds, the final P(first arm better), and whether the decision is right.

Measure a planner against another by running this script with each on ``PYTHONPATH`` (it uses
the public API only): the numbers in docs/sweeps.md compare the current planner with commit
9e0fd10's.

Usage::

    .venv/bin/python benchmarks/closed_loop_compare.py [--worlds 0 1 2 3] [--scales 1.03 1.08] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

RUNGS = ["gpt-tiny-1", "gpt-tiny-2", "gpt-tiny-3", "gpt-tiny-4"]
BUDGETS = [16384, 32768, 65536, 131072, 262144]
C_STAR = 5e12


def space(world: int, scale: float, noise: float) -> dict:
    return {"name": "toyloop", "ladder": "gpt-tiny", "rungs": RUNGS, "n_tokens": BUDGETS,
            "lr": [1.5e-3, 3e-3, 6e-3], "seeds": [0], "schedule": {"kind": "branched", "cooldown_frac": 0.2},
            "trainer": "scalinglab.sweep._toy:train", "variant": "toy", "eval": {"eval_tokens": 4096},
            "dataset": ["stdlib", "python-sci"],
            "extra": {"toy_steps": 1, "toy_noise": noise, "toy_world": world,
                      "toy_dataset_scale": {"python-sci": scale}}}


def one(world: int, scale: float, noise: float, n_boot: int, lr_points: int) -> dict:
    from scalinglab.sweep import plan_sweep
    from scalinglab.sweep.loop import read_log, run_loop

    sw = space(world, scale, noise)
    full = plan_sweep(sw, check_data=False).cost().flops
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        rep = run_loop(sw, until=f"winner at {C_STAR:g} at 95%", budget_flops=full, store=d, backend="inline",
                       n_boot=n_boot, lr_points=lr_points)
        events = read_log(d, "toyloop")
    rounds = max([e["round"] for e in events if e["event"] == "decision"], default=0)
    return {"world": world, "scale": scale, "decided": bool(rep.reached), "spent": rep.spent_flops / full,
            "rounds": rounds, "p_better": rep.p_better, "right": bool(rep.reached and "stdlib is better" in rep.reason),
            "reason": rep.reason, "seconds": time.perf_counter() - t0}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--scales", type=float, nargs="+", default=[1.03, 1.08])
    ap.add_argument("--noise", type=float, default=0.003)
    ap.add_argument("--n-boot", type=int, default=100)
    ap.add_argument("--lr-points", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows = []
    for sc in args.scales:
        for w in args.worlds:
            r = one(w, sc, args.noise, args.n_boot, args.lr_points)
            rows.append(r)
            print(f"scale {sc:g} world {w}: {'decided' if r['decided'] else 'NOT decided'} "
                  f"({'right' if r['right'] else ('WRONG' if r['decided'] else '-')}), {100 * r['spent']:.0f}% "
                  f"of the space's FLOPs, {r['rounds']} rounds, P = {r['p_better']}  [{r['seconds']:.0f}s]",
                  flush=True)
    for sc in args.scales:
        sub = [r for r in rows if r["scale"] == sc]
        dec = [r for r in sub if r["decided"]]
        print(f"scale {sc:g}: decided {len(dec)} of {len(sub)} (right {sum(r['right'] for r in dec)}), median "
              f"share of FLOPs when decided {statistics.median([r['spent'] for r in dec]) if dec else float('nan'):.2f}, "
              f"median rounds {statistics.median([r['rounds'] for r in sub]):g}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
