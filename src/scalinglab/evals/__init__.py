"""Robustness evaluation with the "Alice in Wonderland" (AIW) problems.

AIW (Nezhurina, Cipolina-Kun, Cherti, Jitsev 2024, arXiv:2406.02061; code LAION-AI/AIW) asks
simple templated questions - "Alice has 3 brothers and she also has 6 sisters. How many sisters
does Alice's brother have?" - in variations that only change the numbers or the clause order, so
a model that can reason gives the same (correct) answer to all of them.

What to use when
----------------
* See the tasks: :func:`list_families`, :func:`render` (one family) and :func:`render_all`;
  add your own YAML families with :func:`add_task_path`.
* Evaluate a model: :func:`get_backend` (``"openai_http"``, ``"transformers_local"``,
  ``"scalinglab_ckpt"``, ``"responses_file"``), then :func:`run` - N trials per prompt with a
  different seed each, stored as JSONL as they finish, resumable.
* Score text: :func:`score` / :func:`extract` (modes ``"strict"``, ``"upstream"``,
  ``"completion"``); re-score stored results with :func:`rescore`; read upstream AIW raw
  responses with :func:`read_responses`.
* Statistics: :func:`summarize` (per prompt k/n with Wilson intervals, per family pooled and
  macro rates, spread, homogeneity test, gaps to the Light controls); :func:`wilson_interval`,
  :func:`homogeneity_test`.
* Figures and report: ``scalinglab.evals.plots`` (matplotlib, imported lazily) and
  :func:`write_report`.
* lm-evaluation-harness: :func:`export_lm_eval` writes a task pack that scores every repeat.

The core imports no torch, transformers, httpx or matplotlib.
"""

from __future__ import annotations

from .api import Backend, Generation, GenerationRequest
from .backends import get_backend, list_backends
from .backends.responses_file import read_responses
from .extract import Extraction, Score, extract, score
from .records import read_jsonl, rescore
from .runner import RunResult, run, trial_seed
from .stats import (
    ControlGap,
    FamilyStat,
    HomogeneityTest,
    PromptStat,
    Summary,
    homogeneity_test,
    jeffreys_interval,
    summarize,
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

__all__ = [
    "Backend",
    "ControlGap",
    "Extraction",
    "Family",
    "FamilyStat",
    "Generation",
    "GenerationRequest",
    "HomogeneityTest",
    "Prompt",
    "PromptStat",
    "PromptType",
    "RunResult",
    "Score",
    "Summary",
    "Variation",
    "add_task_path",
    "export_lm_eval",
    "extract",
    "get_backend",
    "get_family",
    "get_prompt_type",
    "homogeneity_test",
    "jeffreys_interval",
    "list_backends",
    "list_families",
    "list_prompt_types",
    "read_jsonl",
    "read_responses",
    "render",
    "render_all",
    "rescore",
    "run",
    "score",
    "summarize",
    "trial_seed",
    "wilson_interval",
    "write_report",
]


def export_lm_eval(*args, **kwargs):
    """See :func:`scalinglab.evals.lm_eval_pack.export_lm_eval`."""
    from .lm_eval_pack import export_lm_eval as _export

    return _export(*args, **kwargs)


def write_report(*args, **kwargs):
    """See :func:`scalinglab.evals.report.write_report` (needs matplotlib)."""
    from .report import write_report as _write

    return _write(*args, **kwargs)
