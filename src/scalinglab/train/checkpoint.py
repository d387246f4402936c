"""What every trainer shares: checkpoint files, SIGTERM handling and the run's provenance.

* :func:`checkpoint_path` names a run's checkpoints: ``<run_dir>/ckpt/last.pt`` (resume) and
  ``<run_dir>/ckpt/<unit>_<n>.pt`` (where a trunk leaves a cooldown branch's start; ``unit`` is
  the procedure's unit of D, ``tokens`` or ``samples``). The sweep coordinator reads the same
  names to know when a branch can start, so this module imports torch only inside the functions
  that need it.
* :func:`save_checkpoint` writes with :func:`scalinglab._io.atomic_write` (fsync, then rename), so a
  run killed mid-write keeps its previous checkpoint; :func:`load_checkpoint` turns an unreadable
  file into a :class:`~scalinglab.errors.TrainingError` that says how to recover.
* :func:`sigterm_flag` / :func:`die_by_sigterm`: ``SIGTERM`` (Slurm preemption, ``scontrol
  requeue``, ``scancel``, a pool shutting down) only sets a flag while a loop runs; the loop saves
  ``last.pt`` at its next step boundary and then ends the process as ``SIGTERM`` would have, so the
  rerun resumes from that step and an interrupted run never writes a record.
* :func:`run_provenance`: :func:`scalinglab.provenance.environment` plus torch's threads and device.
"""

from __future__ import annotations

import io
import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._io import atomic_write
from .._optional import require
from ..errors import TrainingError
from ..provenance import environment

__all__ = ["CKPT_DIR", "EMA", "LAST", "checkpoint_path", "die_by_sigterm", "divergence", "load_checkpoint",
           "run_provenance", "save_checkpoint", "sigterm_flag", "smoothed"]

CKPT_DIR = "ckpt"
LAST = "last.pt"


def checkpoint_path(run_dir: str | Path, n: int | None = None, unit: str = "tokens") -> Path:
    """``<run_dir>/ckpt/last.pt``, or the branch checkpoint ``<run_dir>/ckpt/<unit>_<n>.pt``."""
    name = LAST if n is None else f"{unit}_{int(n)}.pt"
    return Path(run_dir) / CKPT_DIR / name


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """``torch.save(state)`` to ``path`` atomically (a reader never sees half a checkpoint)."""
    torch = require("torch", extra="train", purpose="saving checkpoints")
    buf = io.BytesIO()
    torch.save(state, buf)
    return atomic_write(path, buf.getvalue())


def load_checkpoint(path: str | Path, device: Any) -> dict[str, Any]:
    """A checkpoint's state on ``device``; TrainingError naming the file when it cannot be read."""
    torch = require("torch", extra="train", purpose="reading checkpoints")
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # truncated or foreign file
        raise TrainingError(f"cannot read checkpoint {str(path)!r}: {exc}. Delete it to "
                            "restart this run from scratch.") from None


@contextmanager
def sigterm_flag() -> Iterator[list[bool]]:
    """While active, ``SIGTERM`` only sets ``flag[0]``; the previous handler comes back after.

    Off the main thread (where Python cannot install handlers) the flag is never set.
    """
    flag = [False]
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def _handler(signum, frame):
        flag[0] = True

    old = signal.signal(signal.SIGTERM, _handler)
    try:
        yield flag
    finally:   # None: the previous handler was not installed from Python
        signal.signal(signal.SIGTERM, signal.SIG_DFL if old is None else old)


def die_by_sigterm() -> None:
    """End the process exactly as an unhandled ``SIGTERM`` would (exit status -15/143)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(60)   # delivery is asynchronous; never fall through and write a record


def run_provenance(device: Any, **extra: Any) -> dict[str, Any]:
    """The provenance record of a training run: :func:`~scalinglab.provenance.environment` with
    torch's version, threads and device, plus ``extra`` (seed, data hash, ...)."""
    torch = require("torch", extra="train", purpose="training")
    rec = environment(("numpy", "torch"), torch_threads=torch.get_num_threads(), device=str(device),
                      **extra)
    if getattr(device, "type", None) == "cuda":
        rec["gpu"] = torch.cuda.get_device_name(device)
    return rec


# --- the one divergence rule of the trainers -----------------------------------------------------

#: Smoothing of the reported (and divergence-checked) training loss.
EMA = 0.9


def smoothed(loss: float, ema: float | None) -> float:
    """The exponential moving average of the training loss after one more step."""
    return loss if ema is None else EMA * ema + (1 - EMA) * loss


def divergence(loss: float, ema: float, limit: float, limit_text: str, *, where: str, lr: float) -> str | None:
    """Why the run diverged, or None: a non-finite loss, or a smoothed loss above ``limit``.

    ``limit_text`` names the limit in the message (e.g. ``"2 ln(vocab) = 11.1"``), ``where`` the
    step and the data seen so far.
    """
    if math.isfinite(loss) and not ema > limit:
        return None
    what = f"loss {loss}" if not math.isfinite(loss) else f"smoothed loss {ema:.3g} > {limit_text}"
    return f"diverged at {where}: {what} at lr {lr:.3g}; lower the learning rate"
