"""Pin the public API: a change to any __all__ below is a deliberate diff (httpx/sklearn style)."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

import pytest

PUBLIC = {
    "scalinglab": [
        "ConfigError", "DataError", "DataWarning", "FitError", "FitResult", "LAWS", "ResultsStore",
        "Runs", "ScalingLabError", "ScalingLabWarning", "TuningEdgeWarning", "UnknownNameError",
        "__version__", "allocate", "backtest", "best_per_size", "compare", "compute_envelope",
        "coverage_check", "fit", "get_ladder", "get_law", "isoflop_slices", "list_ladders",
        "list_laws", "load_lm_eval", "load_runs", "parse_quantity", "plan_sweep", "register_law",
        "run_sweep",
    ],
    "scalinglab.laws": [
        "Allocation", "AllocationPrediction", "Backtest", "BacktestFold", "BootstrapResult",
        "CITable", "Calibration", "Chinchilla", "Comparison", "CoverageReport", "Crossover",
        "DataConstrained", "DataMultiplier", "Derived", "DownstreamLink", "ESTIMATORS", "ExponentTest",
        "ExtrapolationCoverage", "FitData", "FitDiagnostics", "FitResult", "Frontier", "IsoFlopSlices", "LAWS", "Law", "Overtraining",
        "ParamMatrix", "PowerLaw", "Prediction", "Runs", "SaturatingError", "SaturatingPowerLaw",
        "Summary", "TuningEdge", "allocate", "backtest", "best_per_size", "binned_minimum",
        "compare", "compute_envelope", "coverage_check", "data_multiplier", "extrapolation_coverage", "fit",
        "get_law", "interval_score", "isoflop_slices", "list_laws", "load_lm_eval", "load_runs",
        "pareto_bins", "register_law",
    ],
    "scalinglab.store": [
        "DEFAULT_GROUPS", "FINAL_STATUSES", "ResultsStore", "RunRecord", "RunSpec", "RunStatus",
        "SCHEMA_VERSION", "rebuild_store",
    ],
    "scalinglab.sweep": [
        "BACKENDS", "EstimateConfig", "EvalConfig", "PlanCost", "PlannedRun", "ScheduleConfig",
        "SweepConfig", "SweepPlan", "SweepReport", "get_backend", "list_backends", "list_sweeps",
        "plan_sweep", "run_sweep", "sweep_path", "sweep_status",
    ],
    "scalinglab.ladders": ["Ladder", "LadderDefaults", "Rung", "add_ladder_path", "get_ladder",
                           "get_rung", "list_ladders"],
    "scalinglab.procedures": ["CLIPConfig", "CoCaConfig", "GPTConfig", "MaMMUTConfig", "ModelConfig",
                              "PROCEDURES", "Procedure", "get_procedure", "list_procedures",
                              "procedure_of", "register_procedure"],
    "scalinglab.train": ["GPT", "load_corpus", "plan_branches", "repetition_stats", "run", "train_bpe"],
    "scalinglab.datasets": ["Audit", "Dataset", "DatasetSpec", "Manifest", "Recipe", "Shard", "World",
                            "build_dataset", "data_dir", "get_dataset", "get_world", "list_datasets",
                            "list_worlds", "load_chinchilla", "load_overtraining", "load_recipe", "path", "register_dataset",
                            "register_world", "run_recipe"],
    "scalinglab.report": [
        "Analysis", "DatasetAnalysis", "ProcedureAnalysis", "Report", "Section", "analyze", "analyze_datasets",
        "analyze_procedures",
        "build_aiw_report", "build_report", "collect_provenance", "figure_to_data_uri",
        "plot_aiw_controls", "plot_aiw_variations", "plot_allocation", "plot_backtest",
        "plot_comparison", "plot_error_laws", "plot_fit", "plot_frontier", "plot_isoflop",
        "plot_metric_vs_compute", "plot_residuals", "report_from_aiw", "report_from_analysis", "report_from_datasets",
        "report_from_procedures", "save_figure",
    ],
    "scalinglab.evals": [
        "ControlGap", "Evaluation", "Extraction", "Family", "FamilyStat", "Generation",
        "GenerationRequest", "HomogeneityTest", "ModelClient", "Prompt", "PromptStat", "PromptType",
        "RateSummary", "Score", "Variation", "add_task_path", "evaluate", "export_lm_eval", "extract",
        "get_client", "get_family", "get_prompt_type", "homogeneity_test", "jeffreys_interval",
        "list_clients", "list_families", "list_prompt_types", "read_jsonl", "read_responses", "render",
        "render_all", "rescore", "score", "summarize_rates", "trial_seed", "wilson_interval",
    ],
}

#: Public modules that are entry points or data folders rather than APIs: no ``__all__`` needed.
NO_ALL = ("scalinglab.__main__", "scalinglab.train.__main__", "scalinglab.cli", "scalinglab.evals.tasks")


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_is_pinned_sorted_and_resolvable(module):
    mod = importlib.import_module(module)
    assert list(mod.__all__) == PUBLIC[module], "__all__ differs from the pinned list (order included)"
    assert PUBLIC[module] == sorted(PUBLIC[module]), "the pinned list is not sorted"
    if module == "scalinglab.train":  # its names import torch lazily; resolving them needs torch
        pytest.importorskip("torch")
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{module}.{name}"


def _modules():
    import scalinglab

    for info in pkgutil.walk_packages(scalinglab.__path__, "scalinglab."):
        yield info.name


def test_public_modules_declare_their_api_and_private_ones_are_underscored():
    # A module without a leading underscore (in any part of its dotted name) is for users: it
    # says what it is (docstring) and which names it offers (__all__, public names only, each
    # resolvable). A module that is not for users carries the underscore instead.
    public = [m for m in _modules() if not any(p.startswith("_") and p != "__main__" for p in m.split("."))]
    assert "scalinglab.laws.specs" in public and "scalinglab.laws._optimize" not in public
    problems = []
    for name in public:
        mod = importlib.import_module(name)
        if len((mod.__doc__ or "").strip()) <= 40:
            problems.append(f"{name}: no docstring saying what it is")
        if name.startswith(NO_ALL):
            continue
        names = getattr(mod, "__all__", None)
        if names is None:
            problems.append(f"{name}: no __all__ (a public module declares its API; rename it _{name.rsplit('.', 1)[1]} "
                            "if it is not for users)")
            continue
        problems += [f"{name}: __all__ lists the private name {n!r}" for n in names
                     if n.startswith("_") and n != "__version__"]
        if name == "scalinglab.train" or name.startswith("scalinglab.train."):
            if importlib.util.find_spec("torch") is None:
                continue
        problems += [f"{name}: __all__ names {n!r}, which it does not define" for n in names if not hasattr(mod, n)]
    assert not problems, "\n".join(problems)


def test_no_module_is_shadowed_by_a_name_its_package_exports():
    """``import scalinglab.laws.X as m`` must give the module X: a package that exports a function
    named like one of its modules (the old ``scalinglab.fit``, ``laws.compare``) breaks that."""
    import scalinglab

    shadowed = []
    for info in pkgutil.walk_packages(scalinglab.__path__, "scalinglab."):
        if not info.ispkg:
            continue
        pkg = importlib.import_module(info.name)
        for sub in pkgutil.iter_modules(pkg.__path__):
            value = getattr(pkg, sub.name, None)
            if value is not None and not hasattr(value, "__spec__"):
                shadowed.append(f"{info.name}.{sub.name} is a {type(value).__name__}")
    for sub in pkgutil.iter_modules(scalinglab.__path__):
        value = getattr(scalinglab, sub.name, None)
        if value is not None and not hasattr(value, "__spec__"):
            shadowed.append(f"scalinglab.{sub.name} is a {type(value).__name__}")
    assert not shadowed, shadowed
