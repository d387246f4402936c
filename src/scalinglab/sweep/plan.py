"""Sweeps as data: a strict YAML file expands into an ordered list of :class:`RunSpec`.

A sweep names one or more ladders (each ladder names its procedure) and their rungs, and crosses
them with budgets D (absolute, or tokens per parameter), datasets, a learning-rate grid (shared,
per ladder or per rung), seeds and a schedule::

    name: demo
    ladder: gpt-tiny                     # or  ladder: [clip-tiny, coca-tiny, mammut-tiny]
    rungs: [gpt-tiny-1, gpt-tiny-2, gpt-tiny-3]
    n_tokens: [1M, 2M]                   # or  tokens_per_param: [5, 10, 20];  n_samples: [...]
    lr: [3e-3, 1e-2]                     # or  lr: {gpt-tiny-1: [1e-2], default: [3e-3]}
    dataset: stdlib                      # or  dataset: [stdlib, scipy-src]
    seeds: [0]
    schedule: {kind: branched, cooldown_frac: 0.2}   # cosine | wsd | constant | branched
    variant: reference
    metric: zeroshot_error               # what several procedures are compared on (default: the
                                         # first metric they all report; none in common: refused)

D is counted in the procedures' unit: ``n_tokens``/``tokens_per_param`` for token-counted
procedures (``gpt``), ``n_samples`` for sample-counted ones; a sweep's ladders must share one
unit and share a metric. Unknown or misspelled keys raise :class:`~scalinglab.errors.ConfigError`
with a suggestion, unknown ladders and rungs :class:`~scalinglab.errors.UnknownNameError`; every
error about a sweep file starts with the file's path. Planning
never imports torch: each procedure names its trainer by a ``"module:attr"`` string and only
workers import it.

``schedule.kind: branched`` plans one trunk per (rung, dataset, lr, seed): a complete WSD run of
the longest budget that saves checkpoints where each shorter budget's cooldown starts, plus one
cooldown branch per shorter budget (:func:`scalinglab.train.schedule.plan_branches`; Hägele et
al. 2024). Every budget then costs only its cooldown on top of the trunk.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ..config import from_dict, load_mapping, to_dict
from ..datasets import list_datasets
from ..datasets.imagetext import check_image_text, is_world
from ..errors import ConfigError, ScalingLabError, UnknownNameError, suggest
from ..ladders import Ladder, Rung, get_ladder
from ..procedures import get_procedure
from ..store.schema import RunSpec
from ..train.schedule import check_schedule, plan_branches
from ..units import format_quantity

__all__ = [
    "EstimateConfig",
    "EvalConfig",
    "PlanCost",
    "PlannedRun",
    "ScheduleConfig",
    "SweepConfig",
    "SweepPlan",
    "common_metrics",
    "format_seconds",
    "list_sweeps",
    "plan_sweep",
    "sweep_path",
]

PRESET_DIR = Path(__file__).resolve().parent.parent / "sweeps"
#: Keys a sweep file had before procedures were registered, and what replaced them.
_RENAMED = {"procedure": "variant (the free label; the procedure comes from the ladder)",
            "corpus": "dataset", "warmup_tokens": "schedule.warmup (in D units)"}


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule of every run of the sweep."""

    kind: Literal["cosine", "wsd", "constant", "branched"] = "cosine"
    warmup: int = 0                 # linear warmup in D units (tokens or samples); 0 = auto (about N, capped)
    cooldown_frac: float = 0.2      # wsd / branched: fraction of each run spent cooling down
    min_lr_frac: float = 0.0        # final LR as a fraction of the peak

    def __post_init__(self) -> None:
        check_schedule(cooldown_frac=self.cooldown_frac, min_lr_frac=self.min_lr_frac,
                       warmup=self.warmup, where="schedule")


@dataclass(frozen=True)
class EvalConfig:
    """How each run is scored: held-out D units (give the one matching the procedures' unit)."""

    eval_tokens: int | None = None   # held-out tokens scored at the end of a run (token procedures)
    eval_samples: int | None = None  # held-out samples scored at the end of a run (sample procedures)
    common_dataset: str | None = None  # also score every run on this dataset's validation split
                                       # (metric val_loss_common; for image-text procedures a shape world's
                                       # test split, metrics *_common; RunSpec.extra["eval_common"])

    def __post_init__(self) -> None:
        for k in ("eval_tokens", "eval_samples"):
            v = getattr(self, k)
            if v is not None and v < 1:
                raise ConfigError(f"eval.{k} must be >= 1; got {v}")


