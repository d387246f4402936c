"""Which sweep design lets a law fitted on the small runs predict the largest ones?

Reads a results store (typically from ``scalinglab demo --full`` or a wider sweep), keeps the
best learning rate per (N, D) as the demo's analysis does, and for every sub-design made of a
contiguous range of rungs x a contiguous range of token budgets re-runs the demo's backtest: the
law fitted without the ``--holdout`` largest-compute points, predicting them with 95% prediction
intervals (bootstrap, 200 refits). A design passes when every held-out point is inside its
interval and within ``--max-error`` relative error, the demo's criterion (issue 3).

Because a branched-cooldown branch equals a standalone run of the same length and shape
(``tests/train/test_cooldown.py``), the tuned points of a sub-design are exactly what a sweep of
that design would have trained, so one wide sweep answers for all of its sub-designs. The cost
column is the worker-seconds such a sweep would take: per rung, the learning rates x the longest
budget x 1.15 (branched cooldowns) at the rung's tokens/s measured in the store.

Usage::

    python benchmarks/demo_design.py STORE [--law chinchilla] [--frontier] [--holdout 3]
        [--min-rungs 3] [--min-budgets 3] [--max-error 0.03]

``--frontier`` backtests ``saturating_power_law`` L(C) on the compute envelope instead of the
law of N and D on all tuned points. Results are in docs/benchmarks.md ("The main job").
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from scalinglab.errors import ScalingLabError
from scalinglab.laws.backtesting import backtest
from scalinglab.laws.frontier import best_per_size, compute_envelope
from scalinglab.store import ResultsStore

BRANCH_COST = 1.15   # tokens of a branched sweep / tokens of its longest run (measured, docs/sweeps.md)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("store")
    ap.add_argument("--law", default="chinchilla")
    ap.add_argument("--frontier", action="store_true", help="L(C) on the compute envelope")
    ap.add_argument("--holdout", type=int, default=3)
    ap.add_argument("--min-rungs", type=int, default=3)
    ap.add_argument("--min-budgets", type=int, default=3)
    ap.add_argument("--max-error", type=float, default=0.03)
    args = ap.parse_args(argv)
    law = "saturating_power_law" if args.frontier else args.law

    with ResultsStore(args.store, readonly=True) as st:
        frame = st.to_frame()
        runs = st.to_runs("val_loss", flops_convention="6ND")
    done = frame[frame.status == "done"]
    whole = done[done.branch_of.isna()]   # a branch's tokens_seen includes its trunk's tokens
    rate = (whole.groupby("rung").tokens_seen.sum() / whole.groupby("rung").wall_s.sum()).to_dict()
    n_lr = done.groupby("rung").lr.nunique().to_dict()
    rung_of = done.groupby("n_params").rung.first().to_dict()
    tuned = best_per_size(runs, by=["n_params", "n_tokens"], tuned="lr")
    N, D = np.asarray(tuned.n_params), np.asarray(tuned.n_tokens)
    sizes, budgets = sorted(set(N)), sorted(set(D))
    print(f"store {args.store}: {len(done)} runs, {len(sizes)} sizes x {len(budgets)} budgets; "
          f"backtest of {law}{' on the compute envelope' if args.frontier else ''}, "
          f"{args.holdout} largest-compute points held out")
    def label(r0: int, r1: int, d0: int, d1: int) -> str:
        return (f"{rung_of[sizes[r0]]:>10s}..{rung_of[sizes[r1]].rsplit('-', 1)[-1]:<3s} "
                f"{budgets[d0] / 1e6:6.3f}M-{budgets[d1] / 1e6:.3f}M")

    print(f"{'rungs':>15s} {'tokens':>15s} {'cost ws':>8s}  result  errors (! = outside 95% PI)")
    n_pass = n_all = 0
    for r0 in range(len(sizes)):
        for r1 in range(r0 + args.min_rungs - 1, len(sizes)):
            for d0 in range(len(budgets)):
                for d1 in range(d0 + args.min_budgets - 1, len(budgets)):
                    keep = (N >= sizes[r0]) & (N <= sizes[r1]) & (D >= budgets[d0]) & (D <= budgets[d1])
                    sub = tuned.subset(keep)
                    if args.frontier:
                        sub = compute_envelope(sub)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        try:
                            bt = backtest(law, sub, holdout=f"largest {args.holdout}",
                                          fit_kwargs={"n_boot": 200, "seed": 0})
                        except ScalingLabError as exc:
                            print(f"{label(r0, r1, d0, d1)} {'':8s}  skipped: {str(exc)[:60]}")
                            continue
                    rel = np.asarray(bt.points["rel_error"], dtype=float)
                    inside = np.asarray(bt.points["inside"], dtype=bool)
                    ok = bool(np.all(np.abs(rel) <= args.max_error) and inside.all())
                    cost = sum(n_lr[rung_of[s]] * BRANCH_COST * budgets[d1] / rate[rung_of[s]]
                               for s in sizes[r0:r1 + 1])
                    errs = " ".join(f"{100 * e:+.2f}{'' if i else '!'}" for e, i in zip(rel, inside))
                    print(f"{label(r0, r1, d0, d1)} {cost:8.0f}  {'PASS' if ok else 'fail'}    {errs}")
                    n_pass += ok
                    n_all += 1
    print(f"{n_pass} of {n_all} designs pass")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
