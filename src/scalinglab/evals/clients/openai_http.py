"""OpenAI-compatible HTTP servers: vLLM, llama.cpp server, Ollama, ``transformers serve``, hosted APIs.

Chat-style prompts go to ``POST {base_url}/chat/completions`` as one user message; the base-model
``completion`` prompt type goes to ``POST {base_url}/completions``. Every request carries the
trial's own ``seed``: servers that honour seeds (vLLM, ``transformers serve``, llama.cpp) return
the same text for the same seed, so a constant seed would make every "independent" trial
identical.

The API key is read from an environment variable (``OPENAI_API_KEY`` by default) when the client
is created. It is sent in the ``Authorization`` header only: it is never stored in results, logs,
:meth:`OpenAIHTTPClient.info` or ``repr``. Uses ``httpx`` (``pip install 'scalinglab[eval]'``).
"""

from __future__ import annotations

import os
from typing import Any

from ..._optional import require
from ...errors import BackendError, ConfigError
from .base import Generation, GenerationRequest, transient

__all__ = ["OpenAIHTTPClient"]

_TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAIHTTPClient:
    """An OpenAI-compatible server.

    Parameters
    ----------
    base_url : str
        Server root including the API prefix, e.g. ``http://127.0.0.1:8000/v1``.
    model : str
        Model name sent with each request and recorded with each response.
    api_key_env : str
        Environment variable holding the API key; unset means no ``Authorization`` header
        (local servers).
    timeout_s : float
        Per-request timeout in seconds.
    extra_body : dict, optional
        Extra JSON fields sent with every request (e.g. ``{"top_k": 20}`` for vLLM).
    """

    name = "openai_http"

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 600.0, extra_body: dict[str, Any] | None = None) -> None:
        httpx = require("httpx", extra="eval", purpose="the OpenAI-compatible HTTP client")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://; got {base_url!r} "
                              "(e.g. http://127.0.0.1:8000/v1)")
        if not model:
            raise ConfigError("model must be the name the server knows the model by; got an empty name")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = float(timeout_s)
        self.extra_body = dict(extra_body or {})
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env) if api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._has_key = bool(key)
        self._httpx = httpx
        self._http = httpx.Client(headers=headers, timeout=self.timeout_s)

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIHTTPClient(base_url={self.base_url!r}, model={self.model!r})"

    def info(self) -> dict[str, Any]:
        return {"client": self.name, "base_url": self.base_url, "model": self.model,
                "api_key_env": self.api_key_env, "api_key_set": self._has_key,
                "timeout_s": self.timeout_s, "extra_body": self.extra_body}

    def close(self) -> None:
        self._http.close()

    def _payload(self, req: GenerationRequest) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, "temperature": req.temperature,
                                "max_tokens": req.max_tokens, "seed": req.seed, "n": 1}
        if req.top_p is not None:
            body["top_p"] = req.top_p
        if req.stop:
            body["stop"] = list(req.stop)
        body.update(self.extra_body)
        if req.style == "completion":
            body["prompt"] = req.prompt
            return f"{self.base_url}/completions", body
        body["messages"] = [{"role": "user", "content": req.prompt}]
        return f"{self.base_url}/chat/completions", body

    def generate(self, request: GenerationRequest) -> Generation:
        url, body = self._payload(request)
        httpx = self._httpx
        try:
            resp = self._http.post(url, json=body)
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            raise transient(BackendError(
                f"cannot reach the model server at {url}: {type(exc).__name__}: {exc}. Is it "
                "running, and is --base-url right (it usually ends in /v1)?")) from None
        if resp.status_code >= 400:
            snippet = resp.text[:300].replace("\n", " ")
            err = BackendError(f"server {url} answered HTTP {resp.status_code}: {snippet}")
            if resp.status_code in _TRANSIENT_STATUS:
                retry_after = resp.headers.get("retry-after")
                try:
                    ra = float(retry_after) if retry_after else None
                except ValueError:
                    ra = None
                raise transient(err, retry_after_s=ra)
            raise err
        try:
            data = resp.json()
            choice = data["choices"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise transient(BackendError(
                f"server {url} returned a body that is not an OpenAI completion: "
                f"{resp.text[:200]!r}")) from None
        if request.style == "completion":
            text = choice.get("text")
            reasoning = None
        else:
            msg = choice.get("message") or {}
            text = msg.get("content")
            reasoning = msg.get("reasoning_content") or msg.get("reasoning")
        if text is None:
            text = ""
        usage = data.get("usage") or {}
        return Generation(text=str(text), finish_reason=choice.get("finish_reason"),
                          reasoning=reasoning if isinstance(reasoning, str) else None,
                          usage={k: usage[k] for k in ("prompt_tokens", "completion_tokens") if k in usage},
                          served_model=data.get("model"))
