"""Model backends for the AIW runner, registered lazily by name.

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

__all__ = ["BACKENDS", "get_backend", "list_backends"]

BACKENDS: Registry = Registry("AIW backend")
BACKENDS.register("openai_http", target="scalinglab.evals.backends.openai_http:OpenAIHTTPBackend")
BACKENDS.register("transformers_local",
                  target="scalinglab.evals.backends.transformers_local:TransformersBackend")
BACKENDS.register("scalinglab_ckpt",
                  target="scalinglab.evals.backends.scalinglab_ckpt:ScalingLabCheckpointBackend")
BACKENDS.register("responses_file",
                  target="scalinglab.evals.backends.responses_file:ResponsesFileBackend")


def list_backends() -> list[str]:
    return BACKENDS.names()


def get_backend(name: str, *args: Any, **kwargs: Any):
    """Create the backend registered as ``name`` (unknown names suggest close ones)."""
    return BACKENDS.get(name)(*args, **kwargs)
