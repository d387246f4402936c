"""Root of the ``scalinglab`` CLI.

Each command group lives in its own module exposing ``register(app)``; this file only mounts
them and turns :class:`~scalinglab.errors.ScalingLabError` into a one-line message and exit code 2.
"""

from __future__ import annotations

import importlib
import re
import sys

from .._optional import require
from .._version import __version__
from ..errors import ScalingLabError

# Command modules, mounted in this order. Each defines register(app: typer.Typer) -> None.
COMMAND_MODULES = (
    "scalinglab.cli.fit_cmds",     # fit, compare, allocate, backtest, laws
    "scalinglab.cli.sweep_cmds",   # sweep plan|run|status, runs, train, store
    "scalinglab.cli.report_cmds",  # report, demo
    "scalinglab.cli.aiw",          # aiw list|render|run|score|report|export-lm-eval
    "scalinglab.cli.dataset_cmds", # datasets list|show|register|build|audit
    "scalinglab.cli.design_cmds",  # design (closed-loop proposals; sweep run --until runs the loop)
)


def build_app():
    typer = require("typer", extra="cli", purpose="the scalinglab command line")
    app = typer.Typer(
        name="scalinglab",
        help="Run model ladders, evaluate, fit and compare scaling laws, and report.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    @app.callback()
    def _root() -> None:
        """Run model ladders, evaluate, fit and compare scaling laws, and report."""

    @app.command()
    def version() -> None:
        """Print the scalinglab version."""

        print(__version__)

    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command group not installed in this build
                continue
            raise
        mod.register(app)
    _conventional_help(app, _command_class(typer))
    return app


def _command_class(typer):
    """typer's command with the conventional help of Unix tools.

    Recent typer releases print a required argument as ``{table}`` in the usage line and a type
    after every flag (``--help <bool>``). Here arguments read ``TABLE`` (upper case, no braces)
    and flags, which take no value, show no type.
    """
    class Command(typer.core.TyperCommand):
        def get_params(self, ctx):
            params = super().get_params(ctx)
            for p in params:
                if getattr(p, "is_flag", False) and p.metavar is None:
                    p.metavar = ""                      # a flag takes no value: no type to show
                elif p.param_type_name == "argument" and p.metavar is None and p.name:
                    p.metavar = p.name.upper()
            return params

        def collect_usage_pieces(self, ctx):
            self.get_params(ctx)                        # metavars first: the usage line names them
            return [re.sub(r"^\{(.*)\}((\.\.\.)?)$", r"\1\2", piece) for piece in super().collect_usage_pieces(ctx)]

    return Command


def _conventional_help(app, cls) -> None:
    """Give every command of ``app`` and of its sub-apps the class ``cls``."""
    for info in app.registered_commands:
        if info.cls is None or info.cls is cls.__base__:      # typer's default class
            info.cls = cls
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _conventional_help(group.typer_instance, cls)


def main(argv: list[str] | None = None) -> int:
    """Entry point. Returns the exit code (2 on bad input, with a one-line reason)."""
    try:
        app = build_app()
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        app(args=argv, prog_name="scalinglab")  # standalone: usage errors exit 2 via SystemExit
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ScalingLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished results are kept", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:  # console_scripts entry point
    sys.exit(main())
