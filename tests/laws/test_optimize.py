"""The optimizer: same optimum as a plain SciPy loop, scale-free stopping, variable projection,
the closed-form log-log fit, estimators' defining properties, thread pinning."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from scalinglab.datasets import load_chinchilla
from scalinglab.errors import ConfigError, FitError
from scalinglab.laws import Runs, fit, get_law
from scalinglab.laws import _optimize as opt
from scalinglab.laws.bootstrap import resample_weights
from scalinglab.laws.objectives import ESTIMATORS, Objective, profile_scale


@pytest.fixture(scope="module")
def chinchilla():
    runs = load_chinchilla()
    law = get_law("chinchilla")
    return law, runs, opt.Problem(law, law.inputs_from(runs), runs.target, Objective("huber"))


@pytest.fixture(scope="module")
def spl_runs():
    """Saturating power law data with 1% noise and one outlier."""
    C = np.logspace(17, 21, 24)
    rng = np.random.default_rng(1)
    y = (1.8 + 1062 * C ** -0.15) * np.exp(0.01 * rng.standard_normal(C.size))
    y[5] *= 1.3
    return Runs.from_arrays(flops=C, target=y)


def test_batched_matches_plain_scipy_loop_on_chinchilla(chinchilla):
    law, runs, problem = chinchilla
    starts = law.default_starts()[::450]                       # 10 grid points
    batched = opt.solve_batch(problem, starts)
    loop = opt.solve_scipy_loop(problem, starts)
    assert abs(batched.objective - loop.objective) / loop.objective < 1e-8
    np.testing.assert_allclose(batched.params, loop.params, rtol=1e-4)


def test_batched_bootstrap_matches_per_resample_scipy(chinchilla):
    law, runs, problem = chinchilla
    res = fit(law, runs, starts=law.default_starts()[::450])
    W = resample_weights(problem.n, 6, seed=11)
    P, F, ok = opt.solve_resamples(problem, W, res.param_vector[None, :])
    _, F_loop = opt.solve_resamples_scipy(problem, W, res.param_vector[None, :])
    assert ok.all()
    assert np.max((F - F_loop) / F_loop) < 1e-8
    assert np.all(np.abs(P / res.param_vector - 1).max(axis=1) > 1e-3)   # refits really move


def test_exact_huber_curvature_converges_faster_to_the_same_optimum(chinchilla):
    """Bootstrap refits use the Huber loss's own curvature: fewer iterations, no worse objective."""
    law, runs, problem = chinchilla
    res = fit(law, runs, starts=law.default_starts()[::450])
    W = resample_weights(problem.n, 40, seed=3)
    th0 = np.repeat(problem.to_internal(res.param_vector[None, :]), 40, axis=0)
    irls = opt._lm(problem, opt._init_state(problem, th0, W), W, max_iter=opt.MAX_ITER)
    newton = opt._lm(problem, opt._init_state(problem, th0, W, newton=True), W, max_iter=opt.MAX_ITER,
                     newton=True)
    assert newton.conv.all() and irls.conv.all()
    assert np.all(newton.F <= irls.F * (1 + 1e-10))
    assert np.median(newton.nit) < 0.5 * np.median(irls.nit)


def test_exact_huber_curvature_falls_back_far_from_the_optimum(chinchilla):
    """From a grid start every residual is beyond delta: the exact curvature would be zero there."""
    law, runs, problem = chinchilla
    far = law.default_starts()[::900]
    th = problem.to_internal(far)
    r, _ = problem.objective.residuals(law(far, **problem.x), problem.y)
    assert np.all(np.count_nonzero(np.abs(r) <= 1e-3, axis=1) < problem.k)
    ones = np.ones((far.shape[0], problem.n))
    _, _, H_newton, _ = problem.evaluate(th, ones, newton=True)
    _, _, H_irls, _ = problem.evaluate(th, ones)
    np.testing.assert_array_equal(H_newton, H_irls)
    P, F, ok = opt.solve_resamples(problem, ones[:1], far[:1])
    ref = opt.solve_scipy_loop(problem, far[:1])
    assert F[0] <= ref.objective * (1 + 1e-8)


