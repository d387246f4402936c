"""Export AIW prompts as an lm-evaluation-harness task pack that scores *every* repeat.

``lm_eval --include_path DIR --tasks aiw_1_thinking_v2`` then runs the same prompt texts as
scalinglab, ``repeats`` times each. Two details make the harness count all repeats:

* by default lm-eval keeps only the first of the ``repeats`` responses of a document (the
  ``take_first`` filter). The pack declares a ``custom`` filter that keeps the whole list;
* ``process_results`` (in the pack's ``utils.py``) scores each response with scalinglab's
  extraction and returns ``acc`` = k/n with ``n_correct`` = k and ``n_trials`` = n, summed by the
  ``total`` aggregation, so the results table shows k/n per prompt (one task per prompt). Groups
  ``<family>_<prompt type>`` average the variations.

``distinct_frac`` (distinct responses / repeats) exposes a trap: lm-eval's API models
(``local-completions``, ``local-chat-completions``) send the *same* ``seed`` with every request, so
a server that honours seeds returns identical repeats (``distinct_frac`` = 1/repeats). Use the
``hf`` model, or a server that ignores seeds, or :func:`scalinglab.evals.evaluate`, for
independent trials.

The pack imports ``scalinglab.evals.extraction`` at scoring time: install scalinglab in the
environment that runs lm-eval.
"""

from __future__ import annotations

import json
from pathlib import Path

from .._version import __version__
from ..errors import ConfigError
from .extraction import resolve_mode
from .task import Prompt, render_all

__all__ = ["export_lm_eval", "task_name"]

_UTILS = '''"""Helpers of the AIW task pack for lm-evaluation-harness.

Written by scalinglab {version} (`scalinglab aiw export-lm-eval`). Prompts are in aiw_docs.jsonl
next to this file; answers are scored with scalinglab.evals.extraction, so install scalinglab here.
"""

import json
from pathlib import Path

_DOCS = Path(__file__).with_name("aiw_docs.jsonl")
_CACHE = {{}}


def _docs():
    if "rows" not in _CACHE:
        with open(_DOCS, encoding="utf-8") as f:
            _CACHE["rows"] = [json.loads(line) for line in f if line.strip()]
    return _CACHE["rows"]


def load_docs(prompt_id=None, **kwargs):
    """custom_dataset hook: the one document of `prompt_id`, as a test split."""
    import datasets

    rows = [d for d in _docs() if d["prompt_id"] == prompt_id]
    if not rows:
        raise ValueError(f"prompt {{prompt_id!r}} is not in {{_DOCS}}; re-export the pack")
    return {{"test": datasets.Dataset.from_list(rows)}}


def doc_to_text(doc):
    return doc["text"]


def keep_all_repeats(resps, docs):
    """Filter that keeps every repeat (lm-eval's default `take_first` keeps one)."""
    return [list(r) if isinstance(r, (list, tuple)) else [r] for r in resps]


def process_results(doc, results):
    """Score all repeats of one prompt: acc = k/n, with k and n as separate metrics."""
    try:
        from scalinglab.evals.extraction import score
    except ImportError as exc:  # pragma: no cover - environment problem, say how to fix it
        raise ImportError("the AIW task pack scores answers with scalinglab; "
                          "pip install scalinglab in the lm-eval environment") from exc
    responses = results[0] if len(results) == 1 and isinstance(results[0], (list, tuple)) else results
    responses = [r if isinstance(r, str) else str(r) for r in responses]
    scored = [score(r, doc["right_answer"], mode=doc["extract_mode"], style=doc["style"])
              for r in responses]
    n = len(scored)
    k = sum(1 for s in scored if s.correct)
    return {{"acc": k / n if n else 0.0, "n_correct": k, "n_trials": n,
             "n_unparsed": sum(1 for s in scored if not s.extraction.parsed),
             "distinct_frac": len(set(responses)) / n if n else 0.0}}


def total(items):
    """Aggregation: the sum over documents (k and n of a prompt)."""
    return sum(items)
'''


def task_name(prompt: Prompt) -> str:
    """lm-eval task name of a prompt: ``<family>_<variation>_<prompt type>``."""
    return f"{prompt.family}_{prompt.variation}_{prompt.prompt_type}".replace("-", "_").replace("/", "_")


