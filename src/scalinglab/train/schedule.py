"""Learning-rate schedules, warmup rules and branched-cooldown planning (no torch).

What makes a scaling point valid (see ``docs/training.md``), as implemented here:

* **Warmup is short.** ``warmup_tokens=0`` means *auto*: about N tokens (N = non-embedding
  parameters; Porian et al. 2024, "Resolving Discrepancies in Compute-Optimal Scaling of Language
  Models", Sec. 3.3), capped at :data:`WARMUP_MAX_FRAC` of the run.
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
from ..units import gpt_n_params

__all__ = [
    "CHECKPOINT_KEY",
    "WARMUP_MAX_FRAC",
    "RunPlan",
    "check_schedule",
    "lr_at",
    "plan_branches",
    "plan_run",
]

WARMUP_MAX_FRAC = 0.1        # auto warmup never exceeds 10% of the run
CHECKPOINT_KEY = "checkpoint_at_tokens"   # RunSpec.extra key: trunk saves checkpoints at these tokens


@dataclass(frozen=True)
class RunPlan:
    """The step-level plan of one run, derived from its :class:`RunSpec` alone."""

    tokens_per_step: int          # batch_size * seq_len
    total_steps: int              # optimizer updates of the whole horizon
    warmup_steps: int             # linear warmup updates
    cooldown_start: int           # first cooldown update (wsd); total_steps for cosine/constant
    start_step: int               # 0, or the trunk checkpoint step a branch starts from
    checkpoint_steps: tuple[int, ...]   # steps after which a trunk saves branch checkpoints

    @property
    def n_tokens(self) -> int:
        return self.total_steps * self.tokens_per_step

    @property
    def warmup_tokens(self) -> int:
        return self.warmup_steps * self.tokens_per_step

    @property
    def tokens_trained(self) -> int:
        """Tokens this run itself trains on (a branch skips the trunk's part)."""
        return (self.total_steps - self.start_step) * self.tokens_per_step


def auto_warmup_tokens(n_params: int, n_tokens: int) -> int:
    """About N tokens (Porian et al. 2024), never more than ``WARMUP_MAX_FRAC`` of the run."""
    return int(min(n_params, WARMUP_MAX_FRAC * n_tokens))


def _cooldown_start(total_steps: int, schedule: str, cooldown_frac: float) -> int:
    if schedule != "wsd":
        return total_steps
    return total_steps - max(1, round(cooldown_frac * total_steps))


def check_schedule(*, cooldown_frac: float, min_lr_frac: float, warmup_tokens: int, where: str) -> None:
    """Validate schedule settings (shared by sweep files and run specs); ConfigError names ``where``."""
    if not 0.0 < cooldown_frac <= 1.0:
        raise ConfigError(f"{where}.cooldown_frac must be in (0, 1]; got {cooldown_frac}")
    if not 0.0 <= min_lr_frac <= 1.0:
        raise ConfigError(f"{where}.min_lr_frac must be in [0, 1]; got {min_lr_frac}")
    if warmup_tokens < 0:
        raise ConfigError(f"{where}.warmup_tokens must be >= 0 (0 = auto); got {warmup_tokens}")


def plan_run(spec: RunSpec) -> RunPlan:
    """Turn a spec's token counts into steps, validating what can be validated without torch."""
    m = spec.model
    try:
        seq_len, n_layer, d_model = int(m["seq_len"]), int(m["n_layer"]), int(m["d_model"])
    except KeyError as exc:
        raise ConfigError(f"RunSpec.model is missing {exc.args[0]!r}; it needs n_layer, d_model, "
                          f"n_head, seq_len, vocab_size (d_ff optional)") from None
    if spec.batch_size < 1:
        raise ConfigError(f"RunSpec.batch_size must be >= 1; got {spec.batch_size}")
    if not (spec.lr > 0 and math.isfinite(spec.lr)):
        raise ConfigError(f"RunSpec.lr must be a positive number; got {spec.lr}")
    check_schedule(cooldown_frac=spec.cooldown_frac, min_lr_frac=spec.min_lr_frac,
                   warmup_tokens=spec.warmup_tokens, where="RunSpec")
    tps = spec.batch_size * seq_len
    if spec.n_tokens < tps:
        raise ConfigError(f"RunSpec.n_tokens ({spec.n_tokens}) is less than one optimizer step "
                          f"(batch_size * seq_len = {tps} tokens); raise n_tokens or lower batch_size")
    total = round(spec.n_tokens / tps)
    n_params = gpt_n_params(n_layer=n_layer, d_model=d_model, seq_len=seq_len,
                            vocab_size=int(m.get("vocab_size", 256)), d_ff=m.get("d_ff"))
    warm_tok = spec.warmup_tokens or auto_warmup_tokens(n_params, total * tps)
    warmup = max(1, round(warm_tok / tps))
    cooldown = _cooldown_start(total, spec.schedule, spec.cooldown_frac)
    if warmup > cooldown:
        raise ConfigError(f"warmup ({warmup} steps) is longer than the stable phase "
                          f"({cooldown} steps) of this {total}-step run; lower warmup_tokens")
    start = 0
    if spec.branch_of is not None or spec.branch_at_tokens is not None:
        if spec.branch_of is None or spec.branch_at_tokens is None:
            raise ConfigError("a cooldown branch needs both branch_of (the trunk's run_id) and "
                              "branch_at_tokens (the trunk checkpoint it starts from)")
        if spec.schedule != "wsd":
            raise ConfigError(f"a cooldown branch must use schedule='wsd'; got {spec.schedule!r} "
                              "(a cosine schedule depends on the horizon from the first step)")
        start = round(spec.branch_at_tokens / tps)
        if start * tps != spec.branch_at_tokens or start != cooldown:
            raise ConfigError(
                f"branch_at_tokens ({spec.branch_at_tokens}) must be where this run's cooldown "
                f"starts: step {cooldown} x {tps} tokens = {cooldown * tps}. "
                "Use scalinglab.train.schedule.plan_branches to build consistent specs.")
    ckpts = []
    for t in spec.extra.get(CHECKPOINT_KEY, ()) or ():
        s = round(int(t) / tps)
        if s * tps != int(t) or not 0 < s <= total:
            raise ConfigError(f"extra[{CHECKPOINT_KEY!r}] value {t} must be a multiple of "
                              f"{tps} tokens within the run's {total * tps} tokens")
        if s > cooldown:
            raise ConfigError(f"checkpoint at {t} tokens lies inside this run's cooldown; "
                              "branches must start from the constant-LR phase")
        ckpts.append(s)
    return RunPlan(tokens_per_step=tps, total_steps=total, warmup_steps=warmup,
                   cooldown_start=cooldown, start_step=start, checkpoint_steps=tuple(sorted(set(ckpts))))


def lr_at(step: int, *, lr: float, plan: RunPlan, schedule: str, min_lr_frac: float = 0.0) -> float:
    """Learning rate of 0-based update ``step``.

    >>> p = RunPlan(tokens_per_step=1, total_steps=100, warmup_steps=10, cooldown_start=80,
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


def plan_branches(spec: RunSpec, horizons_tokens: Sequence[int]) -> list[RunSpec]:
    """One trunk and its cooldown branches: several D points for ~1.2x the longest run's tokens.

    Parameters
    ----------
    spec : RunSpec
        Template (model, lr, seed, batch, corpus ...); its ``schedule`` must be ``"wsd"``.
    horizons_tokens : sequence of int
        The token budgets D wanted. Each is rounded to whole optimizer steps.

    Returns
    -------
    list of RunSpec
        ``[trunk, *branches]``: the trunk is a complete WSD run of the longest horizon that
        saves checkpoints (``extra["checkpoint_at_tokens"]``) where each shorter horizon's
        cooldown starts; each branch has ``branch_of=trunk.run_id`` and ``branch_at_tokens``
        and trains only its cooldown. Run the trunk first (branches need its checkpoints in
        ``<runs>/<trunk run_id>/ckpt/``).

    Notes
    -----
    All members share one explicit ``warmup_tokens`` (the auto rule applied to the shortest
    horizon), so every branch is the *same* computation as a standalone WSD run of its horizon:
    with the same seed it gives the same loss, which ``tests/train/test_cooldown.py`` checks.
    With horizons doubling and ``cooldown_frac = 0.2`` the family costs at most
    ``(1 - 0.2) + 0.2 * (1 + 1/2 + 1/4 + ...) = 1.2`` x the longest run's tokens.
    """
    if spec.schedule != "wsd":
        raise ConfigError(f"branched cooldowns need schedule='wsd'; got {spec.schedule!r}")
    if not horizons_tokens:
        raise ConfigError("plan_branches needs at least one token horizon")
    tps = spec.batch_size * int(spec.model["seq_len"])
    steps = sorted({max(1, round(int(h) / tps)) for h in horizons_tokens})
    m = spec.model
    n_params = gpt_n_params(n_layer=int(m["n_layer"]), d_model=int(m["d_model"]),
                            seq_len=int(m["seq_len"]), vocab_size=int(m.get("vocab_size", 256)),
                            d_ff=m.get("d_ff"))
    warm_tok = spec.warmup_tokens or auto_warmup_tokens(n_params, steps[0] * tps)
    warm_tok = max(1, round(warm_tok / tps)) * tps
    starts = {s: _cooldown_start(s, "wsd", spec.cooldown_frac) for s in steps}
    extra = dict(spec.extra)
    extra[CHECKPOINT_KEY] = [starts[s] * tps for s in steps[:-1]]
    trunk = dataclasses.replace(spec, n_tokens=steps[-1] * tps, warmup_tokens=warm_tok,
                                branch_of=None, branch_at_tokens=None, extra=extra)
    plan_run(trunk)   # validates the warmup against the shortest stable phase too
    base_extra = {k: v for k, v in spec.extra.items() if k != CHECKPOINT_KEY}
    branches = [dataclasses.replace(spec, n_tokens=s * tps, warmup_tokens=warm_tok,
                                    branch_of=trunk.run_id, branch_at_tokens=starts[s] * tps,
                                    extra=base_extra)
                for s in steps[:-1]]
    for b in branches:
        if plan_run(b).warmup_steps > starts[round(b.n_tokens / tps)]:
            raise ConfigError("warmup is longer than the shortest branch's stable phase")
    return [trunk, *branches]
