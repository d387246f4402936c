"""``scalinglab design`` (propose the next runs of a closed loop) and the ``sweep run --until`` loop.

A thin layer over :mod:`scalinglab.sweep.loop`: parse, call, print. ``design`` trains and writes
nothing; ``sweep run FILE --until RULE`` (mounted by ``cli/sweep_cmds.py``) calls
:func:`run_closed_loop` here. The sweep file is the space of allowed runs; the budget defaults to
what the whole sweep would cost.

Examples::

    scalinglab design demo --until "width at 1e14 < 3%" --store results/
    scalinglab sweep run loop.yaml --until "width at 1e14 on gpt-tiny-5 < 3%" --budget 2e13 --store results/
    scalinglab design --log --store results/
"""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

import typer

from .._io import jsonable
from ..errors import ConfigError
from ..sweep import plan_sweep
from ..sweep.loop import list_loops, propose, read_log, run_loop
from ..units import parse_quantity
from .options import DEFAULT_STORE
from .progress import ProgressDisplay

_FILE = typer.Argument(..., help="Sweep YAML file or preset: the space of runs the loop may choose from.",
                       show_default=False)
_UNTIL = typer.Option(..., "--until", "-u", help="Stop rule, e.g. 'width at 1e14 < 3%', "
                                                 "'width at 1e14 on gpt-tiny-5 < 3%', 'winner at 1e14 at 95%'.")
_BUDGET = typer.Option(None, "--budget", help="Training FLOPs the loop may spend (e.g. 2e13); default: "
                                              "what the whole sweep costs.")
_STORE = typer.Option(DEFAULT_STORE, "--store", "-s", help="Results store directory.")


def _loop_option(default: Any, *decls: str, help: str) -> tuple[Any, Any]:
    """The closed loop's option for ``design``, and the same for ``sweep run`` (where it needs --until)."""
    return (typer.Option(default, *decls, help=help),
            typer.Option(default, *decls, help=f"With --until: {help[0].lower()}{help[1:]}"))


LOOP_NAME, UNTIL_NAME = _loop_option(None, "--name", help="Name of the loop (its log: <store>/loops/<name>/); "
                                                          "default: the sweep's.")
LOOP_N_BOOT, UNTIL_N_BOOT = _loop_option(200, "--n-boot", help="Bootstrap refits per round.")
LOOP_CONFIRM_BOOT, UNTIL_CONFIRM_BOOT = _loop_option(1000, "--confirm-boot",
                                                     help="Bootstrap refits that confirm a stop (0: none).")
LOOP_LR_POINTS, UNTIL_LR_POINTS = _loop_option(3, "--lr-points", help="Learning rates searched per proposed point "
                                                                      "(a window of the grid).")
LOOP_LR_TRANSFER, UNTIL_LR_TRANSFER = _loop_option(
    True, "--lr-transfer/--no-lr-transfer",
    help="Let a long trunk take the best learning rate of a search at a shorter budget of its rung and train "
         "it once (a two-stage search; docs/sweeps.md).")


def _budget(file: str, budget: str | None) -> float:

    if budget is not None:
        return parse_quantity(budget, name="--budget")
    return float(plan_sweep(file, check_data=False).cost().flops)


def run_closed_loop(file: str, *, until: str, budget: str | None, store: str, backend: str,
                    workers: int | None, options: dict[str, Any], progress: bool, name: str | None = None,
                    n_boot: int = 200, lr_points: int = 3, lr_transfer: bool = True,
                    per_round: int | None = None, confirm_boot: int = 1000) -> int:
    """``sweep run FILE --until RULE``: run the closed loop, print its report; the exit code."""

    def lines(event: Any) -> None:        # --no-progress: the loop's own lines only
        if isinstance(event, str):
            print(event, file=sys.stderr, flush=True)

    report = run_loop(file, until=until, budget_flops=_budget(file, budget), store=store, backend=backend,
                      workers=workers, per_round=per_round, name=name, n_boot=n_boot, lr_points=lr_points,
                      lr_transfer=lr_transfer, confirm_boot=confirm_boot, backend_options=options,
                      progress=ProgressDisplay() if progress else lines)
    print(report)
    return 0


