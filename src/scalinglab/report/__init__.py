"""Figures and the self-contained HTML report (matplotlib is imported only when a figure is drawn).

What to use when
----------------
* One figure for a paper or a notebook: the ``plot_*`` functions take results and return a
  matplotlib ``Figure`` (:mod:`scalinglab.report.plots`; ``pip install 'scalinglab[plot]'``).
* The whole analysis of a ladder as one HTML file: :func:`build_report` on a results store (what
  ``scalinglab report STORE`` does) or on runs loaded with :func:`~scalinglab.load_runs`.
* Your own report from your own results: :class:`Report`, then ``section(...)`` with
  ``add_summary`` / ``add_figure`` / ``add_table``, :func:`collect_provenance`, ``write(path)``.
* The analysis without the HTML: :func:`analyze` returns an :class:`Analysis` (frontier, fits,
  allocation, backtest, comparison).
* AIW evaluation results (:mod:`scalinglab.evals`): :func:`build_aiw_report` writes the page
  (what ``scalinglab aiw report`` does), :func:`report_from_aiw` returns it as a :class:`Report`;
  :func:`plot_aiw_variations` and :func:`plot_aiw_controls` draw its figures.
* Procedures compared by a law of error against compute (CLIP vs CoCa vs MaMMUT, what
  ``scalinglab demo clip`` runs): :func:`analyze_procedures` returns a :class:`ProcedureAnalysis`
  (Pareto frontiers, held-out predictions, crossovers, the winner at each budget);
  :func:`report_from_procedures` writes its report.
* Datasets compared by L(N, D) (the same ladder on each, what ``scalinglab demo datasets`` runs):
  :func:`analyze_datasets` returns a :class:`DatasetAnalysis` (a law per dataset on its own and on
  a common held-out set, pairwise comparisons with effective-data multipliers, recipe audits);
  :func:`report_from_datasets` writes its report.

Importing this package loads neither matplotlib nor torch.
"""

from .aiw import build_aiw_report, plot_aiw_controls, plot_aiw_variations, report_from_aiw
from .analysis import Analysis, analyze
from .datasets import DatasetAnalysis, analyze_datasets, report_from_datasets
from .html import (
    Report,
    Section,
    build_report,
    collect_provenance,
    figure_to_data_uri,
    report_from_analysis,
)
from .plots import (
    plot_allocation,
    plot_backtest,
    plot_comparison,
    plot_error_laws,
    plot_fit,
    plot_frontier,
    plot_isoflop,
    plot_metric_vs_compute,
    plot_residuals,
    save_figure,
)
from .procedures import ProcedureAnalysis, analyze_procedures, report_from_procedures

__all__ = [
    "Analysis",
    "DatasetAnalysis",
    "ProcedureAnalysis",
    "Report",
    "Section",
    "analyze",
    "analyze_datasets",
    "analyze_procedures",
    "build_aiw_report",
    "build_report",
    "collect_provenance",
    "figure_to_data_uri",
    "plot_aiw_controls",
    "plot_aiw_variations",
    "plot_allocation",
    "plot_backtest",
    "plot_comparison",
    "plot_error_laws",
    "plot_fit",
    "plot_frontier",
    "plot_isoflop",
    "plot_metric_vs_compute",
    "plot_residuals",
    "report_from_aiw",
    "report_from_analysis",
    "report_from_datasets",
    "report_from_procedures",
    "save_figure",
]
