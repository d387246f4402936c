"""A cheap, deterministic stand-in trainer for exercising sweeps without torch.

``train`` has the trainer's signature (``run(spec, *, run_dir, resume=True, progress=None) ->
RunRecord``) for any procedure and its behaviour at the boundaries: it checkpoints into ``run_dir`` after every
step and resumes from there, reports progress, records a NaN-free loss for a healthy run, a
``diverged`` record when the learning rate is too high, and raises when asked to fail. Its loss
is the Chinchilla form ``L = E + A / N**alpha + B / D**beta`` (Hoffmann et al. 2022, Eq. 2 with
their Approach 3 constants) times a U-shaped learning-rate penalty, plus seed noise, so fits on a
toy sweep recover sensible exponents.

Knobs, all in ``RunSpec.extra`` (hashed like every spec field):

``toy_steps`` (default 4)       checkpointed steps the run is split into
``toy_step_s`` (default 0)      seconds each step sleeps (to make kill/resume tests possible)
``toy_fail`` (default false)    raise ``TrainingError`` at the first step (true, or a list of
                                the learning rates that fail)
``toy_crash`` (default [])      learning rates whose worker process exits hard (``os._exit``)
``toy_diverge_lr`` (default 1)  learning rates at or above this diverge
``toy_law`` (default Approach 3) ``[E, A, B, alpha, beta]`` of the loss (synthetic worlds)
``toy_noise`` (default none)    SD of log loss per run, drawn independently for every (rung, D,
                                learning rate, seed) from a hash (replaces the ~0.2% seed offset);
                                a number, or ``{trend: [a, b, c], n_range: [lo, hi], d_range: [lo, hi]}``
                                for ``exp(a + b log D + c log N)`` with N, D clamped to the ranges
                                (a seed study's trend, :class:`scalinglab.laws.seeds.SeedSpread`)
``toy_dataset_scale`` ({})      ``{dataset: factor}`` multiplying the loss (arms that differ)
``toy_lr`` (default none)       a learning-rate response replacing the U-shaped penalty:
                                ``{curvature: c, coef: [a0, a1, a2], n0:, d0:}`` multiplies the loss
                                by ``exp(c (log2 lr - u)^2)`` with the optimum
                                ``u = a0 + a1 log2(N / n0) + a2 log2(D / d0)``, the form of
                                :class:`scalinglab.laws.design.LrOptimum` (e.g. as fitted on a real
                                ladder's tuned runs); ``d_stop:`` (optional) holds the optimum
                                fixed beyond that D (a drift that ends, as the gpt-tiny ladder's did
                                once warm-up was a small part of the run)
``toy_misfit`` (default none)   a misspecification of the law: ``{n: [...], d: [...], log_ratio:
                                [[...]]}`` multiplies the loss by ``exp(r)``, ``r`` interpolated
                                bilinearly in (log N, log D) from the table (rows N, columns D),
                                held at its edges beyond it; e.g. a real ladder's residuals about
                                its fitted law, transplanted onto a synthetic world
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import TrainingError
from ..store.schema import RunRecord, RunSpec

__all__ = ["misfit_factor", "toy_loss", "train"]

E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28   # Hoffmann et al. 2022, Approach 3
BEST_LR = 3e-3                                            # the toy's optimal learning rate


def toy_loss(n_params: float, n_tokens: float, lr: float, seed: int, *,
             law: Any = None, noise: float | None = None, key: str = "", lr_response: Any = None) -> float:
    """Chinchilla loss times ``1 + 0.05 log10(lr / 3e-3)**2`` plus ~0.2% seed noise.

    ``law`` replaces the constants ``(E, A, B, alpha, beta)``; ``noise`` replaces the seed offset
    by ``exp(noise * z)`` with ``z`` standard normal, drawn from a hash of ``key`` and the seed;
    ``lr_response`` (``{curvature, coef, n0, d0[, d_stop]}``, see the module docstring) replaces the penalty.
    """
    e, a, b, alpha, beta = (E, A, B, ALPHA, BETA) if law is None else (float(v) for v in law)
    base = e + a / n_params**alpha + b / n_tokens**beta
    if lr_response is None:
        penalty = 1.0 + 0.05 * math.log10(lr / BEST_LR) ** 2
    else:
        a0, a1, a2 = (float(v) for v in lr_response["coef"])
        d = min(n_tokens, float(lr_response.get("d_stop", math.inf)))
        u = a0 + a1 * math.log2(n_params / float(lr_response["n0"])) + a2 * math.log2(d / float(lr_response["d0"]))
        penalty = math.exp(float(lr_response["curvature"]) * (math.log2(lr) - u) ** 2)
    if noise is not None:
        h = hashlib.sha256(f"{key}|{lr:.6g}|{seed}".encode()).hexdigest()
        u1, u2 = (int(h[i:i + 12], 16) / 16 ** 12 for i in (0, 12))
        z = math.sqrt(-2.0 * math.log(max(u1, 1e-300))) * math.cos(2 * math.pi * u2)   # Box-Muller
        return base * penalty * math.exp(float(noise) * z)
    u = int(hashlib.sha256(f"{seed}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return base * penalty * (1.0 + 0.002 * (u - 0.5))


def misfit_factor(n_params: float, n_tokens: float, misfit: Any) -> float:
    """``exp(r)`` with ``r`` the ``toy_misfit`` table interpolated at (N, D); 1 without a table."""
    if not misfit:
        return 1.0

    def locate(grid: list[float], x: float) -> tuple[int, int, float]:   # neighbours and weight in log space
        lg = [math.log(float(g)) for g in grid]
        lx = min(max(math.log(x), lg[0]), lg[-1])                          # held at the edges
        j = min(max(bisect.bisect_right(lg, lx) - 1, 0), max(len(lg) - 2, 0))
        return (j, j, 0.0) if len(lg) == 1 else (j, j + 1, (lx - lg[j]) / (lg[j + 1] - lg[j]))

    tab = misfit["log_ratio"]
    i0, i1, u = locate(misfit["n"], n_params)
    j0, j1, v = locate(misfit["d"], n_tokens)
    r = ((1 - u) * (1 - v) * tab[i0][j0] + u * (1 - v) * tab[i1][j0]
         + (1 - u) * v * tab[i0][j1] + u * v * tab[i1][j1])
    return math.exp(float(r))


def train(spec: RunSpec, *, run_dir: str | Path, resume: bool = True, progress=None,
          **options: Any) -> RunRecord:
    """Pretend to train ``spec`` in ``run_dir``; see the module docstring.

    ``options`` (the real trainer's ``checkpoint_every_s`` ...) are accepted and ignored: the
    toy checkpoints after every step.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    steps = int(spec.extra.get("toy_steps", 4))
    step_s = float(spec.extra.get("toy_step_s", 0.0))
    t0 = time.time()
    ckpt = run_dir / "toy_ckpt.json"
    start = 0
    if resume and ckpt.exists():
        start = int(json.loads(ckpt.read_text())["step"])
    if spec.branch_of is not None:
        trunk = run_dir.parent / spec.branch_of / "toy_ckpt.json"
        if not trunk.exists():
            raise TrainingError(f"trunk {spec.branch_of!r} has no checkpoint at {trunk}")
    proc = spec.procedure_spec
    n_params, flops = proc.counts(spec.model, spec.n_data)
    per_step = spec.n_data // steps
    if progress is not None:
        progress(seen=start * per_step)
    fail = spec.extra.get("toy_fail", False)
    for step in range(start, steps):
        if fail is True or (isinstance(fail, (list, tuple)) and spec.lr in fail):
            raise TrainingError(f"toy trainer asked to fail (run {spec.run_id})")
        if spec.lr in spec.extra.get("toy_crash", ()):
            os._exit(7)
        time.sleep(step_s)
        tmp = ckpt.with_suffix(".tmp")
        tmp.write_text(json.dumps({"step": step + 1}))
        os.replace(tmp, ckpt)
        if progress is not None:
            progress(seen=(step + 1) * per_step)
    diverged = spec.lr >= float(spec.extra.get("toy_diverge_lr", 1.0))
    noise = spec.extra.get("toy_noise")
    if isinstance(noise, Mapping):
        a, b, c = (float(v) for v in noise["trend"])
        n_lo, n_hi = noise.get("n_range", (0, math.inf))
        d_lo, d_hi = noise.get("d_range", (0, math.inf))
        n = min(max(float(proc.n_params(spec.model)), n_lo), n_hi)
        d = min(max(float(spec.n_data), d_lo), d_hi)
        noise = math.exp(a + b * math.log(d) + c * math.log(n))
    loss = float("nan") if diverged else toy_loss(
        proc.n_params(spec.model), spec.n_data, spec.lr, spec.seed, law=spec.extra.get("toy_law"),
        noise=None if noise is None else float(noise),
        key=f"{spec.rung}|{spec.n_data}|{spec.dataset}|{spec.extra.get('toy_world', '')}",
        lr_response=spec.extra.get("toy_lr"))
    loss *= float(dict(spec.extra.get("toy_dataset_scale") or {}).get(spec.dataset, 1.0))
    loss *= misfit_factor(proc.n_params(spec.model), spec.n_data, spec.extra.get("toy_misfit"))
    metric = proc.metrics[0]
    return RunRecord(
        run_id=spec.run_id, spec=spec, status="diverged" if diverged else "done",
        metrics={} if diverged else {metric: loss, "train_loss": loss},
        metrics_se={} if diverged else {metric: 1e-3},
        n_data_seen=spec.n_data, n_params=n_params, flops=flops,
        curve=() if diverged else ((spec.n_data, loss),), wall_s=time.time() - t0,
        error="loss became NaN (toy divergence)" if diverged else None,
        provenance={"trainer": "scalinglab.sweep._toy:train", "resumed_from_step": start,
                    "resumed_from": start * per_step})
