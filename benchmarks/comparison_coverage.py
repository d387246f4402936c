"""Coverage of ``compare``'s intervals beyond the data, on simulated pairs of arms with known laws.

Not a speed benchmark. For each case, ``--reps`` replications of two arms are simulated from known
curves (log-normal noise per run), fitted, given a bootstrap and the rolling-origin calibration,
and compared at 1x, 10x and 100x the data's largest compute with ``interval="bootstrap"``, with
each arm's calibrated error added independently (``"calibrated-independent"``) and with the
difference's paired calibration (``"calibrated"``, the default). Reported per method and target: how often the 95%
interval of the difference ``L_A - L_B`` and of the effective-compute multiplier hold the true
value, the difference interval's median width, and how often ``P(A better)`` is decisive (>= 0.95
either way) and how often such a decision is wrong; and per arm, how often its own calibrated
prediction interval holds its true loss, its median log error, and the correlation of the two
arms' log errors over the replications.

Cases (:data:`CASES`; the truth is computed from the true curves, not assumed). The first three
use the saturating power law's design of ``scalinglab.laws.coverage.default_design`` (16 runs
over 1e17-1e21 FLOPs, ``E = 1.8, A = 1062, alpha = 0.15``), 0.5% noise, the default (Huber) fit:

* ``shift``: B is A moved 4x in compute, ``L_B(C) = L_A(4C)`` (the law is right; the true
  multiplier is 4 everywhere);
* ``crossing``: B has the steeper exponent (0.18 against 0.15) and meets A at 30x the data's
  largest compute: A is better at 10x, B at 100x (the law is right);
* ``floor``: the ``shift`` pair fitted with the pure power law, which lacks the floor (the law is
  wrong in the same way for both arms);
* ``floor-test``: the pair of ``tests/laws/test_compare.py`` (20 runs over 1e16-1e19 FLOPs of
  ``2 + 300 C^-0.15``, 0.2% noise, least squares, the pure power law) over many noise draws;
* ``opposite``: the same design and fit, with the arms' law errors pulling in opposite
  directions: A is ``2 + 300 C^-0.15`` (it flattens, so the fitted pure power law predicts too
  low beyond the data), B is A moved 4x in compute and reflected about its own straight-line fit
  in log-log over the design (it steepens as much as A flattens, so the fit predicts too high).
  The two errors add in ``L_A - L_B``, where the independent calibration, which sums the arms'
  widenings in quadrature, is optimistic by up to ``sqrt(2)``; the paired one sees the biases add
  only as far as the backtests inside the data show them.

Usage::

    .venv/bin/python benchmarks/comparison_coverage.py [--reps 100] [--n-boot 100] [--json out.json]

Numbers in docs/coverage.md ("Comparisons beyond the data").
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
FACTORS = (1.0, 10.0, 100.0)
#: compare()'s interval argument per method reported: the bootstrap alone, each arm's calibrated
#: error added independently, and the difference's own (paired) calibration, the default
METHODS = {"bootstrap": "bootstrap", "independent": "calibrated-independent", "paired": "calibrated"}


@dataclass(frozen=True)
class Case:
    """Two arms' true curves, the design they are observed on, and how they are fitted."""

    name: str
    kind: str                         # "shift" (B = A moved 4x in compute), "crossing" or "opposite"
    flops: tuple[float, ...]          # the design: compute of each run (both arms)
    noise: float                      # SD of the log-normal noise per run
    law: str                          # the law fitted
    loss: str = "huber"               # the fit's loss (``fit(..., loss=)``; huber is the default)
    E: float = 1.8
    A: float = 1062.0
    alpha: float = 0.15


DEFAULT = tuple(np.logspace(17, 21, 16))          # scalinglab.laws.coverage.default_design's
CASES = {
    "shift": Case("shift", "shift", DEFAULT, 0.005, "saturating_power_law"),
    "crossing": Case("crossing", "crossing", DEFAULT, 0.005, "saturating_power_law"),
    "floor": Case("floor", "shift", DEFAULT, 0.005, "power_law"),
    # the pair of tests/laws/test_compare.py and docs/coverage.md's example, over many noise draws
    "floor-test": Case("floor-test", "shift", tuple(np.logspace(16, 19, 20)), 0.002, "power_law", loss="ls",
                       E=2.0, A=300.0),
    "opposite": Case("opposite", "opposite", tuple(np.logspace(16, 19, 20)), 0.002, "power_law", loss="ls",
                     E=2.0, A=300.0),
}


