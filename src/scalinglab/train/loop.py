"""The one training loop: ``run(spec, run_dir=...) -> RunRecord`` (no Trainer class, no callbacks).

Read top to bottom: set up the device; load the corpus; build the model and AdamW; restore a
trunk checkpoint (cooldown branch) or this run's own last checkpoint (resume); train with the
spec's LR schedule, evaluating a loss curve and saving checkpoints on the way; score the fixed
validation windows; return a :class:`~scalinglab.store.schema.RunRecord` with every parameter
and FLOP convention and the run's provenance.

Determinism: on CPU, with the same spec and thread count, the result is bit-identical. Model
initialisation uses ``torch.manual_seed(seed)``; batch ``step`` is drawn from
``(seed, step)`` alone (:func:`~scalinglab.train.data.get_batch`); there is no dropout. A
resumed run therefore replays exactly the updates the interrupted one would have made.

Devices: ``spec.device`` picks ``cpu``/``cuda``/``cuda:<i>``/``mps``. CPU trains in fp32 with
``num_threads`` threads (default 1: one worker per core measured fastest at these sizes). CUDA
uses bf16 autocast and TF32 matmuls; ``compile=True`` (or ``SCALINGLAB_COMPILE=1``) wraps the
model in ``torch.compile``. Under ``torchrun`` (``WORLD_SIZE > 1``) the model is wrapped in
DistributedDataParallel, every rank takes its slice of the *same* global batch, and only rank 0
writes checkpoints. The CUDA, compile and DDP paths cannot be exercised on the CPU-only CI.

Termination: ``SIGTERM`` (Slurm preemption, ``scontrol requeue``, ``scancel``, a pool shutting
down) is caught while the loop runs in the main thread. The loop saves ``ckpt/last.pt`` at the
next step boundary and then ends the process as ``SIGTERM`` would have, so the rerun resumes
from that step instead of the last periodic checkpoint and an interrupted run never writes a
record. ``SIGKILL`` cannot be caught; the periodic checkpoints cover it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ..errors import ConfigError, TrainingError
from ..procedures.gpt import GPTConfig
from ..store.schema import RunRecord, RunSpec, migrate_spec_v1
from .checkpoint import (
    checkpoint_path,
    die_by_sigterm,
    divergence,
    load_checkpoint,
    run_provenance,
    save_checkpoint,
    sigterm_flag,
    smoothed,
)
from .data import Corpus, eval_windows, get_batch, load_corpus, repetition_stats
from .gpt import GPT
from .schedule import CHECKPOINT_KEY, RunPlan, lr_at, plan_run

__all__ = ["SHARED_WITH_TRUNK", "checkpoint_spec", "evaluate", "run"]

N_CURVE_POINTS = 8          # loss-curve evaluations per full run (on every 8th eval window)
CURVE_STRIDE = 8            # so the whole curve costs about one final evaluation
EVAL_BATCH = 32             # validation windows per forward pass
DIVERGE_FACTOR = 2.0        # smoothed train loss above 2 x ln(vocab) (twice uniform guessing) = diverged


# Fields a branch must share with its trunk (everything that shapes the updates before the branch).
SHARED_WITH_TRUNK = ("procedure", "rung", "model", "lr", "batch_size", "warmup", "beta1", "beta2",
                     "weight_decay", "grad_clip", "seed", "dataset", "tokenizer", "ladder", "variant")


def checkpoint_spec(state: dict, like: RunSpec) -> RunSpec:
    """The spec a checkpoint was written for, as a :class:`RunSpec` of this schema.

    A checkpoint written before the schema-2 migration holds a schema-1 spec; it is migrated in
    memory (its trunk id mapped to ``like.branch_of``) so a migrated store's interrupted runs and
    trunks stay usable.
    """
    old = state["spec"]
    if "procedure" in old and "n_data" in old:
        return RunSpec.from_dict(old)
    return migrate_spec_v1(old, {old.get("branch_of"): like.branch_of})


# --- setup -----------------------------------------------------------------------------------

def _device(spec: RunSpec) -> tuple[torch.device, int, int]:
    """Device, rank and world size (DDP under torchrun when WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    name = spec.device
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but CUDA is not available; use device='cpu'")
        if world > 1:
            name = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    elif name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' requested but not available; use device='cpu'")
    elif name not in ("cpu", "mps"):
        raise ConfigError(f"unknown device {name!r}; use 'cpu', 'cuda', 'cuda:<index>' or 'mps'")
    dev = torch.device(name)
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
    return dev, rank, world


def configure_optimizer(model: GPT, spec: RunSpec, fused: bool = False) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices (dim >= 2: Linear and embedding weights) only.

    Biases and LayerNorm gains are not decayed (Loshchilov & Hutter 2019; nanoGPT
    ``configure_optimizers``).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": spec.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    kw = {"fused": True} if fused else {"foreach": True}
    return torch.optim.AdamW(groups, lr=spec.lr, betas=(spec.beta1, spec.beta2), eps=1e-8, **kw)


# --- evaluation ------------------------------------------------------------------------------

@torch.no_grad()
def evaluate(model: torch.nn.Module, windows: np.ndarray, *, device: torch.device,
             autocast=nullcontext) -> tuple[float, float]:
    """Mean held-out loss (nats/token) and its standard error over the windows.

    The standard error is ``std(window means) / sqrt(n_windows)``: it measures only the
    sampling noise of the fixed validation set (windows spread over many documents are close
    to independent), not seed-to-seed noise of training, which is usually larger.
    """
    was_training = model.training
    model.eval()
    per_window = []
    for i in range(0, len(windows), EVAL_BATCH):
        w = torch.from_numpy(windows[i:i + EVAL_BATCH]).to(device)
        with autocast():
            _, loss = model(w[:, :-1], w[:, 1:], reduction="none")
        per_window.append(loss.float().mean(dim=1).cpu())
    model.train(was_training)
    m = torch.cat(per_window).double().numpy()
    se = float(m.std(ddof=1) / math.sqrt(len(m))) if len(m) > 1 else float("nan")
    return float(m.mean()), se


# --- checkpoints -----------------------------------------------------------------------------

def _state(model, opt, spec, step, curve, ema, wall_s, done) -> dict:
    raw = getattr(model, "module", model)
    raw = getattr(raw, "_orig_mod", raw)   # torch.compile wrapper
    return {"spec": spec.to_dict(), "spec_hash": spec.spec_hash, "step": step,
            "model": raw.state_dict(), "optim": opt.state_dict(), "curve": list(curve),
            "ema": ema, "wall_s": wall_s, "done": done, "torch": torch.__version__}


def _branch_start(spec: RunSpec, plan: RunPlan, run_dir: Path, trunk_dir: Path | None,
                  device: torch.device) -> dict:
    trunk_dir = Path(trunk_dir) if trunk_dir is not None else run_dir.parent / spec.branch_of
    path = checkpoint_path(trunk_dir, spec.branch_at)
    if not path.exists():
        raise TrainingError(
            f"cooldown branch {spec.run_id} needs its trunk's checkpoint {str(path)!r}, which does "
            f"not exist. Train the trunk {spec.branch_of!r} first (its spec must list "
            f"{spec.branch_at} in extra[{CHECKPOINT_KEY!r}]).")
    state = load_checkpoint(path, device)
    trunk = checkpoint_spec(state, spec).to_dict()
    mine = spec.to_dict()
    diff = [k for k in SHARED_WITH_TRUNK if trunk.get(k) != mine.get(k)]
    if diff:
        raise ConfigError(f"branch {spec.run_id} differs from its trunk in {', '.join(diff)}; a "
                          "cooldown branch must continue the very same run")
    if state["step"] != plan.start_step:
        raise TrainingError(f"trunk checkpoint {str(path)!r} is at step {state['step']}, "
                            f"expected {plan.start_step}")
    return state


# --- provenance ------------------------------------------------------------------------------

def _provenance(spec: RunSpec, corpus: Corpus, device: torch.device, world: int) -> dict:
    return run_provenance(device, world_size=world, seed=spec.seed, corpus=corpus.name,
                          corpus_manifest_hash=corpus.manifest_hash,
                          corpus_train_tokens=int(corpus.train.size), corpus_val_tokens=int(corpus.val.size),
                          corpus_split=corpus.split, tokenizer=corpus.tokenizer)


# --- the run ---------------------------------------------------------------------------------

def run(spec: RunSpec | dict, *, run_dir: str | Path, resume: bool = True,
        progress: Callable[[dict], Any] | None = None, num_threads: int | None = None,
        compile: bool | None = None, checkpoint_every_s: float = 300.0,
        checkpoint_every_steps: int | None = None, trunk_dir: str | Path | None = None) -> RunRecord:
    """Train one run of the reference GPT and return its record.

    Parameters
    ----------
    spec : RunSpec or dict
        What to train. ``spec.model`` is a :class:`~scalinglab.procedures.gpt.GPTConfig`; D
        (``spec.n_data``, ``warmup``, ``branch_at``, ``eval_size``) counts tokens.
    run_dir : path
        This run's directory; checkpoints go to ``run_dir/ckpt/``.
    resume : bool
        Continue from ``run_dir/ckpt/last.pt`` when it exists and belongs to the same spec.
    progress : callable, optional
        Called with a dict ``{"run_id", "step", "steps", "seen", "n_data", "train_loss", "lr",
        "per_s"}`` (``seen``/``n_data`` in tokens, ``per_s`` tokens per second) about 100 times
        per run, plus ``"val_loss"`` at curve points.
    num_threads : int, optional
        CPU threads for this run (default ``$SCALINGLAB_TORCH_THREADS`` or 1); restored afterwards.
    compile : bool, optional
        ``torch.compile`` the model (default ``$SCALINGLAB_COMPILE == "1"``).
    checkpoint_every_s, checkpoint_every_steps : float, int
        Periodic checkpoints, by wall time and/or by step count. A final checkpoint is always
        written; trunks also save ``ckpt/tokens_<n>.pt`` at ``extra["checkpoint_at"]``.
    trunk_dir : path, optional
        Where a cooldown branch finds its trunk (default ``run_dir.parent / spec.branch_of``).

    Returns
    -------
    RunRecord
        ``status="done"`` with ``metrics["val_loss"]`` (and its standard error in
        ``metrics_se``) and ``metrics["train_loss"]``, or ``status="diverged"`` with an
        ``error`` message when the loss became NaN/inf or exceeded ``2 ln(vocab)``.

    Raises
    ------
    ConfigError
        The spec is inconsistent (model shape, token counts, branch points, device).
    TrainingError
        A trunk checkpoint is missing or unreadable.
    """
    spec = RunSpec.from_dict(spec) if isinstance(spec, dict) else spec
    t_start = time.perf_counter()
    run_dir = Path(run_dir)
    if not isinstance(spec.model, GPTConfig):
        raise ConfigError(f"scalinglab.train.loop.run trains the 'gpt' procedure; run {spec.run_id} "
                          f"is a {spec.procedure!r} run (use its procedure's trainer)")
    plan = plan_run(spec)
    cfg = spec.model
    threads = num_threads or int(os.environ.get("SCALINGLAB_TORCH_THREADS", "1"))
    compile = os.environ.get("SCALINGLAB_COMPILE", "0") == "1" if compile is None else compile
    old_threads = torch.get_num_threads()
    device, rank, world = _device(spec)
    if device.type == "cpu":
        torch.set_num_threads(threads)
    try:
        return _train(spec, plan, cfg, run_dir, device, rank, world, resume, progress, compile,
                      checkpoint_every_s, checkpoint_every_steps, trunk_dir, t_start)
    finally:
        torch.set_num_threads(old_threads)


def _train(spec, plan, cfg, run_dir, device, rank, world, resume, progress, compile,
           checkpoint_every_s, checkpoint_every_steps, trunk_dir, t_start) -> RunRecord:
    corpus = load_corpus(spec.dataset, tokenizer=spec.tokenizer or "byte")
    if cfg.vocab_size < corpus.vocab_size:
        raise ConfigError(f"model.vocab_size ({cfg.vocab_size}) is smaller than the tokenizer's "
                          f"vocabulary ({corpus.vocab_size}); raise model.vocab_size")
    if spec.batch_size % world:
        raise ConfigError(f"batch_size {spec.batch_size} is not divisible by WORLD_SIZE {world}")
    windows = eval_windows(corpus.val, seq_len=cfg.seq_len, n_tokens=spec.eval_size)
    # a common held-out set (sweep eval.common_dataset): the same tokens for runs on every dataset
    common = spec.extra.get("eval_common")
    common_windows = None
    if common:
        common_windows = windows if common == spec.dataset else eval_windows(
            load_corpus(common, tokenizer=spec.tokenizer or "byte").val, seq_len=cfg.seq_len,
            n_tokens=spec.eval_size)
    curve_windows = windows[::CURVE_STRIDE] if len(windows) >= 2 * CURVE_STRIDE else windows
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        autocast = partial(torch.autocast, "cuda", dtype=torch.bfloat16)
    else:
        autocast = nullcontext

    torch.manual_seed(spec.seed)
    model = GPT(cfg).to(device)
    assert model.get_num_params() == cfg.n_params()   # units.py and the module agree
    opt = configure_optimizer(model, spec, fused=device.type == "cuda")
    step, curve, ema, wall_prev = 0, [], None, 0.0
    resumed_from = None

    last = checkpoint_path(run_dir)
    if resume and last.exists():
        state = load_checkpoint(last, device)
        if checkpoint_spec(state, spec).spec_hash != spec.spec_hash:
            raise TrainingError(f"{str(last)!r} belongs to a different spec; use another run_dir or "
                                "delete the checkpoint to retrain")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        step, curve, ema, wall_prev = state["step"], state["curve"], state["ema"], state["wall_s"]
        resumed_from = step
    elif plan.start_step:
        state = _branch_start(spec, plan, run_dir, trunk_dir, device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        step, curve, ema = state["step"], [tuple(c) for c in state["curve"]], state["ema"]
    curve = [tuple(c) for c in curve]

    train_model = model
    if compile:
        train_model = torch.compile(model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(train_model, device_ids=[device.index] if device.type == "cuda" else None)

    tps = plan.units_per_step
    span = plan.total_steps - plan.start_step
    n_points = max(2, round(N_CURVE_POINTS * span / plan.total_steps))   # a branch: its share
    curve_steps = {plan.start_step + round(span * (i + 1) / n_points) for i in range(n_points)}
    ckpt_steps = set(plan.checkpoint_steps)
    diverge_at = DIVERGE_FACTOR * math.log(cfg.vocab_size)
    local_bs = spec.batch_size // world
    report_every = max(1, plan.total_steps // 100)
    status, error = "done", None
    t_loop, last_ckpt, step0 = time.perf_counter(), time.perf_counter(), step

    def save_last(done: bool) -> None:
        if rank == 0:
            save_checkpoint(last, _state(model, opt, spec, step, curve, ema,
                               wall_prev + time.perf_counter() - t_start, done))

    model.train()
    with sigterm_flag() as terminated:
        while step < plan.total_steps:
            lr = lr_at(step, lr=spec.lr, plan=plan, schedule=spec.schedule, min_lr_frac=spec.min_lr_frac)
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = get_batch(corpus.train, step=step, seed=spec.seed, batch_size=spec.batch_size,
                             seq_len=cfg.seq_len)
            x = torch.from_numpy(x[rank * local_bs:(rank + 1) * local_bs]).to(device, non_blocking=True)
            y = torch.from_numpy(y[rank * local_bs:(rank + 1) * local_bs]).to(device, non_blocking=True)
            with autocast():
                _, loss = train_model(x, y)
            loss.backward()
            if spec.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            if world > 1:   # every rank must take the same divergence decision
                lt = loss.detach().float().clone()
                dist.all_reduce(lt)
                lossf = lt.item() / world
            else:
                lossf = loss.item()
            ema = smoothed(lossf, ema)
            why = divergence(lossf, ema, diverge_at, f"2 ln(vocab) = {diverge_at:.3g}",
                             where=f"step {step}/{plan.total_steps} ({step * tps} tokens)", lr=lr)
            if why is not None:
                status, error = "diverged", why
                break
            if step in ckpt_steps and rank == 0:
                save_checkpoint(checkpoint_path(run_dir, step * tps),
                      _state(model, opt, spec, step, curve, ema, 0.0, False))
            event = None
            if step in curve_steps:
                vl, _ = evaluate(model, curve_windows, device=device, autocast=autocast)
                curve.append((step * tps, vl))
                event = {"val_loss": vl}
            now = time.perf_counter()
            if (checkpoint_every_steps and step % checkpoint_every_steps == 0) or \
                    now - last_ckpt > checkpoint_every_s:
                save_last(False)
                last_ckpt = now
            if progress is not None and (event or step % report_every == 0):
                progress({"run_id": spec.run_id, "step": step, "steps": plan.total_steps,
                          "seen": step * tps, "n_data": plan.n_data, "train_loss": lossf,
                          "lr": lr, "per_s": (step - step0) * tps / max(now - t_loop, 1e-9),
                          **(event or {})})
            if terminated[0]:
                save_last(False)
                die_by_sigterm()

    val_loss = val_se = None
    if status == "done":
        save_last(True)
        val_loss, val_se = evaluate(model, windows, device=device, autocast=autocast)
        if common_windows is not None:
            common_loss, common_se = (val_loss, val_se) if common_windows is windows else \
                evaluate(model, common_windows, device=device, autocast=autocast)
    wall_s = wall_prev + time.perf_counter() - t_start
    tokens_seen = step * tps
    prov = _provenance(spec, corpus, device, world)
    prov.update({"unit": "tokens", "steps": plan.total_steps, "units_per_step": tps,
                 "warmup": plan.warmup, "schedule": spec.schedule,
                 "cooldown_start": plan.cooldown_start * tps,
                 "units_trained": tokens_seen - plan.start_step * tps,
                 "eval_tokens_used": int(windows.shape[0] * cfg.seq_len),
                 "curve_eval_tokens": int(curve_windows.shape[0] * cfg.seq_len),
                 "precision": "bf16-autocast" if device.type == "cuda" else "fp32",
                 "compiled": bool(compile), "resumed_from_step": resumed_from,
                 "resumed_from": None if resumed_from is None else resumed_from * tps,
                 "branch_start": plan.start_step * tps,
                 "wall_s": wall_s,
                 "role": "trunk" if plan.checkpoint_steps else ("branch" if spec.branch_of else "run")})
    n_params, flops = spec.procedure_spec.counts(cfg, tokens_seen)
    # which training tokens the whole run saw (a branch replays its trunk's batches: the same
    # computation as a standalone run), exactly, from the batch offsets alone
    rep = repetition_stats(corpus.train.size, steps=step, seed=spec.seed,
                           batch_size=spec.batch_size, seq_len=cfg.seq_len)
    metrics = {} if status != "done" else {"val_loss": val_loss, "train_loss": ema}
    metrics_se = {"val_loss": val_se} if status == "done" else {}
    if status == "done" and common_windows is not None:
        metrics["val_loss_common"], metrics_se["val_loss_common"] = common_loss, common_se
        prov["eval_common"] = common
    return RunRecord(
        run_id=spec.run_id, spec=spec, status=status, metrics=metrics,
        metrics_se=metrics_se, n_data_seen=tokens_seen,
        n_unique_seen=rep.n_unique_tokens, epochs=rep.epochs,
        dataset_hash=corpus.dataset_hash or corpus.manifest_hash,
        n_params=n_params, flops=flops, curve=tuple(curve), wall_s=wall_s, error=error,
        provenance=prov)

