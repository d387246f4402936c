"""Sweeps as data: a strict YAML file expands into an ordered list of :class:`RunSpec`.

A sweep names a ladder and its rungs and crosses them with token budgets (absolute, or tokens
per parameter), a learning-rate grid (shared, or per rung), seeds and a schedule::

    name: demo
    ladder: gpt-tiny
    rungs: [gpt-tiny-1, gpt-tiny-2, gpt-tiny-3]
    tokens_per_param: [5, 10, 20]        # or  n_tokens: [1M, 2M]  (one of the two)
    lr: [3e-3, 1e-2]                     # or  lr: {gpt-tiny-1: [1e-2], default: [3e-3]}
    seeds: [0]
    schedule: {kind: branched, cooldown_frac: 0.2}   # cosine | wsd | constant | branched
    procedure: reference

Unknown or misspelled keys raise :class:`~scalinglab.errors.ConfigError` with a suggestion,
unknown rungs raise :class:`~scalinglab.errors.UnknownNameError`. Planning never imports torch:
the trainer is named by a ``"module:attr"`` string and only workers import it.

``schedule.kind: branched`` plans one trunk per (rung, lr, seed): a complete WSD run of the
longest budget that saves checkpoints where each shorter budget's cooldown starts, plus one
cooldown branch per shorter budget (:func:`scalinglab.train.schedule.plan_branches`; Hägele et
al. 2024). Every budget then costs only its cooldown on top of the trunk.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ..config import from_dict, load_mapping, to_dict
from ..errors import ConfigError, UnknownNameError, suggest
from ..store.schema import RunSpec
from ..units import (
    PARAM_CONVENTIONS,
    format_quantity,
    gpt_flops_per_token,
    gpt_n_params,
)

__all__ = [
    "EstimateConfig",
    "EvalConfig",
    "PlanCost",
    "PlannedRun",
    "ScheduleConfig",
    "SweepConfig",
    "SweepPlan",
    "list_sweeps",
    "plan_sweep",
    "sweep_path",
]

PRESET_DIR = Path(__file__).resolve().parent.parent / "sweeps"
DEFAULT_TRAINER = "scalinglab.train.loop:run"
_MODEL_KEYS = ("n_layer", "d_model", "n_head", "seq_len", "vocab_size", "d_ff")


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule of every run of the sweep."""

    kind: Literal["cosine", "wsd", "constant", "branched"] = "cosine"
    warmup_tokens: int = 0          # linear warmup in tokens; 0 = auto (about N tokens, capped)
    cooldown_frac: float = 0.2      # wsd / branched: fraction of each run spent cooling down
    min_lr_frac: float = 0.0        # final LR as a fraction of the peak

    def __post_init__(self) -> None:
        from ..train.schedule import check_schedule  # torch-free

        check_schedule(cooldown_frac=self.cooldown_frac, min_lr_frac=self.min_lr_frac,
                       warmup_tokens=self.warmup_tokens, where="schedule")


@dataclass(frozen=True)
class EvalConfig:
    """How each run is scored."""

    eval_tokens: int = 65536        # held-out tokens scored for val_loss at the end of a run

    def __post_init__(self) -> None:
        if self.eval_tokens < 1:
            raise ConfigError(f"eval.eval_tokens must be >= 1; got {self.eval_tokens}")


@dataclass(frozen=True)
class EstimateConfig:
    """Throughput assumed for the wall-time estimate printed before a sweep runs."""

    tokens_per_s: dict[str, float] = field(default_factory=dict)   # per rung (or "default"), one worker
    flops_per_s: float = 1.5e10     # training FLOP/s of one CPU worker (gpt-tiny, 1 thread), for
                                    # rungs without a tokens_per_s entry
    overhead_s: float = 2.0         # per run: process start, corpus load, checkpoints

    def __post_init__(self) -> None:
        if self.flops_per_s <= 0 or self.overhead_s < 0:
            raise ConfigError("estimate.flops_per_s must be > 0 and estimate.overhead_s >= 0")
        bad = {k: v for k, v in self.tokens_per_s.items() if not v > 0}
        if bad:
            raise ConfigError(f"estimate.tokens_per_s values must be > 0; got {bad}")


