"""Evaluate a model on AIW prompts: N independent trials per prompt, stored as they finish.

Design (Nezhurina et al. 2024, Sec. 2.2: repeated independent trials per prompt, temperature
sampling, correct-response rate = fraction of correct trials):

* every trial gets its **own seed**, derived from ``(seed, prompt_id, trial)``; servers that honour
  seeds would otherwise return the same text for every "independent" trial;
* requests run concurrently (``concurrency``), optionally rate limited (``requests_per_s``);
  connection failures, timeouts and HTTP 429/5xx are retried with exponential backoff and jitter
  (``Retry-After`` honoured); after ``max_retries`` the evaluation stops with a BackendError;
* each finished trial is appended to the results JSONL at once (:mod:`scalinglab.evals.records`),
  so an interrupted or failed evaluation loses nothing: the same call again skips the
  (model, prompt, trial) triples already stored and runs only the missing ones;
* the file refuses to mix: a stored trial with a different prompt text (a task version change)
  or different sampling parameters raises StoreError instead of silently pooling them.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .._version import __version__
from ..errors import BackendError, ConfigError, DataWarning, StoreError
from .clients.base import Generation, GenerationRequest, ModelClient, is_transient
from .extraction import resolve_mode, score
from .records import RECORD_SCHEMA, append_records, iter_responses, read_jsonl
from .stats import RateSummary, summarize_rates
from .task import Prompt

__all__ = ["Evaluation", "evaluate", "summary_path_for", "trial_seed"]


def trial_seed(seed: int, prompt_id: str, trial: int) -> int:
    """The seed of one trial: a hash of ``(seed, prompt_id, trial)`` in ``[0, 2**31)``.

    Different for every trial and prompt, identical on every machine and on resume.
    """
    h = hashlib.sha256(f"{int(seed)}|{prompt_id}|{int(trial)}".encode()).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def summary_path_for(out: str | Path) -> Path:
    """``results.jsonl`` -> ``results.summary.json``."""
    out = Path(out)
    return out.with_name(out.name.removesuffix(".jsonl") + ".summary.json")


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` did: where the trials are, how many were new, and their rates."""

    path: Path                       # the results JSONL
    summary_path: Path | None        # the JSON summary written next to it
    n_new: int                       # trials made by this call
    n_resumed: int                   # trials found already stored and skipped
    records: list[dict[str, Any]] = field(repr=False)  # all response records of this model and these prompts
    summary: RateSummary | None = field(repr=False, default=None)  # rates of the whole file

    @property
    def n_trials(self) -> int:
        return len(self.records)


class _RateLimiter:
    def __init__(self, requests_per_s: float | None) -> None:
        self.interval = 1.0 / requests_per_s if requests_per_s else 0.0
        self.lock = threading.Lock()
        self.next_t = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            t = max(now, self.next_t)
            self.next_t = t + self.interval
        if t > now:
            time.sleep(t - now)


