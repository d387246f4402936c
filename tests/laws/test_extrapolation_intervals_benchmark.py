"""benchmarks/extrapolation_intervals.py: the split of a `full` store into the demo grid and the rest."""

from __future__ import annotations


def test_full_store_split_fits_the_demo_grid_and_holds_out_the_rest(tmp_path, bench_script):
    from scalinglab.config import load_mapping
    from scalinglab.ladders import get_ladder
    from scalinglab.sweep import plan_sweep, run_sweep
    from scalinglab.sweep.plan import sweep_path

    bench = bench_script("extrapolation_intervals")
    full = dict(load_mapping(sweep_path("full")))
    full.update({"trainer": "scalinglab.sweep._toy:train", "variant": "toy", "trainer_options": {},
                 "extra": {"toy_steps": 1, "toy_noise": 0.01}})
    run_sweep(plan_sweep(full, check_data=False), backend="inline", store=tmp_path / "s", progress=False)
    train, test = bench.demo_split(bench.tuned_points(tmp_path / "s"))
    lad = get_ladder("gpt-tiny")
    size = {r: float(lad[r].n_params) for r in ("gpt-tiny-1", "gpt-tiny-2", "gpt-tiny-3", "gpt-tiny-4", "gpt-tiny-5")}
    fitted = set(zip(train.column("n_params"), train.column("n_tokens")))
    held = set(zip(test.column("n_params"), test.column("n_tokens")))
    demo_d = [131072.0, 262144.0, 524288.0, 1048576.0, 2097152.0]
    assert fitted == {(size[f"gpt-tiny-{k}"], d) for k in (1, 2, 3, 4) for d in demo_d}
    assert held == ({(size["gpt-tiny-5"], d) for d in [*demo_d, 4194304.0]}
                    | {(size[f"gpt-tiny-{k}"], 4194304.0) for k in (1, 2, 3, 4)})
    assert len(train) == 20 and len(test) == 10          # one tuned point per (N, D)