def curve(case: Case, arm: str):
    """The true loss of ``arm`` as a function of compute."""
    E, A, alpha = case.E, case.A, case.alpha
    if arm == "A":
        return lambda c: E + A * np.asarray(c, dtype=float) ** -alpha
    if case.kind == "shift":
        return lambda c: E + A * (4.0 * np.asarray(c, dtype=float)) ** -alpha
    if case.kind == "crossing":       # steeper, meeting A at 30x the data's largest compute
        c0, alpha_b = 30.0 * case.flops[-1], alpha + 0.03
        a_b = A * c0 ** -alpha / c0 ** -alpha_b
        return lambda c: E + a_b * np.asarray(c, dtype=float) ** -alpha_b
    if case.kind == "opposite":       # A moved 4x, reflected about its straight-line fit in log-log
        shifted = curve(Case(case.name, "shift", case.flops, case.noise, case.law, case.loss, E, A, alpha), "B")
        x = np.log(np.asarray(case.flops))
        slope, icpt = np.polyfit(x, np.log(shifted(np.asarray(case.flops))), 1)
        return lambda c: np.exp(2 * (icpt + slope * np.log(np.asarray(c, dtype=float)))) / shifted(c)
    raise ValueError(f"unknown kind {case.kind!r}")


def true_multiplier(case: Case, c: float) -> float:
    """k with L_B(c / k) = L_A(c): the root in log k nearest k = 1 (the bent curves are not
    monotone far from the data, so the search scans 1e-6..1e6 and refines the nearest bracket)."""
    la, lb = curve(case, "A"), curve(case, "B")
    target = float(la(c))

    def g(u):
        return target - float(lb(c / math.exp(u)))

    u = np.linspace(-6, 6, 2401) * math.log(10)
    v = np.array([g(x) for x in u])
    cross = np.flatnonzero(np.sign(v[:-1]) * np.sign(v[1:]) <= 0)
    if cross.size == 0:
        return math.nan
    i = cross[np.argmin(np.abs(u[cross]))]
    lo, hi = u[i], u[i + 1]
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if g(lo) * g(mid) <= 0:
            hi = mid
        else:
            lo = mid
    return math.exp(0.5 * (lo + hi))


def one(case: Case, rep: int, n_boot: int) -> dict:
    from scalinglab.laws import Runs, compare, fit

    rng = np.random.default_rng([rep, 17])
    fits = []
    for j, arm in enumerate("AB"):
        c = np.asarray(case.flops)
        y = curve(case, arm)(c) * np.exp(case.noise * rng.standard_normal(c.size))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = fit(case.law, Runs.from_arrays(flops=c, target=y), loss=case.loss)
            f = f.with_bootstrap(n_boot=n_boot, seed=2 * rep + j).with_calibration(n_boot=n_boot, seed=2 * rep + j)
        fits.append(f)
    targets = [f * case.flops[-1] for f in FACTORS]
    out = {}
    for method, interval in METHODS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cmp = compare(*fits, flops=targets, interval=interval, level=LEVEL)
        out[method] = {"interval": cmp.interval,
                       "difference": [cmp.difference_low.tolist(), cmp.difference_high.tolist()],
                       "multiplier": [cmp.multiplier_low.tolist(), cmp.multiplier_high.tolist()],
                       "p": cmp.prob_a_better.tolist()}
    out["usable"] = [bool(f.calibration.usable) for f in fits]
    # each arm's own calibrated prediction at the targets: does it hold its truth, and how do the
    # arms' errors move together (what an interval of the difference built from them must assume)
    for arm, f in zip("AB", fits):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = f.predict(flops=np.asarray(targets), level=LEVEL, interval="calibrated")
        out[f"arm_{arm}"] = {"mean": np.asarray(p.mean).tolist(), "low": np.asarray(p.low).tolist(),
                             "high": np.asarray(p.high).tolist()}
    return out


