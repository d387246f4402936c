"""Evaluation: the "Alice in Wonderland" (AIW) robustness suite and image-text zero-shot metrics.

AIW (Nezhurina, Cipolina-Kun, Cherti, Jitsev 2024, arXiv:2406.02061; code LAION-AI/AIW) asks
simple templated questions - "Alice has 3 brothers and she also has 6 sisters. How many sisters
does Alice's brother have?" - in variations that only change the numbers or the clause order, so
a model that can reason gives the same (correct) answer to all of them.

What to use when
----------------
* See the tasks: :func:`list_families`, :func:`render` (one family) and :func:`render_all`;
  add your own YAML families with :func:`add_task_path`.
* Evaluate a model: :func:`get_client` (a model client: ``"openai_http"``,
  ``"transformers_local"``, ``"scalinglab_ckpt"``, ``"responses_file"``; see
  :func:`list_clients`), then :func:`evaluate` - N trials per prompt with a different seed each,
  stored as JSONL as they finish, resumable; it returns an :class:`Evaluation`.
* Score text: :func:`score` / :func:`extract` (modes ``"strict"``, ``"upstream"``,
  ``"completion"``); re-score stored results with :func:`rescore`; read upstream AIW raw
  responses with :func:`read_responses`.
* Statistics: :func:`summarize_rates` returns a :class:`RateSummary` (per prompt k/n with Wilson
  intervals, per family pooled and macro rates, spread, homogeneity test, gaps to the Light
  controls); :func:`wilson_interval`, :func:`homogeneity_test`.
* Figures and the HTML page: :mod:`scalinglab.report` reads these results
  (:func:`scalinglab.report.build_aiw_report`, ``plot_aiw_variations``, ``plot_aiw_controls``);
  ``evals`` renders no HTML.
* lm-evaluation-harness: :func:`export_lm_eval` writes a task pack that scores every repeat.
* Image-text models (CLIP, CoCa, MaMMUT): :mod:`scalinglab.evals.zeroshot` - zero-shot
  classification, retrieval and hard negatives from embeddings or scores, each with its standard
  error; the trainers score their runs with it.

The core imports no torch, transformers, httpx or matplotlib, and nothing of ``train``, ``sweep``
or ``report`` (``evals`` sits below ``train``; the ``scalinglab_ckpt`` client alone loads the
project's GPT, inside its constructor). :func:`export_lm_eval` is resolved on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import Any

from .clients import get_client, list_clients
from .clients.base import Generation, GenerationRequest, ModelClient
from .clients.responses_file import read_responses
from .extraction import Extraction, Score, extract, score
from .records import read_jsonl, rescore
from .runner import Evaluation, evaluate, trial_seed
from .stats import (
    ControlGap,
    FamilyStat,
    HomogeneityTest,
    PromptStat,
    RateSummary,
    homogeneity_test,
    jeffreys_interval,
    summarize_rates,
    wilson_interval,
)
from .task import (
    Family,
    Prompt,
    PromptType,
    Variation,
    add_task_path,
    get_family,
    get_prompt_type,
    list_families,
    list_prompt_types,
    render,
    render_all,
)

# Names resolved lazily (PEP 562), as in the top-level package: the object itself, signature and all.
_LAZY = {
    "export_lm_eval": "scalinglab.evals.lm_eval_pack",
}

__all__ = [
    "ControlGap",
    "Evaluation",
    "Extraction",
    "Family",
    "FamilyStat",
    "Generation",
    "GenerationRequest",
    "HomogeneityTest",
    "ModelClient",
    "Prompt",
    "PromptStat",
    "PromptType",
    "RateSummary",
    "Score",
    "Variation",
    "add_task_path",
    "evaluate",
    "export_lm_eval",
    "extract",
    "get_client",
    "get_family",
    "get_prompt_type",
    "homogeneity_test",
    "jeffreys_interval",
    "list_clients",
    "list_families",
    "list_prompt_types",
    "read_jsonl",
    "read_responses",
    "render",
    "render_all",
    "rescore",
    "score",
    "summarize_rates",
    "trial_seed",
    "wilson_interval",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scalinglab.evals' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
