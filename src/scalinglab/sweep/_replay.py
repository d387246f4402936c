"""A trainer that replays finished runs of another store: evaluate a sweep design on real results.

Adaptive designs (the closed loop of :mod:`scalinglab.sweep.loop`) are judged by what they would
have done on a ladder someone already trained in full: each run the design asks for is looked up
in that store by (rung, token budget, learning rate, seed, dataset) and its stored metrics come
back, at the design's own FLOP cost and without training anything. This is the retrospective
evaluation adaptive experimental designs use when outcomes are expensive (the "replay" of offline
bandit evaluation, Li et al. 2011, WSDM, for a deterministic trainer). It is exact when the stored
run is the run the design would have trained: with branched WSD, a cooldown branch of a longer
trunk is the same computation as a run of that length, since the constant-rate phase up to the
branch point is shared (checked bit for bit on the gpt-tiny ladder, docs/sweeps.md).

``RunSpec.extra["replay_store"]`` names the store (hashed into the run id like every spec field).
A run the store does not hold is an error that names the missing point: the design asked for
something the ladder never trained, so the replay cannot say what it would have found.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..errors import TrainingError
from ..store.schema import RunRecord, RunSpec
from ..store.store import ResultsStore

__all__ = ["train"]

_INDEX: dict[str, dict[tuple, RunRecord]] = {}


def _key(spec: RunSpec) -> tuple:
    return (spec.rung, int(spec.n_data), f"{float(spec.lr):.6g}", int(spec.seed), spec.dataset)


def _index(root: str) -> dict[tuple, RunRecord]:
    if root not in _INDEX:
        with ResultsStore(root, readonly=True) as st:
            _INDEX[root] = {_key(r.spec): r for r in st.records(status=("done", "diverged"))}
    return _INDEX[root]


def train(spec: RunSpec, *, run_dir: str | Path, resume: bool = True, progress=None,
          **options: Any) -> RunRecord:
    """Return the stored result of the run ``spec`` describes; see the module docstring."""
    root = spec.extra.get("replay_store")
    if not root:
        raise TrainingError("the replay trainer needs extra: {replay_store: PATH} in the sweep")
    t0 = time.time()
    old = _index(str(root)).get(_key(spec))
    if old is None:
        raise TrainingError(f"{root} holds no finished run of {spec.rung} at {spec.n_data} tokens, "
                            f"lr {spec.lr:g}, seed {spec.seed} on {spec.dataset}: the replayed design "
                            "asked for a point the stored ladder never trained; replay against a "
                            "store that trained the sweep's whole grid")
    proc = spec.procedure_spec
    n_params, flops = proc.counts(spec.model, spec.n_data)
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    if progress is not None:
        progress(seen=spec.n_data)
    return RunRecord(run_id=spec.run_id, spec=spec, status=old.status, metrics=dict(old.metrics),
                     metrics_se=dict(old.metrics_se), n_data_seen=spec.n_data,
                     n_unique_seen=old.n_unique_seen, epochs=old.epochs, dataset_hash=old.dataset_hash,
                     n_params=n_params, flops=flops, curve=old.curve, wall_s=time.time() - t0,
                     error=old.error,
                     provenance={"trainer": "scalinglab.sweep._replay:train", "replayed": old.run_id,
                                 "replay_store": str(root)})
