"""Figures: the right artists with the right data, saved as non-empty PNGs; no pyplot state."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from scalinglab.errors import ScalingLabWarning

pytestmark = pytest.mark.requires("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png(fig, tmp_path, name="fig.png"):
    from scalinglab.report.plots import save_figure

    p = save_figure(fig, tmp_path / name)
    data = p.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000
    return p


def _labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else []


def _scatter_points(ax, label_prefix):
    """Number of points in the scatter collection whose label starts with ``label_prefix``."""
    n = [len(c.get_offsets()) for c in ax.collections if str(c.get_label()).startswith(label_prefix)]
    assert n, f"no collection labelled {label_prefix!r}: {[c.get_label() for c in ax.collections]}"
    return sum(n)


def test_plot_fit_law_of_compute_draws_points_curve_and_band(arms, tmp_path):
    from scalinglab.report.plots import plot_fit

    runs_a, _, fit_a, _ = arms
    fig = plot_fit(fit_a, runs_a, extend_to=1e22)
    ax = fig.axes[0]
    assert _scatter_points(ax, "runs (n=10)") == 10
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "fit")
    x, y = line.get_data()
    assert x.max() >= 1e22 and np.all(np.diff(y) < 0)          # extended, decreasing
    np.testing.assert_allclose(y, fit_a.predict(flops=x), rtol=1e-12)
    assert "95% prediction interval" in _labels(ax)
    assert ax.get_xscale() == "log" and "compute" in ax.get_xlabel()
    _png(fig, tmp_path)


def test_plot_fit_of_l_nd_draws_one_curve_per_size(fit_nd, tmp_path):
    from scalinglab.report.plots import plot_fit

    res, tuned = fit_nd
    fig = plot_fit(res, tuned)
    ax = fig.axes[0]
    size_lines = [ln for ln in ax.get_lines() if ln.get_label().startswith("N=")]
    assert len(size_lines) == 5
    from matplotlib.collections import PathCollection

    points = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert points == len(tuned) == 25                          # one scatter per size
    assert "6ND" in ax.get_xlabel()
    _png(fig, tmp_path)


def test_plot_fit_with_many_sizes_draws_the_compute_optimal_frontier(tmp_path):
    from scalinglab.datasets import load_chinchilla
    from scalinglab.laws import fit
    from scalinglab.report.plots import plot_fit

    runs = load_chinchilla()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        res = fit("chinchilla", runs, starts={"E": 1.8, "A": 480, "B": 2100, "alpha": 0.35, "beta": 0.37})
    fig = plot_fit(res, runs, level=None)
    ax = fig.axes[0]
    assert [ln.get_label() for ln in ax.get_lines()] == ["compute-optimal frontier L*(C)"]
    assert _scatter_points(ax, "runs") == 240
    assert len(fig.axes) == 2                                  # the colour bar of N
    _png(fig, tmp_path)


def test_plot_residuals_draws_the_fit_residuals(arms, tmp_path):
    from scalinglab.report.plots import plot_residuals

    _, _, fit_a, _ = arms
    fig = plot_residuals(fit_a)
    ax = fig.axes[0]
    coll = next(c for c in ax.collections if str(c.get_label()).startswith("residuals"))
    np.testing.assert_allclose(np.asarray(coll.get_offsets())[:, 1], fit_a.residuals)
    _png(fig, tmp_path)


def test_plot_frontier_highlights_the_defining_runs(runs_nd, tmp_path):
    from scalinglab.laws.frontier import compute_envelope
    from scalinglab.report.plots import plot_frontier

    env = compute_envelope(runs_nd)
    fig = plot_frontier(runs_nd, env)
    ax = fig.axes[0]
    assert _scatter_points(ax, "envelope frontier") == len(env)
    assert _scatter_points(ax, "all runs") == len(runs_nd) - len(env)
    faded = next(c for c in ax.collections if str(c.get_label()).startswith("all runs"))
    assert faded.get_alpha() < 0.5
    highlighted = next(c for c in ax.collections if "frontier" in str(c.get_label()))
    got = sorted(map(tuple, np.asarray(highlighted.get_offsets())))
    want = sorted(zip(env.flops, env.target))
    np.testing.assert_allclose(got, want)
    _png(fig, tmp_path)


def test_plot_frontier_rings_tuning_edge_points(runs_nd):
    from scalinglab.laws.frontier import best_per_size
    from scalinglab.report.plots import plot_frontier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        tuned = best_per_size(runs_nd, tuned="lr")      # the lowest lr always wins: every point at the edge
    fig = plot_frontier(runs_nd, tuned)
    assert _scatter_points(fig.axes[0], "best lr at grid edge") == len(tuned)


def test_plot_isoflop_marks_one_minimum_per_budget(tmp_path):
    from _report_data import chinchilla_loss

    from scalinglab.laws import Runs
    from scalinglab.laws.allocation import allocate
    from scalinglab.laws.frontier import isoflop_slices
    from scalinglab.report.plots import plot_isoflop

    N, D = [], []
    for C in (1e16, 1e17, 1e18):
        for n in np.logspace(np.log10(np.sqrt(C / 120)) - 1, np.log10(np.sqrt(C / 120)) + 1, 7):
            N.append(n)
            D.append(C / (6 * n))
    runs = Runs.from_arrays(n_params=N, n_tokens=D, target=chinchilla_loss(np.array(N), np.array(D)))
    sl = isoflop_slices(runs, budgets=[1e16, 1e17, 1e18])
    al = allocate(sl, approach=2, n_boot=20)
    fig = plot_isoflop(sl, al)
    ax = fig.axes[0]
    assert _scatter_points(ax, "minima") == 3
    for budget in ("C=1e+16", "C=1e+17", "C=1e+18"):
        assert _scatter_points(ax, budget) == 7
    stars = next(c for c in ax.collections if c.get_label() == "minima")
    np.testing.assert_allclose(np.sort(np.asarray(stars.get_offsets())[:, 0]), np.sort(al.points["n_params"]),
                               rtol=1e-6)
    _png(fig, tmp_path)


def test_plot_allocation_overlays_approaches_with_intervals(fit_nd, tmp_path):
    from scalinglab.laws.allocation import allocate
    from scalinglab.report.plots import plot_allocation

    res, _ = fit_nd
    a3 = allocate(res, approach=3)
    fig = plot_allocation({"approach 3": a3})
    ax_n, ax_d = fig.axes
    (ln,) = [ln for ln in ax_n.get_lines() if ln.get_label() == "approach 3"]
    x, y = ln.get_data()
    np.testing.assert_allclose(y, a3.predict(flops=x).n_params, rtol=1e-12)
    assert len(ax_n.collections) == 1 and len(ax_d.collections) == 1        # the two bands
    assert ax_n.get_yscale() == "log" and "N*" in ax_n.get_ylabel() and "D*" in ax_d.get_ylabel()
    _png(fig, tmp_path)


def test_plot_comparison_marks_the_crossover(arms, tmp_path):
    from scalinglab.laws.comparison import compare
    from scalinglab.report.plots import plot_comparison

    runs_a, runs_b, fa, fb = arms
    cmp = compare(fa, fb, flops=[1e21], names=("adamw", "lion"))
    assert cmp.crossover.state == "crossover"
    fig = plot_comparison(cmp, fa, fb, runs_a=runs_a, runs_b=runs_b)
    ax = fig.axes[0]
    cross = [ln for ln in ax.get_lines() if ln.get_label().startswith("crossover")]
    assert len(cross) == 1
    assert cross[0].get_xdata()[0] == pytest.approx(cmp.crossover.flops)
    assert 1e19 < cmp.crossover.flops < 1e20
    names = [ln.get_label() for ln in ax.get_lines()]
    assert "adamw" in names and "lion" in names
    assert {"adamw: 95% band", "lion: 95% band"} <= set(_labels(ax))
    _png(fig, tmp_path)


def test_plot_backtest_draws_held_out_points_with_intervals(fit_nd, tmp_path):
    from scalinglab.laws.backtesting import backtest
    from scalinglab.report.plots import plot_backtest

    _, tuned = fit_nd
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        bt = backtest("chinchilla", tuned, holdout="largest 4", fit_kwargs={"n_boot": 40})
    fig = plot_backtest(bt, tuned)
    ax, ax_err = fig.axes
    assert _scatter_points(ax, "held out (n=4)") == 4
    assert _scatter_points(ax, "fitted on (n=21)") == 21
    bars = [c for c in ax.containers if c.get_label().startswith("predicted")]
    assert len(bars) == 1
    segs = bars[0].lines[2][0].get_segments()                  # one vertical interval per prediction
    lows = sorted(min(s[:, 1]) for s in segs)
    np.testing.assert_allclose(lows, np.sort(bt.points["low"]), rtol=1e-9)
    rel = np.concatenate([np.asarray(c.get_offsets())[:, 1] for c in ax_err.collections])
    np.testing.assert_allclose(np.sort(rel), np.sort(100 * bt.points["rel_error"]))
    _png(fig, tmp_path)


def test_importing_report_loads_neither_matplotlib_nor_torch():
    code = ("import sys, scalinglab.report, scalinglab.report.plots, scalinglab.report.html, scalinglab.demo\n"
            "print(','.join(m for m in ('matplotlib', 'torch', 'typer') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_drawing_figures_never_loads_torch_or_pyplot(tmp_path):
    code = ("import sys, numpy as np\n"
            "from scalinglab.laws import Runs, fit\n"
            "from scalinglab.report.plots import plot_fit\n"
            "C = np.logspace(18, 21, 8)\n"
            "res = fit('saturating_power_law', Runs.from_arrays(flops=C, target=2 + 300 * C ** -0.15), loss='ls')\n"
            f"plot_fit(res).savefig({str(tmp_path / 'x.png')!r})\n"
            "print(','.join(m for m in ('torch', 'matplotlib.pyplot') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
    assert (tmp_path / "x.png").stat().st_size > 5000
