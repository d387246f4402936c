"""``scalinglab aiw``: list, render, run, score and report the Alice in Wonderland evaluation.

A thin layer over :mod:`scalinglab.evals` (and :func:`scalinglab.report.build_aiw_report` for the
page): parse options, call the public API, print.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError
from ..evals import (
    RateSummary,
    add_task_path,
    evaluate,
    export_lm_eval,
    get_client,
    get_family,
    get_prompt_type,
    list_clients,
    list_families,
    list_prompt_types,
    read_responses,
    render,
    summarize_rates,
)
from ..evals.records import append_records
from ..report import build_aiw_report

aiw_app = typer.Typer(name="aiw", no_args_is_help=True, add_completion=False,
                      help="Alice in Wonderland (AIW) robustness evaluation (arXiv:2406.02061).")

_FAMILY = typer.Option(None, "--family", "-f", help="Family (repeatable); default: aiw.")
_PTYPE = typer.Option(None, "--prompt-type", "-p",
                      help="Prompt type (repeatable); default: the family's own types.")
_VARIATION = typer.Option(None, "--variation", "-v", help="Variation (repeatable); default: all.")
_TASKS_DIR = typer.Option(None, "--tasks-dir", help="Extra folder of family YAML files.")
_MODE = typer.Option("auto", "--mode", help="Extraction: auto, strict, upstream or completion.")


def _tasks(tasks_dir: Optional[Path]) -> None:
    if tasks_dir is not None:

        add_task_path(tasks_dir)


def _prompts(family, prompt_type, variation):

    out = []
    for fam in family or ["aiw"]:
        f = get_family(fam)
        names = {v.name for v in f.variations}
        vs = [v for v in (variation or []) if v in names]
        if variation and not vs:
            raise ConfigError(f"family {fam!r} has none of the variations {', '.join(variation)}; "
                              f"it has {', '.join(sorted(names))}")
        out.extend(render(f, variations=vs or None, prompt_types=prompt_type or None))
    return out


@aiw_app.command("list")
def list_cmd(tasks_dir: Optional[Path] = _TASKS_DIR) -> None:
    """List task families, prompt types and model clients."""

    _tasks(tasks_dir)
    rows = [(n, get_family(n)) for n in list_families()]
    w = max([12] + [len(",".join(f.prompt_types)) for _, f in rows])
    print(f"{'family':22s} {'kind':8s} {'ver':>3s} {'variations':12s} {'prompt types':{w}s} title")
    for name, f in rows:
        print(f"{name:22s} {f.kind:8s} {f.version:3d} {','.join(v.name for v in f.variations):12s} "
              f"{','.join(f.prompt_types):{w}s} {f.title}")
    print("\nprompt types:")
    for name in list_prompt_types():
        pt = get_prompt_type(name)
        print(f"  {name:12s} {pt.style:10s} {pt.description}")
    print(f"\nmodel clients (aiw run --client): {', '.join(list_clients())}")


@aiw_app.command("render")
def render_cmd(family: list[str] = typer.Argument(..., help="Family name(s)."),
               prompt_type: Optional[list[str]] = _PTYPE, variation: Optional[list[str]] = _VARIATION,
               as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
               tasks_dir: Optional[Path] = _TASKS_DIR) -> None:
    """Print the rendered prompts with their right answers and upstream ids."""
    _tasks(tasks_dir)
    for p in _prompts(family, prompt_type, variation):
        if as_json:
            print(json.dumps(p.to_dict(), ensure_ascii=False))
        else:
            up = "-" if p.upstream_id is None else p.upstream_id
            print(f"[{p.prompt_id}] answer={p.right_answer} upstream_id={up} version={p.task_version}")
            print(p.text)
            print()


@aiw_app.command("run")
def run_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Results JSONL (continued when it exists)."),
    client: str = typer.Option("openai_http", "--client", "-c",
                               help="Model client: openai_http, transformers_local, scalinglab_ckpt or "
                                    "responses_file."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name (server name for openai_http)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="openai_http: e.g. http://127.0.0.1:8000/v1"),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env",
                                    help="openai_http: environment variable holding the API key."),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", help="transformers_local: model folder."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="scalinglab_ckpt: run dir or .pt."),
    responses: Optional[Path] = typer.Option(None, "--responses", help="responses_file: stored responses."),
    device: str = typer.Option("cpu", "--device", help="Local clients: cpu, cuda, cuda:1 ..."),
    family: Optional[list[str]] = _FAMILY, prompt_type: Optional[list[str]] = _PTYPE,
    variation: Optional[list[str]] = _VARIATION,
    trials: int = typer.Option(60, "--trials", "-n", help="Independent trials per prompt (paper: 60)."),
    temperature: float = typer.Option(1.0, "--temperature"),
    max_tokens: int = typer.Option(2048, "--max-tokens"),
    top_p: Optional[float] = typer.Option(None, "--top-p"),
    seed: int = typer.Option(0, "--seed", help="Base seed; every trial gets its own seed from it."),
    concurrency: int = typer.Option(4, "--concurrency"),
    rps: Optional[float] = typer.Option(None, "--rps", help="Rate limit, requests per second."),
    max_retries: int = typer.Option(5, "--max-retries"),
    mode: str = _MODE, tasks_dir: Optional[Path] = _TASKS_DIR,
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Evaluate a model: N trials per prompt; writes the JSONL and <out>.summary.json."""

    _tasks(tasks_dir)
    prompts = _prompts(family, prompt_type, variation)
    if client == "openai_http":
        if not base_url or not model:
            raise ConfigError("--client openai_http needs --base-url and --model")
        mc = get_client(client, base_url, model, api_key_env=api_key_env)
    elif client == "transformers_local":
        if model_dir is None:
            raise ConfigError("--client transformers_local needs --model-dir")
        mc = get_client(client, model_dir, model=model, device=device)
    elif client == "scalinglab_ckpt":
        if checkpoint is None:
            raise ConfigError("--client scalinglab_ckpt needs --checkpoint")
        mc = get_client(client, checkpoint, model=model, device=device)
    elif client == "responses_file":
        if responses is None:
            raise ConfigError("--client responses_file needs --responses")
        mc = get_client(client, responses, model=model)
    else:
        mc = get_client(client)  # unknown name: UnknownNameError with suggestions

    def progress(d: dict) -> None:
        if not quiet:
            sys.stderr.write(f"\r{d['done']}/{d['total']} trials")
            sys.stderr.flush()

    try:
        res = evaluate(mc, prompts, out=out, n_trials=trials, temperature=temperature,
                  max_tokens=max_tokens, top_p=top_p, seed=seed, concurrency=concurrency,
                  requests_per_s=rps, max_retries=max_retries, extract_mode=mode, progress=progress)
    finally:
        if not quiet:
            sys.stderr.write("\n")
        mc.close()
    print(res.summary.as_text())
    print(f"\n{res.n_new} new trials, {res.n_resumed} already stored; results: {res.path}; "
          f"summary: {res.summary_path}")


