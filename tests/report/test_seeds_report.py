"""The seed-spread figure and report section (report/seeds.py)."""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab._optional import has
from scalinglab.laws import Runs, best_per_size, fit
from scalinglab.laws.seeds import seed_study

pytestmark = pytest.mark.skipif(not has("matplotlib"), reason="needs matplotlib (scalinglab[plot])")


def seeded_front():
    rng = np.random.default_rng(0)
    n, d, y, s = [], [], [], []
    for a in (1e5, 3e5, 1e6):
        for b in (1e6, 4e6, 1.6e7):
            for k in range(3):
                n.append(a), d.append(b), s.append(k)
                y.append((1.5 + 40 / a ** 0.3 + 90 / b ** 0.3) * np.exp(rng.normal(0, 0.01)))
    return best_per_size(Runs.from_arrays(n_params=n, n_tokens=d, target=y, groups={"seed": s}), mean_over="seed")


def test_figure_draws_one_series_per_size_and_the_pooled_band():
    from scalinglab.report.seeds import plot_seed_spread

    sp = seeded_front().spread
    fig = plot_seed_spread(sp)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 + 1                    # three sizes and the pooled line
    assert ax.get_xscale() == "log" and "seed spread" in ax.get_ylabel()
    pooled = [ln for ln in ax.lines if "pooled" in ln.get_label()][0]
    assert pooled.get_ydata()[0] == pytest.approx(100 * sp.sigma_log)


def test_section_shows_measured_spread_and_the_fits_noise():
    from scalinglab.report.html import Report
    from scalinglab.report.seeds import add_seed_section

    front = seeded_front()
    res = fit("chinchilla", front, loss="ls")
    rep = Report("t")
    add_seed_section(rep, front.spread, fit=res)
    html = rep.render()
    assert 'id="seeds"' in html and "Seed-to-seed spread" in html and "<img" in html
    assert f"{100 * front.spread.sigma_log:.2f}%" in html and "measured from the replicates" in html


def test_section_says_when_the_study_stands_in_for_single_seed_runs():
    from scalinglab.report.html import Report
    from scalinglab.report.seeds import add_seed_section, seed_spread_of

    class A:          # an Analysis-like object of single-seed gpt-tiny runs
        tuned = None
        runs = Runs.from_arrays(n_params=[1e5, 2e5], n_tokens=[1e6, 1e6], target=[3.0, 2.9],
                                groups={"ladder": ["gpt-tiny", "gpt-tiny"]})

    sp = seed_spread_of(A())
    assert sp is seed_study("gpt-tiny")
    rep = Report("t")
    add_seed_section(rep, sp)
    assert "seed study" in rep.render() and "docs/seeds.md" in rep.render()
