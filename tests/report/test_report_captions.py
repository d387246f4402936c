"""Every caption of the standard report that describes a mark is true of its figure's artists.

A caption is text; the figure is matplotlib objects. These tests read the objects (collections,
lines, patches, error-bar containers, legends) and check each claim a caption makes: how many
points are highlighted or ringed, which colour and line style means what, how far a curve is
extrapolated, that each prediction sits on the curve said to carry it, and that no legend marker
sits among the data.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from _report_data import chinchilla_loss, store_with_runs

from scalinglab.errors import ScalingLabWarning
from scalinglab.report.analysis import AHEAD

pytestmark = pytest.mark.requires("matplotlib")

RED, GREY, BLACK, ORANGE, BLUE = "#c00000", "#9a9a9a", "#000000", "#D55E00", "#0072B2"


def _analyse(runs, **kw):
    from scalinglab.report import analyze, report_from_analysis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        a = analyze(runs, n_boot=40, seed=0, **kw)
        return a, report_from_analysis(a)


@pytest.fixture(scope="module")
def store_analysis(tmp_path_factory):
    """Two procedures; the smaller learning rate always wins, so every tuned point is at the edge."""
    store = store_with_runs(tmp_path_factory.mktemp("captions") / "store", procedures=("baseline", "tuned"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        runs = store.to_runs(flops_convention="6ND")
    return _analyse(runs, holdout="largest 3")


@pytest.fixture(scope="module")
def inner_optimum_analysis():
    """Three learning rates per (N, D) with the middle one best: no tuned point at the edge."""
    from scalinglab.laws import Runs

    rng = np.random.default_rng(3)
    N, D, lr, y = [], [], [], []
    for n in (2e4, 5e4, 1.2e5, 3e5, 7e5):
        for d in (1.3e5, 2.6e5, 5.2e5, 1e6, 2e6):
            for j, r in enumerate((1e-3, 3e-3, 1e-2)):
                N.append(n), D.append(d), lr.append(r)
                y.append(chinchilla_loss(n, d) * (1 + 0.03 * abs(j - 1)) * np.exp(0.004 * rng.standard_normal()))
    runs = Runs.from_arrays(n_params=N, n_tokens=D, target=y, groups={"lr": lr})
    return _analyse(runs, holdout="largest 4")


def _same_colour(a, b) -> bool:
    from matplotlib.colors import to_rgba

    return np.allclose(to_rgba(a)[:3], to_rgba(b)[:3], atol=0.01)


def _collections(ax, *, label_prefix=""):
    return [c for c in ax.collections if str(c.get_label()).startswith(label_prefix)
            and not str(c.get_label()).startswith("_")]


def _rings(ax):
    """Scatter collections drawn as red rings: no face, a red edge."""
    out = []
    for c in ax.collections:
        fc, ec = c.get_facecolors(), c.get_edgecolors()
        if len(c.get_offsets()) and (len(fc) == 0 or np.all(fc[:, 3] == 0)) and len(ec) \
                and all(_same_colour(e, RED) for e in ec):
            out.append(c)
    return out


def _data_points_px(fig, ax):
    """Every data point of ``ax`` (scatter offsets and line vertices) in display pixels."""
    fig.canvas.draw()
    pts = [np.asarray(c.get_offsets(), dtype=float) for c in ax.collections if len(c.get_offsets())]
    pts += [np.column_stack(ln.get_data()).astype(float) for ln in ax.get_lines()]
    pts = np.vstack([p for p in pts if p.size])
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    return ax.transData.transform(pts)


def _legend_clear_of_data(fig, ax):
    leg = ax.get_legend()
    if leg is None:
        return
    box = leg.get_window_extent(fig.canvas.get_renderer())
    inside = [p for p in _data_points_px(fig, ax) if box.contains(*p)]
    assert not inside, f"{len(inside)} data points under the legend of {ax.get_title()!r}"


# -- the checks, one per figure --------------------------------------------------------------------

def check_frontier(fig, caption, a):
    ax = fig.axes[0]
    n_front = int(re.search(r"the (\d+) runs defining the envelope are highlighted \(blue\)", caption).group(1))
    (front,) = _collections(ax, label_prefix="envelope frontier")
    assert len(front.get_offsets()) == n_front == len(a.frontier)
    assert _same_colour(front.get_facecolors()[0], BLUE)
    joined = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == n_front]
    assert joined and _same_colour(joined[0].get_color(), BLUE)
    n_all = int(re.search(r"(\d+) runs \(grey\)", caption).group(1))
    (faded,) = _collections(ax, label_prefix="all runs")
    assert n_all == len(a.runs) and len(faded.get_offsets()) == n_all - n_front
    assert _same_colour(faded.get_facecolors()[0], GREY)
    edge_ids = {e.run_id for e in a.tuned.tuning_edge if e.side != "only"}
    want = [(c, y) for rid, c, y in zip(a.frontier.run_ids, a.frontier.flops, a.frontier.target) if rid in edge_ids]
    rings = _rings(ax)
    m = re.search(r"A red ring marks (?:the frontier point|the (\d+) frontier points) whose best learning rate "
                  r"is at the edge", caption)
    if want:
        assert m, caption
        n = int(m.group(1) or 1)
        assert len(rings) == 1 and len(rings[0].get_offsets()) == n == len(want)
        np.testing.assert_allclose(sorted(map(tuple, rings[0].get_offsets())), sorted(want))
    else:
        assert m is None and "red ring" not in caption and rings == []


def check_fit_nd(fig, caption, a):
    ax = fig.axes[0]
    bands = [c for c in ax.collections if str(c.get_label()) == "95% prediction interval"]
    assert len(bands) == 1
    if "the compute-optimal frontier L*(C) (black) with its 95% prediction band; points coloured by N" in caption:
        (front,) = [ln for ln in ax.get_lines() if ln.get_label() == "compute-optimal frontier L*(C)"]
        assert _same_colour(front.get_color(), BLACK)
        assert not [ln for ln in ax.get_lines() if str(ln.get_label()).startswith("N=")]
        (pts,) = _collections(ax, label_prefix="runs")
        assert pts.get_array() is not None and len(fig.axes) == 2         # coloured by N, with its colour bar
        return
    m = re.search(r"one curve per model size \((\d+) sizes, one colour each\), each with its 95% prediction band",
                  caption)
    assert m, caption
    curves = [ln for ln in ax.get_lines() if str(ln.get_label()).startswith("N=")]
    assert len(curves) == int(m.group(1)) == len(np.unique(np.round(a.tuned.n_params, -1)))
    from matplotlib.colors import to_rgba

    colours = {tuple(np.round(to_rgba(ln.get_color()), 3)) for ln in curves}
    assert len(colours) == len(curves)
    from matplotlib.collections import PolyCollection

    fills = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(fills) == len(curves)
    for ln, band in zip(curves, fills):                  # each curve's band, in its colour
        assert _same_colour(band.get_facecolor()[0], ln.get_color())


def check_residuals(fig, caption, a):
    ax = fig.axes[0]
    assert "shaded: ±1 and ±2 residual scales" in caption
    # axhspan patches (data y, axes x): their top edges are +1 and +2 residual scales
    spans = sorted(float(ax.transData.inverted().transform(p.get_transform().transform(
        np.asarray(p.get_path().vertices)))[:, 1].max()) for p in ax.patches)
    np.testing.assert_allclose(spans, [a.fit_nd.sigma, 2 * a.fit_nd.sigma], rtol=1e-9)


def check_fit_c(fig, caption, a):
    ax = fig.axes[0]
    m = re.search(r"extrapolated (\d+)x beyond the largest run \(dotted line: end of the data\)", caption)
    assert m, caption
    top = float(a.frontier.flops.max())
    (fit,) = [ln for ln in ax.get_lines() if ln.get_label() == "fit"]
    assert fit.get_xdata().max() == pytest.approx(int(m.group(1)) * top, rel=1e-9)
    dotted = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert len(dotted) == 1 and dotted[0].get_xdata()[0] == pytest.approx(top, rel=1e-12)


def check_allocation(fig, caption, a):
    m = re.search(r"from the smallest run's compute to (\d+)x the largest run's, as in the tables below", caption)
    assert m, caption
    for ax in fig.axes:
        (ln,) = [ln for ln in ax.get_lines() if "approach 3" in str(ln.get_label())]
        x = ln.get_xdata()
        assert x.min() == pytest.approx(a.runs.flops.min(), rel=1e-9)
        assert x.max() == pytest.approx(int(m.group(1)) * a.runs.flops.max(), rel=1e-9)
    assert int(m.group(1)) == max(AHEAD)          # the tables' largest budget


def check_isoflop(fig, caption, a):
    ax = fig.axes[0]
    assert "Loss against N per budget, parabolas in log N and their minima" in caption
    budgets = [c for c in ax.collections if str(c.get_label()).startswith("C=")]
    assert len(budgets) == len(a.slices)
    (stars,) = _collections(ax, label_prefix="minima")
    assert len(stars.get_offsets()) == len(a.slices)
    np.testing.assert_allclose(np.sort(np.asarray(stars.get_offsets())[:, 0]),
                               np.sort(a.allocation_isoflop.points["n_params"]), rtol=1e-6)
    assert len(ax.get_lines()) == len(a.slices)                    # one parabola per budget


def check_comparison(fig, caption, a):
    ax = fig.axes[0]
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    if "dashed: crossover" in caption:
        assert len(dashed) == 1 and dashed[0].get_xdata()[0] == pytest.approx(a.comparison.crossover.flops)
    else:
        assert "no crossover in the searched range" in caption and dashed == []
    dotted = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert "dotted: the compute values tabulated below" in caption
    assert sorted(ln.get_xdata()[0] for ln in dotted) == pytest.approx(sorted(a.comparison.flops))


def check_backtest(fig, caption, a):
    ax, ax2 = fig.axes
    bt = a.backtest
    assert "runs fitted on (grey), held-out runs (black)" in caption and "intervals (orange)" in caption
    (fitted,) = _collections(ax, label_prefix="fitted on")
    assert _same_colour(fitted.get_facecolors()[0], GREY)
    (held,) = _collections(ax, label_prefix="held out")
    assert _same_colour(held.get_facecolors()[0], BLACK) and len(held.get_offsets()) == bt.n_points
    (pred,) = [c for c in ax.containers if str(c.get_label()).startswith("predicted")]
    assert _same_colour(pred.lines[0].get_color(), ORANGE)
    # "blue: the law fitted on the rest, along each held-out run's model size, so each prediction
    # sits on its size's curve": read each prediction off the blue curve of its size
    assert "blue: the law fitted on the rest, along each held-out run's model size" in caption
    curves = [ln for ln in ax.get_lines() if _same_colour(ln.get_color(), BLUE)]
    assert curves
    P = bt.points
    for n, d, yhat in zip(P["n_params"], P["n_tokens"], P["predicted"]):
        c = 6.0 * n * d
        on = [np.interp(np.log(c), np.log(ln.get_xdata()), ln.get_ydata()) for ln in curves
              if ln.get_xdata().min() <= c <= ln.get_xdata().max()]
        assert any(v == pytest.approx(yhat, rel=2e-3) for v in on), (n, d, yhat, on)
    # bottom: green dots inside, red crosses outside, and the key in the title, not among the points
    assert "green: inside its interval; red cross: outside" in caption
    inside = np.asarray(P["inside"], dtype=bool)
    (green,) = _collections(ax2, label_prefix="inside")
    assert _same_colour(green.get_facecolors()[0], "#009E73") and len(green.get_offsets()) == inside.sum()
    crosses = _collections(ax2, label_prefix="outside")
    assert len(crosses) == int((~inside).any()) and sum(len(c.get_offsets()) for c in crosses) == (~inside).sum()
    assert ax2.get_legend() is None and "green dot: inside its interval" in ax2.get_title()
    _legend_clear_of_data(fig, ax)


CHECKS = {"frontier": check_frontier, "fit-c": check_fit_c, "allocation": check_allocation,
          "comparison": check_comparison, "backtest": check_backtest}


def _check_all(analysis, report):
    seen = set()
    for sid, fig, caption in report.figures():
        if sid == "fit-nd":
            (check_residuals if caption.startswith("<b>Residuals") else check_fit_nd)(fig, caption, analysis)
        elif sid == "allocation" and caption.startswith("<b>Iso-FLOP"):
            check_isoflop(fig, caption, analysis)
        elif sid in CHECKS:
            CHECKS[sid](fig, caption, analysis)
        else:
            pytest.fail(f"no caption check for the figure of section {sid!r}: add one")
        seen.add(sid)
    return seen


def test_captions_of_a_ladder_with_tuning_edges_and_two_procedures(store_analysis):
    a, rep = store_analysis
    assert a.tuned.tuning_edge and a.comparison is not None
    assert _check_all(a, rep) == {"frontier", "fit-nd", "fit-c", "allocation", "comparison", "backtest"}


def test_captions_of_a_ladder_with_every_best_lr_inside_its_grid(inner_optimum_analysis):
    a, rep = inner_optimum_analysis
    assert not [e for e in a.tuned.tuning_edge if e.side != "only"]
    assert "frontier" in _check_all(a, rep)
    (cap,) = [c for sid, _, c in rep.figures() if sid == "frontier"]
    assert "ring" not in cap


def test_captions_of_iso_flop_profiles():
    from scalinglab.laws import Runs

    rng = np.random.default_rng(5)
    N, D = [], []
    for C in (1e13, 1e14, 1e15):
        n_opt = np.sqrt(C / 120)
        for f in np.logspace(-0.8, 0.8, 7):
            N.append(n_opt * f)
            D.append(C / (6 * n_opt * f))
    y = chinchilla_loss(np.array(N), np.array(D)) * np.exp(0.002 * rng.standard_normal(len(N)))
    a, rep = _analyse(Runs.from_arrays(n_params=N, n_tokens=D, target=y), holdout="largest 3")
    assert a.allocation_isoflop is not None
    assert any(cap.startswith("<b>Iso-FLOP") for _, _, cap in rep.figures())
    assert {"frontier", "allocation"} <= _check_all(a, rep)
