"""Regenerate ``overtraining_scalinglab.json``: the over-training reproduction and interval test.

Run from the repository root::

    .venv/bin/python tests/laws/reference/make_overtraining_reference.py            # JSON + tables
    .venv/bin/python tests/laws/reference/make_overtraining_reference.py --markdown # tables only

Data: ``overtraining_gadre2024.csv`` shipped in :mod:`scalinglab.datasets` (Gadre et al. 2024,
arXiv:2403.08540; 104 models on C4, RedPajama, RefinedWeb; rebuilt by
``benchmarks/overtraining_table.py``). The loss is ``loss_c4_val`` ("C4 eval"), the paper's
default. Two parts, both per training dataset:

1. **Reproduction** of the paper's Table 2 default: fit ``overtraining``
   L(C, M) = E + (a M^eta + b M^-eta) C^-eta on the *paper's fit set* (the 11M, 79M, 154M and 411M
   models at M = 20 plus the 11M model at M = 320: 5 runs), with the paper's estimator (least
   squares on the loss itself: ``loss="ls", space="linear"``), predict the held-out 1.4B and 6.9B
   runs, and report the relative errors. The downstream link err(L) = eps - k exp(-gamma L) (Eq. 5)
   is fitted on the same 5 runs plus the 1.4B M = 20 run (17-task average top-1 error) and
   predicts the error from the *predicted* loss, as in the paper's Figure 1. Published values
   (``overtraining_published.json``) exist for RedPajama only (the notebook prints them).
2. **Out-of-sample interval test** (issue 13): the library's defaults throughout (``fit`` with
   Huber on log residuals, ``backtest(test=...)`` with the default 95% interval, i.e. the
   calibrated one beyond the data) on two fit sets: the paper's 5 runs, and the whole small-scale
   grid (all runs of the four small models, 31-32 per dataset, M = 5 to 640). Held out: every
   1.4B and 6.9B run (3 per dataset). Nothing in this data set was used to choose the method.

:func:`load`, :func:`paper_fit_set`, :func:`small_grid` and :func:`held_out` define the splits;
``tests/laws/test_overtraining.py`` imports them from here so that the test and the stored
numbers use one definition.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np

from scalinglab.datasets import path
from scalinglab.laws import Runs, backtest, fit, load_runs

DATA = "overtraining_gadre2024.csv"
DATASETS = ("c4_original", "rpj", "rw_original")
DATASET_NAMES = {"c4_original": "C4", "rpj": "RedPajama", "rw_original": "RefinedWeb"}
SMALL_MODELS = ("d=96_l=8_h=4", "d=512_l=8_h=4", "d=576_l=24_h=8", "d=1024_l=24_h=8")
LOSS = "loss_c4_val"            # the paper's default loss evaluation ("C4 eval")
ERROR = "err_avg17"             # the 17-task average top-1 error of Figure 1
PAPER_ESTIMATOR = {"loss": "ls", "space": "linear"}   # scipy curve_fit on the loss, as the paper
OUT = Path(__file__).with_name("overtraining_scalinglab.json")


def load(target: str = LOSS) -> Runs:
    """All 104 models with ``target`` (a loss or error column) as the target."""
    return load_runs(path(DATA), n_params="n_params", n_tokens="n_tokens", flops="flops",
                     target=target, run_id="run_name",
                     group_by=["dataset", "model", "tokens_per_param", LOSS] if target != LOSS
                     else ["dataset", "model", "tokens_per_param"],
                     source_name=DATA)


def _cols(runs: Runs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.asarray(runs.column("dataset")), np.asarray(runs.column("model")),
            np.asarray(runs.column("tokens_per_param"), dtype=float))


def paper_fit_set(runs: Runs, dataset: str) -> Runs:
    """Table 2 default: the four small models at M = 20 and the 11M model at M = 320 (5 runs)."""
    ds, model, m = _cols(runs)
    keep = (ds == dataset) & np.isin(model, SMALL_MODELS) & ((m == 20) | ((m == 320) & (model == SMALL_MODELS[0])))
    return runs.subset(keep)


def small_grid(runs: Runs, dataset: str) -> Runs:
    """Every run of the four small models (11M-411M parameters, M = 5 to 640)."""
    ds, model, _ = _cols(runs)
    return runs.subset((ds == dataset) & np.isin(model, SMALL_MODELS))


def held_out(runs: Runs, dataset: str, *, targets_only: bool = False) -> Runs:
    """The large runs: 1.4B at M = 20 and one over-trained M, 6.9B at M = 20.

    ``targets_only``: the two runs the paper predicts in Figure 1 (1.4B over-trained, 6.9B at
    M = 20); the 1.4B run at M = 20 is also fitted by the paper's downstream link.
    """
    ds, model, m = _cols(runs)
    keep = (ds == dataset) & ~np.isin(model, SMALL_MODELS)
    if targets_only:
        keep &= ~((model == "open_lm_1b") & (m == 20))
    return runs.subset(keep)


def reproduce(dataset: str) -> dict:
    """Part 1 for one dataset: parameters, predictions and relative errors."""
    runs = load()
    te = held_out(runs, dataset, targets_only=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # 5 runs for 4 parameters, 300x extrapolation: expected
        res = fit("overtraining", paper_fit_set(runs, dataset), **PAPER_ESTIMATOR)
        pred = np.asarray(res.predict(**res.law.inputs_from(te)), dtype=float)
    # downstream: err(L) fitted on the 5 runs + the 1.4B M=20 run, evaluated at the predicted loss
    err_runs = load(ERROR)
    fit_err = Runs.concat([paper_fit_set(err_runs, dataset),
                           held_out(err_runs, dataset).subset(
                               np.asarray(held_out(err_runs, dataset).run_id) == f"{dataset}-open_lm_1b-1.0")])
    link_in = Runs.from_arrays(target=fit_err.target, run_id=fit_err.run_id,
                               groups={"loss": np.asarray(fit_err.column(LOSS), dtype=float)},
                               target_name=ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        link = fit("downstream_link", link_in, **PAPER_ESTIMATOR)
    te_err = held_out(err_runs, dataset, targets_only=True)
    err_pred = np.asarray(link.predict(loss=pred), dtype=float)
    return {
        "params": dict(res.params),
        "link_params": dict(link.params),
        "runs": {str(r): {"loss": float(y), "loss_predicted": float(p), "loss_rel_error": float(abs(p - y) / y),
                          "err": float(e), "err_predicted": float(ep), "err_rel_error": float(abs(ep - e) / e)}
                 for r, y, p, e, ep in zip(te.run_id, te.target, pred, te_err.target, err_pred)},
    }


def interval_test(dataset: str, fit_set: str) -> dict:
    """Part 2 for one dataset and fit set (``"paper"`` or ``"grid"``): the default backtest."""
    runs = load()
    tr = paper_fit_set(runs, dataset) if fit_set == "paper" else small_grid(runs, dataset)
    bt = backtest("overtraining", tr, test=held_out(runs, dataset))
    P = bt.points
    rows = {}
    for i, r in enumerate(P["run_id"]):
        lo, hi, y, mu = (float(P[k][i]) for k in ("low", "high", "actual", "predicted"))
        rows[str(r)] = {"actual": y, "predicted": mu, "low": lo, "high": hi, "inside": bool(P["inside"][i]),
                        "width_rel": (hi - lo) / mu, "interval_score": float(P["interval_score"][i]),
                        "interval_score_rel": float(P["interval_score"][i]) / y,
                        "outside_decades": float(P["outside_decades"][i]), "method": str(P["method"][i])}
    return {"n_train": len(tr), "coverage": bt.coverage, "width_rel": bt.width_rel,
            "interval_score_rel": bt.interval_score_rel, "mae_rel": bt.mae_rel,
            "interval": bt.interval, "notes": list(bt.notes), "runs": rows}


def compute() -> dict:
    out: dict = {"script": "tests/laws/reference/make_overtraining_reference.py", "numpy": np.__version__,
                 "data": DATA, "loss": LOSS, "error": ERROR, "reproduction": {}, "intervals": {}}
    for ds in DATASETS:
        out["reproduction"][ds] = reproduce(ds)
        out["intervals"][ds] = {fs: interval_test(ds, fs) for fs in ("paper", "grid")}
        out["intervals"][ds]["grid"]["calibration"] = calibration(ds)
    return out


def calibration(dataset: str) -> str:
    """The grid fit's rolling-origin calibration, described (what ``backtest`` used, same options)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit("overtraining", small_grid(load(), dataset)).with_calibration(n_boot=200, seed=0, by="auto")
    return res.calibration.describe(0.95)


