"""The contract battery: every registered law passes the same checks (sklearn ``test_common`` style).

A law added to ``LAWS`` is picked up here; it needs a design in
``scalinglab.laws.coverage.default_design``: a law without one fails the battery (it is never
skipped, so that no registered law goes unchecked).
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from scalinglab.errors import ConfigError, ScalingLabWarning, UnreliableErrorsWarning
from scalinglab.laws import LAWS, FitResult, Prediction, Runs, coverage_check, fit, get_law, list_laws
from scalinglab.laws.coverage import default_design
from scalinglab.laws.law import INPUT_NAMES

ALL_LAWS = list_laws()


def _design(name):
    law = get_law(name)
    try:
        return law, *default_design(law)
    except ConfigError as exc:
        pytest.fail(f"law {name!r} has no default design for the battery ({exc}); add one to "
                    "scalinglab.laws.coverage.default_design")


def _runs(law, x, truth, noise, seed=0):
    f = law(truth, **x)
    rng = np.random.default_rng(seed)
    y = f * np.exp(noise * rng.standard_normal(f.shape))
    cols = {k: v for k, v in x.items() if k in ("n_params", "n_tokens", "flops")}
    groups = {k: v for k, v in x.items() if k not in cols}
    if "tokens_per_param" in groups:          # give N and D too, as real runs would
        C, M = x["flops"], x["tokens_per_param"]
        N = np.sqrt(C / (6 * M))
        cols = {"n_params": N, "n_tokens": M * N, "flops": C}
        groups = {}
    return Runs.from_arrays(target=y, groups=groups or None, **cols)


@pytest.fixture(scope="module", params=ALL_LAWS)
def law_name(request):
    return request.param


@pytest.fixture(scope="module")
def fitted(law_name) -> FitResult:
    law, x, truth = _design(law_name)
    runs = _runs(law, x, law.vector(truth), noise=0.002)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScalingLabWarning)   # a clean fit on clean data warns of nothing
        return fit(law, runs)


def test_registry_lists_every_law():
    assert set(ALL_LAWS) >= {"saturating_power_law", "power_law", "chinchilla", "overtraining",
                             "saturating_error", "downstream_link"}
    assert set(ALL_LAWS) <= set(LAWS.names())
    assert all(isinstance(get_law(n), LAWS.get(n)) for n in ALL_LAWS)


def test_spec(law_name):
    law = get_law(law_name)
    assert law.name == law_name and law.formula and law.citation
    assert law.inputs and set(law.inputs) <= set(INPUT_NAMES)
    assert len(set(law.param_names)) == law.n_params > 0
    b = law.bounds
    assert set(b) == set(law.param_names)
    assert all(lo < hi for lo, hi in b.values())
    assert set(law.log_params) <= set(law.param_names) and set(law.linear_params) <= set(law.param_names)
    assert all(b[k][0] > 0 for k in law.log_params)
    _, x, truth = _design(law_name)
    y = law(truth, **x)
    for starts in (law.default_starts(), law.default_starts(inputs=x, target=y)):
        assert starts.ndim == 2 and starts.shape[1] == law.n_params and starts.shape[0] >= 1
        assert np.all(np.isfinite(starts))
        lo = np.array([b[k][0] for k in law.param_names])
        hi = np.array([b[k][1] for k in law.param_names])
        assert np.all((starts >= lo) & (starts <= hi))
    truth_vec = law.vector(truth)
    assert np.all((truth_vec > [b[k][0] for k in law.param_names]) & (truth_vec < [b[k][1] for k in law.param_names]))
    assert np.all(np.isfinite(y)) and np.all(y > 0)
    assert law(law.as_dict(truth_vec), **x).tolist() == y.tolist()   # dict and vector agree


def test_gradient_matches_finite_differences(law_name):
    law, x, truth = _design(law_name)
    v = law.vector(truth)
    J = law.jac(v, **x)
    assert J.shape == (next(iter(x.values())).shape[0], law.n_params)
    for j in range(law.n_params):
        h = 1e-6 * max(abs(v[j]), 1e-6)
        vp, vm = v.copy(), v.copy()
        vp[j] += h
        vm[j] -= h
        fd = (law(vp, **x) - law(vm, **x)) / (2 * h)
        np.testing.assert_allclose(J[:, j], fd, rtol=1e-5, atol=1e-9 * np.abs(law(v, **x)).max() / max(abs(v[j]), 1e-12))
    # a batch of parameter sets evaluates row by row
    batch = np.vstack([v, v * 1.01])
    np.testing.assert_allclose(law(batch, **x)[1], law(v * 1.01, **x))
    np.testing.assert_allclose(law.jac(batch, **x)[0], J)


def test_recovers_known_parameters(law_name, fitted):
    law, x, truth = _design(law_name)
    assert fitted.ok, fitted.notes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreliableErrorsWarning)
        se = fitted.stderr
    for k, v in truth.items():   # within 5 standard errors (noise 0.2%) and 10%
        assert abs(fitted.params[k] - v) < 5 * se[k], (k, fitted.params[k], v, se[k])
        assert fitted.params[k] == pytest.approx(v, rel=0.1), k
    # noise-free data: exact recovery from the default starting grid
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScalingLabWarning)
        exact = fit(law, _runs(law, x, law.vector(truth), noise=0.0), loss="ls")
    assert exact.ok
    for k, v in truth.items():
        assert exact.params[k] == pytest.approx(v, rel=1e-4, abs=1e-9), k
    assert exact.objective < 1e-12


def test_prediction_shapes(law_name, fitted):
    law, x, _ = _design(law_name)
    one = {k: float(np.median(v)) for k, v in x.items()}
    assert np.shape(fitted.predict(**one)) == ()
    seven = {k: np.full(7, float(np.median(v))) for k, v in x.items()}
    assert fitted.predict(**seven).shape == (7,)
    names = list(x)
    grid = {names[0]: np.linspace(0.9, 1.1, 3)[:, None] * np.median(x[names[0]])}
    for k in names[1:]:
        grid[k] = np.linspace(0.9, 1.1, 4)[None, :] * np.median(x[k])
    expect = (3, 4) if len(names) > 1 else (3, 1)
    assert fitted.predict(**grid).shape == expect
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreliableErrorsWarning)
        p = fitted.predict(level=0.9, **seven)
    assert isinstance(p, Prediction) and p.mean.shape == p.low.shape == p.high.shape == (7,)
    assert np.all(p.low < p.mean) and np.all(p.mean < p.high)
    np.testing.assert_array_equal(fitted.predict(**seven), fitted.law(fitted.param_vector, **seven))


def test_summary_renders(law_name, fitted):
    s = fitted.summary()
    text = s.as_text()
    assert law_name in text and all(k in text for k in fitted.law.param_names)
    html = s.as_html()
    assert html.startswith("<div") and law_name in html
    d = s.to_dict()
    assert json.loads(json.dumps(d))["header"]["Law"] == law_name
    assert [r["param"] for r in d["params"]] == list(fitted.law.param_names)
    assert str(fitted) == text and fitted._repr_html_() == html
    assert law_name in repr(fitted)


def test_save_load_roundtrip_is_bit_identical(law_name, fitted, tmp_path):
    law, x, _ = _design(law_name)
    res = fitted.with_bootstrap(n_boot=40, seed=3)
    path = res.save(tmp_path / "fit.json")
    back = FitResult.load(path)
    assert back.param_vector.tobytes() == res.param_vector.tobytes()
    assert back.runs_fingerprint == res.runs_fingerprint and back.options == res.options
    q = {k: np.geomspace(np.min(v), np.max(v) * 10, 9) for k, v in x.items()}
    assert back.predict(**q).tobytes() == res.predict(**q).tobytes()
    a, b = res.predict(level=0.8, **q), back.predict(level=0.8, **q)
    assert all(u.tobytes() == v.tobytes() for u, v in zip(a, b))
    assert back.bootstrap.params.tobytes() == res.bootstrap.params.tobytes()
    assert back.summary().as_text() == res.summary().as_text()
    d = json.loads(path.read_text())
    assert d["schema_version"] == 2 and "numpy" in d["versions"] and d["runs_fingerprint"]


# Measured coverage (docs/coverage.md): the percentile bootstrap of the default Huber estimator.
COVERAGE_REPS = 200
COVERAGE_BOOT = 100


def test_default_intervals_reach_nominal_coverage(law_name):
    law, _, _ = _design(law_name)
    rep = coverage_check(law, n_reps=COVERAGE_REPS, n_boot=COVERAGE_BOOT, methods=("bootstrap",), seed=0)
    assert rep.n_failed <= COVERAGE_REPS // 50
    for k, c in rep.coverage["bootstrap"].items():
        assert 0.90 <= c <= 0.985, (k, c, rep.as_text())
    assert math.isclose(rep.level, 0.95)