@dataclass(frozen=True)
class EstimateConfig:
    """Throughput assumed for the wall-time estimate printed before a sweep runs."""

    units_per_s: dict[str, float] = field(default_factory=dict)  # D units/s per rung (or "default"), one worker
    flops_per_s: float = 1.5e10     # training FLOP/s of one CPU worker (gpt-tiny, 1 thread), for
                                    # rungs without a units_per_s entry
    overhead_s: float = 2.0         # per run: process start, data load, checkpoints

    def __post_init__(self) -> None:
        if self.flops_per_s <= 0 or self.overhead_s < 0:
            raise ConfigError("estimate.flops_per_s must be > 0 and estimate.overhead_s >= 0")
        bad = {k: v for k, v in self.units_per_s.items() if not v > 0}
        if bad:
            raise ConfigError(f"estimate.units_per_s values must be > 0; got {bad}")


@dataclass(frozen=True)
class SweepConfig:
    """A sweep file, validated (every field maps to a YAML key of the same name)."""

    ladder: str | list[str]                        # ladder name(s), e.g. "gpt-tiny" or [clip-tiny, coca-tiny]
    lr: list[float] | dict[str, list[float]]       # peak LR grid: shared, or {rung|ladder|default: grid}
    rungs: list[str] | Literal["all"] = "all"      # rungs to train (of any named ladder)
    n_tokens: list[float] | dict[str, list[float]] | None = None          # budgets D in tokens
    n_samples: list[float] | dict[str, list[float]] | None = None         # budgets D in samples
    tokens_per_param: list[float] | dict[str, list[float]] | None = None  # or D = this x N tokens
    n_params_convention: str | None = None         # the N of tokens_per_param (default: the procedure's)
    dataset: str | list[str] | None = None         # dataset name(s) or path(s) (default: the ladder's)
    seeds: list[int] = field(default_factory=lambda: [0])
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    batch_size: int | None = None                  # examples per step (default: the ladder's)
    tokenizer: str | None = None                   # "byte" or a BPE JSON path (default: the ladder's)
    eval: EvalConfig = field(default_factory=EvalConfig)
    variant: str = "reference"                     # free label compared across sweeps (group key)
    metric: str | None = None                      # what the procedures are compared on (default: the
                                                   # first metric every procedure of the sweep reports)
    device: str = "cpu"
    trainer: str | None = None                     # "module:attr" overriding the procedures' trainers (tests)
    trainer_options: dict[str, Any] = field(default_factory=dict)  # e.g. {checkpoint_every_s: 30}; not hashed
    estimate: EstimateConfig = field(default_factory=EstimateConfig)
    extra: dict[str, Any] = field(default_factory=dict)            # copied into every RunSpec.extra
    name: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        given = [k for k in ("n_tokens", "n_samples", "tokens_per_param") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ConfigError("a sweep needs exactly one of n_tokens (budgets in tokens), n_samples "
                              "(budgets in samples) and tokens_per_param (budgets as a multiple of N); "
                              f"got {' and '.join(given) if given else 'none'}")
        if not self.seeds:
            raise ConfigError("seeds must list at least one seed, e.g. seeds: [0]")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds has duplicates: {self.seeds}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1; got {self.batch_size}")
        if self.trainer is not None and ":" not in self.trainer:
            raise ConfigError(f"trainer must look like 'package.module:function'; got {self.trainer!r}")
        for key in ("lr", "n_tokens", "n_samples", "tokens_per_param"):
            value = getattr(self, key)
            grids = value.values() if isinstance(value, dict) else [value] if value is not None else []
            for grid in grids:
                if not grid:
                    raise ConfigError(f"{key} has an empty list; give at least one value")
                bad = [v for v in grid if not (v > 0 and math.isfinite(v))]
                if bad:
                    raise ConfigError(f"{key} values must be positive and finite; got {bad[0]}")

    @property
    def ladders(self) -> list[str]:
        return [self.ladder] if isinstance(self.ladder, str) else list(self.ladder)

    @property
    def budget_key(self) -> str:
        """The key that holds the budgets: ``n_tokens``, ``n_samples`` or ``tokens_per_param``."""
        return next(k for k in ("n_tokens", "n_samples", "tokens_per_param") if getattr(self, k) is not None)


@dataclass(frozen=True)
class PlannedRun:
    """One run of a plan with its cost estimate."""

    spec: RunSpec
    n_params: int                 # N under the procedure's default convention
    units_trained: int            # D units this run itself trains (a branch: only its cooldown)
    flops: float                  # training FLOPs of those units (the procedure's default convention)
    est_s: float                  # estimated wall seconds on one worker

    @property
    def run_id(self) -> str:
        return self.spec.run_id


@dataclass(frozen=True)
class PlanCost:
    """What a sweep will cost, estimated before running it."""

    n_runs: int
    n_data: int                   # D units trained, summed over runs (branches count their cooldown)
    unit: str                     # "tokens" or "samples"
    flops: float                  # training FLOPs (each procedure's default convention)
    serial_s: float               # estimated seconds on one worker
    wall_s: float                 # estimated seconds on ``workers`` workers (longest-first schedule)
    workers: int
    calibrated_on: int = 0        # finished runs whose measured throughput the estimate uses

    def __str__(self) -> str:
        how = (f"; throughput measured on {self.calibrated_on} finished run(s)" if self.calibrated_on
               else "")
        return (f"{self.n_runs} runs, {format_quantity(self.n_data)} {self.unit}, "
                f"{self.flops:.3g} FLOPs; estimated {format_seconds(self.wall_s)} on {self.workers} "
                f"worker(s) ({format_seconds(self.serial_s)} serial{how})")


@dataclass(frozen=True)
class SweepPlan:
    """An expanded sweep: its validated config and its runs, longest first.

    Built by :func:`plan_sweep`. ``runs`` lists trunks before their branches.
    """

    config: SweepConfig
    runs: tuple[PlannedRun, ...]
    source: str = ""
    # rung -> (tokens/s, overhead s, finished runs measured), from SweepPlan.calibrated
    calibration: Mapping[str, tuple[float, float, int]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name or Path(self.source).stem or "sweep"

    @property
    def specs(self) -> tuple[RunSpec, ...]:
        return tuple(r.spec for r in self.runs)

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(r.run_id for r in self.runs)

    @property
    def trainer(self) -> str | None:
        """The sweep's trainer override (tests), or None: each run uses its procedure's trainer."""
        return self.config.trainer

    @property
    def procedures(self) -> tuple[str, ...]:
        """The procedures of the planned runs, in ladder order."""
        return tuple(dict.fromkeys(r.spec.procedure for r in self.runs))

    @property
    def unit(self) -> str:
        return self.runs[0].spec.unit if self.runs else "tokens"

    @property
    def metric(self) -> str:
        """The metric the sweep's procedures are compared on (``metric:``, else the first common one)."""
        if self.config.metric is not None:
            return self.config.metric

        return common_metrics([get_procedure(p) for p in self.procedures])[0]

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[RunSpec]:
        return iter(self.specs)

    def __repr__(self) -> str:
        return f"SweepPlan({self.name!r}, {len(self)} runs, ladders={self.config.ladders!r})"

    def cost(self, workers: int = 1) -> PlanCost:
        """Estimated cost; wall time simulates ``workers`` workers taking runs longest first.

        The estimate is as good as ``estimate.units_per_s`` in the sweep file: measure a rung
        once (``scalinglab train``, the record's ``wall_s``) and put its units/s there.
        """
        workers = max(1, int(workers))
        by_id = {r.run_id: r for r in self.runs}
        start: dict[str, float] = {}
        end = 0.0

        def ready_at(r: PlannedRun) -> float | None:
            # a branch can start once its trunk has trained up to the branch point
            trunk = by_id.get(r.spec.branch_of) if r.spec.branch_of else None
            if trunk is None:
                return 0.0
            if trunk.run_id not in start:
                return None
            frac = (r.spec.branch_at or 0) / max(1, trunk.spec.n_data)
            return start[trunk.run_id] + trunk.est_s * frac

        pending = list(self.runs)     # longest first, trunks before their branches
        free = [0.0] * workers
        while pending:
            t = heapq.heappop(free)
            times = [(ready_at(r), i) for i, r in enumerate(pending)]
            now = [i for rt, i in times if rt is not None and rt <= t]
            if not now:               # idle until the earliest branch point is reached
                heapq.heappush(free, min(rt for rt, _ in times if rt is not None))
                continue
            r = pending.pop(now[0])
            start[r.run_id] = t
            end = max(end, t + r.est_s)
            heapq.heappush(free, t + r.est_s)
        rungs = {r.spec.rung for r in self.runs}
        return PlanCost(n_runs=len(self.runs), n_data=sum(r.units_trained for r in self.runs),
                        unit=self.unit, flops=sum(r.flops for r in self.runs),
                        serial_s=sum(r.est_s for r in self.runs), wall_s=end, workers=workers,
                        calibrated_on=sum(c[2] for rung, c in self.calibration.items() if rung in rungs))

    def calibrated(self, records: Iterable[Any]) -> SweepPlan:
        """This plan with its estimates from the wall times of finished runs.

        ``records`` are finished :class:`~scalinglab.store.schema.RunRecord` (a store's, e.g.
        ``store.records(status="done")``). For each rung, the records of the same model on the
        same device measure ``wall = overhead + units / units_per_s`` on one worker (units: those
        a run trained, a branch only its cooldown, plus its eval units): a least-squares line
        when the records trained at least two lengths (and took longer for more units), with the
        overhead kept between 0, ``estimate.overhead_s`` and 90 % of the shortest run; otherwise
        the overhead is the smaller of ``estimate.overhead_s`` and half the shortest run. Runs of a
        rung without such a record keep the sweep file's estimate. ``run_sweep`` prints this
        estimate before training and the measured time beside it at the end, so a sweep continued
        in a store (or a second sweep of the same rungs) is estimated from what this machine
        measured.
        """
        models = {r.spec.rung: r.spec.model for r in self.runs}
        cap = self.config.estimate.overhead_s
        data: dict[str, list[tuple[float, float]]] = {}       # rung -> [(units, wall_s)]
        for rec in records:
            spec = rec.spec
            rung = spec.rung
            if (rec.status != "done" or rung not in models or not rec.wall_s
                    or spec.model != models[rung] or spec.device != self.config.device):
                continue
            x = spec.n_data - (spec.branch_at or 0) + spec.eval_size
            data.setdefault(rung, []).append((float(x), float(rec.wall_s)))
        fitted: dict[str, tuple[float, float, int]] = {}
        for rung, pts in data.items():
            x = [a for a, _ in pts]
            w = [b for _, b in pts]
            overhead = min(cap, 0.5 * min(w))
            if len(set(x)) >= 2:
                mx, mw = sum(x) / len(x), sum(w) / len(w)
                slope = sum((a - mx) * (b - mw) for a, b in pts) / sum((a - mx) ** 2 for a in x)
                if slope > 0:       # wall time grows with units: the intercept is the overhead
                    overhead = min(max(mw - slope * mx, 0.0), cap, 0.9 * min(w))
            busy = sum(max(b - overhead, 0.0) for b in w)
            if busy > 0:
                fitted[rung] = (sum(x) / busy, overhead, len(pts))
        if not fitted:
            return self
        runs = []
        for r in self.runs:
            if r.spec.rung in fitted:
                rate, overhead, _ = fitted[r.spec.rung]
                r = replace(r, est_s=overhead + (r.units_trained + r.spec.eval_size) / rate)
            runs.append(r)
        return replace(self, runs=tuple(runs), calibration=fitted)

    def as_text(self, workers: int = 1) -> str:
        """The expanded runs as a table, then the cost."""
        head = f"{'run_id':<44} {'rung':<12} {'N':>7} {'D':>7} {'lr':>8} {'seed':>4} " \
               f"{'schedule':<8} {'FLOPs':>8} {'est':>7}"
        title = (f"sweep {self.name!r}: ladder(s) {', '.join(self.config.ladders)} (procedure(s) "
                 f"{', '.join(self.procedures)}), variant {self.config.variant!r}"
                 + (f", trainer {self.trainer}" if self.trainer else ""))
        lines = [title, head, "-" * len(head)]
        for r in self.runs:
            s = r.spec
            sched = s.schedule + ("*" if s.branch_of else "")
            lines.append(f"{r.run_id:<44} {s.rung:<12} {format_quantity(r.n_params):>7} "
                         f"{format_quantity(s.n_data):>7} {s.lr:>8.2g} {s.seed:>4} {sched:<8} "
                         f"{r.flops:>8.2g} {format_seconds(r.est_s):>7}")
        if any(r.spec.branch_of for r in self.runs):
            lines.append("* cooldown branch: trains only its cooldown, from its trunk's checkpoint")
        lines.append(f"total: {self.cost(workers)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "config": to_dict(self.config),
                "runs": [{"run_id": r.run_id, "spec": r.spec.to_dict(), "n_params": r.n_params,
                          "units_trained": r.units_trained, "flops": r.flops, "est_s": r.est_s}
                         for r in self.runs]}


# -- presets --------------------------------------------------------------------------------

def list_sweeps() -> list[str]:
    """Names of the sweep presets shipped in ``scalinglab/sweeps/``."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def sweep_path(name_or_path: str | Path) -> Path:
    """An existing sweep file, or the shipped preset of that name (``"demo"``, ``"ci"`` ...)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    preset = PRESET_DIR / f"{name_or_path}.yaml"
    if "/" not in str(name_or_path) and preset.is_file():
        return preset
    raise ConfigError(f"sweep file {str(name_or_path)!r} does not exist and is not a preset."
                      f"{suggest(str(name_or_path), list_sweeps())} Presets: {', '.join(list_sweeps())}")


# -- planning -------------------------------------------------------------------------------

def plan_sweep(source: str | Path | Mapping[str, Any] | SweepConfig, *, check_data: bool = True
               ) -> SweepPlan:
    """Expand a sweep (file, preset name, dict or :class:`SweepConfig`) into a :class:`SweepPlan`.

    Raises
    ------
    ConfigError
        Unknown/misspelled key (with a suggestion), bad value, budgets in the wrong unit for the
        ladders' procedures, ladders of different units, missing or empty data.
    UnknownNameError
        Unknown ladder or rung (with suggestions).
    """
    where = "sweep"
    if isinstance(source, SweepConfig):
        cfg, desc = source, source.name
    else:
        if isinstance(source, Mapping):
            data, desc = dict(source), "dict"
        else:
            path = sweep_path(source)
            data, desc = load_mapping(path), str(path)
        old = [k for k in data if k in _RENAMED]
        if old:
            raise ConfigError(f"{desc}: the sweep key {old[0]!r} was renamed: use {_RENAMED[old[0]]}")
        with _naming(desc):
            cfg = from_dict(SweepConfig, data, where=where)
    with _naming(desc):
        return _expand(cfg, desc, check_data)


@contextmanager
def _naming(desc: str) -> Iterator[None]:
    """Errors about a sweep file name the file (a dict or a config object has no file to name)."""
    try:
        yield
    except ScalingLabError as exc:
        msg = str(exc)
        if desc in ("dict", "") or desc in msg or len(exc.args) != 1 or not isinstance(exc.args[0], str):
            raise
        try:
            named = type(exc)(f"{desc}: {msg}")
        except Exception:           # an error type with its own constructor: keep it as it is
            raise exc from None
        raise named from None


def _expand(cfg: SweepConfig, desc: str, check_data: bool) -> SweepPlan:
    ladders = [get_ladder(name) for name in cfg.ladders]
    units = {lad.procedure_spec.unit for lad in ladders}
    if len(units) > 1:
        raise ConfigError(f"the ladders {', '.join(cfg.ladders)} count D in different units "
                          f"({', '.join(sorted(units))}); put them in separate sweeps")
    unit = units.pop()
    _check_metric(cfg, ladders, desc)
    key = cfg.budget_key
    if (key == "n_samples") != (unit == "samples"):
        want = "n_samples" if unit == "samples" else "n_tokens or tokens_per_param"
        raise ConfigError(f"{desc}: the ladders' procedures count D in {unit}; give budgets with "
                          f"{want}, not {key}")
    rungs = _select_rungs(cfg, ladders)
    names = [r.name for _, r in rungs]
    lr_grid = _per_rung(cfg.lr, rungs, "lr")
    budgets = _per_rung(getattr(cfg, key), rungs, key)
    eval_size = cfg.eval.eval_samples if unit == "samples" else cfg.eval.eval_tokens
    other = cfg.eval.eval_tokens if unit == "samples" else cfg.eval.eval_samples
    if other is not None:
        raise ConfigError(f"{desc}: eval gives {'eval_tokens' if unit == 'samples' else 'eval_samples'}, "
                          f"but these procedures count {unit}")
    sched = cfg.schedule
    planned: dict[str, PlannedRun] = {}
    for ladder, rung in rungs:
        proc = ladder.procedure_spec
        defaults = ladder.train
        batch_size = cfg.batch_size or defaults.batch_size or 16
        tokenizer = cfg.tokenizer or defaults.tokenizer
        datasets = ([cfg.dataset] if isinstance(cfg.dataset, str) else list(cfg.dataset)) \
            if cfg.dataset is not None else [defaults.dataset or "stdlib"]
        if len(set(datasets)) != len(datasets):
            raise ConfigError(f"sweep.dataset has duplicates: {datasets}")
        if check_data:
            for d in datasets + ([cfg.eval.common_dataset] if cfg.eval.common_dataset else []):
                _check_dataset(d, proc)
        extra = {**dict(cfg.extra), **({"eval_common": cfg.eval.common_dataset} if cfg.eval.common_dataset else {})}
        n_conv = proc.n_params(rung.model, cfg.n_params_convention)
        ups = batch_size * int(rung.model.units_per_example)
        raw = budgets[rung.name]
        horizons = [v * n_conv if key == "tokens_per_param" else v for v in raw]
        horizons = sorted({max(1, round(h / ups)) * ups for h in horizons})
        per_unit = proc.flops_per_unit(rung.model)
        for dataset in datasets:
            for lr in lr_grid[rung.name]:
                for seed in cfg.seeds:
                    template = RunSpec(
                        rung=rung.name, model=rung.model, n_data=horizons[-1], lr=float(lr),
                        batch_size=batch_size,
                        schedule="wsd" if sched.kind == "branched" else sched.kind,
                        warmup=sched.warmup, cooldown_frac=sched.cooldown_frac,
                        min_lr_frac=sched.min_lr_frac, seed=int(seed), dataset=dataset,
                        **({"beta2": defaults.beta2} if defaults.beta2 is not None else {}),
                        tokenizer=tokenizer, eval_size=eval_size or 65536, variant=cfg.variant,
                        ladder=ladder.name, device=cfg.device, extra=extra)
                    specs = plan_branches(template, horizons) if sched.kind == "branched" else \
                        [replace(template, n_data=h) for h in horizons]
                    for spec in specs:
                        trained = spec.n_data - (spec.branch_at or 0)
                        planned.setdefault(spec.run_id, PlannedRun(
                            spec=spec, n_params=rung.n_params, units_trained=trained,
                            flops=per_unit * trained,
                            est_s=_estimate_s(cfg.estimate, rung, trained, spec.eval_size)))
    runs = sorted(planned.values(), key=lambda r: (-r.est_s, r.run_id))
    # a branch never precedes its trunk (a trunk trains at least as long, but estimates tie)
    order = {r.run_id: i for i, r in enumerate(runs)}
    runs.sort(key=lambda r: (order[r.spec.branch_of] + 0.5) if r.spec.branch_of in order
              else order[r.run_id])
    if not runs:
        raise ConfigError(f"{desc}: the sweep plans no run (rungs {names})")
    return SweepPlan(config=cfg, runs=tuple(runs), source=desc)


def common_metrics(procedures: Sequence[Any]) -> list[str]:
    """The metrics every one of ``procedures`` reports, in the first one's order."""
    first, *rest = procedures
    return [m for m in first.metrics if all(m in p.metrics for p in rest)]


def _check_metric(cfg: SweepConfig, ladders: Sequence[Ladder], desc: str) -> None:
    """A sweep compares its procedures on a metric they all report; refuse one that has none."""
    procs = list({lad.procedure_spec.name: lad.procedure_spec for lad in ladders}.values())
    common = common_metrics(procs)
    if not common:
        each = "; ".join(f"{p.name}: {', '.join(p.metrics)}" for p in procs)
        raise ConfigError(f"{desc}: the procedures {', '.join(p.name for p in procs)} share no metric "
                          f"({each}), so their runs cannot be compared; put them in separate sweeps")
    if cfg.metric is not None and cfg.metric not in common:
        raise ConfigError(f"{desc}: metric {cfg.metric!r} is not reported by every procedure of the sweep."
                          f"{suggest(cfg.metric, common)} Common metrics: {', '.join(common)}")


def _select_rungs(cfg: SweepConfig, ladders: Sequence[Ladder]) -> list[tuple[Ladder, Rung]]:
    every = [(lad, r) for lad in ladders for r in lad]
    by_name = {r.name: (lad, r) for lad, r in every}
    if len(by_name) != len(every):
        raise ConfigError(f"the ladders {', '.join(cfg.ladders)} share rung names; rename one")
    if cfg.rungs == "all":
        return every
    if len(set(cfg.rungs)) != len(cfg.rungs):
        raise ConfigError(f"sweep.rungs has duplicates: {cfg.rungs}")
    out = []
    for name in cfg.rungs:
        if name not in by_name:
            raise UnknownNameError(f"unknown rung {name!r} in ladder(s) {', '.join(cfg.ladders)}."
                                   f"{suggest(name, by_name)} Available: {', '.join(by_name)}")
        out.append(by_name[name])
    return out


def _estimate_s(est: EstimateConfig, rung: Rung, units: int, eval_size: int) -> float:
    rate = est.units_per_s.get(rung.name, est.units_per_s.get("default"))
    if rate is None:
        rate = est.flops_per_s / rung.flops_per_unit()
    # the trainer's final eval and its loss-curve evals forward about 3 x eval_size units,
    # each at about 1/3 of a training unit's cost: about eval_size training units in all
    return est.overhead_s + (units + eval_size) / rate


def _per_rung(value: Any, rungs: Sequence[tuple[Ladder, Rung]], key: str) -> dict[str, list[float]]:
    names = [r.name for _, r in rungs]
    if not isinstance(value, dict):
        return {n: list(value) for n in names}
    ladders = {lad.name for lad, _ in rungs}
    unknown = [k for k in value if k not in names and k not in ladders and k != "default"]
    if unknown:
        raise UnknownNameError(f"{key} names {unknown[0]!r}, which is no rung or ladder of this sweep."
                               f"{suggest(unknown[0], [*names, *ladders, 'default'])} Sweep rungs: "
                               f"{', '.join(names)}")
    out = {}
    for lad, r in rungs:
        grid = value.get(r.name, value.get(lad.name, value.get("default")))
        if grid is None:
            raise ConfigError(f"{key} gives no values for rung {r.name!r}; add it, its ladder or a "
                              "'default' entry")
        out[r.name] = list(grid)
    return out


def format_seconds(s: float) -> str:
    """``42s``, ``3.5m`` or ``1.2h``."""
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{s / 60:.1f}m"
    return f"{s / 3600:.1f}h"


def _check_dataset(dataset: str, proc: Any = None) -> None:
    """Fail at planning time, not in every worker, on an unknown dataset or a missing/empty path.

    Image-text procedures take a shape world or a folder of WebDataset shards
    (:func:`scalinglab.datasets.imagetext.check_image_text`); language models a text dataset or a
    path to text.
    """
    if proc is not None and proc.modality == "image-text":

        check_image_text(dataset)
        return
    known = list_datasets(modality="text")
    bare = "/" not in dataset and "#" not in dataset and not dataset.startswith(".")
    # a registered name wins over a same-named file or folder here (write ./NAME for the path), as
    # in the trainer (scalinglab.train.data)
    if bare and (dataset in known or not Path(dataset).exists()):
        if dataset not in known:

            if is_world(dataset):
                raise ConfigError(f"dataset {dataset!r} is an image-text dataset (a shape world); "
                                  f"procedure {getattr(proc, 'name', 'gpt')!r} trains on text: "
                                  f"{', '.join(known)} or a path")
            raise UnknownNameError(f"unknown dataset {dataset!r}.{suggest(dataset, known)} Datasets: "
                                   f"{', '.join(known)} (or give a path to a folder, text, .jsonl or "
                                   ".parquet file)")
        return
    path_s = dataset
    if "#" in dataset and not Path(dataset).exists():
        path_s = dataset.rpartition("#")[0]
    path = Path(path_s).expanduser()
    if not path.exists():
        raise ConfigError(f"dataset {dataset!r} does not exist; use a registered dataset name "
                          "(e.g. 'stdlib') or a path to a folder, text, .jsonl or .parquet file")
    if path.is_file():
        if path.stat().st_size == 0:
            raise ConfigError(f"dataset file {str(path)!r} is empty")
        return
    for p in path.rglob("*"):
        if p.is_file() and not p.name.startswith(".") and p.stat().st_size > 0:
            return
    raise ConfigError(f"dataset folder {str(path)!r} holds no non-empty file")