@aiw_app.command("score")
def score_cmd(responses: Path = typer.Argument(..., help="Results JSONL, upstream AIW JSON, or a folder."),
              mode: str = _MODE,
              out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the re-scored records (JSONL)."),
              summary: Optional[Path] = typer.Option(None, "--summary", help="Write the JSON summary here."),
              level: float = typer.Option(0.95, "--level"),
              interval: str = typer.Option("wilson", "--interval", help="wilson or jeffreys."),
              tasks_dir: Optional[Path] = _TASKS_DIR) -> None:
    """Re-score stored responses without calling any model and print the statistics."""

    _tasks(tasks_dir)
    records = read_responses(responses, mode=mode)
    if out is not None:
        if out.exists():
            raise ConfigError(f"{out} exists; choose a new file for the re-scored records")
        append_records(out, records)
    s = summarize_rates(records, level=level, interval=interval)
    if summary is not None:
        s.save(summary)
    print(s.as_text())


@aiw_app.command("report")
def report_cmd(responses: list[Path] = typer.Argument(
                   ..., help="Results JSONL / upstream JSON files or folders, or one *.summary.json."),
               out_dir: Path = typer.Option(..., "--out-dir", "-o"),
               mode: Optional[str] = typer.Option(None, "--mode",
                                                  help="Re-score first (default: keep stored scoring)."),
               title: str = typer.Option("AIW evaluation", "--title"),
               tasks_dir: Optional[Path] = _TASKS_DIR) -> None:
    """Write figures and an HTML page (report.html) from results."""

    _tasks(tasks_dir)
    if len(responses) == 1 and responses[0].name.endswith(".summary.json"):
        rates = RateSummary.load(responses[0])  # a run's JSON summary: no re-scoring possible
    else:
        records = []
        for r in responses:
            records.extend(read_responses(r, mode=mode))
        rates = summarize_rates(records)
    print(build_aiw_report(rates, out_dir, title=title,
                           provenance={"results": ", ".join(map(str, responses))}))


@aiw_app.command("export-lm-eval")
def export_cmd(out_dir: Path = typer.Argument(..., help="Folder for the task pack."),
               family: Optional[list[str]] = _FAMILY, prompt_type: Optional[list[str]] = _PTYPE,
               variation: Optional[list[str]] = _VARIATION,
               repeats: int = typer.Option(60, "--repeats", help="Repeats per prompt; all are scored."),
               temperature: float = typer.Option(1.0, "--temperature"),
               max_gen_toks: int = typer.Option(2048, "--max-gen-toks"),
               mode: str = _MODE, tasks_dir: Optional[Path] = _TASKS_DIR) -> None:
    """Write an lm-evaluation-harness task pack (lm_eval --include_path DIR --tasks aiw_...)."""

    _tasks(tasks_dir)
    names = export_lm_eval(out_dir, families=family or None, prompt_types=prompt_type or None,
                           variations=variation or None, repeats=repeats, temperature=temperature,
                           max_gen_toks=max_gen_toks, extract_mode=mode)
    print(f"wrote {len(names)} tasks to {out_dir}: {', '.join(names[:6])}{' ...' if len(names) > 6 else ''}")


def register(app: typer.Typer) -> None:
    """Mount ``aiw`` on the root ``scalinglab`` app."""
    app.add_typer(aiw_app, name="aiw")