def summarize(case: Case, rows: list[dict]) -> dict:
    la, lb = curve(case, "A"), curve(case, "B")
    res = {}
    for method in METHODS:
        res[method] = {}
        for i, fct in enumerate(FACTORS):
            c = fct * case.flops[-1]
            d_true = float(la(c) - lb(c))
            k_true = true_multiplier(case, c)
            lo = np.array([r[method]["difference"][0][i] for r in rows])
            hi = np.array([r[method]["difference"][1][i] for r in rows])
            klo = np.array([r[method]["multiplier"][0][i] for r in rows])
            khi = np.array([r[method]["multiplier"][1][i] for r in rows])
            p = np.array([r[method]["p"][i] for r in rows])
            decisive = (p >= LEVEL) | (p <= 1 - LEVEL)
            wrong = decisive & ((p >= LEVEL) != (d_true < 0))
            res[method][f"{fct:g}"] = {
                "true_difference": d_true, "true_multiplier": k_true,
                "difference_coverage": float(np.mean((lo <= d_true) & (d_true <= hi))),
                "multiplier_coverage": float(np.mean((klo <= k_true) & (k_true <= khi))),
                "difference_width": float(np.median(hi - lo)),
                "decisive": float(np.mean(decisive)), "wrong": float(np.mean(wrong)),
            }
    res["calibrated_both"] = float(np.mean([all(r["usable"]) for r in rows]))
    res["paired_used"] = float(np.mean([r["paired"]["interval"] == "calibrated, paired" for r in rows]))
    # each arm's calibrated interval against its own truth, and the correlation of the arms' log
    # errors over the replications (independence, which the calibrated difference assumes, is 0)
    res["arms"] = {}
    for i, fct in enumerate(FACTORS):
        c = fct * case.flops[-1]
        row, errs = {}, []
        for arm, truth in (("A", float(la(c))), ("B", float(lb(c)))):
            m = np.array([r[f"arm_{arm}"]["mean"][i] for r in rows])
            lo = np.array([r[f"arm_{arm}"]["low"][i] for r in rows])
            hi = np.array([r[f"arm_{arm}"]["high"][i] for r in rows])
            row[f"coverage_{arm}"] = float(np.mean((lo <= truth) & (truth <= hi)))
            row[f"median_log_error_{arm}"] = float(np.median(np.log(m / truth)))
            errs.append(np.log(m / truth))
        ea, eb = errs
        row["error_correlation"] = float(np.corrcoef(ea, eb)[0, 1]) if ea.size > 2 else math.nan
        res["arms"][f"{fct:g}"] = row
    return res


def show(case: Case, s: dict, reps: int) -> None:
    print(f"\n{case.name}: {case.law} fitted ({case.loss}), {len(case.flops)} runs per arm, noise {case.noise:g} ({reps} replications; both arms calibrated in {100 * s['calibrated_both']:.0f}%, "
          f"the difference calibrated as a pair in {100 * s['paired_used']:.0f}%)")
    print(f"{'method':<11}{'x data':>7}{'true A-B':>10}{'cov diff':>9}{'true k':>8}{'cov k':>7}"
          f"{'width':>8}{'decisive':>9}{'wrong':>7}")
    for method in METHODS:
        for f, r in s[method].items():
            print(f"{method:<11}{f:>7}{r['true_difference']:>10.4f}{r['difference_coverage']:>9.3f}"
                  f"{r['true_multiplier']:>8.3g}{r['multiplier_coverage']:>7.3f}{r['difference_width']:>8.4f}"
                  f"{r['decisive']:>9.3f}{r['wrong']:>7.3f}")
    print(f"each arm's calibrated interval: {'x data':>7}{'cov A':>7}{'cov B':>7}{'med err A':>10}{'med err B':>10}"
          f"{'corr':>7}")
    for f, r in s["arms"].items():
        print(f"{'':<31}{f:>7}{r['coverage_A']:>7.3f}{r['coverage_B']:>7.3f}{r['median_log_error_A']:>10.4f}"
              f"{r['median_log_error_B']:>10.4f}{r['error_correlation']:>7.2f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--n-boot", type=int, default=100)
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    se = math.sqrt(LEVEL * (1 - LEVEL) / args.reps)
    print(f"compare() beyond the data: 95% intervals, {args.reps} replications per case, {args.n_boot} "
          f"bootstrap refits (binomial se of a 95% coverage: {se:.3f})")
    report = {"reps": args.reps, "n_boot": args.n_boot, "cases": {}}
    for case in (CASES[c] for c in args.cases.split(",")):
        t0 = time.perf_counter()
        rows = [one(case, r, args.n_boot) for r in range(args.reps)]
        s = summarize(case, rows)
        s["seconds"] = time.perf_counter() - t0
        report["cases"][case.name] = s
        show(case, s, args.reps)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main()
