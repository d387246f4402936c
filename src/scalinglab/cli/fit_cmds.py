"""``scalinglab fit | compare | allocate | backtest | laws``: scaling laws from a table of runs.

A thin layer over :mod:`scalinglab.fit`: parse options, load the table with
:func:`~scalinglab.load_runs`, call the verb, print its summary, and optionally write JSON
(``--json``), a figure (``--plot``, needs matplotlib) and the fit artifact (``--save``). Bad input
raises a :class:`~scalinglab.errors.ScalingLabError`, which ``cli/main.py`` turns into one line
``error: ...`` and exit code 2. Warnings are printed as one line each (``warning: ...``).

Examples::

    scalinglab fit runs.csv --law chinchilla --n-params N --n-tokens D --target loss --n-boot 200
    scalinglab compare runs.csv adamw lion --by optimizer --at 1e21
    scalinglab allocate runs.csv --approach 2 --at 1e21 --at 1e22
    scalinglab backtest runs.csv --holdout "largest 3" --plot backtest.png
    scalinglab laws
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from ..errors import ConfigError, DataError, ScalingLabError, ScalingLabWarning, suggest
from ..laws import fit
from ..laws.allocation import allocate
from ..laws.backtesting import backtest
from ..laws.comparison import compare
from ..laws.frontier import isoflop_slices
from ..laws.law import get_law, list_laws
from ..laws.result import FitResult
from ..laws.tables import load_runs
from ..report.plots import plot_allocation, plot_backtest, plot_comparison, plot_fit, plot_isoflop, save_figure
from ..units import parse_quantity

# -- shared options ----------------------------------------------------------------------------

_TABLE = typer.Argument(..., help="Table of runs: CSV/TSV, JSONL, JSON or Parquet.", show_default=False)
_LAW = typer.Option("chinchilla", "--law", "-l", help="Law to fit (see `scalinglab laws`).")
_N = typer.Option(None, "--n-params", help="Column of parameter counts N (default: common names).")
_D = typer.Option(None, "--n-tokens", help="Column of training tokens D.")
_C = typer.Option(None, "--flops", help="Column of training compute C in FLOPs.")
_Y = typer.Option(None, "--target", "-y", help="Column of the modelled quantity (loss, error).")
_ID = typer.Option(None, "--run-id", help="Column of unique run ids.")
_CONV = typer.Option(None, "--flops-convention",
                     help="How C is obtained: explicit, 6ND, gflops_per_sample, gmacs_per_sample.")
_LOSS = typer.Option("huber", "--loss", help="Estimator: huber, ls, lad, huber_likelihood, asymmetric, loglinear.")
_DELTA = typer.Option(1e-3, "--delta", help="Huber threshold (on log residuals by default).")
_SPACE = typer.Option("log", "--space", help="Residuals in log or linear space.")
_REDUCE = typer.Option("sum", "--reduce", help="Sum or mean of the per-point losses.")
_SEED = typer.Option(0, "--seed", help="Seed of random starts and the bootstrap.")
_LEVEL = typer.Option(0.95, "--level", help="Level of every interval.")
_DROP = typer.Option(0, "--drop-highest", help="Drop the K rows with the highest target first, and rows tied "
                                               "with the K-th highest (the Chinchilla replication drops 5).")
_JSON = typer.Option(None, "--json", help="Write the result as JSON to this file ('-' for stdout).")
_PLOT = typer.Option(None, "--plot", help="Write a figure to this file (.png, .svg, .pdf; needs matplotlib).")


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Show each scalinglab warning as one ``warning: ...`` line on stderr (once per message)."""
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = f"warning: {category.__name__}: {message}"
        if text not in seen:
            seen.add(text)
            print(text, file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", ScalingLabWarning)
        warnings.showwarning = show
        yield


def load_table(table: str, *, n_params: str | None, n_tokens: str | None, flops: str | None,
               target: str | None, run_id: str | None = None, group_by: Sequence[str] = (),
               flops_convention: str | None = None, drop_highest: int = 0):
    """``load_runs`` with the CLI's column options, then drop the ``drop_highest`` largest targets."""

    runs = load_runs(table, n_params=n_params, n_tokens=n_tokens, flops=flops, target=target,
                     run_id=run_id, group_by=tuple(group_by or ()), flops_convention=flops_convention)
    if not 0 <= drop_highest < len(runs):
        raise ConfigError(f"--drop-highest must be between 0 and {len(runs) - 1} (the table has "
                          f"{len(runs)} usable rows); got {drop_highest}")
    return runs.drop_highest(drop_highest)


def _clean(obj: Any) -> Any:
    """JSON-ready: numpy to Python, non-finite floats to the strings "nan", "inf", "-inf"."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else str(f)
    return obj


def write_json(data: Any, path: str) -> None:
    """Write ``data`` as JSON to ``path`` ("-" prints it)."""
    text = json.dumps(_clean(data), indent=1, allow_nan=False)
    if path == "-":
        print(text)
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text + "\n")
    print(f"wrote {p}", file=sys.stderr)


def save_plot(fig: Any, path: str) -> None:

    print(f"wrote {save_figure(fig, path)}", file=sys.stderr)


def _suffixed(path: str | None, key: Any, many: bool) -> str | None:
    """``out.png`` -> ``out-<key>.png`` when several groups are written."""
    if path is None or not many or path == "-":
        return path
    p = Path(path)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(key))
    return str(p.with_name(f"{p.stem}-{safe}{p.suffix}"))


def fit_json(res: Any, level: float) -> dict[str, Any]:
    """A fit as JSON: parameters, intervals, standard errors, diagnostics, notes, options."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)   # the summary's notes say it instead
        try:
            ci = res.ci(level).to_dict()
        except ScalingLabError:  # no interval can be formed (too few points): report the estimates
            ci = None
        stderr = res.stderr
        summary = res.summary(level=level).to_dict()
    return {"law": res.law.name, "formula": res.law.formula, "params": dict(res.params),
            "stderr": stderr, "stderr_method": res.stderr_method, "ci": ci, "n_points": res.n_points,
            "ok": res.ok, "notes": summary.get("notes", []), "objective": res.objective,
            "sigma": res.sigma, "input_range": {k: list(v) for k, v in res.input_range.items()},
            "options": dict(res.options), "diagnostics": res.diagnostics.to_dict(),
            "runs_fingerprint": res.runs_fingerprint,
            "n_boot": 0 if res.bootstrap is None else res.bootstrap.n_boot}


def _fit_one(law: str, runs: Any, *, loss: str, delta: float, space: str, reduce: str, n_boot: int,
             boot_by: str | None, seed: int, n_starts: int | None):

    if n_boot < 0:
        raise ConfigError(f"--n-boot must be >= 0; got {n_boot}")
    return fit(law, runs, loss=loss, delta=delta, space=space, reduce=reduce, n_boot=n_boot,
               boot_by=boot_by, seed=seed, n_starts=n_starts)


def _check_law(law: str):

    return get_law(law)


def check_level(level: float) -> float:
    """``--level``: a probability strictly between 0 and 1, used by every interval a command prints."""
    if not (math.isfinite(level) and 0 < level < 1):
        raise ConfigError(f"--level must be between 0 and 1 (e.g. 0.9 for 90% intervals); got {level:g}")
    return level


def _flops_values(values: Sequence[str] | None) -> list[float] | None:

    if not values:
        return None
    out = [parse_quantity(v, name="--at") for v in values]
    bad = [v for v in out if not (v > 0 and math.isfinite(v))]
    if bad:
        raise ConfigError(f"--at takes positive compute values in FLOPs (e.g. 1e21); got {bad[0]}")
    return out


# -- commands ------------------------------------------------------------------------------------

def fit_cmd(table: str = _TABLE, law: str = _LAW, n_params: Optional[str] = _N, n_tokens: Optional[str] = _D,
            flops: Optional[str] = _C, target: Optional[str] = _Y, run_id: Optional[str] = _ID,
            group_by: Optional[list[str]] = typer.Option(None, "--group-by", "-g",
                                                         help="Fit each group separately (repeatable)."),
            flops_convention: Optional[str] = _CONV, loss: str = _LOSS, delta: float = _DELTA,
            space: str = _SPACE, reduce: str = _REDUCE,
            n_starts: Optional[int] = typer.Option(None, "--n-starts",
                                                   help="Random starts instead of the law's grid."),
            n_boot: int = typer.Option(0, "--n-boot", help="Bootstrap refits for intervals (0: Wald)."),
            boot_by: Optional[str] = typer.Option(None, "--boot-by",
                                                  help="Resample whole groups of this column."),
            seed: int = _SEED, level: float = _LEVEL, drop_highest: int = _DROP,
            json_out: Optional[str] = _JSON, plot: Optional[str] = _PLOT,
            save: Optional[str] = typer.Option(None, "--save", help="Write the fit artifact (JSON, lossless) "
                                                                   "for `allocate --fit`.")) -> None:
    """Fit a scaling law to a table of runs and print its summary."""
    check_level(level)
    with one_line_warnings():
        _check_law(law)
        runs = load_table(table, n_params=n_params, n_tokens=n_tokens, flops=flops, target=target,
                          run_id=run_id, group_by=group_by or (), flops_convention=flops_convention,
                          drop_highest=drop_highest)
        parts = runs.split(list(group_by)) if group_by else {None: runs}
        many = len(parts) > 1 or bool(group_by)
        out = []
        for key, sub in parts.items():
            res = _fit_one(law, sub, loss=loss, delta=delta, space=space, reduce=reduce, n_boot=n_boot,
                           boot_by=boot_by, seed=seed, n_starts=n_starts)
            if many:
                print(f"\n== {', '.join(group_by)} = {key} ({len(sub)} runs) ==")
            print(res.summary(level=level).as_text())
            d = fit_json(res, level)
            if many:
                d = {"group": dict(zip(group_by, key if isinstance(key, tuple) else (key,))), **d}
            out.append(d)
            if plot:

                save_plot(plot_fit(res, sub, level=level), _suffixed(plot, key, many))
            if save:
                p = res.save(_suffixed(save, key, many))
                print(f"wrote {p}", file=sys.stderr)
        if json_out:
            write_json({"groups": out} if many else out[0], json_out)


def compare_cmd(args: list[str] = typer.Argument(..., help="TABLE A B with --by COLUMN, or TABLE_A TABLE_B.",
                                                 show_default=False),
                by: Optional[str] = typer.Option(None, "--by", help="Column whose values A and B are the arms."),
                law: str = _LAW, n_params: Optional[str] = _N, n_tokens: Optional[str] = _D,
                flops: Optional[str] = _C, target: Optional[str] = _Y, run_id: Optional[str] = _ID,
                flops_convention: Optional[str] = _CONV, loss: str = _LOSS, delta: float = _DELTA,
                space: str = _SPACE, reduce: str = _REDUCE,
                at: Optional[list[str]] = typer.Option(None, "--at", help="Compute (FLOPs) to compare at "
                                                                          "(repeatable; default: the largest "
                                                                          "run, 10x and 100x it)."),
                n_boot: int = typer.Option(200, "--n-boot", help="Bootstrap refits per arm."),
                seed: int = _SEED, level: float = _LEVEL,
                higher_is_better: bool = typer.Option(False, "--higher-is-better",
                                                      help="The target is an accuracy-like score."),
                interval: str = typer.Option("calibrated", "--interval",
                                             help="calibrated: beyond the data, add the extrapolation error "
                                                  "measured by rolling backtests, the difference's own where both "
                                                  "arms share a design (docs/coverage.md); calibrated-independent: "
                                                  "each arm's, added independently; bootstrap: parameter "
                                                  "uncertainty alone (too narrow there)."),
                json_out: Optional[str] = _JSON, plot: Optional[str] = _PLOT) -> None:
    """Compare two procedures (or datasets) by their fitted laws: multiplier, exponents, crossover."""

    check_level(level)
    with one_line_warnings():
        _check_law(law)
        cols = {"n_params": n_params, "n_tokens": n_tokens, "flops": flops, "target": target,
                "run_id": run_id, "flops_convention": flops_convention}
        if by is not None:
            if len(args) != 3:
                raise ConfigError(f"with --by give TABLE A B (the table and two values of {by!r}); got "
                                  f"{len(args)} argument(s): {' '.join(args)}")
            table, a, b = args
            runs = load_table(table, group_by=[by], **cols)
            values = sorted({str(v) for v in runs.groups[by]})
            arms = {}
            for v in (a, b):
                sub = runs.filter(**{by: v})
                if len(sub) == 0:

                    raise DataError(f"no rows with {by} = {v!r}.{suggest(v, values)} Values of {by}: "
                                    f"{', '.join(values)}")
                arms[v] = sub
            names = (a, b)
        else:
            if len(args) != 2:
                raise ConfigError(f"give two tables (TABLE_A TABLE_B), or one table and two values with "
                                  f"--by COLUMN; got {len(args)} argument(s): {' '.join(args)}")
            arms = {}
            for t in args:
                arms[t] = load_table(t, **cols)
            stems = [Path(t).stem for t in args]
            names = tuple(stems) if stems[0] != stems[1] else tuple(args)
            arms = dict(zip(names, arms.values()))
        if names[0] == names[1]:
            raise ConfigError(f"the two arms are the same ({names[0]!r}); name two different ones")
        fits = [_fit_one(law, arms[n], loss=loss, delta=delta, space=space, reduce=reduce, n_boot=n_boot,
                         boot_by=None, seed=seed + i, n_starts=None) for i, n in enumerate(names)]
        C = _flops_values(at)
        if C is None:
            top = max(float(np.max(r.flops)) for r in arms.values() if r.flops is not None) \
                if any(r.flops is not None for r in arms.values()) else None
            if top is None:
                raise ConfigError("no compute column to pick default --at values from; pass --at 1e21")
            C = [top, 10 * top, 100 * top]
        cmp = compare(fits[0], fits[1], flops=C, level=level, n_boot=n_boot, seed=seed,
                      names=(str(names[0]), str(names[1])), higher_is_better=higher_is_better, interval=interval)
        for n, res in zip(names, fits):
            print(f"\n== {n} ({res.n_points} runs) ==")
            print(res.summary(level=level).as_text())
        print()
        print(cmp.summary().as_text())
        if json_out:
            write_json({"comparison": cmp.to_dict(), "fits": {str(n): fit_json(r, level) for n, r in zip(names, fits)}},
                       json_out)
        if plot:

            save_plot(plot_comparison(cmp, fits[0], fits[1], runs_a=arms[names[0]], runs_b=arms[names[1]]), plot)


def allocate_cmd(table: Optional[str] = typer.Argument(None, help="Table of runs (or use --fit).",
                                                       show_default=False),
                 approach: int = typer.Option(3, "--approach", "-a",
                                              help="1 envelope, 2 iso-FLOP profiles, 3 parametric L(N, D) "
                                                   "(Hoffmann et al. 2022)."),
                 fit_path: Optional[str] = typer.Option(None, "--fit", help="A fit artifact from `fit --save` "
                                                                            "(approach 3)."),
                 law: str = _LAW, n_params: Optional[str] = _N, n_tokens: Optional[str] = _D,
                 flops: Optional[str] = _C, target: Optional[str] = _Y, run_id: Optional[str] = _ID,
                 flops_convention: Optional[str] = _CONV, loss: str = _LOSS, delta: float = _DELTA,
                 space: str = _SPACE, reduce: str = _REDUCE, drop_highest: int = _DROP,
                 at: Optional[list[str]] = typer.Option(None, "--at", help="Budgets (FLOPs) to tabulate "
                                                                           "N*, D*, D*/N* at (repeatable)."),
                 rel_tol: float = typer.Option(0.1, "--rel-tol", help="Approach 2: relative tolerance "
                                                                      "grouping runs into budgets."),
                 n_boot: int = typer.Option(200, "--n-boot", help="Bootstrap draws for intervals."),
                 seed: int = _SEED, level: float = _LEVEL,
                 json_out: Optional[str] = _JSON, plot: Optional[str] = _PLOT) -> None:
    """Compute-optimal N*(C) and D*(C) with intervals (Hoffmann et al. 2022, approaches 1-3)."""

    check_level(level)
    with one_line_warnings():
        if (table is None) == (fit_path is None):
            raise ConfigError("give either a TABLE of runs or --fit FIT.json (from `scalinglab fit --save`)")
        if approach not in (1, 2, 3):
            raise ConfigError(f"--approach must be 1, 2 or 3; got {approach}")
        slices = None
        if fit_path is not None:

            if approach != 3:
                raise ConfigError("--fit gives a fitted law, which only approach 3 uses; pass a TABLE "
                                  "for approaches 1 and 2")
            data = FitResult.load(fit_path)
        else:
            runs = load_table(table, n_params=n_params, n_tokens=n_tokens, flops=flops, target=target,
                              run_id=run_id, flops_convention=flops_convention, drop_highest=drop_highest)
            if approach == 3:
                _check_law(law)
                data = _fit_one(law, runs, loss=loss, delta=delta, space=space, reduce=reduce,
                                n_boot=n_boot, boot_by=None, seed=seed, n_starts=None)
                print(data.summary(level=level).as_text())
                print()
            elif approach == 2:

                data = slices = isoflop_slices(runs, rel_tol=rel_tol)
            else:
                data = runs
        al = allocate(data, approach=approach, level=level, n_boot=n_boot, seed=seed)
        C = _flops_values(at)
        print(al.summary(flops=C).as_text())
        if json_out:
            d = al.to_dict()
            if C:
                d["predictions"] = al.predict(flops=np.asarray(C)).to_dict()
            write_json(d, json_out)
        if plot:

            save_plot(plot_isoflop(slices, al) if slices is not None else plot_allocation(al), plot)


def backtest_cmd(table: str = _TABLE, law: str = _LAW, n_params: Optional[str] = _N,
                 n_tokens: Optional[str] = _D, flops: Optional[str] = _C, target: Optional[str] = _Y,
                 run_id: Optional[str] = _ID, flops_convention: Optional[str] = _CONV, loss: str = _LOSS,
                 delta: float = _DELTA, space: str = _SPACE, reduce: str = _REDUCE, drop_highest: int = _DROP,
                 split: str = typer.Option("cutoff", "--split", help="cutoff, rolling, leave_one_size_out or "
                                                                     "leave_one_budget_out."),
                 holdout: Optional[str] = typer.Option(None, "--holdout", help="Runs held out: 'largest 3' or "
                                                                               "'largest 20%' by compute "
                                                                               "(default 'largest 25%')."),
                 cutoff_flops: Optional[str] = typer.Option(None, "--cutoff-flops",
                                                            help="Fit runs with C <= this, predict the rest."),
                 n_cutoffs: int = typer.Option(4, "--n-cutoffs", help="Cutoffs of --split rolling."),
                 n_boot: int = typer.Option(200, "--n-boot", help="Bootstrap refits per fold (intervals)."),
                 interval: Optional[str] = typer.Option(None, "--interval",
                                                        help="calibrated, bootstrap or wald (default: calibrated "
                                                             "beyond the fitted data, bootstrap inside)."),
                 seed: int = _SEED, level: float = _LEVEL,
                 json_out: Optional[str] = _JSON, plot: Optional[str] = _PLOT) -> None:
    """Fit on the smaller runs, predict the largest, and score the predictions and intervals."""

    check_level(level)
    with one_line_warnings():
        _check_law(law)
        runs = load_table(table, n_params=n_params, n_tokens=n_tokens, flops=flops, target=target,
                          run_id=run_id, flops_convention=flops_convention, drop_highest=drop_highest)
        if n_boot < 2 and interval != "wald":
            raise ConfigError(f"--n-boot must be >= 2 for bootstrap or calibrated intervals; got {n_boot} "
                              "(use --interval wald for intervals without a bootstrap)")
        if interval not in (None, "calibrated", "bootstrap", "wald"):
            raise ConfigError(f"--interval must be calibrated, bootstrap or wald; got {interval!r}")
        if holdout is not None and holdout.strip().isdigit():
            holdout = int(holdout)
        fkw = {"loss": loss, "delta": delta, "space": space, "reduce": reduce, "seed": seed}
        bt = backtest(law, runs, holdout=holdout, cutoff_flops=cutoff_flops, split=split, n_cutoffs=n_cutoffs,
                      level=level, interval=interval, fit_kwargs=fkw, n_boot=max(n_boot, 2), seed=seed)
        print(bt.summary().as_text())
        if json_out:
            write_json(bt.to_dict(), json_out)
        if plot:

            save_plot(plot_backtest(bt, runs), plot)


def laws_cmd(json_out: Optional[str] = _JSON) -> None:
    """List the registered laws with their inputs, formulas and citations."""

    rows = []
    for name in list_laws():
        law = get_law(name)
        rows.append({"name": name, "inputs": list(law.inputs), "params": list(law.param_names),
                     "formula": law.formula, "citation": law.citation})
    if json_out:
        write_json(rows, json_out)
        return
    for r in rows:
        print(f"{r['name']}  ({', '.join(r['inputs'])})")
        print(f"    {r['formula']}")
        print(f"    {r['citation']}")


def register(app: typer.Typer) -> None:
    """Mount ``fit``, ``compare``, ``allocate``, ``backtest`` and ``laws`` on the root app."""
    app.command("fit")(fit_cmd)
    app.command("compare")(compare_cmd)
    app.command("allocate")(allocate_cmd)
    app.command("backtest")(backtest_cmd)
    app.command("laws")(laws_cmd)