def _q(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def _task_yaml(p: Prompt, *, repeats: int, temperature: float, max_gen_toks: int, mode: str) -> str:
    until = [_q(s) for s in p.stop]
    sampling = temperature > 0
    lines = [
        f"# AIW prompt {p.prompt_id} (task version {p.task_version}); written by scalinglab {__version__}",
        f"task: {task_name(p)}",
        f"tag: [aiw_pack, aiw_pack_{p.family}]",
        "custom_dataset: !function utils.load_docs",
        "dataset_kwargs:",
        f"  prompt_id: {_q(p.prompt_id)}",
        "test_split: test",
        "output_type: generate_until",
        "doc_to_text: !function utils.doc_to_text",
        "doc_to_target: right_answer",
        f"repeats: {int(repeats)}",
        "generation_kwargs:",
        f"  until: [{', '.join(until)}]",
        f"  do_sample: {'true' if sampling else 'false'}",
        f"  temperature: {float(temperature)}",
        f"  max_gen_toks: {int(max_gen_toks)}",
        "filter_list:",
        "  - name: all_repeats",
        "    filter:",
        "      - function: custom",
        "        filter_fn: !function utils.keep_all_repeats",
        "process_results: !function utils.process_results",
        "metric_list:",
        "  - metric: acc",
        "    aggregation: mean",
        "    higher_is_better: true",
        "  - metric: n_correct",
        "    aggregation: !function utils.total",
        "    higher_is_better: true",
        "  - metric: n_trials",
        "    aggregation: !function utils.total",
        "    higher_is_better: true",
        "  - metric: n_unparsed",
        "    aggregation: !function utils.total",
        "    higher_is_better: false",
        "  - metric: distinct_frac",
        "    aggregation: mean",
        "    higher_is_better: true",
        "metadata:",
        f"  version: {p.task_version}",
        f"  scalinglab_prompt_id: {_q(p.prompt_id)}",
        f"  upstream_id: {'null' if p.upstream_id is None else p.upstream_id}",
        f"  extract_mode: {mode}",
    ]
    return "\n".join(lines) + "\n"


def export_lm_eval(out_dir: str | Path, *, families: list[str] | None = None,
                   prompt_types: list[str] | None = None, variations: list[str] | None = None,
                   repeats: int = 60, temperature: float = 1.0, max_gen_toks: int = 2048,
                   extract_mode: str = "auto") -> list[str]:
    """Write the task pack to ``out_dir``; returns the task names written.

    Parameters
    ----------
    families, prompt_types, variations :
        Selection (default: every family with its own prompt types, every variation).
    repeats : int
        Trials per prompt (lm-eval ``repeats``; all of them are scored).
    temperature, max_gen_toks :
        Sampling; ``temperature=0`` makes the repeats pointless (greedy decoding).
    extract_mode : str
        Scoring mode of :mod:`scalinglab.evals.extraction` (``"auto"``: strict for chat prompts,
        completion for the base-model prompt type).
    """
    if not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be a positive integer; got {repeats!r}")
    resolve_mode(extract_mode)
    prompts = render_all(families=families, prompt_types=prompt_types, variations=variations)
    if not prompts:
        raise ConfigError("the selection holds no prompts")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    groups: dict[str, list[str]] = {}
    with open(out / "aiw_docs.jsonl", "w", encoding="utf-8") as f:
        for p in prompts:
            mode = resolve_mode(extract_mode, style=p.style)
            f.write(json.dumps({"prompt_id": p.prompt_id, "text": p.text, "right_answer": p.right_answer,
                                "style": p.style, "extract_mode": mode, "family": p.family,
                                "variation": p.variation, "prompt_type": p.prompt_type,
                                "task_version": p.task_version, "upstream_id": p.upstream_id}) + "\n")
            name = task_name(p)
            (out / f"{name}.yaml").write_text(
                _task_yaml(p, repeats=repeats, temperature=temperature, max_gen_toks=max_gen_toks,
                           mode=mode), encoding="utf-8")
            names.append(name)
            groups.setdefault(f"{p.family}_{p.prompt_type}", []).append(name)
    for g, members in groups.items():
        body = [f"# AIW group {g}: the variations of one family and prompt type (scalinglab {__version__})",
                f"group: {g}", "task:"] + [f"  - {m}" for m in members] + [
            "aggregate_metric_list:", "  - metric: acc", "    aggregation: mean",
            "    weight_by_size: true", "metadata:", "  version: 1"]
        (out / f"_group_{g}.yaml").write_text("\n".join(body) + "\n", encoding="utf-8")
    (out / "utils.py").write_text(_UTILS.format(version=__version__), encoding="utf-8")
    (out / "README.md").write_text(
        f"# AIW task pack (scalinglab {__version__})\n\n"
        "Alice in Wonderland problems (Nezhurina et al. 2024, arXiv:2406.02061), one task per prompt, "
        f"{repeats} repeats each, every repeat scored (see utils.py).\n\n"
        "    lm_eval --model hf --model_args pretrained=PATH --include_path THIS_DIR \\\n"
        "            --tasks aiw_1_thinking_v2 --apply_chat_template --log_samples --output_path out\n\n"
        "Metrics: acc = n_correct / n_trials per prompt; n_unparsed; distinct_frac (1/repeats means every "
        "repeat was identical: a constant seed on a seed-honouring server).\n\n"
        f"Groups (family x prompt type): {', '.join(sorted(groups))}\n\nTasks: {', '.join(names)}\n",
        encoding="utf-8")
    return names
