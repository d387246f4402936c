"""``scalinglab report STORE`` and ``scalinglab demo [clip|datasets]``: the HTML report and the end-to-end demos.

Thin wrappers over :func:`scalinglab.report.build_report`, :func:`scalinglab.demo.run_demo`,
:func:`scalinglab.demo.run_clip_demo` and :func:`scalinglab.demo.run_datasets_demo`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..demo import run_clip_demo, run_datasets_demo, run_demo
from ..demo.datasets import POOL_TOKENS
from ..errors import ConfigError, suggest
from ..report.analysis import analyze, holdout_for, recorded_analysis
from ..report.html import build_report, open_runs
from .fit_cmds import one_line_warnings
from .progress import ProgressDisplay


def report_cmd(store: str = typer.Argument(..., help="A results store folder (written by `sweep run` or `demo`).",
                                           show_default=False),
               out: Optional[str] = typer.Option(None, "--out", "-o",
                                                 help="The HTML file to write (default: report.html beside the "
                                                      "store folder)."),
               title: str = typer.Option("Scaling-law report", "--title", help="Report title."),
               target: str = typer.Option("val_loss", "--target", help="val_loss or train_loss."),
               flops_convention: str = typer.Option("6ND", "--flops-convention",
                                                    help="Compute of each run: 6ND (default), exact, 6N, "
                                                         "6N_with_last_layer."),
               n_boot: Optional[int] = typer.Option(None, "--n-boot",
                                                    help="Bootstrap refits per fit (default: what `demo` recorded "
                                                         "in the store, else 200)."),
               seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the bootstraps (default: as "
                                                                         "recorded, else 0)."),
               holdout: Optional[str] = typer.Option(None, "--holdout",
                                                     help="Backtest: runs held out by compute ('largest 3', "
                                                          "'largest 20%'; default: what `demo` recorded in the "
                                                          "store, else 'largest 20%')."),
               sweep: Optional[str] = typer.Option(None, "--sweep", help="Sweep file to name in the provenance."),
               quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the report path.")) -> None:
    """Analyse a results store (frontier, fits, allocation, backtest) and write the HTML report."""

    with one_line_warnings():
        runs, st = open_runs(store, target, flops_convention)
        root = Path(st.root)
        hold, origin = holdout_for(root, None if holdout is None else
                                   int(holdout) if holdout.strip().isdigit() else holdout)
        recorded = (recorded_analysis(root) or {}).get("options", {})
        n_boot = n_boot if n_boot is not None else int(recorded.get("n_boot", 200))
        seed = seed if seed is not None else int(recorded.get("seed", 0))
        path = Path(out) if out is not None else root.resolve().parent / "report.html"
        say = None if quiet else (lambda m: print(f"analysis: {m}", file=sys.stderr, flush=True))
        if say:
            say(f"backtest holds out {hold!r} ({origin}); {n_boot} bootstrap refits, seed {seed}")
        analysis = analyze(runs, n_boot=n_boot, seed=seed, holdout=hold, level=float(recorded.get("level", 0.95)),
                           progress=say, holdout_origin=origin)
        path = build_report(st, path, title=title, target=target, flops_convention=flops_convention,
                            sweep=sweep, analysis=analysis)
        if not quiet:
            print(analysis.as_text())
            print()
        print(f"wrote {path.resolve()}")


def demo_cmd(which: Optional[str] = typer.Argument(None, metavar="[clip|datasets]",
                                                  help="Leave out for the language-model demo; 'clip' for "
                                                       "CLIP vs CoCa vs MaMMUT compared by scaling laws; "
                                                       "'datasets' for datasets compared by scaling laws: "
                                                       "a raw, a filtered and a deduplicated text pool "
                                                       "(gpt-tiny), a noisy image-text pool and its "
                                                       "CLIP-score-filtered subset (clip-tiny).",
                                                  show_default=False),
             full: bool = typer.Option(False, "--full", help="The full preset (gpt: the whole gpt-tiny "
                                                             "ladder, six budgets, about 30 minutes on 2 "
                                                             "cores; clip: the whole ladders, one to two "
                                                             "hours) instead of the quick one."),
             out: Optional[str] = typer.Option(None, "--out", "-o", help="Output folder (store, report, fits; "
                                                                         "default scalinglab-demo or "
                                                                         "scalinglab-demo-clip); re-running "
                                                                         "reuses finished runs."),
             workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Training processes at "
                                                                                "once (default: cores)."),
             sweep: Optional[str] = typer.Option(None, "--sweep", help="Run this sweep preset or YAML file "
                                                                       "instead (e.g. `ci`)."),
             n_boot: int = typer.Option(200, "--n-boot", help="Bootstrap refits per fit."),
             holdout: str = typer.Option("largest 3", "--holdout", help="Backtest of the gpt demo: runs held "
                                                                        "out by compute."),
             metric: Optional[str] = typer.Option(None, "--metric", help="clip: the error compared (default "
                                                                         "zeroshot_error)."),
             backend: str = typer.Option("local", "--backend", help="Sweep backend: local, inline, slurm, ray."),
             pool_tokens: int = typer.Option(POOL_TOKENS, "--pool-tokens", help="datasets: bytes of the sample "
                                                                                "the raw pool is made from."),
             rebuild_datasets: bool = typer.Option(False, "--rebuild-datasets", help="datasets: rebuild the "
                                                                                    "demo's datasets even if "
                                                                                    "they exist."),
             quiet: bool = typer.Option(False, "--quiet", "-q", help="No live display; print the summary only.")
             ) -> None:
    """Train a demo ladder, fit and test scaling laws, and write a self-contained HTML report.

    `scalinglab demo` trains tiny language models and fits L(N, D); `scalinglab demo clip` trains
    CLIP, CoCa and MaMMUT on the shape world and compares them by their error against compute;
    `scalinglab demo datasets` builds a raw, a filtered and a deduplicated text pool with recipes
    and a noisy image-text pool with its CLIP-score-filtered subset (DataComp's baselines, audited),
    trains gpt-tiny on the text pools and clip-tiny on the image-text ones, and compares the
    datasets by L(N, D) on a common held-out set and on their own splits.
    """
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1; got {workers}")
    if which not in (None, "gpt", "clip", "datasets"):
        raise ConfigError(f"unknown demo {which!r}.{suggest(str(which), ['clip', 'datasets', 'gpt'])} Demos: gpt "
                          "(the default), clip, datasets")
    if which != "datasets" and (pool_tokens != POOL_TOKENS or rebuild_datasets):
        raise ConfigError("--pool-tokens and --rebuild-datasets are options of `scalinglab demo datasets`")
    if pool_tokens < 1:
        raise ConfigError(f"--pool-tokens must be >= 1; got {pool_tokens}")
    with one_line_warnings():
        display = None if quiet else ProgressDisplay()
        if which == "clip":
            res = run_clip_demo(Path(out or "scalinglab-demo-clip"), preset="full" if full else "quick",
                                workers=workers, progress=display, sweep=sweep, backend=backend,
                                n_boot=n_boot, metric=metric)
            print(res.summary())
            if not res.sweep.ok:        # failed runs (their one-line errors are in the summary) exit 1
                raise typer.Exit(1)
            return
        if metric is not None:
            raise ConfigError("--metric is an option of `scalinglab demo clip`; the gpt and datasets demos "
                              "fit val_loss")
        if which == "datasets":
            if full:
                raise ConfigError("`scalinglab demo datasets` has one preset; --full is for the gpt and clip demos")
            res = run_datasets_demo(Path(out or "scalinglab-demo-datasets"), workers=workers, progress=display,
                                    sweep=sweep, backend=backend, n_boot=n_boot, pool_tokens=pool_tokens,
                                    rebuild_datasets=rebuild_datasets)
            print(res.summary())
            if not res.sweep.ok:
                raise typer.Exit(1)
            return
        hold = int(holdout) if holdout.strip().isdigit() else holdout
        res = run_demo(Path(out or "scalinglab-demo"), preset="full" if full else "quick", workers=workers,
                       progress=display, sweep=sweep, backend=backend, n_boot=n_boot, holdout=hold)
    print(res.summary())


def register(app: typer.Typer) -> None:
    """Mount ``report`` and ``demo`` on the root app."""
    app.command("report")(report_cmd)
    app.command("demo")(demo_cmd)