@dataclass(frozen=True)
class SweepConfig:
    """A sweep file, validated (every field maps to a YAML key of the same name)."""

    ladder: str                                    # ladder name, e.g. "gpt-tiny"
    lr: list[float] | dict[str, list[float]]       # peak LR grid: shared, or {rung|default: grid}
    rungs: list[str] | Literal["all"] = "all"      # rungs of the ladder to train
    n_tokens: list[float] | dict[str, list[float]] | None = None          # absolute budgets D
    tokens_per_param: list[float] | dict[str, list[float]] | None = None  # or D = this x N
    n_params_convention: str = "non_embedding"     # the N of tokens_per_param
    seeds: list[int] = field(default_factory=lambda: [0])
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    batch_size: int | None = None                  # sequences per step (default: the ladder's)
    corpus: str | None = None                      # "stdlib" or a path (default: the ladder's)
    tokenizer: str | None = None                   # "byte" or a BPE JSON path (default: the ladder's)
    eval: EvalConfig = field(default_factory=EvalConfig)
    procedure: str = "reference"                   # label compared across sweeps (group key)
    device: str = "cpu"
    trainer: str = DEFAULT_TRAINER                 # "module:attr" of the training function
    trainer_options: dict[str, Any] = field(default_factory=dict)  # e.g. {checkpoint_every_s: 30}; not hashed
    estimate: EstimateConfig = field(default_factory=EstimateConfig)
    extra: dict[str, Any] = field(default_factory=dict)            # copied into every RunSpec.extra
    name: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if (self.n_tokens is None) == (self.tokens_per_param is None):
            raise ConfigError("a sweep needs exactly one of n_tokens (absolute token budgets) and "
                              "tokens_per_param (budgets as a multiple of N); got "
                              + ("both" if self.n_tokens is not None else "neither"))
        if self.n_params_convention not in PARAM_CONVENTIONS:
            raise ConfigError(f"n_params_convention must be one of {', '.join(PARAM_CONVENTIONS)}; "
                              f"got {self.n_params_convention!r}"
                              f"{suggest(self.n_params_convention, PARAM_CONVENTIONS)}")
        if not self.seeds:
            raise ConfigError("seeds must list at least one seed, e.g. seeds: [0]")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds has duplicates: {self.seeds}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1; got {self.batch_size}")
        if ":" not in self.trainer:
            raise ConfigError(f"trainer must look like 'package.module:function'; got {self.trainer!r}")
        for key in ("lr", "n_tokens", "tokens_per_param"):
            value = getattr(self, key)
            grids = value.values() if isinstance(value, dict) else [value] if value is not None else []
            for grid in grids:
                if not grid:
                    raise ConfigError(f"{key} has an empty list; give at least one value")
                bad = [v for v in grid if not (v > 0 and math.isfinite(v))]
                if bad:
                    raise ConfigError(f"{key} values must be positive and finite; got {bad[0]}")


@dataclass(frozen=True)
class PlannedRun:
    """One run of a plan with its cost estimate."""

    spec: RunSpec
    n_params: int                 # non-embedding N
    tokens_trained: int           # tokens this run itself trains (a branch: only its cooldown)
    flops: float                  # training FLOPs of those tokens (exact convention)
    est_s: float                  # estimated wall seconds on one worker

    @property
    def run_id(self) -> str:
        return self.spec.run_id


