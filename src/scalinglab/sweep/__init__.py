"""Plan and run sweeps of training runs; results land in a :class:`~scalinglab.store.ResultsStore`.

What to use when
----------------
* ``plan_sweep("demo")`` (or a YAML path, or a dict) expands a sweep file into a
  :class:`SweepPlan`: ladder rungs x token budgets x learning rates x seeds x schedule, each a
  :class:`~scalinglab.store.RunSpec` with a content-hashed ``run_id``, longest first, with
  ``plan.cost(workers)`` and ``plan.as_text()``.
* ``run_sweep(plan, backend="local", store="results/")`` trains what the store lacks. Calling it
  again skips finished runs and resumes interrupted ones from their checkpoints.
* ``sweep_status(plan, store)`` says where each run stands, without running anything.
* Backends: ``local`` (default, a process pool), ``slurm`` (submitit job arrays), ``ray``,
  ``inline`` (in-process, for tests); see :mod:`scalinglab.sweep.backends`.

Planning never imports torch: sweeps name their trainer by a ``"module:attr"`` string
(default ``"scalinglab.train.loop:run"``), imported only by the workers.
"""

from .backends import BACKENDS, get_backend, list_backends
from .plan import (
    EstimateConfig,
    EvalConfig,
    PlanCost,
    PlannedRun,
    ScheduleConfig,
    SweepConfig,
    SweepPlan,
    list_sweeps,
    plan_sweep,
    sweep_path,
)
from .run import SweepReport, run_sweep, sweep_status

__all__ = [
    "BACKENDS",
    "EstimateConfig",
    "EvalConfig",
    "PlanCost",
    "PlannedRun",
    "ScheduleConfig",
    "SweepConfig",
    "SweepPlan",
    "SweepReport",
    "get_backend",
    "list_backends",
    "list_sweeps",
    "plan_sweep",
    "run_sweep",
    "sweep_path",
    "sweep_status",
]
