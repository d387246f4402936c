"""Fixtures of the report tests: fits with bootstraps on runs from known laws."""

from __future__ import annotations

import warnings

import pytest
from _report_data import crossing_arms, nd_runs

from scalinglab.errors import ScalingLabWarning
from scalinglab.laws import fit


@pytest.fixture(scope="session")
def runs_nd():
    return nd_runs()


@pytest.fixture(scope="session")
def fit_nd(runs_nd):
    from scalinglab.laws.frontier import best_per_size

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        tuned = best_per_size(runs_nd, tuned="lr")
        return fit("chinchilla", tuned, n_boot=60, seed=0), tuned


@pytest.fixture(scope="session")
def arms():
    a, b = crossing_arms()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        fa = fit("saturating_power_law", a, n_boot=60, seed=0)
        fb = fit("saturating_power_law", b, n_boot=60, seed=1)
    return a, b, fa, fb
