"""Dataset comparisons on published data: does the calibrated difference hold the held-out runs?

Not a speed benchmark. The released runs of Gadre et al. 2024 (``overtraining_gadre2024.csv``,
:func:`scalinglab.datasets.load_overtraining`) train one grid of models on three datasets (C4,
RedPajama, RefinedWeb): 11M-411M parameters at token multipliers M = 5-640, and, held out, 1.4B and
6.9B models at M = 20 (plus one over-trained 1.4B run per dataset, at a different M for each, so
not shared). Each dataset's ``overtraining`` law is fitted with the library's defaults on its
small-scale grid (the fit set of docs/coverage.md's second over-training table), given a
200-refit bootstrap and the rolling-origin calibration, and each pair of datasets predicts the
log ratio of their C4-eval losses, ``log(L_A / L_B)``, at the held-out runs both datasets have
(1.4B and 6.9B at M = 20: 2 per pair, 6 in all), with three 95% intervals:

* ``bootstrap``: the two arms' predictive draws subtracted (B's shifted by one refit, as
  :func:`scalinglab.laws.intervals.paired_calibration` pairs them);
* ``independent``: plus each arm's calibrated extrapolation variance
  (:func:`scalinglab.laws.design.extrapolation_variance`), added independently, as ``compare``
  does where it cannot pair;
* ``paired``: plus the difference's own calibrated variance, from the two arms' rolling backtests
  paired run by run (``compare``'s default where the arms share a design).

Reported per pair and held-out run: the observed and predicted log ratio, each interval and
whether it holds the observation. Six comparisons cannot measure a coverage rate; they check that
the method behaves on real data (do the arms pair, what does the paired calibration find, is the
observed difference inside). The Monte Carlo of the added factor uses 20 normal draws per
bootstrap draw.

Usage::

    .venv/bin/python benchmarks/comparison_overtraining.py [--n-boot 200] [--json out.json]

Numbers in docs/coverage.md ("Comparisons on published data").
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import warnings

import numpy as np

LEVEL = 0.95
DATASETS = {"c4_original": "C4", "rpj": "RedPajama", "rw_original": "RefinedWeb"}
SMALL = 5e8                    # the small-scale grid: models below 500M parameters
FACTOR_DRAWS = 20              # normal draws of the added factor per bootstrap draw


def fits(n_boot: int) -> tuple[dict, dict]:
    """Each dataset's fit on its small grid (bootstrap + calibration) and its held-out runs."""
    from scalinglab.datasets import load_overtraining
    from scalinglab.laws import fit

    runs = load_overtraining()
    out, held = {}, {}
    for j, ds in enumerate(DATASETS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = fit("overtraining", runs.filter(max_params=SMALL, dataset=ds))
            f = f.with_bootstrap(n_boot=n_boot, seed=j).with_calibration(n_boot=n_boot)
        out[ds] = f
        h = runs.filter(min_params=SMALL, dataset=ds)
        held[ds] = {(f"{n:.6g}", f"{d:.6g}"): (float(n), float(d), float(y))
                    for n, d, y in zip(h.n_params, h.n_tokens, h.target)}
    return out, held


def interval(base: np.ndarray, var: float, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile interval of ``base + N(0, var)``, the factor drawn ``FACTOR_DRAWS`` times per draw."""
    z = rng.standard_normal((base.size, FACTOR_DRAWS)) * math.sqrt(max(var, 0.0))
    lo, hi = np.quantile((base[:, None] + z).ravel(), [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(lo), float(hi)


def main(argv=None) -> dict:
    from scalinglab.laws.design import extrapolation_variance
    from scalinglab.laws.intervals import paired_calibration

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    res, held = fits(args.n_boot)
    rng = np.random.default_rng(0)
    report = {"n_boot": args.n_boot, "level": LEVEL, "pairs": []}
    print(f"log(L_A / L_B) at held-out runs both datasets have; {100 * LEVEL:g}% intervals, {args.n_boot} refits")
    print(f"{'A':<11}{'B':<11}{'held-out run':<16}{'obs':>8}{'pred':>8}  {'bootstrap':<18}{'independent':<18}"
          f"{'paired':<18}")
    for a, b in itertools.combinations(DATASETS, 2):
        fa, fb = res[a], res[b]
        pc, why = paired_calibration(fa.calibration, fb.calibration)
        pair = {"a": a, "b": b, "paired": pc.describe(LEVEL) if pc is not None else why, "runs": []}
        for key in sorted(set(held[a]) & set(held[b]), key=lambda k: float(k[0])):
            n, d, ya = held[a][key]
            yb = held[b][key][2]
            x = {"n_params": np.array([n]), "n_tokens": np.array([d])}
            pred = float(np.log(fa.law(fa.param_vector, **x)[0]) - np.log(fb.law(fb.param_vector, **x)[0]))
            da, db = fa._predictive_draws(x)[:, 0], fb._predictive_draws(x)[:, 0]
            S = min(da.size, db.size)
            base = pred + da[:S] - np.roll(db[:S], 1)
            xs = {"n_params": n, "n_tokens": d}
            v_ind = extrapolation_variance(fa, xs, level=LEVEL) + extrapolation_variance(fb, xs, level=LEVEL)
            dist = max(float(np.max(fa.outside_decades(**xs))), float(np.max(fb.outside_decades(**xs))))
            v_pair = float(pc.variance(dist, LEVEL)) if pc is not None and pc.usable else math.nan
            obs = math.log(ya / yb)
            row = {"n_params": n, "n_tokens": d, "decades_out": dist, "observed": obs, "predicted": pred}
            cells = []
            for name, var in (("bootstrap", 0.0), ("independent", v_ind), ("paired", v_pair)):
                if not math.isfinite(var):
                    row[name] = None
                    cells.append(f"{'-':<18}")
                    continue
                lo, hi = interval(base, var, rng)
                row[name] = {"low": lo, "high": hi, "covers": bool(lo <= obs <= hi), "width": hi - lo}
                cells.append(f"[{lo:+.3f}, {hi:+.3f}]{'*' if not lo <= obs <= hi else ' ':<2}")
            pair["runs"].append(row)
            print(f"{DATASETS[a]:<11}{DATASETS[b]:<11}{f'{n / 1e9:.1f}B, M={d / n:.0f}':<16}{obs:>+8.3f}{pred:>+8.3f}  "
                  + "".join(cells))
        report["pairs"].append(pair)
        print(f"   paired calibration: {pair['paired']}")
    for name in ("bootstrap", "independent", "paired"):
        rows = [r[name] for p in report["pairs"] for r in p["runs"] if r[name] is not None]
        if rows:
            report[name] = {"covers": sum(r["covers"] for r in rows), "of": len(rows),
                            "median_width": float(np.median([r["width"] for r in rows]))}
            print(f"{name}: holds {report[name]['covers']} of {len(rows)}; median width "
                  f"{report[name]['median_width']:.3f} (log units)")
    print("(* : the observed log ratio lies outside)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)
    return report


if __name__ == "__main__":
    main()
