"""``scalinglab sweep plan|run|status``, ``runs``, ``train`` and ``store rebuild``.

A thin layer over :mod:`scalinglab.sweep` and :mod:`scalinglab.store`: parse, call, print. Bad
input (unknown rung, misspelled key, missing corpus, unwritable store) raises a
:class:`~scalinglab.errors.ScalingLabError` that ``cli/main.py`` prints as one ``error: ...``
line with exit code 2, before anything is trained. ``sweep run`` exits 1 when some run failed
(its error is in the store; re-running retries it).

Examples::

    scalinglab sweep plan demo                        # expanded runs and estimated cost
    scalinglab sweep run demo --store results/ --workers 2
    scalinglab sweep run full --backend slurm -o partition=cpu -o timeout_min=120
    scalinglab sweep status demo --store results/
    scalinglab runs --store results/ --status done --export runs.csv
    scalinglab train spec.json --store results/
    scalinglab store rebuild results/
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ..config import load_mapping
from ..errors import ConfigError, MigrationWarning
from ..procedures import get_procedure
from ..store import ResultsStore, RunRecord, RunSpec, rebuild_store
from ..sweep import plan_sweep, run_sweep, sweep_status
from ..sweep.backends.base import default_workers
from ..sweep.worker import execute, resolve_trainer
from .design_cmds import (
    UNTIL_CONFIRM_BOOT,
    UNTIL_LR_POINTS,
    UNTIL_LR_TRANSFER,
    UNTIL_N_BOOT,
    UNTIL_NAME,
    run_closed_loop,
)
from .options import DEFAULT_STORE
from .progress import ProgressDisplay

_FILE = typer.Argument(..., help="Sweep YAML file, or a preset name (ci, demo, full).",
                       show_default=False)
_STORE = typer.Option(DEFAULT_STORE, "--store", "-s",
                      help="Results store directory (default: $SCALINGLAB_STORE or ./scalinglab-store).")
_WORKERS = typer.Option(None, "--workers", "-w", help="Runs at once (default: CPU cores).")


def _fmt(x: Any, spec: str = ".4g") -> str:
    if x is None:
        return "-"
    try:
        return format(x, spec)
    except (TypeError, ValueError):
        return str(x)


def _options(pairs: list[str] | None) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option must look like KEY=VALUE (e.g. partition=cpu); got {pair!r}")
        try:
            out[key.strip().replace("-", "_")] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[key.strip().replace("-", "_")] = value
    return out


def register(app: typer.Typer) -> None:
    """Mount ``sweep``, ``runs``, ``train`` and ``store`` on the root app."""
    sweep_app = typer.Typer(help="Plan, run and inspect sweeps (sweep files are YAML data).",
                            no_args_is_help=True)
    store_app = typer.Typer(help="Maintain a results store.", no_args_is_help=True)
    app.add_typer(sweep_app, name="sweep")
    app.add_typer(store_app, name="store")

    @sweep_app.command("plan")
    def sweep_plan(file: str = _FILE, workers: Optional[int] = _WORKERS) -> None:
        """Print the expanded runs of a sweep and its estimated cost (runs nothing)."""

        plan = plan_sweep(file)
        print(plan.as_text(workers=workers or default_workers()))

    @sweep_app.command("run")
    def sweep_run(
        file: str = _FILE,
        backend: str = typer.Option("local", "--backend", "-b", help="local, slurm, ray or inline."),
        store: str = _STORE,
        workers: Optional[int] = _WORKERS,
        option: Optional[list[str]] = typer.Option(
            None, "--option", "-o", help="Backend option KEY=VALUE, repeatable "
                                         "(slurm: partition, timeout_min, cpus_per_task, folder ...)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Live progress display."),
        retry_failed: bool = typer.Option(True, "--retry-failed/--skip-failed",
                                          help="Train runs that failed before again."),
        until: Optional[str] = typer.Option(None, "--until", help="Closed loop: train only the runs that narrow "
                                            "the prediction most, until e.g. 'width at 1e14 < 3%' (cli/design_cmds.py)."),
        budget: Optional[str] = typer.Option(None, "--budget", help="With --until: training FLOPs to spend "
                                             "(default: the whole sweep's cost)."),
        # with --until, the closed loop's options (the same definitions as `design`'s)
        lr_transfer: bool = UNTIL_LR_TRANSFER, name: Optional[str] = UNTIL_NAME, n_boot: int = UNTIL_N_BOOT,
        confirm_boot: int = UNTIL_CONFIRM_BOOT, lr_points: int = UNTIL_LR_POINTS,
        per_round: Optional[int] = typer.Option(None, "--per-round", help="With --until: decisions per round "
                                                "(distinct rungs); default: --workers."),
    ) -> None:
        """Train every run of the sweep that the store lacks; re-run to continue after a stop."""

        if until is not None:

            raise typer.Exit(run_closed_loop(file, until=until, budget=budget, store=store, backend=backend,
                                             workers=workers, options=_options(option), progress=progress,
                                             lr_transfer=lr_transfer, name=name, n_boot=n_boot,
                                             confirm_boot=confirm_boot, lr_points=lr_points, per_round=per_round))

        plan = plan_sweep(file)
        if not progress:   # with progress, run_sweep prints the cost of what is left to train
            print(f"{plan.name}: {plan.cost(workers or default_workers())}", file=sys.stderr)
        report = run_sweep(plan, backend=backend, store=store, workers=workers,
                           progress=ProgressDisplay() if progress else None,
                           retry_failed=retry_failed, backend_options=_options(option))
        print(report)
        if not report.ok:
            raise typer.Exit(1)

    @sweep_app.command("status")
    def sweep_status_cmd(file: str = _FILE, store: str = _STORE,
                         all_runs: bool = typer.Option(False, "--all", help="List every run, not only "
                                                                            "unfinished ones.")) -> None:
        """Where each run of a sweep stands in the store (done, running, queued, failed, pending ...)."""

        plan = plan_sweep(file, check_data=False)
        st = sweep_status(plan, store)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(st["counts"].items()))
        live = "a coordinator is running" if st["coordinator_running"] else "no coordinator running"
        print(f"sweep {plan.name!r} in {store}: {len(plan)} runs: {counts} ({live})")
        for r in st["runs"]:
            if all_runs or r["status"] not in ("done",):
                err = f"  {r['error'].splitlines()[0][:80]}" if r["error"] else ""
                print(f"  {r['run_id']:<44} {r['status']:<11} {_fmt(r['value'])} "
                      f"{r['seen'] or 0}/{r['n_data']} {r['unit']}{err}")

    @app.command("runs")
    def runs_cmd(
        store: str = _STORE,
        status: Optional[list[str]] = typer.Option(None, "--status", help="done, diverged, failed, "
                                                                           "running, pending; repeatable."),
        rung: Optional[list[str]] = typer.Option(None, "--rung", help="Only these rungs; repeatable."),
        procedure: Optional[list[str]] = typer.Option(None, "--procedure", help="Only these procedures."),
        variant: Optional[list[str]] = typer.Option(None, "--variant", help="Only these variants."),
        export: Optional[Path] = typer.Option(None, "--export", "-e",
                                              help="Write the rows to .csv, .parquet or .jsonl."),
    ) -> None:
        """List (or export) the runs in a results store."""

        filters: dict[str, Any] = {}
        if rung:
            filters["rung"] = rung
        if procedure:
            filters["procedure"] = procedure
        if variant:
            filters["variant"] = variant
        with ResultsStore(store, readonly=True) as st:
            if export is not None:
                n = st.export(export, status=status or None, **filters)
                print(f"wrote {n} runs to {export}")
                return
            rows = st.rows(status=status or None, **filters)
        print(f"{'run_id':<44} {'status':<9} {'N':>8} {'D':>9} {'lr':>8} {'seed':>4} "
              f"{'metric':>10} {'value':>8} {'wall_s':>7}")
        for r in rows:
            metric = get_procedure(r["procedure"]).metrics[0]
            print(f"{r['run_id']:<44} {r['status']:<9} {_fmt(r['n_params'], 'd') if r['n_params'] else '-':>8} "
                  f"{_fmt(r['n_data'], 'd') if r['n_data'] else '-':>9} {_fmt(r['lr'], '.3g'):>8} "
                  f"{_fmt(r['seed'], 'd'):>4} {metric:>10} {_fmt(r.get(metric), '.4f'):>8} "
                  f"{_fmt(r['wall_s'], '.1f'):>7}")
        print(f"{len(rows)} runs")

    @app.command("train")
    def train_cmd(
        spec_file: Path = typer.Argument(..., help="A RunSpec as JSON or YAML.", show_default=False),
        store: str = _STORE,
        trainer: Optional[str] = typer.Option(None, "--trainer",
                                              help="Training function as module:attr (default: the "
                                                   "spec's procedure's trainer)."),
        threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default 1)."),
    ) -> None:
        """Train one run from a spec file into the store (resumes from its checkpoint)."""

        spec = RunSpec.from_dict(load_mapping(spec_file))
        trainer = trainer or spec.procedure_spec.trainer
        resolve_trainer(trainer)          # a bad trainer name is bad input: exit 2, nothing written
        with ResultsStore(store) as st, st.writer_lock():
            existing = st.get(spec.run_id)
            if existing is not None and existing.status in ("done", "diverged"):
                metric = spec.procedure_spec.metrics[0]
                print(f"{spec.run_id} is already in {store} ({existing.status}, {metric} "
                      f"{_fmt(existing.metrics.get(metric))}); nothing to do")
                return
            record = RunRecord.from_dict(execute(spec, st.run_dir(spec.run_id), trainer,
                                                 threads=threads or 1))
            st.put(record)
        metric = spec.procedure_spec.metrics[0]
        print(f"{record.run_id} {record.status} {metric} {_fmt(record.metrics.get(metric))} "
              f"{spec.unit} {record.n_data_seen} wall {record.wall_s:.1f}s"
              + (f"\nerror: {record.error}" if record.error else ""))
        if record.status == "failed":
            raise typer.Exit(1)

    @store_app.command("rebuild")
    def store_rebuild(path: str = typer.Argument(DEFAULT_STORE, help="Store directory.")) -> None:
        """Rebuild the store's database from the runs' record.json files (migrating old schemas)."""
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MigrationWarning)
            st, n = rebuild_store(path)
        for w in caught:
            if issubclass(w.category, MigrationWarning):
                print(f"migrated: {w.message}")
        with st:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(st.counts().items())) or "empty"
        print(f"rebuilt {path}: {n} records ({counts})")
