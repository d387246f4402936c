"""Model clients for AIW evaluation, registered lazily by name.

A *client* is how :func:`scalinglab.evals.evaluate` reaches a model (a server, a local model, a
checkpoint, stored responses). It is not an *executor* of ``scalinglab.sweep``, which runs
training jobs.

What to use when
----------------
``openai_http``
    Any OpenAI-compatible server: vLLM, llama.cpp server, Ollama, ``transformers serve``, hosted
    APIs (``base_url``, ``model``; API key from ``$OPENAI_API_KEY`` or ``api_key_env``). Needs httpx.
``transformers_local``
    A Hugging Face model directory on this machine (``model_dir``); CPU works. Needs torch and
    transformers.
``scalinglab_ckpt``
    A checkpoint of scalinglab's own reference GPT (``path`` = run directory); base model, so use
    the ``completion`` prompt type. Needs torch.
``responses_file``
    Replays stored responses (a scalinglab results file or upstream AIW raw-response JSON).

Importing this package imports none of httpx, torch or transformers.
"""

from __future__ import annotations

from typing import Any

from ..._registry import Registry
from .base import ModelClient

__all__ = ["CLIENTS", "get_client", "list_clients"]

CLIENTS: Registry = Registry("model client")
CLIENTS.register("openai_http", target="scalinglab.evals.clients.openai_http:OpenAIHTTPClient")
CLIENTS.register("transformers_local",
                 target="scalinglab.evals.clients.transformers_local:TransformersClient")
CLIENTS.register("scalinglab_ckpt",
                 target="scalinglab.evals.clients.scalinglab_ckpt:ScalingLabCheckpointClient")
CLIENTS.register("responses_file",
                 target="scalinglab.evals.clients.responses_file:ResponsesFileClient")


def list_clients() -> list[str]:
    """Names of the registered model clients."""
    return CLIENTS.names()


def get_client(name: str, *args: Any, **kwargs: Any) -> ModelClient:
    """Create the model client registered as ``name`` (an unknown name suggests close ones)."""
    return CLIENTS.get(name)(*args, **kwargs)