@pytest.mark.parametrize("loss", ["ls", "lad", "huber", "huber_likelihood", "asymmetric"])
@pytest.mark.parametrize("space", ["log", "linear"])
def test_every_estimator_reaches_a_minimum(spl_runs, loss, space):
    """SciPy (tight, rescaled tolerances) started at scalinglab's optimum finds nothing lower."""
    law = get_law("saturating_power_law")
    res = fit(law, spl_runs, loss=loss, space=space)
    problem = res._problem()
    loop = opt.solve_scipy_loop(problem, res.param_vector[None, :])
    scale = max(abs(loop.objective), problem.objective.scale(np.array([loop.objective]), np.ones(problem.n))[0])
    assert (res.objective - loop.objective) / scale < 1e-8
    assert res.diagnostics.converged and res.diagnostics.objective_gap < 1e-8


def test_sum_and_mean_reach_the_same_optimum(spl_runs):
    for loss in ("huber", "lad", "huber_likelihood"):
        a = fit("saturating_power_law", spl_runs, loss=loss, reduce="sum")
        b = fit("saturating_power_law", spl_runs, loss=loss, reduce="mean")
        np.testing.assert_allclose(a.param_vector, b.param_vector, rtol=1e-6)


def test_variable_projection_solves_linear_parameters_exactly(spl_runs):
    law = get_law("saturating_power_law")
    x = law.inputs_from(spl_runs)
    problem = opt.Problem(law, x, spl_runs.target, Objective("ls", space="linear"))
    assert problem.projects
    theta = problem.to_internal(np.array([[50.0, 0.2, 1.0]]))
    proj = problem.to_natural(problem.project(theta, np.ones(problem.n)))[0]
    t = np.exp(-0.2 * np.log(x["flops"]))
    coef, *_ = np.linalg.lstsq(np.column_stack([t, np.ones_like(t)]), spl_runs.target, rcond=None)
    np.testing.assert_allclose(proj[[0, 2]], coef, rtol=1e-9)
    assert proj[1] == pytest.approx(0.2)
    res = fit(law, spl_runs, loss="ls", space="linear")
    ref = fit(law, spl_runs, loss="ls", space="linear", method="scipy")
    assert res.objective <= ref.objective * (1 + 1e-9)
    assert not Objective("ls", space="log").loss == "huber" and not opt.Problem(
        law, x, spl_runs.target, Objective("ls", space="log")).projects


def test_loglinear_is_ordinary_least_squares_in_log_log():
    C = np.logspace(17, 21, 15)
    y = 30 * C ** -0.05 * np.exp(0.02 * np.random.default_rng(2).standard_normal(C.size))
    res = fit("power_law", Runs.from_arrays(flops=C, target=y), loss="loglinear")
    slope, intercept = np.polyfit(np.log(C), np.log(y), 1)
    assert res.params["alpha"] == pytest.approx(-slope, rel=1e-10)
    assert res.params["A"] == pytest.approx(np.exp(intercept), rel=1e-10)
    nonlinear = fit("power_law", Runs.from_arrays(flops=C, target=y), loss="ls", space="log")
    assert nonlinear.params["alpha"] == pytest.approx(res.params["alpha"], rel=1e-6)
    boot = res.with_bootstrap(n_boot=50, seed=0)
    assert boot.bootstrap.params.shape == (50, 2) and boot.stderr["alpha"] > 0
    with pytest.raises(ConfigError, match="linear in its parameters after taking logs"):
        fit("saturating_power_law", Runs.from_arrays(flops=C, target=y), loss="loglinear")


def test_robust_losses_resist_an_outlier(spl_runs):
    C = spl_runs.flops
    truth = 1.8 + 1062 * C ** -0.15
    ls = fit("saturating_power_law", spl_runs, loss="ls")
    err_ls = np.mean(np.abs(ls.predict(flops=C) / truth - 1))
    for loss in ("huber", "lad", "huber_likelihood"):
        rob = fit("saturating_power_law", spl_runs, loss=loss)
        assert np.mean(np.abs(rob.predict(flops=C) / truth - 1)) < err_ls / 3, loss
    lad = fit("saturating_power_law", spl_runs, loss="lad")
    r = lad.residuals
    assert abs(np.sum(r > 1e-9) - np.sum(r < -1e-9)) <= 3     # a median: as many points above as below


