"""benchmarks/closed_loop.py, small and seeded: the simulation runs end to end and scores honestly."""

from __future__ import annotations

import json

import pytest


def test_worlds_pass_through_the_anchors(bench_script):
    import numpy as np

    bench = bench_script("closed_loop")
    rng = np.random.default_rng(1)
    for _ in range(5):
        law = bench.world(rng)
        (n1, d1, l1), (n2, d2, l2) = bench.ANCHORS
        assert abs(bench.true_loss(law, n1, d1) / l1 - 1) < 0.15 and abs(bench.true_loss(law, n2, d2) / l2 - 1) < 0.15
        assert 0.2 <= law[3] <= 0.5 and 0.2 <= law[4] <= 0.5 and law[1] > 0 and law[2] > 0


@pytest.mark.parametrize("confirm", [400, 0])
def test_small_seeded_run_scores_each_world_consistently(tmp_path, bench_script, confirm):
    bench = bench_script("closed_loop")
    # with confirmation, a target inside the quick space (gpt-tiny-4 at 524k tokens): its bootstrap
    # widths can stop the loop early, so stops get checked
    where = ["--c-star", "1.179e12", "--rung", "gpt-tiny-4"] if confirm else []
    out = bench.main(["--worlds", "1", "--quick", "--n-boot", "40", "--seed", "3", "--confirm-boot", str(confirm),
                      *where, "--json", str(tmp_path / "r.json")])
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["worlds"] == 1
    (w,) = out["worlds"]
    g, lp = w["grid"], w["loop"]
    assert lp["flops"] <= g["flops"] * (1 + 1e-9)            # the loop never spends more than the grid
    # its FLOPs, split by how many learning rates each decision searched, add up to what it spent
    assert sum(lp["flops_by_lrs"].values()) == pytest.approx(lp["flops"], rel=1e-12)
    assert set(lp["flops_by_lrs"]) <= {"1", "2", "3", "extend"} and "3" in lp["flops_by_lrs"]   # initial design: 3
    assert g["low"] < g["mean"] < g["high"] and lp["low"] < lp["mean"] < lp["high"]
    assert g["covers"] == (g["low"] <= w["truth"] <= g["high"])
    reach = w["reach_ratio"]
    assert w["passes"] == ((reach is not None and reach <= 0.5)
                           or (not lp["uncalibrated"] and lp["width"] < g["width"]))
    # the history is the loop's own log: spent FLOPs grow, and "reach" is read where the loop could
    # claim the grid's width: the first confirmed stop (with confirmation), else the first calibrated
    # width at or below the grid's
    spent = [s for s, _, _ in lp["history"]]
    assert spent == sorted(spent)
    if confirm:
        first = next((s for s, _, width, ok in lp["confirms"] if ok), None)
        if first is None and lp["reached"]:     # the final prediction, at the confirming precision, passed
            first = lp["flops"]
        # a confirmed stop is a width below the grid's at the confirming precision, and every check
        # followed a cheap width that passed
        assert all(ok == (width < g["width"]) for _, _, width, ok in lp["confirms"])
        assert all(float(cheap.split()[1].rstrip("%")) < 100 * g["width"] for _, cheap, _, _ in lp["confirms"])
        # ... and every cheap width that passed was checked
        passed = [s for s, width, ok in lp["history"] if width < g["width"] and ok]
        assert [s for s, _, _, _ in lp["confirms"]] == passed
    else:
        assert lp["confirms"] == []
        first = next((s for s, width, ok in lp["history"] if width <= g["width"] and ok), None)
    assert reach == (None if first is None else pytest.approx(first / g["flops"]))
    assert lp["reached"] == (first is not None and lp["width"] <= g["width"] and not lp["uncalibrated"])


