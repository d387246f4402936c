"""``report.analyze``: warnings raised on the way reach the printed digest, not only the HTML."""

from __future__ import annotations

import itertools

import numpy as np

from scalinglab.laws import Runs
from scalinglab.report import analyze


def test_a_tuning_edge_warning_is_printed_in_the_text_digest():
    rows = []
    for n, d, lr in itertools.product([1e6, 3e6, 1e7, 3e7], [2e7, 6e7, 2e8], [1e-3, 2e-3]):
        loss = 1.8 + 400 / n ** 0.34 + 400 / d ** 0.28 + (0.0 if lr == 2e-3 else 0.05)  # best lr: the top one
        rows.append({"n_params": n, "n_tokens": d, "lr": lr, "loss": loss})
    cols = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    runs = Runs.from_arrays(n_params=cols["n_params"], n_tokens=cols["n_tokens"], target=cols["loss"],
                            groups={"lr": cols["lr"]})
    analysis = analyze(runs, n_boot=20, holdout="largest 2")
    edge = [w for w in analysis.warnings if "TuningEdgeWarning" in w]
    assert len(edge) == 1 and "12 of 12 tuned points" in edge[0]
    text = analysis.as_text()
    assert "Warnings:" in text and edge[0] in text
