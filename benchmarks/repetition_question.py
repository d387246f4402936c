"""The 4.2M-token question (issue 12): does data repetition explain the full ladder's backtest break?

Reads two stores of the ``full`` sweep (gpt-tiny-1..5 x 131k-4.2M tokens, branched WSD): one on
``stdlib`` (a 4.2M-token run re-reads about 20% of its tokens) and one on ``python-sci`` (6%),
trained with ``scalinglab sweep run full --store S`` (and ``dataset: python-sci`` for the second).
For each it prints the tuned loss per rung x budget and its gain per doubling of D, and the
backtest (3 largest-compute tuned points held out, 200 bootstrap refits, default intervals) of
Chinchilla and of the data-constrained law of Muennighoff et al. 2023 fitted in their two steps
(Chinchilla's five on the single-epoch runs, D/U within 3% of 1, then R*_D and R*_N).

Usage: python benchmarks/repetition_question.py STDLIB_STORE PYSCI_STORE
Results: docs/datasets.md ("The 4.2M-token question").
"""
import sys
import warnings

import numpy as np

from scalinglab.laws import backtest, best_per_size, fit
from scalinglab.store import ResultsStore


def tuned(path):
    st = ResultsStore(path, readonly=True)
    runs = st.to_runs("val_loss", flops_convention="6ND", group_by=("n_unique_tokens",))
    return best_per_size(runs)

for name, path in [("stdlib", sys.argv[1]), ("python-sci", sys.argv[2])]:
    b = tuned(path)
    N, D, L = map(np.asarray, (b.n_params, b.n_tokens, b.target))
    U = np.asarray(b.groups["n_unique_tokens"], dtype=float)
    print(f"\n== {name}: {len(b)} tuned points; D/U at 4.2M: {np.round(np.unique(D[D > 4e6] / U[D > 4e6]), 3)}; at 2.1M: {np.round(np.unique(D[(D > 2e6) & (D < 3e6)] / U[(D > 2e6) & (D < 3e6)]), 3)}")
    Ds = sorted(set(D))
    for n in sorted(set(N)):
        row = [L[(N == n) & (D == d)][0] for d in Ds]
        print(f"  N={int(n):7d} loss " + " ".join(f"{x:.4f}" for x in row) + "  gains " + " ".join(f"{g:.3f}" for g in -np.diff(row)))
    for law in ("chinchilla", "data_constrained"):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            kw = {}
            if law == "data_constrained":   # Muennighoff et al.'s two steps: Chinchilla's five held
                low = b.subset(np.abs(D / U - 1) < 0.03)
                try:
                    step1 = fit("chinchilla", low, n_boot=0)
                    kw = {"fixed": dict(step1.params)}
                except Exception as exc:
                    print("  step 1 failed:", exc)
            try:
                bt = backtest(law, b, holdout="largest 3", fit_kwargs=kw, n_boot=200)
            except Exception as exc:
                print(f"  {law}: backtest failed: {exc}"); continue
        P = bt.points
        rows = "; ".join(f"{P['run_id'][i].split('_lr')[0]} {P['actual'][i]:.4f} vs {P['predicted'][i]:.4f} [{P['low'][i]:.4f}, {P['high'][i]:.4f}] {100 * P['rel_error'][i]:+.2f}% {'in' if P['inside'][i] else 'OUT'}" for i in range(bt.n_points))
        full = fit(law, b, n_boot=0, **kw)
        print(f"  {law} ({'fixed ' + ','.join(kw['fixed']) if kw else 'joint'}): {rows}")
        print(f"     fit on all: {', '.join(f'{k}={float(v):.4g}' for k, v in full.params.items())} ok={full.ok}; warnings: {len(w)}")
