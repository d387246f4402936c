"""``python -m scalinglab.train spec.json [--run-dir DIR] [--out record.json]``: what workers run.

Multi-GPU points: ``torchrun --nproc_per_node=K -m scalinglab.train spec.json`` (DDP; rank 0
writes checkpoints and the record; ``batch_size`` must be divisible by K).

Reads a :class:`~scalinglab.store.schema.RunSpec` (JSON, or YAML), trains it with one CPU thread
(``--threads`` to change), and writes the :class:`~scalinglab.store.schema.RunRecord` as JSON to
``--out`` (default ``<run-dir>/trainer_record.json``), atomically. Exit status: 0 when a record
was written (``done`` or ``diverged``), 1 when training failed (a ``failed`` record with the
error is still written), 2 for a bad spec.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from ..config import load_mapping
from ..errors import ScalingLabError
from ..store.schema import RunRecord, RunSpec


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m scalinglab.train", description=__doc__.split("\n")[0])
    ap.add_argument("spec", help="RunSpec as a JSON or YAML file")
    ap.add_argument("--run-dir", help="checkpoint directory (default: the spec file's folder)")
    ap.add_argument("--out", help="record path (default: <run-dir>/trainer_record.json)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default 1)")
    ap.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    args = ap.parse_args(argv)


    try:
        spec = RunSpec.from_dict(load_mapping(args.spec))
    except ScalingLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_dir = Path(args.run_dir or Path(args.spec).resolve().parent)
    out = Path(args.out) if args.out else run_dir / "trainer_record.json"
    t0 = time.perf_counter()
    try:
        import torch

        torch.set_num_threads(args.threads or int(os.environ.get("SCALINGLAB_TORCH_THREADS", "1")))
        run = spec.procedure_spec.load_trainer()
        options = {"num_threads": args.threads}
        if args.compile:
            options["compile"] = True
        record = run(spec, run_dir=run_dir, resume=not args.no_resume, **options)
    except ScalingLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        record = RunRecord(run_id=spec.run_id, spec=spec, status="failed",
                           error=f"{type(exc).__name__}: {exc}", wall_s=time.perf_counter() - t0)
        _write(out, record.to_dict())
        return 2 if isinstance(exc, ValueError) else 1
    except Exception as exc:  # noqa: BLE001 - a worker must always leave a record
        traceback.print_exc()
        record = RunRecord(run_id=spec.run_id, spec=spec, status="failed",
                           error=f"{type(exc).__name__}: {exc}", wall_s=time.perf_counter() - t0)
        _write(out, record.to_dict())
        return 1
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:   # torchrun: rank 0 writes the record
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
        if int(os.environ.get("RANK", "0")) != 0:
            return 0
    _write(out, record.to_dict())
    print(json.dumps({"run_id": record.run_id, "status": record.status,
                      "metrics": dict(record.metrics), "wall_s": round(record.wall_s, 3),
                      "record": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