def _size(run: str) -> str:
    model, mult = run.split("-")[-2:] if run.count("-") >= 2 else (run, "")
    name = {"open_lm_1b": "1.4B", "open_lm_7b": "6.9B"}.get(model, model)
    return f"{name}, M = {20 * float(mult):g}"


def markdown(ref: dict) -> str:
    """The tables of docs/fitting.md and docs/coverage.md, from a computed reference."""
    lines = ["| dataset | run | actual loss | predicted | rel. error | 17-task error: actual | predicted | rel. error |",
             "|---|---|---|---|---|---|---|---|"]
    for ds in DATASETS:
        for r, v in ref["reproduction"][ds]["runs"].items():
            lines.append(f"| {DATASET_NAMES[ds]} | {_size(r)} | {v['loss']:.4f} | {v['loss_predicted']:.4f} | "
                         f"{v['loss_rel_error']:.2%} | {v['err']:.4f} | {v['err_predicted']:.4f} | {v['err_rel_error']:.2%} |")
    lines += ["", "| dataset | E | a | b | eta |", "|---|---|---|---|---|"]
    for ds in DATASETS:
        p = ref["reproduction"][ds]["params"]
        lines.append(f"| {DATASET_NAMES[ds]} | {p['E']:.4f} | {p['a']:.1f} | {p['b']:.1f} | {p['eta']:.4f} |")
    for fs, title in (("paper", "paper's 5-run fit set"), ("grid", "small-scale grid")):
        lines += ["", f"Fit set: {title}.", "",
                  "| dataset | held-out run | actual | predicted | 95% interval | covers | width | score | decades out |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for ds in DATASETS:
            t = ref["intervals"][ds][fs]
            for r, v in t["runs"].items():
                lines.append(f"| {DATASET_NAMES[ds]} ({t['n_train']} fitted) | {_size(r)} | {v['actual']:.4f} | "
                             f"{v['predicted']:.4f} | [{v['low']:.4f}, {v['high']:.4f}] | "
                             f"{'yes' if v['inside'] else 'no'} | {v['width_rel']:.1%} | "
                             f"{v['interval_score_rel']:.4f} | {v['outside_decades']:.2f} |")
        lines += ["", "| dataset | covered | width (median) | score (mean) | mean abs. rel. error | interval |",
                  "|---|---|---|---|---|---|"]
        allin, alln, allw, alls = 0, 0, [], []
        for ds in DATASETS:
            t = ref["intervals"][ds][fs]
            k, n = sum(v["inside"] for v in t["runs"].values()), len(t["runs"])
            allin, alln = allin + k, alln + n
            allw += [v["width_rel"] for v in t["runs"].values()]
            alls += [v["interval_score_rel"] for v in t["runs"].values()]
            lines.append(f"| {DATASET_NAMES[ds]} | {k}/{n} | {t['width_rel']:.1%} | {t['interval_score_rel']:.4f} | "
                         f"{t['mae_rel']:.2%} | {t['interval']} |")
        lines.append(f"| all | {allin}/{alln} | {float(np.median(allw)):.1%} | {float(np.mean(alls)):.4f} | | |")
    return "\n".join(lines)


def methods_table() -> str:
    """Every interval method on the same splits, pooled over the three datasets (not stored, not tested).

    Uses ``evaluate`` and ``pool`` of ``benchmarks/extrapolation_intervals.py`` (1000-refit
    bootstraps), the script behind the Chinchilla table of docs/coverage.md, so the rows compare.
    """
    import importlib.util

    bench = Path(__file__).parents[3] / "benchmarks" / "extrapolation_intervals.py"
    spec = importlib.util.spec_from_file_location("extrapolation_intervals", bench)
    ev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ev)
    from scalinglab.laws import get_law

    law, runs = get_law("overtraining"), load()
    lines = ["| fit set | method | covered | coverage | width | score |", "|---|---|---|---|---|---|"]
    for fs, pick in (("paper's 5 runs", paper_fit_set), ("small-scale grid", small_grid)):
        pooled = ev.pool([ev.evaluate(law, pick(runs, ds), held_out(runs, ds)) for ds in DATASETS])
        for i, m in enumerate(ev.METHODS):
            r = pooled[m]
            name = f"**{m}**" if m == "calibrated" else m
            lines.append(f"| {fs if i == 0 else ''} | {name} | {r['covered']}/{r['n']} | {r['coverage']:.2f} | "
                         f"{r['width_rel']:.2%} | {r['score_rel']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true", help="print the tables only; do not write the JSON")
    ap.add_argument("--methods", action="store_true",
                    help="only print every interval method on the same splits (slow; not stored)")
    args = ap.parse_args(argv)
    if args.methods:
        print(methods_table())
        return
    ref = compute()
    if not args.markdown:
        OUT.write_text(json.dumps(ref, indent=1, sort_keys=True, default=lambda x: None if math.isnan(x) else x) + "\n")
        print(f"wrote {OUT}", file=sys.stderr)
    print(markdown(ref))


if __name__ == "__main__":
    main()
