"""Training the reference GPT (the ``[train]`` extra: needs torch).

What to use when
----------------
* ``run(spec, run_dir=...)`` trains one :class:`~scalinglab.store.schema.RunSpec` and returns a
  :class:`~scalinglab.store.schema.RunRecord`; sweeps call it as ``"scalinglab.train.loop:run"``
  or ``python -m scalinglab.train spec.json``.
* ``GPT`` is the model (``train/gpt.py``; its shape ``GPTConfig`` lives in
  :mod:`scalinglab.procedures.gpt`, torch-free); ``load_corpus`` gives the tokenised
  default corpus (the interpreter's standard library) or your own text (``train/data.py``).
* ``plan_branches(spec, horizons)`` builds a trunk and its cooldown branches: several token
  budgets for about 1.2x the longest run (``train/schedule.py``).

Names are imported lazily: ``import scalinglab.train.schedule`` or ``scalinglab.train.data``
needs no torch; ``GPT`` and ``run`` import it on first use.
"""

from __future__ import annotations

import importlib

__all__ = ["GPT", "load_corpus", "plan_branches", "repetition_stats", "run", "train_bpe"]

_WHERE = {"GPT": "gpt", "run": "loop", "load_corpus": "data",
          "train_bpe": "data", "repetition_stats": "data", "plan_branches": "schedule"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
