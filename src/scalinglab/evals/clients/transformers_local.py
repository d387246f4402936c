"""A local Hugging Face ``transformers`` causal LM loaded from a directory (CPU works).

Chat-style prompts are wrapped with the tokenizer's chat template when it has one (instruction
models); otherwise, and for the ``completion`` prompt type, the prompt text is used as is.
Each request seeds torch with the trial's seed before sampling, under a lock, so a trial's text
depends only on its seed. Never downloads: ``local_files_only=True``.
torch and transformers are imported when the client is created (``pip install 'scalinglab[hf]'``).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from ..._optional import require
from ...errors import BackendError, ConfigError
from .base import Generation, GenerationRequest

__all__ = ["TransformersClient"]


class TransformersClient:
    """Sample from a ``transformers`` model directory.

    Parameters
    ----------
    model_dir : str or Path
        Directory written by ``save_pretrained`` (model and tokenizer).
    model : str, optional
        Name recorded with results (default: the directory name).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
    num_threads : int, optional
        CPU threads while generating (default ``$SCALINGLAB_TORCH_THREADS``, else torch's own
        default). One thread is much faster for tiny models on a busy machine.
    """

    name = "transformers_local"

    def __init__(self, model_dir: str | Path, *, model: str | None = None, device: str = "cpu",
                 dtype: str | None = None, num_threads: int | None = None) -> None:
        path = Path(model_dir).expanduser()
        if not (path / "config.json").exists():
            raise ConfigError(f"{str(path)!r} is not a transformers model directory (no config.json); "
                              "pass the folder written by save_pretrained")
        self._torch = require("torch", extra="hf", purpose="the local transformers client")
        tf = require("transformers", extra="hf", purpose="the local transformers client")
        try:
            self._tok = tf.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            kw = {"local_files_only": True}
            if dtype:
                kw["dtype"] = getattr(self._torch, dtype)
            self._model = tf.AutoModelForCausalLM.from_pretrained(str(path), **kw).to(device).eval()
        except Exception as exc:  # noqa: BLE001 - any loading failure is the user's model dir
            raise BackendError(f"cannot load the transformers model in {str(path)!r}: {exc}") from None
        self.model = model or path.name
        self.model_dir = str(path)
        self.device = device
        self._lock = threading.Lock()
        env_threads = os.environ.get("SCALINGLAB_TORCH_THREADS")
        self.num_threads = int(num_threads or env_threads) if (num_threads or env_threads) else None
        self._has_chat_template = bool(getattr(self._tok, "chat_template", None))

    def info(self) -> dict[str, Any]:
        return {"client": self.name, "model": self.model, "model_dir": self.model_dir,
                "device": self.device, "chat_template": self._has_chat_template}

    def close(self) -> None:
        self._model = None

    def _input_ids(self, req: GenerationRequest):
        if req.style == "chat" and self._has_chat_template:
            ids = self._tok.apply_chat_template([{"role": "user", "content": req.prompt}],
                                                add_generation_prompt=True, return_tensors="pt",
                                                return_dict=True)["input_ids"]
        else:
            ids = self._tok(req.prompt, return_tensors="pt")["input_ids"]
        return ids.to(self.device)

    def generate(self, request: GenerationRequest) -> Generation:
        if self._model is None:
            raise BackendError("this TransformersClient was closed; create a new one")
        torch = self._torch
        ids = self._input_ids(request)
        sample = request.temperature > 0
        kw: dict[str, Any] = {"max_new_tokens": int(request.max_tokens), "do_sample": sample,
                              "pad_token_id": self._tok.pad_token_id or self._tok.eos_token_id}
        if sample:
            kw["temperature"] = float(request.temperature)
            kw["top_k"] = 0  # plain temperature sampling unless top_p is asked for
            if request.top_p is not None:
                kw["top_p"] = float(request.top_p)
        with self._lock, torch.no_grad():
            old_threads = torch.get_num_threads()
            if self.num_threads:
                torch.set_num_threads(self.num_threads)
            try:
                torch.manual_seed(int(request.seed))
                out = self._model.generate(ids, attention_mask=torch.ones_like(ids), **kw)
            finally:
                torch.set_num_threads(old_threads)
        new = out[0, ids.shape[1]:]
        text = self._tok.decode(new, skip_special_tokens=True)
        finish = "length" if new.shape[0] >= request.max_tokens else "stop"
        for s in request.stop:
            if s and s in text:
                text, finish = text.split(s, 1)[0], "stop"
        return Generation(text=text, finish_reason=finish,
                          usage={"prompt_tokens": int(ids.shape[1]),
                                 "completion_tokens": int(new.shape[0])},
                          served_model=self.model)