@dataclass(frozen=True)
class PlanCost:
    """What a sweep will cost, estimated before running it."""

    n_runs: int
    tokens: int                   # tokens trained, summed over runs (branches count their cooldown)
    flops: float                  # training FLOPs, exact per-token count (Hoffmann et al. 2022 App. F)
    serial_s: float               # estimated seconds on one worker
    wall_s: float                 # estimated seconds on ``workers`` workers (longest-first schedule)
    workers: int
    calibrated_on: int = 0        # finished runs whose measured throughput the estimate uses

    def __str__(self) -> str:
        how = (f"; throughput measured on {self.calibrated_on} finished run(s)" if self.calibrated_on
               else "")
        return (f"{self.n_runs} runs, {format_quantity(self.tokens)} tokens, "
                f"{self.flops:.3g} FLOPs; estimated {_fmt_s(self.wall_s)} on {self.workers} "
                f"worker(s) ({_fmt_s(self.serial_s)} serial{how})")


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
    def trainer(self) -> str:
        return self.config.trainer

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[RunSpec]:
        return iter(self.specs)

    def __repr__(self) -> str:
        return f"SweepPlan({self.name!r}, {len(self)} runs, ladder={self.config.ladder!r})"

    def cost(self, workers: int = 1) -> PlanCost:
        """Estimated cost; wall time simulates ``workers`` workers taking runs longest first.

        The estimate is as good as ``estimate.tokens_per_s`` in the sweep file: measure a rung
        once (``scalinglab train``, the record's ``wall_s``) and put its tokens/s there.
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
            frac = (r.spec.branch_at_tokens or 0) / max(1, trunk.spec.n_tokens)
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
        return PlanCost(n_runs=len(self.runs), tokens=sum(r.tokens_trained for r in self.runs),
                        flops=sum(r.flops for r in self.runs),
                        serial_s=sum(r.est_s for r in self.runs), wall_s=end, workers=workers,
                        calibrated_on=sum(c[2] for rung, c in self.calibration.items() if rung in rungs))

    def calibrated(self, records: Iterable[Any]) -> SweepPlan:
        """This plan with its estimates from the wall times of finished runs.

        ``records`` are finished :class:`~scalinglab.store.schema.RunRecord` (a store's, e.g.
        ``store.records(status="done")``). For each rung, the records of the same model on the
        same device measure ``wall = overhead + tokens / tokens_per_s`` on one worker (tokens:
        those a run trained, a branch only its cooldown, plus its eval tokens): a least-squares
        line when the records trained at least two lengths (and took longer for more tokens),
        with the overhead kept between 0, ``estimate.overhead_s`` and 90 % of the shortest run;
        otherwise the overhead is the smaller of ``estimate.overhead_s`` and half the shortest
        run. Runs of a rung without such a record keep the sweep file's
        estimate. ``run_sweep`` prints this estimate before training and the measured time
        beside it at the end, so a sweep continued in a store (or a second sweep of the same
        rungs) is estimated from what this machine measured.
        """
        models = {r.spec.rung: r.spec.to_dict()["model"] for r in self.runs}
        cap = self.config.estimate.overhead_s
        data: dict[str, list[tuple[float, float]]] = {}       # rung -> [(tokens, wall_s)]
        for rec in records:
            spec = rec.spec or {}
            rung = spec.get("rung")
            if (getattr(rec, "status", "done") != "done" or rung not in models or not rec.wall_s
                    or spec.get("model") != models[rung] or spec.get("device", "cpu") != self.config.device):
                continue
            x = (int(spec.get("n_tokens") or 0) - int(spec.get("branch_at_tokens") or 0)
                 + int(spec.get("eval_tokens") or 0))
            data.setdefault(rung, []).append((float(x), float(rec.wall_s)))
        fitted: dict[str, tuple[float, float, int]] = {}
        for rung, pts in data.items():
            x = [a for a, _ in pts]
            w = [b for _, b in pts]
            overhead = min(cap, 0.5 * min(w))
            if len(set(x)) >= 2:
                mx, mw = sum(x) / len(x), sum(w) / len(w)
                slope = sum((a - mx) * (b - mw) for a, b in pts) / sum((a - mx) ** 2 for a in x)
                if slope > 0:       # wall time grows with tokens: the intercept is the overhead
                    overhead = min(max(mw - slope * mx, 0.0), cap, 0.9 * min(w))
            busy = sum(max(b - overhead, 0.0) for b in w)
            if busy > 0:
                fitted[rung] = (sum(x) / busy, overhead, len(pts))
        if not fitted:
            return self
        eval_tokens = self.config.eval.eval_tokens
        runs = []
        for r in self.runs:
            if r.spec.rung in fitted:
                rate, overhead, _ = fitted[r.spec.rung]
                r = replace(r, est_s=overhead + (r.tokens_trained + eval_tokens) / rate)
            runs.append(r)
        return replace(self, runs=tuple(runs), calibration=fitted)

    def as_text(self, workers: int = 1) -> str:
        """The expanded runs as a table, then the cost."""
        head = f"{'run_id':<44} {'rung':<12} {'N':>7} {'D':>7} {'lr':>8} {'seed':>4} " \
               f"{'schedule':<8} {'FLOPs':>8} {'est':>7}"
        title = (f"sweep {self.name!r}: ladder {self.config.ladder}, procedure "
                 f"{self.config.procedure!r}, trainer {self.trainer}")
        lines = [title, head, "-" * len(head)]
        for r in self.runs:
            s = r.spec
            sched = s.schedule + ("*" if s.branch_of else "")
            lines.append(f"{r.run_id:<44} {s.rung:<12} {format_quantity(r.n_params):>7} "
                         f"{format_quantity(s.n_tokens):>7} {s.lr:>8.2g} {s.seed:>4} {sched:<8} "
                         f"{r.flops:>8.2g} {_fmt_s(r.est_s):>7}")
        if any(r.spec.branch_of for r in self.runs):
            lines.append("* cooldown branch: trains only its cooldown, from its trunk's checkpoint")
        lines.append(f"total: {self.cost(workers)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "config": to_dict(self.config),
                "runs": [{"run_id": r.run_id, "spec": r.spec.to_dict(), "n_params": r.n_params,
                          "tokens_trained": r.tokens_trained, "flops": r.flops, "est_s": r.est_s}
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

def plan_sweep(source: str | Path | Mapping[str, Any] | SweepConfig, *, check_corpus: bool = True
               ) -> SweepPlan:
    """Expand a sweep (file, preset name, dict or :class:`SweepConfig`) into a :class:`SweepPlan`.

    Raises
    ------
    ConfigError
        Unknown/misspelled key (with a suggestion), bad value, missing or empty corpus.
    UnknownNameError
        Unknown ladder or rung (with suggestions).
    """
    where = "sweep"
    if isinstance(source, SweepConfig):
        cfg, desc = source, source.name
    elif isinstance(source, Mapping):
        cfg, desc = from_dict(SweepConfig, dict(source), where=where), "dict"
    else:
        path = sweep_path(source)
        cfg, desc = from_dict(SweepConfig, load_mapping(path), where=where), str(path)
    ladder = _get_ladder(cfg.ladder)
    rung_names = _ladder_rungs(ladder)
    rungs = list(rung_names) if cfg.rungs == "all" else list(cfg.rungs)
    for r in rungs:
        if r not in rung_names:
            raise UnknownNameError(f"unknown rung {r!r} in ladder {cfg.ladder!r}."
                                   f"{suggest(r, rung_names)} Available: {', '.join(rung_names)}")
    if len(set(rungs)) != len(rungs):
        raise ConfigError(f"sweep.rungs has duplicates: {rungs}")
    train_defaults = _ladder_train_defaults(ladder)
    batch_size = cfg.batch_size or int(train_defaults.get("batch_size", 16))
    corpus = cfg.corpus or str(train_defaults.get("corpus", "stdlib"))
    tokenizer = cfg.tokenizer or str(train_defaults.get("tokenizer", "byte"))
    if check_corpus:
        _check_corpus(corpus)
    lr_grid = _per_rung(cfg.lr, rungs, "lr")
    budgets = _per_rung(cfg.n_tokens if cfg.n_tokens is not None else cfg.tokens_per_param,
                        rungs, "n_tokens" if cfg.n_tokens is not None else "tokens_per_param")
    sched = cfg.schedule

    planned: dict[str, PlannedRun] = {}
    for rung in rungs:
        model = _rung_model(ladder, rung)
        arch = {k: model[k] for k in ("n_layer", "d_model", "vocab_size", "seq_len", "d_ff") if k in model}
        n_params = gpt_n_params(**arch)
        n_conv = gpt_n_params(**arch, convention=cfg.n_params_convention)
        tps = batch_size * int(model["seq_len"])
        raw = budgets[rung]
        tokens = [v if cfg.n_tokens is not None else v * n_conv for v in raw]
        tokens = sorted({max(1, round(t / tps)) * tps for t in tokens})
        for lr in lr_grid[rung]:
            for seed in cfg.seeds:
                template = RunSpec(
                    rung=rung, model=model, n_tokens=tokens[-1], lr=float(lr), batch_size=batch_size,
                    schedule="wsd" if sched.kind == "branched" else sched.kind,
                    warmup_tokens=sched.warmup_tokens, cooldown_frac=sched.cooldown_frac,
                    min_lr_frac=sched.min_lr_frac, seed=int(seed), corpus=corpus,
                    tokenizer=tokenizer, eval_tokens=cfg.eval.eval_tokens,
                    procedure=cfg.procedure, ladder=cfg.ladder, device=cfg.device,
                    extra=dict(cfg.extra))
                if sched.kind == "branched":
                    specs = _branches(template, tokens)
                else:
                    specs = [replace(template, n_tokens=t) for t in tokens]
                for spec in specs:
                    trained = spec.n_tokens - (spec.branch_at_tokens or 0)
                    flops = gpt_flops_per_token(**arch) * trained
                    planned.setdefault(spec.run_id, PlannedRun(
                        spec=spec, n_params=n_params, tokens_trained=trained, flops=flops,
                        est_s=_estimate_s(cfg.estimate, rung, arch, trained, cfg.eval.eval_tokens)))
    runs = sorted(planned.values(), key=lambda r: (-r.est_s, r.run_id))
    # a branch never precedes its trunk (a trunk trains at least as long, but estimates tie)
    order = {r.run_id: i for i, r in enumerate(runs)}
    runs.sort(key=lambda r: (order[r.spec.branch_of] + 0.5) if r.spec.branch_of in order
              else order[r.run_id])
    return SweepPlan(config=cfg, runs=tuple(runs), source=desc)


def _branches(template: RunSpec, tokens: Sequence[int]) -> list[RunSpec]:
    # The trainer owns the branch arithmetic (cooldown starts, shared warmup, checkpoint list);
    # scalinglab.train.schedule is torch-free, so planning stays torch-free.
    from ..train.schedule import plan_branches

    return plan_branches(template, tokens)


def _estimate_s(est: EstimateConfig, rung: str, arch: dict[str, Any], tokens: int,
                eval_tokens: int) -> float:
    rate = est.tokens_per_s.get(rung, est.tokens_per_s.get("default"))
    if rate is None:
        rate = est.flops_per_s / gpt_flops_per_token(**arch)
    # the trainer's final eval and its loss-curve evals forward about 3 x eval_tokens tokens,
    # each at about 1/3 of a training token's cost: about eval_tokens training tokens in all
    return est.overhead_s + (tokens + eval_tokens) / rate


def _per_rung(value: Any, rungs: Sequence[str], key: str) -> dict[str, list[float]]:
    if not isinstance(value, dict):
        return {r: list(value) for r in rungs}
    unknown = [k for k in value if k not in rungs and k != "default"]
    if unknown:
        raise UnknownNameError(f"{key} names rung {unknown[0]!r}, which is not in this sweep."
                               f"{suggest(unknown[0], [*rungs, 'default'])} Sweep rungs: {', '.join(rungs)}")
    out = {}
    for r in rungs:
        grid = value.get(r, value.get("default"))
        if grid is None:
            raise ConfigError(f"{key} gives no values for rung {r!r}; add it or a 'default' entry")
        out[r] = list(grid)
    return out


def _fmt_s(s: float) -> str:
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{s / 60:.1f}m"
    return f"{s / 3600:.1f}h"


# -- ladders and corpora ----------------------------------------------------------------------

def _get_ladder(name: str) -> Any:
    from ..ladders import get_ladder

    return get_ladder(name)


def _ladder_rungs(ladder: Any) -> list[str]:
    return list(ladder.names)


def _ladder_train_defaults(ladder: Any) -> dict[str, Any]:
    return dict(ladder.train or {})


def _rung_model(ladder: Any, rung: str) -> dict[str, Any]:
    """The rung's architecture as a ``RunSpec.model`` dict (GPTConfig keys only)."""
    model = ladder[rung].model
    return {k: model[k] for k in _MODEL_KEYS if model.get(k) is not None}


def _check_corpus(corpus: str) -> None:
    """Fail at planning time, not in every worker, when a corpus path is missing or empty."""
    if corpus == "stdlib":
        return
    path_s = corpus
    if "#" in corpus and not Path(corpus).exists():
        path_s = corpus.rpartition("#")[0]
    path = Path(path_s).expanduser()
    if not path.exists():
        raise ConfigError(f"corpus {corpus!r} does not exist; use 'stdlib' or a path to a folder, "
                          "text, .jsonl or .parquet file")
    if path.is_file():
        if path.stat().st_size == 0:
            raise ConfigError(f"corpus file {str(path)!r} is empty")
        return
    for p in path.rglob("*"):
        if p.is_file() and not p.name.startswith(".") and p.stat().st_size > 0:
            return
    raise ConfigError(f"corpus folder {str(path)!r} holds no non-empty file")
