"""Compute-optimal allocation by the three approaches of Hoffmann et al. (2022)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalinglab.errors import ConfigError, DataError
from scalinglab.laws import Runs
from scalinglab.laws.allocation import Allocation, allocate
from scalinglab.laws.frontier import isoflop_slices
from scalinglab.laws.law import get_law

# a synthetic Chinchilla-form truth with a != 0.5, so a wrong exponent cannot pass by accident
TRUE = {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.28}
A_TRUE = TRUE["beta"] / (TRUE["alpha"] + TRUE["beta"])                        # 0.4516
G_TRUE = (TRUE["alpha"] * TRUE["A"] / (TRUE["beta"] * TRUE["B"])) ** (1 / (TRUE["alpha"] + TRUE["beta"]))


def loss(N, D):
    return TRUE["E"] + TRUE["A"] / N ** TRUE["alpha"] + TRUE["B"] / D ** TRUE["beta"]


def n_opt(C):
    return G_TRUE * (C / 6) ** A_TRUE


@pytest.fixture(scope="module")
def isoflop_runs():
    rng = np.random.default_rng(1)
    rows = {"n_params": [], "n_tokens": [], "target": []}
    for C in np.logspace(17, 21, 6):
        for f in np.logspace(-1, 1, 9):           # sizes bracketing the optimum
            N = n_opt(C) * f
            D = C / (6 * N)
            rows["n_params"].append(N)
            rows["n_tokens"].append(D)
            rows["target"].append(loss(N, D) * math.exp(rng.normal(0, 0.003)))
    return Runs.from_arrays(**rows)


def test_approach2_recovers_the_known_exponent(isoflop_runs):
    a = allocate(isoflop_runs, approach=2, n_boot=100, seed=0)
    assert isinstance(a, Allocation) and a.approach == 2
    assert a.exponent_n == pytest.approx(A_TRUE, abs=0.01)
    assert a.exponent_d == pytest.approx(1 - A_TRUE, abs=0.01)
    lo, hi = a.exponent_n_interval
    assert lo < A_TRUE < hi and hi - lo < 0.05
    # six budgets, each with its measured optimum and the best run of the slice
    assert a.points["flops"].size == 6 and a.points["n_points"].tolist() == [9] * 6
    assert all(r.startswith("row") for r in a.points["run_id"])
    np.testing.assert_allclose(a.points["n_params"], n_opt(a.points["flops"]), rtol=0.1)
    # prediction at a budget inside the range. The loss is not exactly a parabola in log N, so
    # the vertex of a parabola fitted over sizes 10x either side of the optimum sits ~4 % above
    # N* at every budget: the exponent is unbiased, the coefficient is not (see allocate Notes).
    p = a.predict(flops=1e19)
    assert p.n_params == pytest.approx(n_opt(1e19), rel=0.05)
    assert p.n_params_low < p.n_params < p.n_params_high
    assert p.tokens_per_param == pytest.approx(p.n_tokens / p.n_params)
    true_ratio = (1e19 / 6) / n_opt(1e19) ** 2
    assert p.tokens_per_param == pytest.approx(true_ratio, rel=0.1)
    # IsoFlopSlices in, same answer; bootstrap over budgets only is wider than over runs only
    same = allocate(isoflop_slices(isoflop_runs), n_boot=0)
    assert same.exponent_n == pytest.approx(a.exponent_n)
    assert same.n_boot == 0 and math.isnan(same.exponent_n_interval[0])
    w_runs = np.ptp(allocate(isoflop_runs, n_boot=60, by="runs").exponent_n_interval)
    assert w_runs > 0


def test_approach2_vertex_bias_shrinks_with_a_narrower_profile():
    """Noise-free profiles: the exponent is exact; the coefficient's bias is the parabola's."""
    for width, bias in ((1.0, 0.05), (0.3, 0.005)):
        rows = {"n_params": [], "n_tokens": [], "target": []}
        for C in np.logspace(17, 21, 5):
            for f in np.logspace(-width, width, 7):
                N = n_opt(C) * f
                rows["n_params"].append(N)
                rows["n_tokens"].append(C / (6 * N))
                rows["target"].append(loss(N, C / (6 * N)))
        a = allocate(Runs.from_arrays(**rows), n_boot=0)
        assert a.exponent_n == pytest.approx(A_TRUE, abs=1e-9)
        assert a.predict(flops=1e19).n_params == pytest.approx(n_opt(1e19), rel=bias)


def test_approach2_notes_a_profile_without_minimum():
    rows = {"n_params": [], "n_tokens": [], "target": []}
    for C in (1e18, 1e19, 1e20):
        for f in (0.3, 1.0, 3.0):
            N = n_opt(C) * f
            rows["n_params"].append(N)
            rows["n_tokens"].append(C / (6 * N))
            rows["target"].append(loss(N, C / (6 * N)))
    rows["target"][3:6] = [2.0, 2.5, 2.0]   # budget 1e19 opens downward
    a = allocate(Runs.from_arrays(**rows), n_boot=0)
    assert any("no minimum" in n for n in a.notes)
    assert a.exponent_n == pytest.approx(A_TRUE, abs=0.01)   # from the two good budgets
    rows["target"][0:3] = [2.0, 2.5, 2.0]
    with pytest.raises(DataError, match="do not determine a power law"):
        allocate(Runs.from_arrays(**rows), n_boot=0)


def test_approach1_envelope_of_final_points():
    rng = np.random.default_rng(2)
    N, D = np.meshgrid(np.logspace(6, 10, 25), np.logspace(8, 12, 25))
    y = loss(N, D) * np.exp(rng.normal(0, 0.003, N.shape))
    runs = Runs.from_arrays(n_params=N.ravel(), n_tokens=D.ravel(), target=y.ravel())
    a = allocate(runs, approach="envelope", n_boot=40)
    assert a.approach == 1
    assert a.exponent_n == pytest.approx(A_TRUE, abs=0.04)
    lo, hi = a.exponent_n_interval
    assert lo < A_TRUE < hi
    # censored minima at the smallest / largest size tried are left out
    assert runs.n_params.min() < a.points["n_params"].min() and a.points["n_params"].max() < runs.n_params.max()


def test_approach1_over_training_curves():
    rng = np.random.default_rng(3)
    rows = {"n_params": [], "n_tokens": [], "target": [], "groups": {"model": []}}
    for N in np.logspace(6, 10, 17):
        for D in np.logspace(7, 14, 57):    # checkpoints along each training run
            rows["n_params"].append(N)
            rows["n_tokens"].append(D)
            rows["target"].append(loss(N, D) * math.exp(rng.normal(0, 0.002)))
            rows["groups"]["model"].append(f"{N:.3g}")
    runs = Runs.from_arrays(**rows)
    a = allocate(runs, approach=1, curve_by="model", n_boot=20)
    assert a.exponent_n == pytest.approx(A_TRUE, abs=0.02)
    assert a.exponent_d == pytest.approx(1 - A_TRUE, abs=0.02)
    assert a.exponent_n_interval[0] < A_TRUE < a.exponent_n_interval[1]


def test_approach3_closed_form_on_the_chinchilla_fit():
    # Besiroglu et al. (2024) grid-search values of the Hoffmann et al. Huber fit
    params = {"E": 1.817236, "A": 477.84, "B": 2143.86, "alpha": 0.347313, "beta": 0.367183}
    a = allocate(params, approach=3)
    assert a.exponent_n == pytest.approx(0.367183 / (0.347313 + 0.367183), abs=1e-12)
    assert a.exponent_n == pytest.approx(0.5139, abs=1e-4)
    assert a.exponent_n + a.exponent_d == pytest.approx(1.0)
    G = (0.347313 * 477.84 / (0.367183 * 2143.86)) ** (1 / (0.347313 + 0.367183))
    assert a.params["G"] == pytest.approx(G)
    C = 5.76e23                                          # Chinchilla's training compute
    p = a.predict(flops=C)
    assert p.n_params == pytest.approx(G * (C / 6) ** a.exponent_n, rel=1e-10)
    assert 6 * p.n_params * p.n_tokens == pytest.approx(C, rel=1e-10)
    assert 15 < p.tokens_per_param < 25                 # the "20 tokens per parameter" rule
    assert any("no bootstrap draws" in n for n in a.notes)
    # the published fit of the replication (Table 1)
    pub = allocate({"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658})
    assert pub.exponent_n == pytest.approx(0.5126, abs=1e-4)


def test_numeric_optimum_matches_the_closed_form():
    law = get_law("chinchilla")
    P = np.array([[TRUE[k] for k in law.param_names], [1.7, 300.0, 900.0, 0.3, 0.35]])
    C = np.logspace(18, 24, 4)
    lnN, _ = law.numeric_optimum(P, C)
    for row, p in zip(lnN, P):
        al, be, A, B = p[3], p[4], p[1], p[2]
        G = (al * A / (be * B)) ** (1 / (al + be))
        np.testing.assert_allclose(np.exp(row), G * (C / 6) ** (be / (al + be)), rtol=2e-3)


def test_approach3_numeric_for_another_law_of_n_and_d():
    # Gadre et al. (2024): L = E + (a M^eta + b M^-eta) C^-eta is minimised at M* = (b/a)^(1/(2 eta))
    params = {"E": 1.7, "a": 2.0, "b": 800.0, "eta": 0.15}
    a = allocate(params, law="overtraining", flops_range=(1e18, 1e22))
    assert a.exponent_n == pytest.approx(0.5, abs=1e-3)
    m_star = (800.0 / 2.0) ** (1 / (2 * 0.15))
    assert a.predict(flops=1e20).tokens_per_param == pytest.approx(m_star, rel=0.01)
    with pytest.raises(ConfigError, match="flops_range"):
        allocate(params, law="overtraining")


def test_allocation_results_render_and_validate(isoflop_runs):
    a = allocate(isoflop_runs, n_boot=30)
    text = a.summary().as_text()
    assert "iso-FLOP profiles" in text and "exponent_n (a) 95%" in text and "measured optima" in text
    assert "row" in text
    assert a.summary().to_dict()["tables"]
    assert "<table>" in a._repr_html_()
    assert repr(a).startswith("Allocation(approach=2, exponent_n=0.45")
    d = a.to_dict()
    assert d["approach"] == 2 and len(d["exponent_n_interval"]) == 2
    arr = a.predict(flops=[1e18, "1e20"], level=0.5)
    assert arr.n_params.shape == (2,) and np.all(arr.n_params_low <= arr.n_params_high)
    assert "AllocationPrediction(" in repr(arr)
    with pytest.raises(ConfigError, match="approach must be"):
        allocate(isoflop_runs, approach=4)
    with pytest.raises(ConfigError, match="approach 1 needs Runs"):
        allocate(isoflop_slices(isoflop_runs), approach=1)
    with pytest.raises(ConfigError, match="law of N and D"):
        allocate({"A": 1.0, "alpha": 0.1, "E": 1.0}, law="saturating_power_law")
    with pytest.raises(ConfigError, match="flops must be positive"):
        a.predict(flops=-1.0)
    with pytest.raises(ConfigError, match="by must be"):
        allocate(isoflop_runs, by="seeds")


def test_chinchilla_points_isoflop_profiles(chinchilla_csv):
    from scalinglab.datasets import load_chinchilla

    runs = load_chinchilla()
    budgets = [6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21]   # Hoffmann et al. Fig. 3
    a = allocate(runs, approach=2, budgets=budgets, rel_tol=0.15, n_boot=50)
    # Hoffmann et al. report a = 0.49 (Approach 2) and 0.46-0.51 across approaches
    assert 0.45 < a.exponent_n < 0.58
    assert a.exponent_n_interval[0] < 0.5 < a.exponent_n_interval[1]


def test_approach3_from_a_fit_with_bootstrap_intervals(chinchilla_csv):
    from scalinglab.datasets import load_chinchilla
    from scalinglab.laws import fit

    res = fit("chinchilla", load_chinchilla(), n_starts=64, seed=0)   # Huber, delta = 1e-3
    a = allocate(res, n_boot=40, seed=0)                              # bootstraps the fit itself
    assert a.approach == 3 and a.n_boot == 40
    # Besiroglu et al. (2024) refit: alpha = 0.3473, beta = 0.3672 -> a = 0.5139
    assert a.exponent_n == pytest.approx(0.5139, abs=0.002)
    assert a.exponent_n == pytest.approx(res.params["beta"] / (res.params["alpha"] + res.params["beta"]))
    lo, hi = a.exponent_n_interval
    assert lo < a.exponent_n < hi
    # the same interval as the fit's own derived quantity over the same draws
    boot = res.with_bootstrap(n_boot=40, seed=0)
    d = boot.derived("allocation_exponent", level=0.95)
    assert (lo, hi) == pytest.approx((d.low, d.high), rel=1e-6)
    same = allocate(boot)
    assert same.exponent_n_interval == pytest.approx((lo, hi))
    p = a.predict(flops=5.76e23)
    assert p.n_params_low < p.n_params < p.n_params_high
    assert 10 < p.tokens_per_param < 40
    # the compute range is that of the runs (1.4e18 .. 1.3e22), not min(N) min(D) .. max(N) max(D)
    runs = load_chinchilla()
    assert a.flops_range == (runs.flops.min(), runs.flops.max())
    assert res.input_range["flops"] == a.flops_range
    assert f"compute range (FLOPs)  {runs.flops.min():.3g} .. {runs.flops.max():.3g}" in a.summary().as_text()


def test_optimal_loss_closed_form_and_grid_search_agree():
    from scalinglab.errors import ConfigError
    from scalinglab.laws.specs import Chinchilla

    def optimal_loss(law, params, flops):
        return get_law(law).optimal_loss(params, flops)

    class GridOnly(Chinchilla):          # same law, without the closed-form N*(C)
        n_params_opt = None

    p = {"E": 1.82, "A": 482.0, "B": 2085.4, "alpha": 0.348, "beta": 0.366}
    C = np.array([1e20, 1e22, 1e24])
    n_closed, l_closed = optimal_loss("chinchilla", p, C)
    n_grid, l_grid = optimal_loss(GridOnly(), p, C)
    np.testing.assert_allclose(n_closed, Chinchilla.n_params_opt(p, C))
    np.testing.assert_allclose(n_grid, n_closed, rtol=2e-3)
    np.testing.assert_allclose(l_grid, l_closed, rtol=1e-6)   # parabola-refined grid
    law = get_law("chinchilla")
    for f in (0.5, 2.0):                 # L* is a minimum along C = 6ND
        n = n_closed * f
        assert np.all(law(p, n_params=n, n_tokens=C / (6 * n)) > l_closed)
    rows = np.vstack([law.vector(p), law.vector({**p, "E": 2.0})])
    _, l_rows = optimal_loss(law, rows, C)
    assert l_rows.shape == (2, 3)
    np.testing.assert_allclose(l_rows[1] - l_rows[0], 0.18)
    n_c, l_c = optimal_loss("saturating_power_law", {"A": 10.0, "alpha": 0.1, "E": 1.0}, C)
    assert n_c is None and np.allclose(l_c, 10.0 * C ** -0.1 + 1.0)
    with pytest.raises(ConfigError, match="law of compute"):
        optimal_loss("downstream_link", {"eps": 0.9, "k": 2.0, "gamma": 1.0}, C)


def test_laws_say_whether_they_are_laws_of_n_and_d():
    assert get_law("chinchilla").of_n_and_d and get_law("overtraining").of_n_and_d
    assert not get_law("saturating_power_law").of_n_and_d and not get_law("downstream_link").of_n_and_d
    with pytest.raises(ConfigError, match="needs a law of N and D"):
        allocate({"A": 1.0, "alpha": 0.1, "E": 1.0}, approach=3, law="saturating_power_law")