def _check_options(n_trials, temperature, max_tokens, concurrency, requests_per_s, max_retries, top_p):
    if not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"n_trials must be a positive integer; got {n_trials!r} (the paper used 60)")
    if temperature < 0:
        raise ConfigError(f"temperature must be >= 0; got {temperature}")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ConfigError(f"max_tokens must be a positive integer; got {max_tokens!r}")
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be a positive integer; got {concurrency!r}")
    if requests_per_s is not None and requests_per_s <= 0:
        raise ConfigError(f"requests_per_s must be > 0 or None; got {requests_per_s}")
    if max_retries < 0:
        raise ConfigError(f"max_retries must be >= 0; got {max_retries}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ConfigError(f"top_p must be in (0, 1]; got {top_p}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def evaluate(client: ModelClient, prompts: list[Prompt], *, out: str | Path, n_trials: int = 60,
        temperature: float = 1.0, max_tokens: int = 2048, top_p: float | None = None,
        seed: int = 0, concurrency: int = 4, requests_per_s: float | None = None,
        max_retries: int = 5, backoff_s: float = 1.0, max_backoff_s: float = 60.0,
        extract_mode: str = "auto", summary: bool = True,
        progress: Callable[[dict[str, Any]], Any] | None = None) -> Evaluation:
    """Make ``n_trials`` trials of every prompt through ``client``; resumable.

    Parameters
    ----------
    client : ModelClient
        From :func:`scalinglab.evals.get_client`.
    prompts : list of Prompt
        From :func:`scalinglab.evals.task.render` / :func:`~scalinglab.evals.task.render_all`.
    out : path
        Results JSONL; created, or continued when it exists.
    n_trials : int
        Independent trials per prompt (60 in the paper, 100 in later runs).
    temperature, max_tokens, top_p : sampling parameters, recorded with every trial.
    seed : int
        Base seed; trial ``t`` of a prompt is sent ``trial_seed(seed, prompt_id, t)``.
    concurrency : int
        Requests in flight.
    requests_per_s : float, optional
        Rate limit on request starts (retries included).
    max_retries, backoff_s, max_backoff_s :
        Transient failures are retried up to ``max_retries`` times, waiting
        ``backoff_s * 2**attempt`` seconds (capped, with jitter, or the server's Retry-After).
    extract_mode : str
        ``"auto"`` (strict for chat prompts, completion for base-model prompts), ``"strict"``,
        ``"upstream"`` or ``"completion"``; responses can be re-scored later without the model.
    summary : bool
        Write ``<out>.summary.json`` with per-prompt and per-family statistics
        (:func:`~scalinglab.evals.summarize_rates` of the whole file).
    progress : callable, optional
        Called with ``{"done", "total", "prompt_id", "trial", "correct"}`` after each trial.

    Returns
    -------
    Evaluation

    Raises
    ------
    BackendError
        When a trial still fails after its retries (or fails permanently). Every finished trial
        is already in ``out``; call again to resume.
    StoreError
        When ``out`` holds trials of the same prompts with another prompt text or other sampling
        parameters.
    """
    _check_options(n_trials, temperature, max_tokens, concurrency, requests_per_s, max_retries, top_p)
    resolve_mode(extract_mode)
    if not prompts:
        raise ConfigError("no prompts to run; check the family, variation and prompt-type selection")
    model = str(client.model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    by_id: dict[str, Prompt] = {}
    for p in prompts:
        if p.prompt_id in by_id and by_id[p.prompt_id].sha != p.sha:
            raise ConfigError(f"two different prompts share the id {p.prompt_id!r}")
        by_id[p.prompt_id] = p

    stored: dict[tuple[str, int], dict[str, Any]] = {}
    if out.exists():
        for r in iter_responses(read_jsonl(out, repair_tail=True)):
            if r.get("model") != model or r.get("prompt_id") not in by_id:
                continue
            p = by_id[r["prompt_id"]]
            if r.get("prompt_sha") != p.sha:
                raise StoreError(
                    f"{out} holds trials of {p.prompt_id!r} with another prompt text (task version "
                    f"{r.get('task_version')} vs {p.task_version} now). Write to a new file; mixing "
                    "texts would pool different prompts")
            theirs = (r.get("temperature"), r.get("max_tokens"), r.get("top_p"))
            if theirs != (temperature, max_tokens, top_p):
                raise StoreError(
                    f"{out} holds trials of {p.prompt_id!r} sampled with temperature, max_tokens, "
                    f"top_p = {theirs}; this run asks for {(temperature, max_tokens, top_p)}. Use the "
                    "same options to resume, or a new file")
            key = (r["prompt_id"], int(r["trial"]))
            if key in stored:
                warnings.warn(f"{out}: trial {key[1]} of {key[0]} is stored twice; the first is used",
                              DataWarning, stacklevel=2)
                continue
            stored[key] = r
    todo = [(p, t) for p in by_id.values() for t in range(n_trials) if (p.prompt_id, t) not in stored]
    n_resumed = sum(1 for p in by_id.values() for t in range(n_trials) if (p.prompt_id, t) in stored)

    info = client.info()
    sampling = {"temperature": temperature, "max_tokens": max_tokens, "top_p": top_p}
    if todo:
        append_records(out, [{"schema": RECORD_SCHEMA, "record": "run", "time": _now(),
                              "model": model, "client": info, "scalinglab": __version__,
                              "n_prompts": len(by_id), "n_trials": n_trials, "seed": seed,
                              "extract_mode": extract_mode, "concurrency": concurrency,
                              "requests_per_s": requests_per_s, "n_todo": len(todo), **sampling}])

    limiter = _RateLimiter(requests_per_s)
    stop = threading.Event()

    def one(p: Prompt, trial: int) -> tuple[dict[str, Any] | None, BackendError | None]:
        req = GenerationRequest(prompt=p.text, style=p.style, seed=trial_seed(seed, p.prompt_id, trial),
                                temperature=temperature, max_tokens=max_tokens, top_p=top_p,
                                stop=p.stop, trial=trial)
        attempt = 0
        while True:
            if stop.is_set():
                return None, None
            limiter.wait()
            t0 = time.perf_counter()
            try:
                gen: Generation = client.generate(req)
                break
            except BackendError as exc:
                err = exc
            except Exception as exc:  # noqa: BLE001 - a client bug must not lose the evaluation
                err = BackendError(f"{type(exc).__name__}: {exc}")
            if is_transient(err) and attempt < max_retries:
                delay = getattr(err, "retry_after_s", None) or \
                    min(max_backoff_s, backoff_s * 2 ** attempt) * (0.5 + random.random() / 2)
                attempt += 1
                if stop.wait(delay):
                    return None, None
                continue
            return ({"schema": RECORD_SCHEMA, "record": "error", "time": _now(), "model": model,
                     "client": info.get("client"), "prompt_id": p.prompt_id, "trial": trial,
                     "seed": req.seed, "attempts": attempt + 1, "error": str(err)}, err)
        latency = time.perf_counter() - t0
        s = score(gen.text, p.right_answer, mode=extract_mode, style=p.style)
        rec = {"schema": RECORD_SCHEMA, "record": "response", "model": model,
               "client": info.get("client"), **{k: v for k, v in p.to_dict().items() if k != "text"},
               "trial": trial, "seed": req.seed, **sampling,
               "raw_text": gen.text, "reasoning": gen.reasoning, "finish_reason": gen.finish_reason,
               "usage": gen.usage, "served_model": gen.served_model,
               "parsed_answer": s.parsed_answer, "parse_status": s.parse_status,
               "correct": s.correct, "scorer": s.scorer, "extract_method": s.extraction.method,
               "attempts": attempt + 1, "latency_s": round(latency, 4), "time": _now()}
        return rec, None

    failure: BackendError | None = None
    n_new = 0
    new_records: list[dict[str, Any]] = []
    ex = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="aiw")
    pending: set[Future] = set()
    todo_iter = iter(todo)
    try:
        while True:
            while not stop.is_set() and len(pending) < 2 * concurrency:
                nxt = next(todo_iter, None)
                if nxt is None:
                    break
                pending.add(ex.submit(one, *nxt))
            if not pending:
                break
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                rec, err = fut.result()
                if rec is None:
                    continue
                append_records(out, [rec])
                if err is not None:
                    failure = failure or err
                    stop.set()
                    continue
                n_new += 1
                new_records.append(rec)
                if progress is not None:
                    progress({"done": n_resumed + n_new, "total": n_resumed + len(todo),
                              "prompt_id": rec["prompt_id"], "trial": rec["trial"],
                              "correct": rec["correct"]})
    except BaseException:
        stop.set()
        ex.shutdown(wait=True, cancel_futures=True)
        for fut in pending:  # keep whatever finished while stopping
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                rec, err = fut.result()
                if rec is not None and err is None:
                    append_records(out, [rec])
        raise
    ex.shutdown(wait=True)
    if failure is not None:
        raise BackendError(
            f"{failure} (gave up after {max_retries} retries). {n_resumed + n_new} of "
            f"{n_resumed + len(todo)} trials are saved in {out}; run the same command again to "
            "resume with the missing trials") from None

    all_records = [r for r in iter_responses(read_jsonl(out)) if r.get("model") == model
                   and r.get("prompt_id") in by_id and int(r["trial"]) < n_trials]
    summ, spath = None, None
    if summary:
        summ = summarize_rates(iter_responses(read_jsonl(out)))
        spath = summary_path_for(out)
        summ.save(spath)
    return Evaluation(path=out, summary_path=spath, n_new=n_new, n_resumed=n_resumed,
                     records=all_records, summary=summ)
