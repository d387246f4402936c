"""Whole scaling studies on a laptop, in minutes: the end-to-end jobs of ``scalinglab demo``.

* :func:`run_demo` (``scalinglab demo``, :mod:`.gpt`): a gpt-tiny ladder, its L(N, D) and L(C)
  fits, allocation and backtest, and the report.
* :func:`run_clip_demo` (``scalinglab demo clip``, :mod:`.clip`): CLIP, CoCa and MaMMUT compared by
  E(C) = a (C + b)^c + d on the shape world (Nezhurina et al. 2025).
* :func:`run_datasets_demo` (``scalinglab demo datasets``, :mod:`.datasets`): a raw pool, the pool
  after quality filters and after deduplication, compared by L(N, D).

Each trains its sweep preset into ``<out>/store`` (re-running reuses finished runs), analyses it and
writes ``<out>/report.html``, the fits and ``summary.txt``; :mod:`.common` holds what they share.
"""

from __future__ import annotations

from .clip import CLIP_PRESETS, ClipDemoResult, run_clip_demo
from .datasets import DATASETS_PRESETS, DatasetsDemoResult, build_demo_datasets, run_datasets_demo
from .gpt import PRESETS, DemoResult, run_demo

__all__ = ["CLIP_PRESETS", "DATASETS_PRESETS", "PRESETS", "ClipDemoResult", "DatasetsDemoResult", "DemoResult",
           "build_demo_datasets", "run_clip_demo", "run_datasets_demo", "run_demo"]