def register(app: typer.Typer) -> None:
    """Mount ``design`` on the root app."""

    @app.command("design")
    def design(file: Optional[str] = typer.Argument(None, help=_FILE.help, show_default=False),
               until: Optional[str] = typer.Option(None, "--until", "-u", help=_UNTIL.help),
               budget: Optional[str] = _BUDGET, store: str = _STORE, name: Optional[str] = LOOP_NAME,
               n_boot: int = LOOP_N_BOOT, confirm_boot: int = LOOP_CONFIRM_BOOT, lr_points: int = LOOP_LR_POINTS,
               lr_transfer: bool = LOOP_LR_TRANSFER,
               per_round: int = typer.Option(1, "--per-round", help="Decisions per round (distinct rungs)."),
               as_json: bool = typer.Option(False, "--json", help="Print the proposal as JSON."),
               log: bool = typer.Option(False, "--log", help="Print the decision log of the store's closed "
                                                             "loops (or of --name) instead.")) -> None:
        """Propose the next runs of a closed loop (what `sweep run FILE --until` would train); trains nothing."""

        if log:
            _print_log(store, name)
            return
        if file is None or until is None:
            raise ConfigError("design needs a sweep FILE and --until, e.g. scalinglab design demo "
                              "--until 'width at 1e14 < 3%' (or --log to read a loop's decisions)")
        prop = propose(file, until=until, budget_flops=_budget(file, budget), store=store, name=name,
                       n_boot=n_boot, lr_points=lr_points, lr_transfer=lr_transfer, per_round=per_round,
                       confirm_boot=confirm_boot)
        if as_json:

            print(json.dumps(jsonable({"rule": prop.rule.to_dict(), "spent_flops": prop.spent_flops,
                                       "budget_flops": prop.budget_flops, "done": prop.done,
                                       "p_better": prop.p_better, "p_note": prop.p_note,
                                       "states": {k: (None if v is None else v.to_dict())
                                                  for k, v in prop.states.items()},
                                       "decisions": list(prop.decisions), "considered": list(prop.considered)}),
                             indent=1))
        else:
            print(prop)


def _print_log(store: str, name: str | None) -> None:

    names = [name] if name else list_loops(store)
    if not names:
        raise ConfigError(f"the store {store!r} has no closed-loop log (run `scalinglab sweep run FILE "
                          "--until ...` first)")
    for n in names:
        events = read_log(store, n)
        if not events:
            raise ConfigError(f"no closed loop named {n!r} in {store!r}; loops there: "
                              f"{', '.join(list_loops(store)) or '(none)'}")
        print(f"closed loop {n!r}")
        for e in events:
            kind = e["event"]
            if kind == "start":
                print(f"  start: until {e['rule']['text'] or e['rule']}; budget {e['budget_flops']:.3g} FLOPs")
            elif kind == "decision":
                print(f"  round {e['round']} {e['kind']}: {e['key']} ({len(e['run_ids'])} runs, "
                      f"{e['cost_flops']:.3g} FLOPs): {e['why']}")
            elif kind == "state":
                widths = ", ".join(f"{(k + ': ') if k else ''}{100 * v['width']:.2f}%"
                                   for k, v in e["states"].items() if v)
                print(f"  after round {e['round']}: spent {e['spent_flops']:.3g} FLOPs; width {widths or '-'}"
                      + (f"; P(first better) {e['p_better']:.3f}" if e.get("p_better") is not None else "")
                      + (f" (NOT calibrated: {', '.join(e['uncalibrated_arms'])})" if e.get("uncalibrated_arms") else ""))
            elif kind == "confirm":
                print(f"  stop check: {e['cheap']} with {e['n_boot']} bootstrap refits, {e['precise']} with "
                      f"{e['confirm_boot']}: {'confirmed' if e['confirmed'] else 'not confirmed, going on'}")
            elif kind == "stop":
                print(f"  stop: {e['reason']}")
            elif kind == "budget":
                print(f"  budget changed to {e['budget_flops']:.3g} FLOPs")
