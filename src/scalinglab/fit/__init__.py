"""Fitting scaling laws (numpy + scipy only; never torch, matplotlib or typer).

What to use when (filled in as the engine lands; see docs/ARCHITECTURE.md).
"""

from .data import Runs, load_runs

__all__ = ["Runs", "load_runs"]
