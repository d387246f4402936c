"""The contract between :func:`~scalinglab.evals.evaluate` and a model client.

A model client turns one :class:`GenerationRequest` into one :class:`Generation`. Clients are small
classes (one file each in ``evals/clients/``) registered by name in
:data:`scalinglab.evals.clients.CLIENTS` with lazy ``"module:Class"`` targets, so an unused
client's packages (httpx, torch, transformers) are never imported.

Errors: a client raises :class:`~scalinglab.errors.BackendError` (the error of anything that
serves or runs work: model servers here, executors in ``scalinglab.sweep``). When the failure may
pass on its own (connection refused, timeout, HTTP 429 or 5xx) it marks the error with
:func:`transient` so :func:`~scalinglab.evals.evaluate` retries it with backoff; any other error
stops the evaluation at once (finished trials are kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ...errors import BackendError

__all__ = ["Generation", "GenerationRequest", "ModelClient", "is_transient", "transient"]


@dataclass(frozen=True)
class GenerationRequest:
    """One sampled completion to make."""

    prompt: str                       # the rendered prompt text
    style: str = "chat"               # "chat": one user message; "completion": raw text continuation
    seed: int = 0                     # per-trial seed (evaluate gives every trial its own)
    temperature: float = 1.0          # sampling temperature (0 = greedy)
    max_tokens: int = 1024            # cap on generated tokens
    top_p: float | None = None        # nucleus sampling; None = the client's default
    stop: tuple[str, ...] = ()        # stop sequences
    trial: int = 0                    # trial index (lets a replay client return the stored trial)


@dataclass(frozen=True)
class Generation:
    """What the model returned for one request."""

    text: str                                  # the answer text (content), as returned
    finish_reason: str | None = None           # "stop", "length", ... when the client reports it
    reasoning: str | None = None               # separate reasoning text (e.g. vLLM `reasoning_content`)
    usage: dict[str, Any] = field(default_factory=dict)  # prompt_tokens / completion_tokens
    served_model: str | None = None            # model name reported by the server


@runtime_checkable
class ModelClient(Protocol):
    """What :func:`~scalinglab.evals.evaluate` needs from a model client."""

    name: str      # registry name, e.g. "openai_http"
    model: str     # model identifier recorded with every response

    def generate(self, request: GenerationRequest) -> Generation:
        """Make one completion; raise BackendError (marked :func:`transient` if retryable)."""
        ...

    def info(self) -> dict[str, Any]:
        """A description safe to store with results: ``{"client": name, "model": ..., ...}``.

        Never an API key or other secret.
        """
        ...

    def close(self) -> None:
        """Release connections / memory."""
        ...


def transient(error: BackendError, *, retry_after_s: float | None = None) -> BackendError:
    """Mark ``error`` as retryable (connection failures, timeouts, HTTP 429/5xx)."""
    error.transient = True  # type: ignore[attr-defined]
    error.retry_after_s = retry_after_s  # type: ignore[attr-defined]
    return error


def is_transient(error: BaseException) -> bool:
    """Was ``error`` marked retryable with :func:`transient`?"""
    return bool(getattr(error, "transient", False))
