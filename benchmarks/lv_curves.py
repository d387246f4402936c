"""Measured curves of the image-text ladders: error vs compute per rung, the demo's design in miniature.

For every procedure (CLIP, CoCa, MaMMUT), every chosen rung of its ladder and every learning rate
of a small grid, this trains one WSD trunk of the longest budget and a cooldown branch per shorter
budget (Hägele et al. 2024; :func:`scalinglab.train.imagetext.train` with ``checkpoint_at_samples``
/ ``branch_of``), evaluates every point (zero-shot classification, retrieval, hard negatives,
val losses) and prints, per rung and budget, the best-LR zero-shot error with its standard error
against training compute (``exact`` FLOPs). It is what the ``demo clip`` sweep does, without the
sweep machinery, so the ladders and budgets can be chosen from measurements.

Usage::

    python benchmarks/lv_curves.py [--procedures clip,coca,mammut] [--rungs 1,2,3,4]
        [--samples 4096,8192,16384,32768] [--lr 3e-3,6e-3] [--json out.json] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from scalinglab.ladders import get_ladder
from scalinglab.train.imagetext import train

COOLDOWN_FRAC = 0.2


def cooldown_start(n_samples: int, batch_size: int) -> int:
    steps = n_samples // batch_size
    return (steps - max(1, round(COOLDOWN_FRAC * steps))) * batch_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--procedures", default="clip,coca,mammut")
    ap.add_argument("--rungs", default="1,2,3,4")
    ap.add_argument("--samples", default="4096,8192,16384,32768")
    ap.add_argument("--lr", default="3e-3,6e-3")
    ap.add_argument("--warmup-samples", type=int, default=2048)
    ap.add_argument("--eval-per-class", type=int, default=16)
    ap.add_argument("--json")
    ap.add_argument("--out", help="run folders (default: a temporary folder)")
    args = ap.parse_args(argv)

    budgets = sorted(int(x) for x in args.samples.split(","))
    lrs = [float(x) for x in args.lr.split(",")]
    out = Path(args.out or tempfile.mkdtemp(prefix="lv_curves_"))
    rows = []
    t0 = time.time()
    for proc in args.procedures.split(","):
        lad = get_ladder(f"{proc}-tiny")
        bs = int(lad.train.batch_size or 64)
        for idx in args.rungs.split(","):
            rung = f"{proc}-tiny-{idx}"
            cfg = lad[rung].model
            for lr in lrs:
                common = dict(batch_size=bs, lr=lr, seed=0, schedule="wsd",
                              cooldown_frac=COOLDOWN_FRAC, warmup_samples=args.warmup_samples,
                              eval_per_class=args.eval_per_class, resume=False)
                trunk_dir = out / f"{rung}_lr{lr:g}_D{budgets[-1]}"
                starts = [cooldown_start(d, bs) for d in budgets[:-1]]
                results = {budgets[-1]: train(cfg, n_samples=budgets[-1], run_dir=trunk_dir,
                                              checkpoint_at_samples=starts, **common)}
                for d, s in zip(budgets[:-1], starts):
                    results[d] = train(cfg, n_samples=d, run_dir=out / f"{rung}_lr{lr:g}_D{d}",
                                       branch_of=trunk_dir, branch_at_samples=s, **common)
                for d, r in sorted(results.items()):
                    m = r["metrics"]
                    row = {"procedure": proc, "rung": rung, "lr": lr, "n_samples": d,
                           "status": r["status"], "n_params": r["n_params"]["total"],
                           "flops": r["flops"]["exact"], "wall_s": r["wall_s"],
                           "train_s": r["provenance"]["train_s"], "data_s": r["provenance"]["data_s"],
                           "metrics": m}
                    rows.append(row)
                    if r["status"] == "done":
                        print(f"{rung:14s} lr {lr:<6g} D {d:>6} C {row['flops']:.3g}  "
                              f"zs_err {m['zeroshot_error']:.3f}±{m['zeroshot_error_se']:.3f}  ret_err {m['retrieval_error']:.3f}±{m['retrieval_error_se']:.3f}  "
                              f"heldout {m['heldout_zeroshot_error']:.3f}  "
                              f"i2t@1 {m['retrieval_i2t_r1']:.3f}  hn {m['hard_negative_accuracy']:.3f}  "
                              f"vl {m['val_contrastive_loss']:.3f}  train {row['train_s']:.0f}s "
                              f"[{time.time() - t0:.0f}s]", flush=True)
                    else:
                        print(f"{rung:14s} lr {lr:<6g} D {d:>6} {r['status']}: {r['error']}", flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(rows, indent=1))
    print("\nbest learning rate per (rung, D): zero-shot error (exact FLOPs)")
    best: dict = {}
    for r in rows:
        if r["status"] != "done":
            continue
        key = (r["rung"], r["n_samples"])
        if key not in best or r["metrics"]["zeroshot_error"] < best[key]["metrics"]["zeroshot_error"]:
            best[key] = r
    print("| rung | N (total) | D (samples) | C (FLOPs) | lr | zero-shot error | held-out error "
          "| retrieval error | hard-negative acc. | val contrastive loss |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (rung, d), r in sorted(best.items(), key=lambda kv: (kv[1]["procedure"], kv[1]["flops"])):
        m = r["metrics"]
        print(f"| {rung} | {r['n_params']:,} | {d:,} | {r['flops']:.2e} | {r['lr']:g} "
              f"| {m['zeroshot_error']:.3f} ± {m['zeroshot_error_se']:.3f} "
              f"| {m['heldout_zeroshot_error']:.3f} ± {m['heldout_zeroshot_error_se']:.3f} "
              f"| {m['retrieval_error']:.3f} ± {m['retrieval_error_se']:.3f} "
              f"| {m['hard_negative_accuracy']:.3f} | {m['val_contrastive_loss']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
