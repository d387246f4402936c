"""What every demo shares: its result type, the presets lookup and the sweep step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TrainingError, suggest
from ..store.store import ResultsStore
from ..sweep import run_sweep

__all__ = ["DemoOutput", "cores", "resolve_sweep", "train_sweep"]


@dataclass(frozen=True, eq=False)
class DemoOutput:
    """What every demo returns: where its files are, the sweep's report, the analysis, timings.

    Each demo's result adds ``summary()`` (the text it prints); ``str()`` is that text.
    """

    out_dir: Path
    report_path: Path
    store_path: Path
    sweep: Any
    analysis: Any
    wall_s: float
    timings: Mapping[str, float] = field(default_factory=dict)
    files: Mapping[str, Path] = field(default_factory=dict)

    def _footer(self) -> list[str]:
        t = self.timings
        return ["", (f"wall time {self.wall_s:.0f}s (sweep {t.get('sweep', 0):.0f}s, analysis "
                     f"{t.get('analysis', 0):.0f}s, report {t.get('report', 0):.0f}s)"),
                f"report:  {self.report_path}", f"store:   {self.store_path}"]

    def __str__(self) -> str:
        return self.summary()


def resolve_sweep(preset: str, sweep: Any, presets: Mapping[str, str]) -> Any:
    if sweep is not None:
        return sweep
    if preset not in presets:
        raise ConfigError(f"unknown demo preset {preset!r}.{suggest(preset, presets)} Presets: "
                          f"{', '.join(f'{k} (sweep {v!r})' for k, v in presets.items())}")
    return presets[preset]


def train_sweep(plan: Any, out: Path, job: str, *, workers: int | None, backend: str,
           progress: Callable[[Any], Any] | None) -> Any:
    """Train ``plan`` into ``<out>/store`` (cost estimated from this machine's earlier runs when the
    store has some); raise :class:`TrainingError` when no run finished. Returns the SweepReport."""
    say = progress or (lambda event: None)
    store_path = out / "store"
    measured = plan
    if (store_path / "results.sqlite").exists():      # estimate from what this machine measured before
        with ResultsStore(store_path, readonly=True) as st:
            measured = plan.calibrated(st.records(status="done"))
    say(f"{job}: sweep {plan.name!r} ({plan.config.description or plan.config.ladder}); "
        f"{measured.cost(workers or cores())}")
    say(f"output: {out}")
    report = run_sweep(plan, backend=backend, store=store_path, workers=workers, progress=progress)
    if not report.done and not report.skipped and not report.diverged:
        first = next(iter(report.failed.items()), ("-", "no run was trained"))
        raise TrainingError(f"no run of sweep {plan.name!r} finished ({len(report.failed)} failed; first "
                            f"{first[0]}: {str(first[1]).splitlines()[0] if first[1] else '?'}). Fix the cause "
                            f"and run the demo again with --out {out}: finished runs are kept")
    return report


def cores() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
