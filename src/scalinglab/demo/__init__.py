"""``scalinglab demo``, ``demo clip`` and ``demo datasets``: whole scaling studies on a laptop, in minutes.

:func:`run_demo` does what a scaling-law paper does, at toy scale:

1. trains the ``demo`` sweep preset (tiny byte-level GPTs on the Python standard library, branched
   WSD cooldowns; ``scalinglab sweep plan demo`` shows it) through the local process pool, with a
   live progress display, into ``<out>/store``;
2. analyses the finished runs (:func:`scalinglab.report.analyze`): the compute frontier, a
   Chinchilla L(N, D) fit and an L(C) fit with bootstrap intervals, the compute-optimal
   allocation, and a backtest in which the largest-compute runs are held out and predicted;
3. writes the self-contained ``<out>/report.html``, the fit artifacts ``<out>/fits/*.json``,
   a plain-text ``<out>/summary.txt`` and the analysis options in ``<out>/store/analysis.json``
   (so that ``scalinglab report <out>/store`` repeats the same backtest), and returns a
   :class:`DemoResult`.

Running it again with the same ``out_dir`` skips every finished run (the store keeps them) and
resumes interrupted ones from their checkpoints, so only the analysis is redone.

:func:`run_clip_demo` is the language-vision study of Nezhurina et al. 2025 ("Scaling laws for
robust comparison of open foundation language-vision models and datasets", arXiv:2506.04598) on
a CPU: it trains the ``clip-demo`` sweep (CLIP, CoCa and MaMMUT ladders on the shape world,
per-size learning rates, branched cooldowns), compares the procedures by E(C) = a (C + b)^c + d on
their compute Pareto frontiers (:func:`scalinglab.report.procedures.analyze_procedures`: held-out
top-compute predictions, crossovers, which procedure wins at the largest budget and at 100x it)
and writes the report, the fits and a summary the same way.

:func:`run_datasets_demo` compares *datasets* by scaling laws, as DataComp/DCLM compare filtering
recipes: it builds a raw pool (English prose and Python from the built-in datasets, with planted
duplicates), the pool after quality filters and after filters + deduplication (shipped recipes,
each step audited), trains the ``datasets-demo`` sweep (the gpt-tiny ladder on each) scoring every
run on its own validation split and on a common held-out set, and compares the datasets by
L(N, D) (:func:`scalinglab.report.datasets.analyze_datasets`): differences with intervals at the
largest budget and 10x it, crossovers, effective-data multipliers, and each recipe's audit.
"""

from __future__ import annotations

from .clip import CLIP_PRESETS, ClipDemoResult, run_clip_demo
from .datasets import DATASETS_PRESETS, DatasetsDemoResult, build_demo_datasets, run_datasets_demo
from .gpt import PRESETS, DemoResult, run_demo

__all__ = ["CLIP_PRESETS", "DATASETS_PRESETS", "PRESETS", "ClipDemoResult", "DatasetsDemoResult", "DemoResult",
           "build_demo_datasets", "run_clip_demo", "run_datasets_demo", "run_demo"]
