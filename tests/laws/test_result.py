"""FitResult: the contract other parts code against (docs/ARCHITECTURE.md, "FitResult")."""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from scalinglab.errors import (
    ConfigError,
    ConvergenceWarning,
    DataError,
    ExtrapolationWarning,
    FitAtBoundWarning,
    MissingColumnError,
    NotFittedError,
    UnknownNameError,
    UnreliableErrorsWarning,
)
from scalinglab.laws import (
    LAWS,
    BootstrapResult,
    FitResult,
    Law,
    ParamMatrix,
    Prediction,
    Runs,
    fit,
    get_law,
    list_laws,
    register_law,
)
from scalinglab.laws.bootstrap import group_labels, resample_weights

GOLDEN = Path(__file__).parent / "golden"
ARTIFACT = GOLDEN / "fit_chinchilla_ls.json"     # golden/make_summary_artifact.py writes it
REGEN = os.environ.get("SCALINGLAB_REGEN_GOLDEN") == "1"


def _ladder(seed: int = 0, noise: float = 0.01) -> Runs:
    """A small ladder: 6 model sizes x 4 token budgets, Chinchilla-like truth, log-normal noise."""
    N = np.repeat(np.logspace(7.5, 9.5, 6), 4)
    D = N * np.tile([5.0, 10.0, 20.0, 40.0], 6)
    law = get_law("chinchilla")
    y = law({"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}, n_params=N, n_tokens=D)
    y = y * np.exp(noise * np.random.default_rng(seed).standard_normal(y.shape))
    return Runs.from_arrays(n_params=N, n_tokens=D, target=y,
                            groups={"seed": np.tile(["s0", "s1"], 12)})


@pytest.fixture(scope="module")
def runs() -> Runs:
    return _ladder()


def fit_golden_subject() -> FitResult:
    """The fit whose stored artifact the golden summaries are rendered from (and ``boot`` below)."""
    res = fit("chinchilla", _ladder(), loss="ls", starts=get_law("chinchilla").default_starts()[::90])
    return res.with_bootstrap(n_boot=200, seed=0)


@pytest.fixture(scope="module")
def res(runs) -> FitResult:
    return fit("chinchilla", runs, loss="ls", starts=get_law("chinchilla").default_starts()[::90])


@pytest.fixture(scope="module")
def boot(res) -> FitResult:
    return res.with_bootstrap(n_boot=200, seed=0)


@pytest.fixture(scope="module")
def stored() -> FitResult:
    """``boot`` as fitted when the golden files were made, loaded bit-exactly from its artifact."""
    return FitResult.load(ARTIFACT)


def test_result_is_frozen_and_records_its_inputs(res, runs):
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.objective = 0.0  # type: ignore[misc]
    assert list(res.params) == list(res.law.param_names)
    assert res.param_vector.tolist() == list(res.params.values())
    assert res.n_points == len(runs) == res.residuals.shape[0]
    assert res.runs_fingerprint == runs.fingerprint
    assert res.input_range["n_params"] == (runs.n_params.min(), runs.n_params.max())
    assert res.options["loss"] == "ls" and res.options["space"] == "log" and res.options["reduce"] == "sum"
    assert res.bootstrap is None and res.sigma > 0
    d = res.diagnostics
    assert res.ok and d.converged and d.n_points == 24 and d.n_starts == 50 and d.cond_number > 1
    assert json.loads(json.dumps(d.to_dict()))["n_points"] == 24


def test_cov_is_name_indexed_with_correlation(res):
    cov = res.cov        # least squares: no warning
    assert isinstance(cov, ParamMatrix) and cov.shape == (5, 5)
    assert cov["A", "B"] == cov[1, 2] == cov["B", "A"]
    assert cov["alpha", "alpha"] == pytest.approx(res.stderr["alpha"] ** 2)
    corr = cov.corr()
    np.testing.assert_allclose(np.diag(corr), 1.0)
    assert -1 <= corr["alpha", "beta"] <= 1
    assert "alpha" in repr(cov)
    with pytest.raises(KeyError, match="Did you mean: alpha"):
        cov["alpah", "beta"]


def test_wald_errors_are_flagged_under_robust_losses(runs):
    rob = fit("chinchilla", runs, starts=get_law("chinchilla").default_starts()[::90])
    with pytest.warns(UnreliableErrorsWarning, match="robust loss 'huber'"):
        rob.stderr
    with pytest.warns(UnreliableErrorsWarning):
        rob.ci(method="wald")
    assert any("Wald" in n for n in rob.notes())
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreliableErrorsWarning)
        rob.with_bootstrap(n_boot=20).stderr      # bootstrap errors: no warning


def test_ci_methods(res, boot):
    with pytest.raises(NotFittedError, match="with_bootstrap"):
        res.ci(method="bootstrap")
    wald = res.ci(0.9, method="wald")
    assert wald.method == "wald" and wald.level == 0.9
    for k, (lo, hi) in wald.items():
        assert lo < res.params[k] < hi
    assert wald["A"][0] > 0          # log-scale intervals of positive parameters stay positive
    b = boot.ci()
    assert b.method == "bootstrap"
    for k, (lo, hi) in b.items():
        assert lo < hi
    assert "bootstrap" in str(b) and "<table>" in b._repr_html_()
    assert b.to_dict()["rows"]["alpha"]["estimate"] == boot.params["alpha"]
    with pytest.raises(ConfigError, match="method"):
        boot.ci(method="profile-ish")
    with pytest.raises(ConfigError, match="level"):
        boot.ci(level=95)


def test_with_bootstrap_is_deterministic_and_new(res, boot):
    again = res.with_bootstrap(n_boot=200, seed=0)
    other = res.with_bootstrap(n_boot=200, seed=1)
    assert res.bootstrap is None and isinstance(boot.bootstrap, BootstrapResult)
    assert again.bootstrap.params.tobytes() == boot.bootstrap.params.tobytes()
    assert other.bootstrap.params.tobytes() != boot.bootstrap.params.tobytes()
    assert boot.bootstrap.params.shape == (200, 5) and boot.bootstrap.seed == 0 and boot.bootstrap.by is None
    assert boot.stderr_method == "bootstrap" and boot.options["n_boot"] == 200
    assert "BootstrapResult(n_boot=200" in repr(boot.bootstrap)
    with pytest.raises(ConfigError, match="n_boot"):
        res.with_bootstrap(n_boot=1)


def test_bootstrap_by_group_resamples_whole_groups(res, runs):
    with pytest.warns(UnreliableErrorsWarning, match="only 6 groups"):
        by_size = res.with_bootstrap(n_boot=50, seed=0, by="n_params")
    assert by_size.bootstrap.by == "n_params" and by_size.bootstrap.n_groups == 6
    ids = group_labels(runs.n_params)
    W = resample_weights(len(runs), 30, seed=0, groups=ids)
    for g in range(6):                         # one count per group, shared by its runs
        assert np.all(W[:, ids == g] == W[:, ids == g][:, :1])
    assert np.all(W.sum(axis=1) == 24)        # 6 groups of 4 drawn 6 times
    with pytest.warns(UnreliableErrorsWarning, match="only 2 groups"):
        res.with_bootstrap(n_boot=20, by="seed")
    with pytest.raises(MissingColumnError, match="Did you mean: n_params"):
        res.with_bootstrap(n_boot=20, by="n_param")


def test_predict_point_and_interval(res, boot):
    m = res.predict(n_params=1e9, n_tokens=2e10)
    assert np.shape(m) == () and m == pytest.approx(res.law(res.params, n_params=1e9, n_tokens=2e10))
    assert res.predict(flops=1.2e20, n_params=1e9) == pytest.approx(m)     # D derived from C = 6ND
    p = boot.predict(level=0.95, n_params=[1e8, 1e9], n_tokens=[2e9, 2e10])
    assert isinstance(p, Prediction) and p.mean.shape == (2,)
    assert np.all(p.low < p.mean) and np.all(p.mean < p.high)
    lo, hi = boot.derived(lambda q: res.law(q, n_params=1e9, n_tokens=2e10))[1:]
    assert p.high[1] - p.low[1] > hi - lo      # a prediction interval adds the residual scatter
    pw = res.predict(level=0.95, n_params=[1e8, 1e9], n_tokens=[2e9, 2e10])
    assert np.all(pw.low < pw.mean) and np.all(pw.mean < pw.high)
    with pytest.warns(ExtrapolationWarning, match="outside the fitted range"):
        res.predict(n_params=1e14, n_tokens=1e15)
    with pytest.raises(MissingColumnError):
        res.predict(n_params=1e9)


def test_derived(boot, res):
    a = boot.derived(lambda q: q["beta"] / (q["alpha"] + q["beta"]))
    assert a == boot.derived("allocation_exponent")
    assert a.low < a.estimate < a.high
    arr = boot.derived("n_params_opt", flops=np.array([1e21, 1e23]))
    assert arr.estimate.shape == (2,) and np.all(arr.low < arr.estimate) and np.all(arr.estimate < arr.high)
    wald = res.derived("allocation_exponent")
    assert wald.low < wald.estimate < wald.high
    with pytest.raises(UnknownNameError, match="allocation_exponent"):
        boot.derived("allocation_exponnt")


def test_fixed_parameters(runs):
    r = fit("chinchilla", runs, loss="ls", fixed={"E": 1.8}, starts=get_law("chinchilla").default_starts()[::90])
    assert r.params["E"] == 1.8 and r.options["fixed"] == {"E": 1.8}
    assert r.stderr["E"] == 0.0 and r.ci(method="wald")["E"] == (1.8, 1.8)
    assert "E (fixed)" in r.summary().as_text()
    assert r.with_bootstrap(n_boot=10).bootstrap.params[:, 0].tolist() == [1.8] * 10


def test_parameter_at_bound_is_flagged(runs):
    law = get_law("chinchilla", bounds={"alpha": (0.0, 0.3)})
    with pytest.warns(FitAtBoundWarning, match="alpha is at its bound"):
        r = fit(law, runs, loss="ls", starts=law.default_starts()[::90])
    assert r.diagnostics.at_bound == ("alpha",) and not r.ok
    assert any("alpha is at its bound" in n for n in r.notes())
    assert "check notes" in repr(r)


def test_summary_text_and_html_match_golden(stored):
    # rendered from a stored artifact (bit-exact on every machine), never from a fresh fit
    s = stored.summary()
    text, html = s.as_text(), s.as_html()
    if REGEN:
        (GOLDEN / "summary_chinchilla_ls.txt").write_text(text + "\n")
        (GOLDEN / "summary_chinchilla_ls.html").write_text(html + "\n")
    assert text + "\n" == (GOLDEN / "summary_chinchilla_ls.txt").read_text()
    assert html + "\n" == (GOLDEN / "summary_chinchilla_ls.html").read_text()
    d = s.to_dict()
    assert d["header"]["Estimator"] == "ls" and len(d["params"]) == 5 and d["notes"] == []
    assert json.loads(s.to_json()) == json.loads(json.dumps(d))


def test_a_fresh_fit_agrees_with_the_stored_one_within_tolerances(boot, stored):
    # what depends on this machine's floating-point path (CPU, BLAS, numpy) is compared with
    # tolerances here, separately from the golden text: the estimates to 1e-5, bootstrap
    # summaries to 1e-3 (each of the 200 refits stops at a slightly different point)
    np.testing.assert_allclose(boot.data.target, stored.data.target, rtol=1e-12)
    for k, v in stored.params.items():
        assert boot.params[k] == pytest.approx(v, rel=1e-5), k
    assert boot.objective == pytest.approx(stored.objective, rel=1e-6)
    assert boot.sigma == pytest.approx(stored.sigma, rel=1e-5)
    for k, (lo, hi) in stored.ci(0.95).items():
        assert boot.ci(0.95)[k] == (pytest.approx(lo, rel=1e-3), pytest.approx(hi, rel=1e-3)), k
        assert boot.stderr[k] == pytest.approx(stored.stderr[k], rel=1e-3), k
    d, ds = boot.diagnostics, stored.diagnostics
    assert d.converged and ds.converged and d.at_bound == ds.at_bound == () and boot.ok and stored.ok
    assert d.cond_number == pytest.approx(ds.cond_number, rel=1e-3)
    assert d.optimum_spread < 1e-6 and ds.optimum_spread < 1e-6        # the digits themselves vary


def test_notes_are_numbered_in_text(runs):
    law = get_law("chinchilla", bounds={"beta": (0.0, 0.3)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(law, runs, starts=law.default_starts()[::90])
    text = r.summary().as_text()
    assert "Notes:" in text and "[1] " in text and "[2] " in text
    assert "<ol>" in r.summary().as_html()


def test_save_load(boot, tmp_path):
    path = boot.save(tmp_path / "sub" / "fit.json")
    back = FitResult.load(path)
    assert back.params == boot.params and back.diagnostics == boot.diagnostics
    assert back.bootstrap.seed == 0 and back.options == boot.options
    q = {"n_params": np.logspace(7, 11, 5), "n_tokens": np.logspace(9, 13, 5)}
    assert back.predict(**q).tobytes() == boot.predict(**q).tobytes()
    assert back.with_bootstrap(n_boot=20, seed=4).bootstrap.params.tobytes() == \
        boot.with_bootstrap(n_boot=20, seed=4).bootstrap.params.tobytes()
    slim = FitResult.load(boot.save(tmp_path / "slim.json", include_data=False))
    assert slim.predict(**q).tobytes() == boot.predict(**q).tobytes()
    with pytest.raises(NotFittedError, match="no data"):
        slim.with_bootstrap(n_boot=10)
    d = json.loads(path.read_text())
    d["schema_version"] = 99
    (tmp_path / "new.json").write_text(json.dumps(d))
    with pytest.raises(DataError, match="newer"):
        FitResult.load(tmp_path / "new.json")
    d["schema_version"], d["law"]["name"] = 1, "not_a_law"
    (tmp_path / "unknown.json").write_text(json.dumps(d))
    with pytest.raises(UnknownNameError, match="register_law"):
        FitResult.load(tmp_path / "unknown.json")
    (tmp_path / "junk.json").write_text("{")
    with pytest.raises(DataError, match="not a fit artifact"):
        FitResult.load(tmp_path / "junk.json")


class Exponential(Law):
    """L(C) = E + A exp(-k C / 1e20): a user's law, as in the docs of scalinglab.laws.specs."""

    name = "test_exponential"
    formula = "L(C) = E + A * exp(-k * C / 1e20)"
    citation = "a test"
    inputs = ("flops",)
    param_names = ("E", "A", "k")
    default_bounds = {"E": (0.0, 10.0), "A": (0.0, 100.0), "k": (1e-3, 100.0)}
    linear_params = ("E", "A")
    log_params = ("k",)
    start_grid = {"k": (0.1, 1.0, 10.0)}

    def _evaluate(self, p, x, grad):
        E, A, k = p
        c = x["flops"] / 1e20
        ex = np.exp(-k * c)
        f = E + A * ex
        if not grad:
            return f, None
        return f, [np.ones_like(f), ex + 0 * f, -A * c * ex]


@pytest.fixture
def scratch_laws(monkeypatch):
    """The law registry as it was before the test: a law registered here does not leak out."""
    monkeypatch.setattr(LAWS, "_entries", dict(LAWS._entries))
    before = list_laws()
    yield
    monkeypatch.undo()
    assert list_laws() == before


def test_users_can_register_and_fit_their_own_law(tmp_path, scratch_laws):
    assert "test_exponential" not in list_laws()
    register_law(Exponential)
    assert "test_exponential" in list_laws()
    C = np.linspace(1e19, 5e20, 20)
    y = 2.0 + 3.0 * np.exp(-0.8 * C / 1e20) + 0.001 * np.random.default_rng(0).standard_normal(20)
    r = fit("test_exponential", Runs.from_arrays(flops=C, target=y), loss="ls", space="linear")
    assert r.ok
    assert r.params["k"] == pytest.approx(0.8, rel=0.02) and r.params["E"] == pytest.approx(2.0, rel=0.01)
    back = FitResult.load(r.save(tmp_path / "exp.json"))
    assert back.predict(flops=C).tobytes() == r.predict(flops=C).tobytes()
    with pytest.raises(ConfigError, match="already registered"):
        register_law(Exponential)
    with pytest.raises(ConfigError, match="Law subclass"):
        register_law(dict)  # type: ignore[arg-type]


def test_fewer_points_than_parameters_is_loud_and_no_bootstrap_interval_is_formed(runs):
    # `demo --sweep ci` once printed "alpha 0.012 [0.012, 0.012]": 5 parameters fitted to 2 points
    few = runs.subset(np.arange(0, 24, 6))                      # 4 points for the 5 of chinchilla
    with pytest.warns(UnreliableErrorsWarning, match="fewer points than parameters"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)      # the other symptoms of it (which of them
        warnings.simplefilter("ignore", FitAtBoundWarning)       # shows depends on the optimizer's path)
        r = fit("chinchilla", few, loss="ls", starts=get_law("chinchilla").default_starts()[::90])
    assert not r.ok and any("not identified" in n for n in r.notes())
    assert "fewer points than parameters" in r.summary().as_text()
    with pytest.raises(DataError, match="4 points for 5 free parameters leave no residual degrees of freedom"):
        r.with_bootstrap(n_boot=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match="no residual degrees of freedom"):
            fit("chinchilla", few, loss="ls", n_boot=20, starts=get_law("chinchilla").default_starts()[::90])
        # fixing a parameter gives the fit a degree of freedom back: 4 points, 3 free parameters
        fixed = fit("chinchilla", few, loss="ls", fixed={"E": 1.8, "alpha": 0.35},
                    starts=get_law("chinchilla").default_starts()[::90])
        assert fixed.with_bootstrap(n_boot=20).bootstrap.n_boot == 20


def test_text_columns_survive_save_and_load(tmp_path):
    """A text group column whose values look like hex floats ("2.2") reads back as text, not 2.125."""
    C = np.logspace(18, 21, 12)
    runs = Runs.from_arrays(flops=C, target=2.0 + 300 * C ** -0.15,
                            groups={"tag": ["2.2"] * 6 + ["1.0"] * 6, "lr": [1e-3] * 12})
    res = fit("saturating_power_law", runs, loss="ls")
    back = FitResult.load(res.save(tmp_path / "fit.json"))
    assert list(back.data.columns["tag"]) == ["2.2"] * 6 + ["1.0"] * 6
    assert back.data.columns["lr"].dtype.kind == "f" and back.data.columns["lr"][0] == 1e-3
