"""Branched cooldowns: one WSD trunk per size, cooldown branches from its checkpoints.

A branch must (1) give the loss a separately trained run of its length and schedule would give
and (2) make the family of D points cost at most 1.25x the tokens of the longest run.
"""

from __future__ import annotations

import dataclasses
import statistics

import pytest

torch = pytest.importorskip("torch")

from scalinglab.errors import ConfigError, TrainingError
from scalinglab.train.checkpoint import checkpoint_path
from scalinglab.train.loop import run
from scalinglab.train.schedule import CHECKPOINT_KEY, plan_branches

STEP = 8 * 64          # tokens per step of tiny_spec (batch 8 x seq_len 64)


def _standalone(branch):
    """The same run trained on its own: no trunk, no branch point."""
    return dataclasses.replace(branch, branch_of=None, branch_at=None)


def _run_family(specs, runs_dir):
    trunk, *branches = specs
    recs = [run(trunk, run_dir=runs_dir / trunk.run_id)]
    recs += [run(b, run_dir=runs_dir / b.run_id) for b in branches]
    return recs


def test_branches_equal_standalone_runs_and_cost_at_most_1_25x(tiny_spec, tmp_path):
    horizons = [20 * STEP, 40 * STEP, 80 * STEP]
    specs = plan_branches(tiny_spec(schedule="wsd", seed=0), horizons)
    trunk, *branches = specs
    assert trunk.n_tokens == 80 * STEP and list(trunk.extra[CHECKPOINT_KEY]) == [16 * STEP, 32 * STEP]
    assert [b.branch_of for b in branches] == [trunk.run_id] * 2
    assert len({s.warmup for s in specs}) == 1            # one shared, explicit warmup

    recs = _run_family(specs, tmp_path / "runs")
    assert all(r.status == "done" for r in recs)
    for t in trunk.extra[CHECKPOINT_KEY]:
        assert checkpoint_path(tmp_path / "runs" / trunk.run_id, t).exists()
    # (1) each branch is the very computation of a standalone WSD run of its horizon
    for b, rec in zip(branches, recs[1:]):
        alone = run(_standalone(b), run_dir=tmp_path / "alone" / b.run_id)
        assert rec.n_data_seen == alone.n_data_seen == b.n_tokens
        assert rec.val_loss == alone.val_loss
        assert rec.provenance["role"] == "branch" and rec.flops == alone.flops
    # (2) token accounting: trunk + cooldowns <= 1.25 x the longest run
    trained = sum(r.provenance["units_trained"] for r in recs)
    assert trained == 80 * STEP + 4 * STEP + 8 * STEP
    assert trained <= 1.25 * max(horizons)
    assert sum(r.n_data_seen for r in recs) == sum(horizons)     # each point counts its full D


def test_branch_needs_its_trunk_and_must_continue_the_same_run(tiny_spec, tmp_path):
    trunk, branch = plan_branches(tiny_spec(schedule="wsd"), [20 * STEP, 40 * STEP])
    with pytest.raises(TrainingError, match="Train the trunk"):
        run(branch, run_dir=tmp_path / branch.run_id)
    run(trunk, run_dir=tmp_path / trunk.run_id)
    other = dataclasses.replace(branch, lr=branch.lr * 2)
    with pytest.raises(ConfigError, match="differs from its trunk in lr"):
        run(other, run_dir=tmp_path / other.run_id, trunk_dir=tmp_path / trunk.run_id)
    with pytest.raises(ConfigError, match="wsd"):
        plan_branches(tiny_spec(schedule="cosine"), [20 * STEP])
    with pytest.raises(ConfigError, match="cooldown starts"):
        run(dataclasses.replace(branch, branch_at=10 * STEP), run_dir=tmp_path / "x")


@pytest.mark.slow
def test_cooldown_branch_matches_separately_trained_runs_within_seed_noise(tiny_spec, tmp_path):
    """The branch's loss lies within the seed spread of separately trained WSD runs."""
    base = tiny_spec(schedule="wsd", lr=1e-2, eval_size=16384, seed=100)
    short, long_ = 400 * STEP, 800 * STEP
    trunk, branch = plan_branches(base, [short, long_])
    recs = _run_family([trunk, branch], tmp_path / "runs")
    branch_loss = recs[1].val_loss
    separate = [run(dataclasses.replace(_standalone(branch), seed=s), run_dir=tmp_path / f"s{s}").val_loss
                for s in range(5)]
    mean, sd = statistics.mean(separate), statistics.stdev(separate)
    # a new draw from the seed distribution lies within mean +- 3 sd sqrt(1 + 1/n)
    assert abs(branch_loss - mean) <= 3 * sd * (1 + 1 / len(separate)) ** 0.5, (branch_loss, separate)
    # and the cooldown is what makes the short point valid: at the same tokens, on the same
    # data and the same (curve) validation windows, the trunk without cooldown is worse
    trunk_curve = dict(recs[0].curve)
    branch_tokens, branch_curve_loss = recs[1].curve[-1]
    assert branch_tokens == short and trunk_curve[short] > branch_curve_loss
