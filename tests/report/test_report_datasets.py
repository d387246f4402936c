"""Datasets compared by L(N, D): laws per dataset on own and common held-out sets, crossovers,
effective-data multipliers, the report (runs drawn from known laws)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalinglab.errors import DataError
from scalinglab.laws import Runs, get_law
from scalinglab.report.datasets import DatasetAnalysis, analyze_datasets, report_from_datasets

#: On the common held-out set, ``cheap`` is better at small compute and ``deep`` (lower floor,
#: larger data term) overtakes it: the true L*(C) curves cross near 3e17 FLOPs.
LAWS = {"cheap": dict(E=2.0, A=300.0, B=300.0, alpha=0.4, beta=0.4),
        "deep": dict(E=1.8, A=300.0, B=900.0, alpha=0.4, beta=0.4)}
#: On its own validation split ``deep`` is much harder to predict (x1.3): own-split losses rank
#: the datasets the other way round at every budget.
OWN_SCALE = {"cheap": 1.0, "deep": 1.3}


def table(target_scale, seed=0, noise=0.002, datasets=("cheap", "deep"), name="val_loss"):
    law = get_law("chinchilla")
    rng = np.random.default_rng(seed)
    N, D = (g.ravel() for g in np.meshgrid(np.logspace(6.5, 9, 6), np.logspace(8, 10.5, 6)))
    cols = {k: [] for k in ("n_params", "n_tokens", "target", "dataset", "lr", "run_id")}
    for ds in datasets:
        for lr, penalty in ((1e-3, 1.01), (3e-3, 1.0)):      # the best LR is 3e-3 everywhere
            y = law(LAWS[ds], n_params=N, n_tokens=D) * penalty * target_scale[ds]
            y = y * np.exp(rng.normal(0, noise, N.size))
            cols["n_params"] += list(N)
            cols["n_tokens"] += list(D)
            cols["target"] += list(y)
            cols["dataset"] += [ds] * N.size
            cols["lr"] += [lr] * N.size
            cols["run_id"] += [f"{ds}-{lr}-{i}" for i in range(N.size)]
    return Runs.from_arrays(n_params=np.array(cols["n_params"]), n_tokens=np.array(cols["n_tokens"]),
                            target=np.array(cols["target"]), run_id=cols["run_id"],
                            groups={"dataset": cols["dataset"], "lr": cols["lr"]}, target_name=name)


@pytest.fixture(scope="module")
def analysis():
    own = table(OWN_SCALE, seed=1)
    common = table({"cheap": 1.0, "deep": 1.0}, seed=2, name="val_loss_common")
    return analyze_datasets(own, common=common, common_dataset="cheap", n_boot=40, seed=0,
                            audits={}, info={})


def test_the_better_dataset_and_the_crossover_on_the_common_set(analysis):
    a = analysis
    assert isinstance(a, DatasetAnalysis) and a.datasets == ("cheap", "deep")
    h = a.common
    assert h is not None and h.metric == "val_loss_common" and "validation split of cheap" in h.description
    c = h.comparison("cheap", "deep")
    assert c.names == ("cheap", "deep")
    # budgets: the largest run and 10x it
    top = 6 * 1e9 * 10 ** 10.5
    np.testing.assert_allclose(c.flops, [top, 10 * top], rtol=1e-9)
    # deep is better at the largest budget, clearly
    assert c.difference[0] > 0 and c.prob_a_better[0] < 0.05
    co = c.crossover
    assert co.state == "crossover" and (co.before, co.after) == ("cheap", "deep")
    assert 1e17 < co.flops < 1e18
    # the effective-data multiplier at cheap's compute-optimal N: a token of cheap is worth
    # fewer than one token of deep there (deep is better), and it is computed per budget
    dm = c.data_multiplier
    assert dm is not None and dm.multiplier.shape == (2,)
    assert np.all(dm.multiplier < 1)
    # the ranking and verdict come from the common held-out set
    assert [d for d, _ in a.ranking()] == ["deep", "cheap"]
    assert "common held-out set" in a.verdict_lines()[0]


def test_own_split_laws_rank_predictability_and_the_text_says_so(analysis):
    a = analysis
    own = a.own
    assert own.metric == "val_loss" and not own.common
    c = own.comparison("cheap", "deep")
    assert np.all(c.difference < 0)              # cheap looks better on its own split everywhere
    assert [d for d, _ in a.ranking(own)] == ["cheap", "deep"]
    text = a.as_text()
    assert "easier to predict is not a better dataset" in text
    assert "crossover at" in text and "none in range" not in text.split("own validation split")[0]
    # each fit is on the best-LR points: 36 of the 72 runs per dataset
    law = a.common.law("deep")
    assert len(law.tuned) == 36 and len(law.runs) == 72
    assert law.fit.params["E"] == pytest.approx(1.8, rel=0.05)


def test_the_report_has_a_section_per_dataset(analysis, tmp_path):
    rep = report_from_datasets(analysis, title="t")
    html = rep.render()
    for d in ("cheap", "deep"):
        assert f"Dataset {d}" in html
    assert "Pairwise comparisons (common held-out set" in html and "tokens of deep per token of cheap" in html
    assert "Not built by a recipe" in html
    d = analysis.to_dict()
    assert [h["metric"] for h in d["held_out"]] == ["val_loss", "val_loss_common"]
    assert d["held_out"][1]["comparisons"][0]["crossover"]["state"] == "crossover"


def test_one_dataset_only_is_a_one_line_error():
    r = table(OWN_SCALE, datasets=("cheap",))
    with pytest.raises(DataError, match=r"at least two datasets; the runs hold only 'cheap'") as e:
        analyze_datasets(r, n_boot=5, audits={}, info={})
    assert "\n" not in str(e.value)


def test_runs_without_a_dataset_column_are_refused():
    r = Runs.from_arrays(n_params=[1e6, 2e6], n_tokens=[1e8, 1e8], target=[3.0, 2.9])
    with pytest.raises(DataError, match="no 'dataset' column"):
        analyze_datasets(r, audits={}, info={})
    assert math.isfinite(r.target[0])
