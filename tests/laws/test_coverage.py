"""coverage_check: the self-check that intervals cover the truth as often as they claim.

The per-law assertion for the default interval method lives in the contract battery
(``test_laws_contract.py``); the numbers in docs/coverage.md come from the opt-in slow test here.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from scalinglab.errors import ConfigError
from scalinglab.laws import CoverageReport, coverage_check, list_laws

RUN_SLOW = os.environ.get("SCALINGLAB_SLOW") == "1"


def test_report_contents_and_determinism():
    a = coverage_check("power_law", n_reps=40, n_boot=50, seed=7)
    b = coverage_check("power_law", n_reps=40, n_boot=50, seed=7)
    assert isinstance(a, CoverageReport) and a.to_dict() == b.to_dict()
    assert set(a.coverage) == {"bootstrap", "wald"} and set(a.coverage["wald"]) == {"A", "alpha"}
    assert all(0 <= c <= 1 for m in a.coverage.values() for c in m.values())
    assert all(w > 0 for m in a.width.values() for w in m.values())
    assert a.binomial_se == pytest.approx(np.sqrt(0.95 * 0.05 / 40))
    assert "power_law" in a.as_text() and "bootstrap" in str(a) and "<table>" in a._repr_html_()
    assert json.loads(json.dumps(a.to_dict()))["n_reps"] == 40
    c = coverage_check("power_law", n_reps=40, n_boot=50, seed=8)
    assert c.to_dict() != a.to_dict()


def test_wald_intervals_are_nominal_for_least_squares_under_gaussian_noise():
    """The textbook case: LS + Gaussian noise + a linear-ish model; Wald intervals must be right."""
    rep = coverage_check("saturating_power_law", n_reps=300, methods=("wald",), loss="ls", seed=1)
    for k, c in rep.coverage["wald"].items():
        assert 0.91 <= c <= 0.985, (k, c)


def test_intervals_that_are_too_narrow_are_caught():
    """A check that cannot fail is worthless: 50% intervals must not pass as 95% ones."""
    rep = coverage_check("power_law", n_reps=100, methods=("wald",), loss="ls", level=0.5, seed=2)
    assert all(c < 0.7 for c in rep.coverage["wald"].values())


def test_custom_design_and_bad_arguments():
    x = {"flops": np.logspace(18, 20, 10)}
    rep = coverage_check("power_law", inputs=x, params={"A": 20.0, "alpha": 0.05}, n_reps=20,
                         n_boot=20, noise=0.02, seed=0)
    assert rep.n_points == 10 and rep.truth == {"A": 20.0, "alpha": 0.05} and rep.noise == 0.02
    with pytest.raises(ConfigError, match="methods"):
        coverage_check("power_law", methods=("profile",), n_reps=5)
    with pytest.raises(ConfigError, match="n_reps"):
        coverage_check("power_law", n_reps=1)


@pytest.mark.slow
@pytest.mark.skipif(not RUN_SLOW, reason="opt-in (SCALINGLAB_SLOW=1): produces the tables of docs/coverage.md")
@pytest.mark.parametrize("loss", ["huber", "ls"])
@pytest.mark.parametrize("law", list_laws())
def test_coverage_table(law, loss):
    rep = coverage_check(law, n_reps=400, n_boot=200, seed=0, loss=loss)
    print("\n" + rep.as_text())
    if loss == "huber":      # the default estimator and interval method
        for c in rep.coverage["bootstrap"].values():
            assert 0.90 <= c <= 0.985
