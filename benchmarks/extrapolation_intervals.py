"""Extrapolation intervals on real data: coverage, width and interval score of each method.

Not a speed benchmark: it measures how often 95% prediction intervals hold runs *beyond* the
fitted data, on published data and on the demo ladder, for every interval method of
``FitResult.predict``:

* ``wald``: delta method + residual scale (what ``backtest`` used to default to);
* ``bootstrap (runs)`` / ``bootstrap (sizes)``: percentile bootstrap with residual draws,
  resampling single runs / whole model sizes (1000 refits);
* ``calibrated (point)`` / ``calibrated``: the rolling-origin calibrated interval with the
  conformal quantile weighting every held-out run / every rolling origin equally (the default).

Splits:

* Chinchilla (Besiroglu et al. 2024 replication data, 240 runs): the 10 largest-compute runs
  held out (issue 13's split), everything above 1e20 FLOPs held out, and rolling cutoffs.
* The demo ladder (``--store``, a results store from ``scalinglab demo``): the tuned points (best
  learning rate per (N, D)), largest-k splits and rolling cutoffs.
* The whole gpt-tiny ladder (``--full-store``, a store of the ``full`` sweep: ``scalinglab sweep
  run full --store DIR``, about 30 min on 2 cores): the demo grid's 20 tuned points fitted, the
  other 10 held out (gpt-tiny-5 at every budget, gpt-tiny-1..4 at 4.19M tokens), i.e. what the
  demo's fit predicts for the runs one rung and one budget doubling beyond it.

For each: held-out runs covered, median interval width relative to the prediction, mean interval
score (Gneiting & Raftery 2007) relative to the actual value, and the median distance outside the
fitted data. Numbers in docs/coverage.md.

Usage::

    .venv/bin/python benchmarks/extrapolation_intervals.py [--store out/store] [--full-store DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np

LEVEL = 0.95
METHODS = ("wald", "bootstrap (runs)", "bootstrap (sizes)", "calibrated (point)", "calibrated")


def evaluate(law, train, test, *, n_boot=1000, seed=0):
    """Every method's 95% intervals for ``test`` from a fit on ``train``: {method: row}."""
    from scalinglab.laws import fit, interval_score

    x = law.inputs_from(test)
    y = test.target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(law, train)
        sizes = res.with_bootstrap(n_boot=n_boot, seed=seed, by="auto")
        preds = {
            "wald": res.predict(level=LEVEL, interval="wald", **x),
            "bootstrap (runs)": res.with_bootstrap(n_boot=n_boot, seed=seed).predict(
                level=LEVEL, interval="bootstrap", **x),
            "bootstrap (sizes)": sizes.predict(level=LEVEL, interval="bootstrap", **x),
            "calibrated (point)": sizes.with_calibration(weighting="point").predict(
                level=LEVEL, interval="calibrated", **x),
            "calibrated": sizes.with_calibration().predict(level=LEVEL, **x),
        }
    out = {}
    for m, p in preds.items():
        inside = (y >= p.low) & (y <= p.high)
        out[m] = {"covered": int(inside.sum()), "n": int(y.size), "coverage": float(inside.mean()),
                  "width_rel": float(np.median((p.high - p.low) / p.mean)),
                  "score_rel": float(np.mean(interval_score(p.low, p.high, y, LEVEL) / y)),
                  "outside_decades": float(np.median(p.outside_decades)), "method": p.method}
    out["_note"] = preds["calibrated"].note
    return out


def largest(runs, k):
    order = np.argsort(runs.flops, kind="stable")
    return runs.subset(order[:-k]), runs.subset(order[-k:])


def rolling(runs, fractions=(0.5, 0.6, 0.7, 0.8)):
    """Fit the runs up to each compute quantile, predict the rest (one row per cutoff, pooled)."""
    order = np.sort(runs.flops)
    for f in fractions:
        c = order[int(f * len(order)) - 1]
        yield f"C <= {c:.3g}", runs.subset(runs.flops <= c), runs.subset(runs.flops > c)


def demo_split(tuned):
    """``(fit, held out)``: the tuned points of the demo sweep's rungs and budgets, and the others."""
    from scalinglab.config import load_mapping
    from scalinglab.ladders import get_ladder
    from scalinglab.sweep.plan import sweep_path

    demo = load_mapping(sweep_path("demo"))
    ladder = get_ladder(demo["ladder"])
    sizes = {float(ladder[r].n_params) for r in demo["rungs"]}
    budgets = {float(d) for d in demo["n_tokens"]}
    inside = np.array([n in sizes and d in budgets for n, d in zip(tuned.column("n_params"), tuned.column("n_tokens"))])
    return tuned.subset(np.flatnonzero(inside)), tuned.subset(np.flatnonzero(~inside))


def tuned_points(store):
    from scalinglab.laws import best_per_size
    from scalinglab.store import ResultsStore

    with ResultsStore(store, readonly=True) as st:
        raw = st.to_runs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return best_per_size(raw, by=["n_params", "n_tokens"], tuned="lr")


def pool(rows):
    out = {}
    for m in METHODS:
        n = sum(r[m]["n"] for r in rows)
        out[m] = {"covered": sum(r[m]["covered"] for r in rows), "n": n,
                  "coverage": sum(r[m]["covered"] for r in rows) / n,
                  "width_rel": float(np.median([r[m]["width_rel"] for r in rows])),
                  "score_rel": sum(r[m]["score_rel"] * r[m]["n"] for r in rows) / n,
                  "outside_decades": float(np.median([r[m]["outside_decades"] for r in rows]))}
    return out


def show(title, table):
    print(f"\n{title}")
    print("| method | covered | coverage | median width | mean interval score (rel.) |")
    print("|---|---|---|---|---|")
    for m in METHODS:
        r = table[m]
        print(f"| {m} | {r['covered']}/{r['n']} | {r['coverage']:.2f} | {r['width_rel']:.2%} | {r['score_rel']:.4f} |")
    if "_note" in table:
        print(f"calibration: {table['_note']}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=None, help="a demo results store (tuned points are backtested)")
    ap.add_argument("--full-store", default=None,
                    help="a store of the `full` sweep: fit the demo grid's points, predict the other 10")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from scalinglab.datasets import load_chinchilla
    from scalinglab.laws import get_law

    law = get_law("chinchilla")
    results = {}
    runs = load_chinchilla()
    results["chinchilla: largest 10 held out"] = evaluate(law, *largest(runs, 10))
    results["chinchilla: C > 1e20 held out (104 runs)"] = evaluate(
        law, runs.filter(max_flops=1e20), runs.subset(runs.flops > 1e20))
    rows = [evaluate(law, tr, te) for _, tr, te in rolling(runs)]
    results["chinchilla: rolling cutoffs at 50/60/70/80% of runs (pooled)"] = pool(rows)
    if args.store:
        tuned = tuned_points(args.store)
        for k in (3, 5):
            results[f"demo ladder ({len(tuned)} tuned points): largest {k} held out"] = evaluate(
                law, *largest(tuned, k), n_boot=400)
        rows = [evaluate(law, tr, te, n_boot=400) for _, tr, te in rolling(tuned, (0.6, 0.7, 0.8))]
        results["demo ladder: rolling cutoffs at 60/70/80% (pooled)"] = pool(rows)
    if args.full_store:
        train, test = demo_split(tuned_points(args.full_store))
        results[f"gpt-tiny ladder: the demo grid's {len(train)} points fitted, the other {len(test)} held out"] = \
            evaluate(law, train, test)
    for title, table in results.items():
        show(title, table)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return results


if __name__ == "__main__":
    main()
