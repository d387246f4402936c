"""Figures return matplotlib Figures with one bar per (model, variation) and interval error bars."""

from __future__ import annotations

import pytest

from scalinglab.errors import DataError
from scalinglab.evals import summarize

pytestmark = pytest.mark.requires("matplotlib")


def _records():
    out = []
    spec = {("m1", "aiw"): [8, 2, 5, 1], ("m2", "aiw"): [10, 9, 10, 7],
            ("m1", "aiw_light_family"): [9, 10, 10, 9], ("m2", "aiw_light_family"): [10, 10, 10, 10]}
    for (model, fam), ks in spec.items():
        for i, k in enumerate(ks, start=1):
            for t in range(10):
                out.append({"model": model, "prompt_id": f"{fam}/{i}/thinking_v2", "family": fam,
                            "variation": str(i), "prompt_type": "thinking_v2", "trial": t,
                            "correct": t < k, "parse_status": "parsed", "right_answer": 7,
                            "prompt_sha": f"{fam}{i}", "kind": "control" if "light" in fam else "problem"})
    return out


def test_plot_variations_draws_bars_with_intervals():
    from matplotlib.figure import Figure

    from scalinglab.evals.plots import plot_variations

    s = summarize(_records())
    fig = plot_variations(s, "aiw")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == sorted([0.8, 0.2, 0.5, 0.1, 1.0, 0.9, 1.0, 0.7])
    from matplotlib.container import BarContainer, ErrorbarContainer

    from scalinglab.evals import wilson_interval

    assert sum(isinstance(c, BarContainer) for c in ax.containers) == 2  # one per model
    err = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(err) == 2
    seg = err[0].lines[2][0].get_segments()[0]  # m1, variation 1: 8/10
    assert (seg[0][1], seg[1][1]) == pytest.approx(wilson_interval(8, 10))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["m1", "m2"]
    with pytest.raises(DataError, match="no results for family 'aiw_plus'"):
        plot_variations(s, "aiw_plus")


def test_plot_family_vs_control():
    from scalinglab.evals.plots import plot_family_vs_control

    s = summarize(_records())
    fig = plot_family_vs_control(s, "aiw")
    (ax,) = fig.axes
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == sorted([0.4, 0.9, 0.95, 1.0])  # 16/40, 36/40, 38/40, 40/40
    with pytest.raises(DataError, match="declares no controls"):
        plot_family_vs_control(s, "aiw_friends")
