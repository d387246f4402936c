"""The data-constrained law (Muennighoff et al. 2023): its limits, its derived quantities, and fits
from runs that record their unique tokens."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scalinglab.errors import ScalingLabWarning
from scalinglab.laws import Runs, fit, get_law, load_runs

CHIN = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
TRUTH = {**CHIN, "RD_star": 15.4, "RN_star": 5.3}


def _runs(x, y):
    return Runs.from_arrays(target=y, n_params=x["n_params"], n_tokens=x["n_tokens"],
                            groups={"n_unique_tokens": x["n_unique_tokens"]})


def test_without_repetition_or_excess_parameters_it_is_chinchilla():
    law, chin = get_law("data_constrained"), get_law("chinchilla")
    N = np.logspace(7, 9, 7)
    D = 40 * N                                 # more tokens than N_opt needs: no excess parameters
    got = law(TRUTH, n_params=N, n_tokens=D, n_unique_tokens=D)
    np.testing.assert_allclose(got, chin(CHIN, n_params=N, n_tokens=D), rtol=1e-12)
    assert np.all(law(TRUTH, n_params=N, n_tokens=D, n_unique_tokens=D / 4) > got)   # 4 epochs cost loss
    assert np.all(law(TRUTH, n_params=N, n_tokens=D, n_unique_tokens=2 * D) == got)  # U > D is clipped


def test_effective_data_saturates_at_one_plus_rd_star_unique_passes():
    law = get_law("data_constrained")
    fn = law.derived_quantities["effective_tokens"][0]
    U = 1e9
    d1 = fn(TRUTH, n_tokens=U, n_unique_tokens=U)
    d4 = fn(TRUTH, n_tokens=4 * U, n_unique_tokens=U)
    dinf = fn(TRUTH, n_tokens=1e6 * U, n_unique_tokens=U)
    assert d1 == pytest.approx(U)
    assert 3.5 * U < d4 < 4 * U                 # four epochs are worth almost four fresh passes
    assert dinf == pytest.approx(U * (1 + 15.4), rel=1e-9)
    nopt = law.derived_quantities["n_params_opt_for_unique"][0](CHIN, n_unique_tokens=U)
    from scalinglab.laws.specs import Chinchilla

    # N_opt(U) is the N whose compute-optimal data is U: D*(6 N_opt U) == U
    assert Chinchilla.n_tokens_opt(CHIN, 6 * nopt * U) == pytest.approx(U, rel=1e-9)
    ep = law.derived_quantities["effective_params"][0]
    assert ep(TRUTH, n_params=nopt / 2, n_unique_tokens=U) == pytest.approx(nopt / 2)
    assert ep(TRUTH, n_params=1e6 * nopt, n_unique_tokens=U) == pytest.approx(nopt * 6.3, rel=1e-9)


def _paper_design():
    N = np.logspace(np.log10(3e7), np.log10(3e9), 8)
    N, Um, ep = (a.ravel() for a in np.meshgrid(N, [1.5, 5.0, 40.0, 80.0, 160.0], [1, 2, 3, 5, 10, 20, 40, 80],
                                                indexing="ij"))
    return {"n_params": N, "n_tokens": N * Um * ep, "n_unique_tokens": N * Um}


def test_two_step_fit_as_in_the_paper_recovers_the_half_lives():
    """Step 1: Chinchilla on single-epoch runs; step 2: R*_D, R*_N with the rest held (Sec. 3.1)."""
    law = get_law("data_constrained")
    x = _paper_design()
    rng = np.random.default_rng(1)
    eps = rng.standard_normal(x["n_params"].shape)
    single = (x["n_tokens"] == x["n_unique_tokens"]) & (x["n_unique_tokens"] >= 40 * x["n_params"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        # 0.1% noise: R*_N depends on N_opt(U), so it inherits step 1's errors in A, B, alpha, beta
        # (at 0.3% noise the two-step R*_N ranged 4.1-7.5 over three seeds; the joint fit 5.2-5.6)
        runs = _runs(x, law(TRUTH, **x) * np.exp(0.001 * eps))
        step1 = fit("chinchilla", runs.subset(single))
        step2 = fit(law, runs, fixed=step1.params)
        joint = fit(law, _runs(x, law(TRUTH, **x) * np.exp(0.003 * eps)))
    assert step2.params["RD_star"] == pytest.approx(15.4, rel=0.1)
    assert step2.params["RN_star"] == pytest.approx(5.3, rel=0.25)
    assert set(step2.params.items()) >= set(step1.params.items())
    for k, v in TRUTH.items():
        assert joint.params[k] == pytest.approx(v, rel=0.1), k


def test_fit_from_a_table_with_a_unique_tokens_column(tmp_path):
    law = get_law("data_constrained")
    x = _paper_design()
    y = law(TRUTH, **x)
    p = tmp_path / "runs.csv"
    p.write_text("params,tokens,unique,loss\n" + "".join(
        f"{float(a)!r},{float(b)!r},{float(c)!r},{float(d)!r}\n" for a, b, c, d in zip(x["n_params"], x["n_tokens"], x["n_unique_tokens"], y)))
    runs = load_runs(p, n_params="params", n_tokens="tokens", target="loss", group_by=("unique",))
    runs = Runs.from_arrays(target=runs.target, n_params=runs.n_params, n_tokens=runs.n_tokens,
                            groups={"n_unique_tokens": np.asarray(runs.groups["unique"], dtype=float)})
    res = fit(law, runs, loss="ls")
    for k, v in TRUTH.items():
        assert res.params[k] == pytest.approx(v, rel=1e-4), k
    d = res.derived("effective_tokens", n_tokens=4e9, n_unique_tokens=1e9)
    assert 3.5e9 < d.estimate < 4e9


def test_missing_unique_tokens_is_a_clear_error():
    from scalinglab.errors import MissingColumnError

    runs = Runs.from_arrays(target=np.ones(3) * 3, n_params=np.ones(3) * 1e8, n_tokens=np.ones(3) * 1e9)
    with pytest.raises(MissingColumnError, match="n_unique_tokens"):
        fit("data_constrained", runs)