def test_asymmetric_loss_tracks_the_lower_envelope():
    C = np.repeat(np.logspace(18, 21, 10), 6)
    rng = np.random.default_rng(3)
    best = 1.8 + 1062 * C ** -0.15
    y = best * np.exp(np.abs(0.05 * rng.standard_normal(C.size)))      # settings only ever worse
    runs = Runs.from_arrays(flops=C, target=y)
    low = fit("saturating_power_law", runs, loss="asymmetric", tau=0.05)
    mid = fit("saturating_power_law", runs, loss="ls")
    above = np.mean(runs.target > low.predict(flops=C))
    assert above > 0.7 and above > np.mean(runs.target > mid.predict(flops=C)) + 0.3
    assert np.mean(np.abs(low.predict(flops=C) / best - 1)) < np.mean(np.abs(mid.predict(flops=C) / best - 1))
    with pytest.raises(ConfigError, match="tau"):
        fit("saturating_power_law", runs, loss="asymmetric", tau=1.5)


def test_huber_likelihood_scale_solves_its_score_equation():
    r = 0.01 * np.random.default_rng(4).standard_normal((3, 40))
    for delta in (1e-3, 1.0, 5.0):
        s = profile_scale(r, np.ones(40), delta)
        t = np.abs(r) / s[:, None]
        np.testing.assert_allclose(np.sum(np.where(t <= delta, t * t, delta * t), axis=1), 40, rtol=1e-10)


def test_random_starts_are_reproducible(spl_runs):
    a = fit("saturating_power_law", spl_runs, n_starts=12, seed=5)
    b = fit("saturating_power_law", spl_runs, n_starts=12, seed=5)
    assert a.param_vector.tobytes() == b.param_vector.tobytes()
    assert a.options["starts"] == {"random": 12, "seed": 5} and a.diagnostics.n_starts == 12
    with pytest.raises(ConfigError, match="either"):
        fit("saturating_power_law", spl_runs, n_starts=3, starts="grid")


def test_bad_options_raise_clear_errors(spl_runs):
    with pytest.raises(ConfigError, match="Did you mean: huber"):
        fit("saturating_power_law", spl_runs, loss="hubr")
    with pytest.raises(ConfigError, match="space"):
        fit("saturating_power_law", spl_runs, space="loglog")
    with pytest.raises(ConfigError, match="delta"):
        fit("saturating_power_law", spl_runs, delta=-1)
    with pytest.raises(ConfigError, match="fixed parameter 'alhpa'"):
        fit("saturating_power_law", spl_runs, fixed={"alhpa": 0.1})
    assert set(ESTIMATORS) == {"ls", "lad", "huber", "huber_likelihood", "asymmetric", "loglinear"}


def test_no_finite_start_raises_fit_error():
    L = np.linspace(2.2, 4.5, 10)
    runs = Runs.from_arrays(flops=np.ones(10), target=0.5 + 0 * L, groups={"loss": L})
    with pytest.raises(FitError, match="no start gave a finite objective"):
        fit("downstream_link", runs, starts={"eps": 0.0, "k": 100.0, "gamma": 0.1})


def test_pin_blas_threads_with_and_without_threadpoolctl(monkeypatch):
    tpc = pytest.importorskip("threadpoolctl")
    with opt.pin_blas_threads(1):
        blas = [i for i in tpc.threadpool_info() if i.get("user_api") == "blas"]
        assert all(i["num_threads"] == 1 for i in blas)
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)       # hide it: env-var fallback
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with opt.pin_blas_threads(1):
        assert os.environ["OMP_NUM_THREADS"] == "1"
    assert "OMP_NUM_THREADS" not in os.environ