def test_the_learning_rate_oracle_trains_one_learning_rate_per_rung_on_the_sides_asked(bench_script):
    from scalinglab.sweep import plan_sweep
    from scalinglab.sweep._toy import BEST_LR

    bench = bench_script("closed_loop")
    law = [0.5, 30.0, 80.0, 0.35, 0.3]
    plain = plan_sweep(bench.sweep_dict("loop", law, 0.01, 0, False), check_data=False)
    oracle = plan_sweep(bench.sweep_dict("loop", law, 0.01, 0, False, lr_oracle=True), check_data=False)
    assert {r.spec.lr for r in oracle.runs} == {BEST_LR} and len({r.spec.lr for r in plain.runs}) > 1
    # the same (rung, D) points, one run each
    assert {(r.spec.rung, r.spec.n_data) for r in oracle.runs} == {(r.spec.rung, r.spec.n_data) for r in plain.runs}
    assert len({(r.spec.rung, r.spec.n_data) for r in oracle.runs}) == len([r for r in oracle.runs])


def test_the_measured_learning_rate_response_is_the_lr_models_form_and_reaches_the_trainer(tmp_path, bench_script):
    import math

    from scalinglab.laws.design import fit_lr_optimum
    from scalinglab.sweep import plan_sweep
    from scalinglab.sweep._toy import toy_loss, train

    bench = bench_script("closed_loop")
    r = bench.MEASURED_LR
    law = [0.5, 30.0, 80.0, 0.35, 0.3]
    n, d = 333120.0, 524288.0
    u = r["coef"][0] + r["coef"][1] * math.log2(n / r["n0"]) + r["coef"][2] * math.log2(d / r["d0"])
    base = law[0] + law[1] / n ** law[3] + law[2] / d ** law[4]
    assert toy_loss(n, d, 2 ** u, 0, law=law, noise=0.0, lr_response=r) == pytest.approx(base, rel=1e-12)
    assert toy_loss(n, d, 3e-3, 0, law=law, noise=0.0, lr_response=r) > base   # the default optimum is not it
    at_opt = toy_loss(n, d, 2 ** u, 0, law=law, lr_response=r)
    # one doubling off costs exp(c) either way
    for k in (-1, 1):
        off = toy_loss(n, d, 2 ** (u + k), 0, law=law, lr_response=r)
        assert off / at_opt == pytest.approx(math.exp(r["curvature"]), rel=1e-9)
    # the LR model fitted on noiseless toy runs of the measured response recovers it
    pts = [(nn, dd, lr) for nn in (24896.0, 148352.0, 788736.0) for dd in (131072.0, 2097152.0)
           for lr in (1e-3, 2e-3, 4e-3, 8e-3)]
    loss = [toy_loss(nn, dd, lr, 0, law=law, lr_response=r) for nn, dd, lr in pts]
    m = fit_lr_optimum(*zip(*pts), loss, [1e-3] * len(pts))
    assert m.curvature == pytest.approx(r["curvature"], rel=0.02)
    assert m.optimum(n, d)[0] == pytest.approx(2 ** u, rel=0.03)
    # and the sweep hands it to the trainer: the same run, trained, gives toy_loss's value
    plan = plan_sweep(bench.sweep_dict("demo", law, 0.0, 0, True, lr_response=r), check_data=False)
    spec = next(p.spec for p in plan.runs if p.spec.branch_of is None)
    rec = train(spec, run_dir=tmp_path / "run")
    want = toy_loss(spec.procedure_spec.n_params(spec.model), spec.n_data, spec.lr, spec.seed, law=law, noise=0.0,
                    key="", lr_response=r)
    assert rec.metrics[spec.procedure_spec.metrics[0]] == pytest.approx(want, rel=1e-12)
    assert {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in spec.extra["toy_lr"].items()} == r


