"""Fixtures for the AIW tests: upstream prompts, a tiny local model, a real OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scalinglab._optional import has

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = HERE / "data"


@pytest.fixture(scope="session")
def upstream_prompts() -> dict[int, dict]:
    """LAION-AI/AIW prompts.json by id (../shared/data when present, else the shipped copy)."""
    p = REPO.parent / "shared" / "data" / "aiw_prompts.json"
    if not p.exists():
        from scalinglab.datasets import path

        p = path("aiw_prompts.json")
    return {int(r["id"]): r for r in json.loads(p.read_text(encoding="utf-8"))}


@pytest.fixture
def isolated_tasks():
    """Let a test add families without leaking them into other tests."""
    from scalinglab.evals import task

    task._INDEX.ensure()
    fams, pts = dict(task._INDEX.families), dict(task._INDEX.prompt_types)
    yield task
    task._INDEX.families, task._INDEX.prompt_types = fams, pts


def _tokenizer_corpus() -> list[str]:
    from scalinglab.evals import render_all

    texts = [p.text for p in render_all(prompt_types=["standard", "thinking_v2", "completion"])]
    return texts + [f"### Answer: {i}" for i in range(30)] + ["Alice's brother has 7 sisters."]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random 1-layer GPT-2 (n_embd=32) with a byte-level BPE tokenizer built here, saved locally.

    Sampling is on (``do_sample=True`` in its generation config) so that servers draw a new text
    for every seed. Its answers are noise; the plumbing is what the tests check.
    """
    if not (has("torch") and has("transformers") and has("tokenizers")):
        pytest.skip("needs torch, transformers and tokenizers")
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("tiny_gpt2")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_tokenizer_corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                   bos_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                          "{% if add_generation_prompt %}assistant: {% endif %}")
    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=1024, vocab_size=len(fast),
                     bos_token_id=fast.eos_token_id, eos_token_id=fast.eos_token_id)
    GPT2LMHeadModel(cfg).save_pretrained(out)
    fast.save_pretrained(out)
    GenerationConfig(do_sample=True, bos_token_id=fast.eos_token_id,
                     eos_token_id=fast.eos_token_id).save_pretrained(out)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TransformersServer:
    """``transformers serve`` on loopback, serving the tiny model; started and stopped by PID."""

    def __init__(self, model_dir: Path, log: Path) -> None:
        self.model_dir = model_dir
        self.port = _free_port()
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model(self) -> str:
        return str(self.model_dir)

    def start(self) -> None:
        if self.running:
            return
        exe = Path(sys.executable).with_name("transformers")
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1",
                   TOKENIZERS_PARALLELISM="false")
        self.proc = subprocess.Popen(
            [str(exe), "serve", str(self.model_dir), "--host", "127.0.0.1", "--port", str(self.port),
             "--device", "cpu", "--log-level", "warning"],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, env=env)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_up(self, timeout_s: float = 120.0) -> None:
        import httpx

        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            if not self.running:
                raise RuntimeError(f"transformers serve exited; log:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"transformers serve did not come up in {timeout_s}s; log:\n"
                           f"{self.log.read_text()[-3000:]}")

    def ensure_up(self) -> None:
        self.start()
        self.wait_up()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None


@pytest.fixture(scope="session")
def aiw_server(tiny_model_dir, tmp_path_factory):
    """A (not yet started) real OpenAI-compatible server; tests start, stop and restart it."""
    if not (has("fastapi") and has("uvicorn")):
        pytest.skip('needs `pip install "transformers[serving]"`')
    srv = TransformersServer(tiny_model_dir, tmp_path_factory.mktemp("server") / "serve.log")
    yield srv
    srv.stop()
