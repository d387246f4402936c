"""Regenerate ``chinchilla_scalinglab.json``: scalinglab's own fits of the Chinchilla points.

Run from the repository root::

    .venv/bin/python tests/laws/reference/make_chinchilla_reference.py

The published numbers these are checked against are in ``chinchilla_published.json`` (copied
from Besiroglu et al. 2024); this file pins scalinglab's values so that a change of optimizer
that moves them is a deliberate diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scalinglab.datasets import load_chinchilla
from scalinglab.laws import fit


def main() -> None:
    runs = load_chinchilla()
    out = {"script": "tests/laws/reference/make_chinchilla_reference.py", "numpy": np.__version__}
    huber = fit("chinchilla", runs, loss="huber", delta=1e-3, space="log", reduce="sum")
    boot = huber.with_bootstrap(n_boot=1000, seed=0)
    out["huber_grid"] = {"params": huber.params, "objective": huber.objective,
                         "bootstrap_stderr_seed0": boot.stderr}
    lik = fit("chinchilla", runs, loss="huber_likelihood", delta=1e-3)
    out["huber_likelihood"] = {"params": lik.params, "objective": lik.objective,
                               "likelihood_scale": lik.likelihood_scale}
    path = Path(__file__).with_name("chinchilla_scalinglab.json")
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
