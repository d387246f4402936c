"""The torchrun/DDP code path, exercised on CPU with the gloo backend (2 processes).

The CUDA/NCCL variant of the same path cannot run here (no GPU); this checks the rank logic:
every rank takes its slice of the same global batch, gradients are averaged, rank 0 writes.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from scalinglab.store.schema import RunRecord
from scalinglab.train.loop import run

pytestmark = pytest.mark.skipif(not torch.distributed.is_available()
                                or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_matches_a_single_process_run(tiny_spec, tmp_path):
    spec = tiny_spec(n_data=20 * 512, seed=4)
    single = run(spec, run_dir=tmp_path / "single")
    spec_path = tmp_path / "ddp" / "spec.json"
    spec_path.parent.mkdir()
    spec_path.write_text(json.dumps(spec.to_dict()))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}",
           "-m", "scalinglab.train", str(spec_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    rec = RunRecord.from_dict(json.loads((tmp_path / "ddp" / "trainer_record.json").read_text()))
    assert rec.status == "done" and rec.provenance["world_size"] == 2
    assert rec.n_data_seen == single.n_data_seen
    # same global batches, gradients averaged over ranks: equal up to float summation order
    assert rec.val_loss == pytest.approx(single.val_loss, abs=2e-3)
