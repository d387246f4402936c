"""scalinglab's own GPT checkpoints (``scalinglab.train``) as an AIW model client.

Reads ``<run_dir>/ckpt/last.pt`` (or a given ``.pt`` file) written by
:func:`scalinglab.train.loop.run`, rebuilds :class:`~scalinglab.train.gpt.GPT` from the stored
spec and samples byte by byte (``tokenizer="byte"``; a BPE tokenizer JSON named in the spec also
works). These are base models: use the ``completion`` prompt type. torch and ``scalinglab.train``
are imported only when the client is created (the ``[train]`` extra).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from ..._optional import require
from ...config import from_dict
from ...errors import BackendError, ConfigError
from .base import Generation, GenerationRequest

__all__ = ["ScalingLabCheckpointClient"]


class ScalingLabCheckpointClient:
    """Sample from a reference-GPT checkpoint.

    Parameters
    ----------
    path : str or Path
        A run directory (``ckpt/last.pt`` inside) or a checkpoint file.
    model : str, optional
        Name recorded with results (default: the rung name from the checkpoint's spec).
    num_threads : int, optional
        CPU threads while sampling (default ``$SCALINGLAB_TORCH_THREADS`` or 1, as the trainer:
        tiny models run far slower with several threads on a busy machine).
    """

    name = "scalinglab_ckpt"

    def __init__(self, path: str | Path, *, model: str | None = None, device: str = "cpu",
                 num_threads: int | None = None) -> None:
        torch = require("torch", extra="train", purpose="sampling scalinglab checkpoints")
        from ...train.gpt import GPT, GPTConfig  # lazy: evals core must not import torch

        p = Path(path).expanduser()
        if p.is_dir():
            p = p / "ckpt" / "last.pt"
        if not p.exists():
            raise ConfigError(f"no checkpoint at {str(p)!r}; pass a run directory with ckpt/last.pt "
                              "or a .pt file written by scalinglab.train")
        try:
            state = torch.load(p, map_location=device, weights_only=False)
            spec = state["spec"]
            cfg = from_dict(GPTConfig, dict(spec["model"]))
            net = GPT(cfg)
            net.load_state_dict(state["model"])
        except (KeyError, TypeError, RuntimeError, OSError) as exc:
            raise BackendError(f"{str(p)!r} is not a readable scalinglab GPT checkpoint: {exc}") from None
        self._torch = torch
        self._net = net.to(device).eval()
        self._cfg = cfg
        self.device = device
        self.path = str(p)
        self.tokenizer = str(spec.get("tokenizer") or "byte")
        self._bpe = None
        if self.tokenizer != "byte":
            tk = require("tokenizers", extra="tokenizers", purpose="BPE checkpoints")
            self._bpe = tk.Tokenizer.from_file(self.tokenizer)
        self.model = model or spec.get("rung", p.parent.parent.name)
        self.step = state.get("step")
        self._lock = threading.Lock()
        self.num_threads = int(num_threads or os.environ.get("SCALINGLAB_TORCH_THREADS", "1"))

    def info(self) -> dict[str, Any]:
        return {"client": self.name, "model": self.model, "checkpoint": self.path,
                "step": self.step, "tokenizer": self.tokenizer, "seq_len": self._cfg.seq_len}

    def close(self) -> None:
        self._net = None

    def _encode(self, text: str) -> list[int]:
        if self._bpe is not None:
            return self._bpe.encode(text).ids
        return list(text.encode("utf-8"))

    def _decode(self, ids: list[int]) -> str:
        if self._bpe is not None:
            return self._bpe.decode(ids)
        return bytes(ids).decode("utf-8", errors="replace")

    def generate(self, request: GenerationRequest) -> Generation:
        if self._net is None:
            raise BackendError("this checkpoint client was closed; create a new one")
        torch = self._torch
        ids = self._encode(request.prompt) or [0]
        with self._lock, torch.no_grad():
            old_threads = torch.get_num_threads()
            torch.set_num_threads(self.num_threads)
            try:
                out, finish = self._sample(ids, request)
            finally:
                torch.set_num_threads(old_threads)
        text = self._decode(out)
        for s in request.stop:
            if s and s in text:
                text, finish = text.split(s, 1)[0], "stop"
        return Generation(text=text, finish_reason=finish,
                          usage={"prompt_tokens": len(ids), "completion_tokens": len(out)},
                          served_model=self.model)

    def _sample(self, ids: list[int], request: GenerationRequest) -> tuple[list[int], str]:
        """Autoregressive sampling with the trial's seed; stops at byte 0 or a stop sequence."""
        torch = self._torch
        gen = torch.Generator(device=self.device).manual_seed(int(request.seed))
        x = torch.tensor([ids], dtype=torch.long, device=self.device)
        window = 4 * max((len(s) for s in request.stop), default=0)
        out: list[int] = []
        for _ in range(int(request.max_tokens)):
            logits, _ = self._net(x[:, -self._cfg.seq_len:])
            logits = logits[0, -1].float()
            if request.temperature <= 0:
                nxt = int(torch.argmax(logits))
            else:
                probs = torch.softmax(logits / request.temperature, dim=-1)
                nxt = int(torch.multinomial(probs, 1, generator=gen))
            if self._bpe is None and nxt == 0:  # byte 0 separates documents
                return out, "stop"
            out.append(nxt)
            x = torch.cat([x, torch.tensor([[nxt]], device=self.device)], dim=1)
            if window and any(s and s in self._decode(out[-window:]) for s in request.stop):
                return out, "stop"  # generate() trims the stop sequence
        return out, "length"