def test_misfit_worlds_carry_the_ladders_residuals_to_the_trainer_and_the_truth(tmp_path, bench_script):
    import math

    import numpy as np

    from scalinglab.laws import fit
    from scalinglab.laws.runs import Runs
    from scalinglab.sweep import plan_sweep
    from scalinglab.sweep._toy import misfit_factor, train

    bench = bench_script("closed_loop")
    table = bench.LADDER_MISFIT
    # on the table's points the factor is the table's entry; between them it is interpolated in
    # log N and log D, and beyond them held at the edge
    for i, n in enumerate(table["n"]):
        for j, d in enumerate(table["d"]):
            assert math.log(misfit_factor(n, d, table)) == pytest.approx(table["log_ratio"][i][j], abs=1e-12)
    mid = math.log(misfit_factor(math.sqrt(table["n"][3] * table["n"][4]), table["d"][5], table))
    assert mid == pytest.approx((table["log_ratio"][3][5] + table["log_ratio"][4][5]) / 2, abs=1e-12)
    assert misfit_factor(1e9, 1e9, table) == misfit_factor(table["n"][-1], table["d"][-1], table)
    assert misfit_factor(1e5, 1e6, None) == 1.0
    # the part inside the loop's space (D <= 2.1M) is the same; beyond it, held at 2.1M's values
    inside = bench.MISFITS["ladder-inside"]
    for n in table["n"]:
        for d in table["d"][:-1]:
            assert misfit_factor(n, d, inside) == pytest.approx(misfit_factor(n, d, table), rel=1e-12)
        assert misfit_factor(n, table["d"][-1], inside) == pytest.approx(misfit_factor(n, table["d"][-2], table))
    # the target (gpt-tiny-5 at 4.19M tokens) sits 4% above the law, twice that at scale 2
    law = [0.5, 30.0, 80.0, 0.35, 0.3]
    x = bench.target_inputs()
    plain = bench.true_loss(law, x["n_params"], x["n_tokens"])
    assert bench.true_loss(law, x["n_params"], x["n_tokens"], table) / plain == pytest.approx(math.exp(0.0397))
    twice = bench.scaled_misfit(table, 2.0)
    assert bench.true_loss(law, x["n_params"], x["n_tokens"], twice) / plain == pytest.approx(math.exp(2 * 0.0397))
    # the sweep hands the table to the trainer, whose losses carry it
    plan = plan_sweep(bench.sweep_dict("demo", law, 0.0, 0, True, misfit=table), check_data=False)
    plan0 = plan_sweep(bench.sweep_dict("demo", law, 0.0, 0, True), check_data=False)
    spec = next(p.spec for p in plan.runs if p.spec.branch_of is None)
    spec0 = next(p.spec for p in plan0.runs if p.spec.branch_of is None)
    metric = spec.procedure_spec.metrics[0]
    ratio = (train(spec, run_dir=tmp_path / "a").metrics[metric] / train(spec0, run_dir=tmp_path / "b").metrics[metric])
    assert ratio == pytest.approx(misfit_factor(spec.procedure_spec.n_params(spec.model), spec.n_data, table))
    # a world made of the real ladder's law and its residuals is that ladder again: the law fitted to
    # the 30 noiseless points returns the law it was built from (the residuals are its fit's residuals)
    ladder_law = [0.056056839, 15.607409812, 32.766712442, 0.348801998, 0.225136108]   # E, A, B, alpha, beta
    n_arr, d_arr = (np.array(v, dtype=float) for v in zip(*[(n, d) for n in table["n"] for d in table["d"]]))
    loss = np.array([bench.true_loss(ladder_law, n, d, table) for n, d in zip(n_arr, d_arr)])
    refit = fit("chinchilla", Runs.from_arrays(target=loss, n_params=n_arr, n_tokens=d_arr), n_boot=0, seed=0)
    law_only = np.array([bench.true_loss(ladder_law, n, d) for n, d in zip(n_arr, d_arr)])
    assert np.max(np.abs(np.log(refit.predict(n_params=n_arr, n_tokens=d_arr) / law_only))) < 2e-3


def test_loop_long_adds_the_targets_budget_to_every_rung_but_the_targets(bench_script):
    from scalinglab.sweep import plan_sweep

    bench = bench_script("closed_loop")
    x = bench.target_inputs()
    law = [0.5, 30.0, 80.0, 0.35, 0.3]
    plain = plan_sweep(bench.sweep_dict("loop", law, 0.01, 0, False), check_data=False)
    long = plan_sweep(bench.sweep_dict("loop", law, 0.01, 0, False, long_to=(x["n_tokens"], bench.TARGET_RUNG)),
                      check_data=False)
    points = {(r.spec.rung, r.spec.n_data) for r in long.runs}
    added = points - {(r.spec.rung, r.spec.n_data) for r in plain.runs}
    assert added == {(f"gpt-tiny-{k}", int(x["n_tokens"])) for k in (1, 2, 3, 4)}
    assert (bench.TARGET_RUNG, int(x["n_tokens"])) not in points          # the target itself is never trainable
