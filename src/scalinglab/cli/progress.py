"""Drawing progress: the library reports events, the CLI draws them (rich lives here only).

:class:`ProgressDisplay` is the ``progress`` callable the CLI hands to
:func:`scalinglab.run_sweep`, :func:`scalinglab.demo.run_demo`, the analysis and the dataset
builders. It accepts a :class:`~scalinglab.sweep.run.SweepProgress` event or a plain message:

* ``start``: one line with the estimated cost of what is left to train;
* ``finished``: one line per finished run (its first metric and wall time, or why it failed);
* ``tick``: a live rich panel on a terminal (runs running with their share done and units/s,
  queued, waiting, done, failed, a calibrated ETA); nothing when stderr is not a terminal;
* a string: printed as a line.
"""

from __future__ import annotations

from ..sweep.plan import format_seconds
from ..sweep.run import SweepProgress

__all__ = ["ProgressDisplay"]


class ProgressDisplay:
    """A ``progress`` callable that draws sweep events and messages on stderr."""

    def __init__(self, *, live: bool | None = None) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, soft_wrap=True)
        self.live_enabled = self.console.is_terminal if live is None else live
        self._live = None

    def __call__(self, event: SweepProgress | str) -> None:
        if isinstance(event, str):
            self._line(event)
        elif event.kind == "start":
            self._line(f"sweep {event.plan.name!r}: {event.n_skipped} of {len(event.plan)} runs already in "
                       f"the store; to train: {event.cost}")
        elif event.kind == "finished":
            self._line(self._finished(event))
        elif event.kind == "tick":
            self._tick(event)
        elif event.kind == "end":
            self.stop()

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    @staticmethod
    def _finished(event: SweepProgress) -> str:
        rec = event.record
        if rec.status == "done":
            metric = rec.spec.procedure_spec.metrics[0]
            value = rec.metrics.get(metric)
            what = f"done      {metric} {value:.4f}  {format_seconds(rec.wall_s)}" if value is not None else "done"
        elif rec.status == "diverged":
            what = f"diverged  {(rec.error or '').splitlines()[0][:100]}"
        else:
            what = f"FAILED    {(rec.error or '').splitlines()[0][:100] if rec.error else ''}"
        return f"{rec.run_id:<44} {what}"

    def _tick(self, event: SweepProgress) -> None:
        if not self.live_enabled:
            return
        from rich.live import Live
        from rich.text import Text

        unit = "tok" if event.unit == "tokens" else "samples"
        rate = sum(r.per_s for r in event.running)
        head = (f"sweep {event.plan.name}: {event.n_done + event.n_skipped}/{len(event.plan)} done, "
                f"{len(event.running)} running, {event.n_queued} queued, {event.n_failed} failed, "
                f"{event.n_waiting} waiting | {rate / 1e3:.1f}k {unit}/s | ETA "
                f"{format_seconds(event.eta_s or 0.0)}")
        rows = [f"  {r.run_id:<44} {100 * r.fraction:5.1f}%  {r.per_s / 1e3:7.1f}k {unit}/s"
                for r in event.running]
        if self._live is None:
            self._live = Live(console=self.console, refresh_per_second=2, transient=True)
            self._live.start()
        self._live.update(Text("\n".join([head, *rows])))

    def stop(self) -> None:
        """End the live panel (also done by an ``end`` event)."""
        if self._live is not None:
            self._live.stop()
            self._live = None
