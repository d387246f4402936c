"""Learning-rate schedules, warmup rules and branched-cooldown planning (no torch).

What makes a scaling point valid (see ``docs/training.md``), as implemented here:

* **Warmup is short.** ``warmup=0`` means *auto*: about N units of D (N = the procedure's
  default parameter count; Porian et al. 2024, "Resolving Discrepancies in Compute-Optimal
  Scaling of Language Models", Sec. 3.3, for tokens), capped at :data:`WARMUP_MAX_FRAC` of the run.
* **The LR decays to ~0 at the end of the run's own horizon.** ``cosine`` decays from the end of
  warmup to ``min_lr_frac * lr`` at the last step (Hoffmann et al. 2022 show that a cosine cycle
  longer than the run overstates the loss, their Fig. A1). ``wsd`` (warmup-stable-decay) holds the
  peak LR, then cools down over the last ``cooldown_frac`` of the run with the ``1 - sqrt`` shape of
  Hägele et al. 2024 ("Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations").
  ``constant`` never decays; its final loss is *not* a valid scaling point.
* **Branched cooldowns.** Because a WSD run is identical to any longer WSD run up to its own
  cooldown, one trunk per size (the longest horizon) can save checkpoints where each shorter
  horizon's cooldown starts; each shorter point is then a *branch* that loads that checkpoint and
  runs only its cooldown. :func:`plan_branches` builds such a family of specs.

D-valued quantities (``n_data``, ``warmup``, ``branch_at``) count the procedure's unit: tokens
for a language model, samples for an image-text model; one optimizer step is ``batch_size x
model.units_per_example`` units.

Steps are 0-based: the LR of update ``step`` (the ``step+1``-th optimizer update). Decays use the
mid-point of each step so that the last update has a small, non-zero LR.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigError
from ..store.schema import RunSpec

__all__ = [
    "CHECKPOINT_KEY",
    "WARMUP_MAX_FRAC",
    "RunPlan",
    "auto_warmup",
    "check_schedule",
    "lr_at",
    "plan_branches",
    "plan_run",
    "units_per_step",
]

WARMUP_MAX_FRAC = 0.1        # auto warmup never exceeds 10% of the run
CHECKPOINT_KEY = "checkpoint_at"   # RunSpec.extra key: a trunk saves checkpoints at these D units


@dataclass(frozen=True)
class RunPlan:
    """The step-level plan of one run, derived from its :class:`RunSpec` alone."""

    units_per_step: int           # D units per update: batch_size * model.units_per_example
    total_steps: int              # optimizer updates of the whole horizon
    warmup_steps: int             # linear warmup updates
    cooldown_start: int           # first cooldown update (wsd); total_steps for cosine/constant
    start_step: int               # 0, or the trunk checkpoint step a branch starts from
    checkpoint_steps: tuple[int, ...]   # steps after which a trunk saves branch checkpoints

    @property
    def n_data(self) -> int:
        """D of the whole horizon, in units."""
        return self.total_steps * self.units_per_step

    @property
    def warmup(self) -> int:
        return self.warmup_steps * self.units_per_step

    @property
    def units_trained(self) -> int:
        """D units this run itself trains on (a branch skips the trunk's part)."""
        return (self.total_steps - self.start_step) * self.units_per_step


def auto_warmup(n_params: int, n_data: int) -> int:
    """About N units (Porian et al. 2024), never more than ``WARMUP_MAX_FRAC`` of the run."""
    return int(min(n_params, WARMUP_MAX_FRAC * n_data))


def _cooldown_start(total_steps: int, schedule: str, cooldown_frac: float) -> int:
    if schedule != "wsd":
        return total_steps
    return total_steps - max(1, round(cooldown_frac * total_steps))


def check_schedule(*, cooldown_frac: float, min_lr_frac: float, warmup: int, where: str) -> None:
    """Validate schedule settings (shared by sweep files and run specs); ConfigError names ``where``."""
    if not 0.0 < cooldown_frac <= 1.0:
        raise ConfigError(f"{where}.cooldown_frac must be in (0, 1]; got {cooldown_frac}")
    if not 0.0 <= min_lr_frac <= 1.0:
        raise ConfigError(f"{where}.min_lr_frac must be in [0, 1]; got {min_lr_frac}")
    if warmup < 0:
        raise ConfigError(f"{where}.warmup must be >= 0 (0 = auto); got {warmup}")


def plan_run(spec: RunSpec) -> RunPlan:
    """Turn a spec's D counts into steps, validating what can be validated without torch."""
    if spec.batch_size < 1:
        raise ConfigError(f"RunSpec.batch_size must be >= 1; got {spec.batch_size}")
    if not (spec.lr > 0 and math.isfinite(spec.lr)):
        raise ConfigError(f"RunSpec.lr must be a positive number; got {spec.lr}")
    check_schedule(cooldown_frac=spec.cooldown_frac, min_lr_frac=spec.min_lr_frac,
                   warmup=spec.warmup, where="RunSpec")
    unit = spec.unit
    ups = units_per_step(spec)
    if spec.n_data < ups:
        raise ConfigError(f"RunSpec.n_data ({spec.n_data} {unit}) is less than one optimizer step "
                          f"({ups} {unit}); raise n_data or lower batch_size")
    total = round(spec.n_data / ups)
    n_params = spec.procedure_spec.n_params(spec.model)
    warm = spec.warmup or auto_warmup(n_params, total * ups)
    warmup = max(1, round(warm / ups))
    cooldown = _cooldown_start(total, spec.schedule, spec.cooldown_frac)
    if warmup > cooldown:
        raise ConfigError(f"warmup ({warmup} steps) is longer than the stable phase "
                          f"({cooldown} steps) of this {total}-step run; lower warmup")
    start = 0
    if spec.branch_of is not None or spec.branch_at is not None:
        if spec.branch_of is None or spec.branch_at is None:
            raise ConfigError("a cooldown branch needs both branch_of (the trunk's run_id) and "
                              "branch_at (the trunk checkpoint it starts from)")
        if spec.schedule != "wsd":
            raise ConfigError(f"a cooldown branch must use schedule='wsd'; got {spec.schedule!r} "
                              "(a cosine schedule depends on the horizon from the first step)")
        start = round(spec.branch_at / ups)
        if start * ups != spec.branch_at or start != cooldown:
            raise ConfigError(
                f"branch_at ({spec.branch_at} {unit}) must be where this run's cooldown "
                f"starts: step {cooldown} x {ups} {unit} = {cooldown * ups}. "
                "Use scalinglab.train.schedule.plan_branches to build consistent specs.")
    ckpts = []
    for t in spec.extra.get(CHECKPOINT_KEY, ()) or ():
        s = round(int(t) / ups)
        if s * ups != int(t) or not 0 < s <= total:
            raise ConfigError(f"extra[{CHECKPOINT_KEY!r}] value {t} must be a multiple of "
                              f"{ups} {unit} within the run's {total * ups} {unit}")
        if s > cooldown:
            raise ConfigError(f"checkpoint at {t} {unit} lies inside this run's cooldown; "
                              "branches must start from the constant-LR phase")
        ckpts.append(s)
    return RunPlan(units_per_step=ups, total_steps=total, warmup_steps=warmup,
                   cooldown_start=cooldown, start_step=start, checkpoint_steps=tuple(sorted(set(ckpts))))


def units_per_step(spec: RunSpec) -> int:
    """D units per optimizer step: ``batch_size x model.units_per_example``."""
    return spec.batch_size * int(spec.model.units_per_example)


def lr_at(step: int, *, lr: float, plan: RunPlan, schedule: str, min_lr_frac: float = 0.0) -> float:
    """Learning rate of 0-based update ``step``.

    >>> p = RunPlan(units_per_step=1, total_steps=100, warmup_steps=10, cooldown_start=80,
    ...             start_step=0, checkpoint_steps=())
    >>> [round(lr_at(s, lr=1.0, plan=p, schedule="wsd"), 3) for s in (0, 9, 50, 80, 99)]
    [0.1, 1.0, 1.0, 0.842, 0.013]
    >>> round(lr_at(99, lr=1.0, plan=p, schedule="cosine"), 4)
    0.0001
    """
    if step < plan.warmup_steps:
        return lr * (step + 1) / plan.warmup_steps
    lo = min_lr_frac * lr
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        frac = (step - plan.warmup_steps + 0.5) / (plan.total_steps - plan.warmup_steps)
        return lo + (lr - lo) * 0.5 * (1.0 + math.cos(math.pi * frac))
    if schedule == "wsd":
        if step < plan.cooldown_start:
            return lr
        frac = (step - plan.cooldown_start + 0.5) / (plan.total_steps - plan.cooldown_start)
        return lo + (lr - lo) * (1.0 - math.sqrt(frac))                  # Hägele et al. 2024
    raise ConfigError(f"unknown schedule {schedule!r}; use 'cosine', 'wsd' or 'constant'")


def plan_branches(spec: RunSpec, horizons: Sequence[int]) -> list[RunSpec]:
    """One trunk and its cooldown branches: several D points for ~1.2x the longest run's data.

    Parameters
    ----------
    spec : RunSpec
        Template (model, lr, seed, batch, dataset ...); its ``schedule`` must be ``"wsd"``.
    horizons : sequence of int
        The budgets D wanted, in the procedure's unit. Each is rounded to whole optimizer steps.

    Returns
    -------
    list of RunSpec
        ``[trunk, *branches]``: the trunk is a complete WSD run of the longest horizon that
        saves checkpoints (``extra["checkpoint_at"]``) where each shorter horizon's cooldown
        starts; each branch has ``branch_of=trunk.run_id`` and ``branch_at`` and trains only its
        cooldown. Run the trunk first (branches need its checkpoints in
        ``<runs>/<trunk run_id>/ckpt/``).

    Notes
    -----
    All members share one explicit ``warmup`` (the auto rule applied to the shortest horizon),
    so every branch is the *same* computation as a standalone WSD run of its horizon: with the
    same seed it gives the same loss, which ``tests/train/test_cooldown.py`` checks. With
    horizons doubling and ``cooldown_frac = 0.2`` the family costs at most
    ``(1 - 0.2) + 0.2 * (1 + 1/2 + 1/4 + ...) = 1.2`` x the longest run's data.
    """
    if spec.schedule != "wsd":
        raise ConfigError(f"branched cooldowns need schedule='wsd'; got {spec.schedule!r}")
    if not horizons:
        raise ConfigError("plan_branches needs at least one horizon")
    ups = units_per_step(spec)
    steps = sorted({max(1, round(int(h) / ups)) for h in horizons})
    n_params = spec.procedure_spec.n_params(spec.model)
    warm = spec.warmup or auto_warmup(n_params, steps[0] * ups)
    warm = max(1, round(warm / ups)) * ups
    starts = {s: _cooldown_start(s, "wsd", spec.cooldown_frac) for s in steps}
    extra = dict(spec.extra)
    extra[CHECKPOINT_KEY] = [starts[s] * ups for s in steps[:-1]]
    trunk = dataclasses.replace(spec, n_data=steps[-1] * ups, warmup=warm,
                                branch_of=None, branch_at=None, extra=extra)
    plan_run(trunk)   # validates the warmup against the shortest stable phase too
    base_extra = {k: v for k, v in spec.extra.items() if k != CHECKPOINT_KEY}
    branches = [dataclasses.replace(spec, n_data=s * ups, warmup=warm,
                                    branch_of=trunk.run_id, branch_at=starts[s] * ups,
                                    extra=base_extra)
                for s in steps[:-1]]
    for b in branches:
        if plan_run(b).warmup_steps > starts[round(b.n_data / ups)]:
            raise ConfigError("warmup is longer than the shortest branch's stable phase")
    return [trunk, *branches]
