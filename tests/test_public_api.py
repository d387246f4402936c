"""Pin the public API: a change to any __all__ below is a deliberate diff (httpx/sklearn style)."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "scalinglab": [
        "LAWS", "ConfigError", "DataError", "DataWarning", "FitError", "FitResult", "ResultsStore",
        "Runs", "ScalingLabError", "ScalingLabWarning", "TuningEdgeWarning", "UnknownNameError",
        "__version__", "allocate", "backtest", "best_per_size", "compare", "compute_envelope",
        "coverage_check", "fit", "get_ladder", "get_law", "isoflop_slices", "list_ladders",
        "list_laws", "load_lm_eval", "load_runs", "parse_quantity", "plan_sweep", "register_law",
        "run_sweep",
    ],
    "scalinglab.laws": [
        "Allocation", "AllocationPrediction", "Backtest", "BacktestFold", "BootstrapResult",
        "CITable", "Chinchilla", "Comparison", "CoverageReport", "Crossover", "Derived",
        "DownstreamLink", "ESTIMATORS", "ExponentTest", "FitDiagnostics", "FitResult", "Frontier",
        "IsoFlopSlices", "LAWS", "Law", "Overtraining", "ParamMatrix", "PowerLaw", "Prediction",
        "Runs", "SaturatingError", "SaturatingPowerLaw", "Summary", "TuningEdge", "allocate",
        "backtest", "best_per_size", "binned_minimum", "compare", "compute_envelope",
        "coverage_check", "fit", "get_law", "isoflop_slices", "list_laws", "load_lm_eval",
        "load_runs", "optimal_loss", "register_law",
    ],
    "scalinglab.store": [
        "DEFAULT_GROUPS", "FINAL_STATUSES", "SCHEMA_VERSION", "ResultsStore", "RunRecord",
        "RunSpec", "RunStatus", "rebuild_store",
    ],
    "scalinglab.sweep": [
        "BACKENDS", "EstimateConfig", "EvalConfig", "PlanCost", "PlannedRun", "ScheduleConfig",
        "SweepConfig", "SweepPlan", "SweepReport", "get_backend", "list_backends", "list_sweeps",
        "plan_sweep", "run_sweep", "sweep_path", "sweep_status",
    ],
    "scalinglab.ladders": ["Ladder", "Rung", "add_ladder_path", "get_ladder", "get_rung",
                           "list_ladders"],
    "scalinglab.train": ["GPT", "GPTConfig", "load_corpus", "plan_branches", "run", "train_bpe"],
    "scalinglab.datasets": ["Audit", "Dataset", "DatasetSpec", "Manifest", "Recipe", "Shard",
                            "build_dataset", "data_dir", "get_dataset", "list_datasets",
                            "load_chinchilla", "load_recipe", "path", "register_dataset", "run_recipe"],
    "scalinglab.report": [
        "Analysis", "Report", "Section", "analyze", "build_report", "collect_provenance",
        "figure_to_data_uri", "plot_allocation", "plot_backtest", "plot_comparison", "plot_fit",
        "plot_frontier", "plot_isoflop", "plot_residuals", "report_from_analysis", "save_figure",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_is_pinned_sorted_and_resolvable(module):
    mod = importlib.import_module(module)
    assert sorted(mod.__all__, key=str) == sorted(PUBLIC[module], key=str)
    if module == "scalinglab.train":  # its names import torch lazily; resolving them needs torch
        pytest.importorskip("torch")
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{module}.{name}"


def test_evals_all_is_sorted_and_resolvable():
    mod = importlib.import_module("scalinglab.evals")
    assert list(mod.__all__) == sorted(mod.__all__, key=str.lower) or list(mod.__all__) == sorted(mod.__all__)
    assert {"run", "score", "render", "wilson_interval", "homogeneity_test", "export_lm_eval"} <= set(mod.__all__)
    for name in mod.__all__:
        assert getattr(mod, name) is not None


def test_private_modules_are_underscored():
    # Every public module name of scalinglab.laws is importable and documented.
    import pkgutil

    import scalinglab.laws as fitpkg

    for info in pkgutil.iter_modules(fitpkg.__path__):
        mod = importlib.import_module(f"scalinglab.laws.{info.name}")
        assert mod.__doc__ and len(mod.__doc__.strip()) > 40, f"scalinglab.laws.{info.name} lacks a docstring"
