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
    # draw the curves of earlier measurements (JSON files of this script, results stores of a
    # sweep such as `scalinglab demo clip`'s) without training anything:
    python benchmarks/lv_curves.py --from-json rung5.json rung6.json --from-store demo/store \
        --plot docs/img/lv_curves.png
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
    ap.add_argument("--from-json", nargs="*", default=[], help="rows of earlier runs of this script")
    ap.add_argument("--from-store", nargs="*", default=[], help="results stores of image-text sweeps")
    ap.add_argument("--plot", help="draw zero-shot and retrieval error against compute to this file")
    args = ap.parse_args(argv)
    if args.from_json or args.from_store:
        rows = [r for f in args.from_json for r in json.loads(Path(f).read_text())]
        rows += [r for st in args.from_store for r in store_rows(st)]
        table(rows)
        if args.plot:
            plot(rows, args.plot)
        return 0

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
    table(rows)
    if args.plot:
        plot(rows, args.plot)
    return 0


def store_rows(path: str) -> list[dict]:
    """The finished image-text runs of a results store, as rows of this script."""
    from scalinglab.store.store import ResultsStore

    out = []
    with ResultsStore(path, readonly=True) as st:
        for rec in st.records(status="done"):
            if rec.spec.procedure not in ("clip", "coca", "mammut"):
                continue
            m = dict(rec.metrics)
            m.update({f"{k}_se": v for k, v in rec.metrics_se.items()})
            out.append({"procedure": rec.spec.procedure, "rung": rec.spec.rung, "lr": rec.spec.lr,
                        "n_samples": rec.n_data_seen, "status": "done", "n_params": rec.n_params["total"],
                        "flops": rec.flops["exact"], "wall_s": rec.wall_s, "metrics": m})
    return out


def plot(rows: list[dict], path: str) -> None:
    """Zero-shot and retrieval error against compute, one panel per procedure, one line per rung."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    procs = [p for p in ("clip", "coca", "mammut") if any(r["procedure"] == p for r in rows)]
    fig = Figure(figsize=(4.2 * len(procs), 6.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(procs), squeeze=False, sharex=True, sharey="row")
    best: dict = {}
    for r in rows:
        if r["status"] == "done":
            key = (r["rung"], r["n_samples"])
            if key not in best or r["metrics"]["zeroshot_error"] < best[key]["metrics"]["zeroshot_error"]:
                best[key] = r
    for j, proc in enumerate(procs):
        rungs = sorted({r["rung"] for r in best.values() if r["procedure"] == proc})
        for k, rung in enumerate(rungs):
            pts = sorted((r for r in best.values() if r["rung"] == rung), key=lambda r: r["flops"])
            for i, (metric, label) in enumerate((("zeroshot_error", "zero-shot error"),
                                                 ("retrieval_error", "retrieval error (1 - mean R@1)"))):
                ax = axes[i][j]
                ax.errorbar([r["flops"] for r in pts], [r["metrics"][metric] for r in pts],
                            yerr=[r["metrics"].get(f"{metric}_se", 0.0) for r in pts], marker="o", ms=3,
                            linewidth=1, capsize=2, label=rung.rsplit("-", 1)[1],
                            color=f"C{k}")
                ax.set_xscale("log")
                ax.grid(True, alpha=0.25)
                if j == 0:
                    ax.set_ylabel(label)
                if i == 0:
                    ax.set_title(proc)
                else:
                    ax.set_xlabel("training compute C (exact FLOPs)")
        axes[0][j].legend(title="rung", fontsize=7, title_fontsize=7, frameon=False)
    fig.savefig(path, dpi=130)
    print(f"wrote {path}")


def table(rows: list[dict]) -> None:
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


if __name__ == "__main__":
    sys.exit(main())
