"""How often the demo grid beats itself: the noise floor of ``closed_loop.py``'s pass criterion.

``closed_loop.py`` scores a world as passed when the loop ends narrower than the fixed grid at
equal compute. Both widths are the calibrated 95% interval of one fit to one noisy draw of runs,
and a five-parameter Chinchilla fit's bootstrap width varies a lot from draw to draw. This script
measures that variation where nothing differs but the draw: per world (the same worlds as
``closed_loop.py`` for the same ``--seed``), the demo grid is trained twice, once with the world's
run noise and once with a fresh draw (same law, same noise SD, different hash key), and fitted the
same way. A design no better than the grid would "pass" against it in about half the worlds; the
spread of ``log(width_replica / width_grid)`` says how much narrower than the grid, in expectation,
a design must be to pass in a given share of worlds (``exp(-z_p * SD)`` for a share ``p``, if the
log ratio is roughly normal). ``--n-boot`` sets the bootstrap's Monte Carlo part of the spread.

Usage::

    .venv/bin/python benchmarks/closed_loop_noise_floor.py --worlds 100 --json noise_floor.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import closed_loop as cl  # noqa: E402

REPLICA = 1_000_000        # offset of the replica's noise key: a fresh, independent draw


def grid_width(law, noise, key: int, root: Path, *, n_boot: int) -> tuple[float, Path]:
    """The demo grid's width at C* for one draw of the world's runs (``key`` selects the draw)."""
    store = root / f"grid{key}"
    state, _ = cl.grid_state(law, noise, key, store, n_boot=n_boot)
    return state.width, store


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0, help="seed of the worlds (as closed_loop.py)")
    ap.add_argument("--first", type=int, default=0,
                    help="skip the worlds before this one (their laws are still drawn, so world i is the same)")
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    noise = cl.study_noise()
    rng = np.random.default_rng(args.seed)
    rows = []
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="noise_floor_") as tmp:
        root = Path(tmp)
        for i in range(args.worlds):
            law = cl.world(rng)
            if i < args.first:
                continue
            w1, s1 = grid_width(law, noise, i, root, n_boot=args.n_boot)
            w2, s2 = grid_width(law, noise, REPLICA + i, root, n_boot=args.n_boot)
            for s in (s1, s2):
                shutil.rmtree(s, ignore_errors=True)
            rows.append({"world": i, "grid": w1, "replica": w2, "log_ratio": float(np.log(w2 / w1))})
            print(f"world {i:3d}: grid {100 * w1:.2f}%, replica {100 * w2:.2f}% ({w2 / w1:.2f}x)", flush=True)
    lr = np.array([r["log_ratio"] for r in rows])
    q = np.exp(np.quantile(lr, [0.25, 0.5, 0.75]))
    sd = float(np.std(lr, ddof=1)) if len(lr) > 1 else float("nan")
    summary = {"worlds": len(rows), "replica_narrower_fraction": float(np.mean(lr < 0)),
               "ratio_quartiles": [float(v) for v in q], "log_ratio_sd": sd,
               # the expected ratio a design needs to end narrower than the grid in 50/75/90% of worlds,
               # if log(width_design / width_grid) has the replica's spread around its mean
               "ratio_needed": {p: float(np.exp(-z * sd)) for p, z in (("0.75", 0.674), ("0.90", 1.2816))}}
    print(f"\n{len(rows)} worlds, replica = a fresh draw of the runs' noise, n_boot {args.n_boot}: replica narrower in "
          f"{100 * summary['replica_narrower_fraction']:.0f}%; replica/grid width quartiles "
          f"{q[0]:.2f} {q[1]:.2f} {q[2]:.2f}; SD of the log ratio {sd:.3f}")
    print(f"a design must be {summary['ratio_needed']['0.75']:.2f}x / {summary['ratio_needed']['0.90']:.2f}x the "
          f"grid's width in expectation to end narrower in 75% / 90% of worlds (normal approximation); "
          f"{time.time() - t0:.0f} s")
    out = {"summary": summary, "worlds": rows, "args": vars(args)}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
