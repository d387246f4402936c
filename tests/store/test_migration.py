"""A store written before procedures existed (run schema 1) is refused, then migrated by rebuild.

The fixture ``fixtures/store_v1`` was written by scalinglab at commit 9f555b2 (the code before the
procedure registry) with ``fixtures/make_v1_store.py``: four GPT runs, one branched trunk per rung.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scalinglab.errors import MigrationWarning, StoreError
from scalinglab.store import ResultsStore, rebuild_store, rundir
from scalinglab.sweep import plan_sweep, run_sweep

FIXTURE = Path(__file__).parent / "fixtures" / "store_v1"
# the fixture's sweep in today's vocabulary (procedure label -> variant, warmup_tokens -> warmup)
SWEEP = {"name": "v1-fixture", "ladder": "gpt-tiny", "rungs": ["gpt-tiny-1", "gpt-tiny-2"],
         "n_tokens": [16384, 32768], "lr": [3e-3], "eval": {"eval_tokens": 4096},
         "schedule": {"kind": "branched", "cooldown_frac": 0.25, "warmup": 2048},
         "variant": "demo"}


@pytest.fixture
def old_store(tmp_path):
    dst = tmp_path / "store"
    shutil.copytree(FIXTURE, dst)
    return dst


def _v1_losses() -> dict[str, float]:
    out = {}
    for path in sorted((FIXTURE / "runs").glob("*/record.json")):
        d = json.loads(path.read_text())
        assert d["schema_version"] == 1
        out[d["run_id"]] = d["val_loss"]
    return out


def test_an_old_store_is_refused_with_the_command_that_migrates_it(old_store):
    for readonly in (True, False):
        with pytest.raises(StoreError, match=r"scalinglab store rebuild .*store.*run ids change"):
            ResultsStore(old_store, readonly=readonly)


def test_rebuild_migrates_ids_results_and_branches(old_store):
    old = _v1_losses()
    with pytest.warns(MigrationWarning, match="migrated 4 run"):
        st, n = rebuild_store(old_store)
    with st:
        assert n == 4 and st.counts() == {"done": 4}
        plan = plan_sweep(SWEEP)
        assert sorted(plan.run_ids) == sorted(r.run_id for r in st.records())   # ids the planner makes today
        mapping = json.loads(next((old_store / "migrations").glob("schema1-*.json")).read_text())
        assert set(mapping["run_ids"]) == set(old)
        for old_id, new_id in mapping["run_ids"].items():
            rec = st.get(new_id)
            assert rec.val_loss == old[old_id]                      # results copied unchanged
            assert rec.spec.procedure == "gpt" and rec.spec.variant == "demo"
            assert rec.provenance["migrated_from"]["run_id"] == old_id
            assert not (old_store / "runs" / old_id).exists()
            assert (old_store / "runs" / new_id / "attempts.jsonl").exists()   # the run dir moved
            if rec.spec.branch_of is not None:
                assert rec.spec.branch_of in mapping["run_ids"].values()
                assert st.get(rec.spec.branch_of).spec.branch_of is None
        # the migrated store is a finished sweep: nothing is retrained
        rep = run_sweep(plan, backend="inline", store=st, progress=False)
        assert len(rep.skipped) == 4 and not rep.done
    # a second rebuild has nothing left to migrate
    st, n = rebuild_store(old_store)
    with st:
        assert n == 4 and len(list((old_store / "migrations").glob("*.json"))) == 1


def test_the_cli_says_what_it_migrated(old_store):
    out = subprocess.run([sys.executable, "-m", "scalinglab", "store", "rebuild", str(old_store)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "migrated: " in out.stdout and "migrated 4 run(s) from run schema 1 to 2" in out.stdout
    assert "rebuilt" in out.stdout and "4 records (done 4)" in out.stdout


def test_a_migrated_run_retrains_to_the_same_loss(old_store, tmp_path):
    """The new data model trains the very same computation as schema 1 (same spec, same loss)."""
    pytest.importorskip("torch")
    from scalinglab.train.loop import run

    old = _v1_losses()
    with pytest.warns(MigrationWarning):
        st, _ = rebuild_store(old_store)
    with st:
        trunk = next(r for r in st.records() if r.spec.rung == "gpt-tiny-1" and r.spec.branch_of is None)
    again = run(trunk.spec, run_dir=tmp_path / "again")
    # same spec on this machine: the same loss up to floating-point differences between CPUs
    # (the fixture was written on another machine)
    assert again.val_loss == pytest.approx(old[trunk.provenance["migrated_from"]["run_id"]], rel=1e-4)
    assert rundir.read_record(Path(st.run_dir(trunk.run_id))).run_id == trunk.run_id


def test_a_field_added_later_does_not_change_existing_run_ids():
    """Fields beyond run schema 2 are hashed only when set: old ids stay valid without a migration."""
    import dataclasses

    from scalinglab.procedures import GPTConfig
    from scalinglab.store import RunSpec

    @dataclasses.dataclass(frozen=True)
    class Later(RunSpec):
        new_knob: float = 0.5              # a field a future version adds

    base = dict(rung="r", model=GPTConfig(n_layer=1, d_model=32, n_head=2, seq_len=16), n_data=4096, lr=1e-3)
    assert Later(**base).run_id == RunSpec(**base).run_id
    assert Later(**base, new_knob=0.7).run_id != RunSpec(**base).run_id
    # every field added after schema 2 must have a default (or old specs could not load)
    later = [f for f in dataclasses.fields(RunSpec) if f.name not in RunSpec._SCHEMA2_FIELDS]
    assert all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
               for f in later)
