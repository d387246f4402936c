"""Statistics of AIW results: rates with intervals, spread across variations, homogeneity, control gaps.

What to use when
----------------
* One prompt: k correct of n trials; :func:`wilson_interval` (default) or
  :func:`jeffreys_interval` for a 95% interval of its correct-response rate. Both behave well at
  k = 0 and k = n, where the Wald interval collapses (Brown, Cai, DasGupta 2001, Stat. Sci.).
* One family, model and prompt type (:class:`FamilyStat`): the pooled rate (all trials of all
  variations), the macro mean over variations, their SD and range, and a homogeneity test of
  "every variation has the same rate". AIW's point (Nezhurina et al. 2024, Sec. 3) is that
  variations which must not matter do: a small p-value says the rates differ more than sampling
  noise explains.
* A family against its Light controls (:class:`ControlGap`): pooled rate difference with
  Newcombe's hybrid score interval (Newcombe 1998, Stat. Med., method 10).
* All of it for a results file: :func:`summarize_rates` returns a :class:`RateSummary` (per
  prompt, per family, family minus control; ``as_text``, ``table``, ``save`` / ``load``).

Validity
--------
Trials of one prompt are treated as independent Bernoulli draws with one rate. That holds for
temperature sampling with a different seed per trial; it fails for greedy decoding or a constant
seed (identical trials), which :func:`~scalinglab.evals.evaluate` avoids. The pooled interval
additionally assumes all variations share one rate: when the homogeneity test rejects, report the
per-variation rates and the macro mean, not the pooled interval. The chi-square test needs
expected counts >= 5 in every cell; otherwise ``method="auto"`` uses a Monte Carlo exact test
conditional on the margins.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as _st

from .._io import write_json
from ..errors import ConfigError, DataError, DataWarning
from .task import get_family

__all__ = [
    "ControlGap",
    "FamilyStat",
    "HomogeneityTest",
    "PromptStat",
    "RateSummary",
    "TABLES",
    "homogeneity_test",
    "jeffreys_interval",
    "newcombe_interval",
    "proportion_interval",
    "summarize_rates",
    "wilson_interval",
]


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1); got {level}")
    return float(_st.norm.ppf(0.5 + level / 2))


def _check_kn(k: int, n: int) -> None:
    if n < 0 or k < 0 or k > n:
        raise DataError(f"need 0 <= k <= n; got k={k}, n={n}")


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion k/n (Wilson 1927).

    ``center = (p + z²/2n) / (1 + z²/n)``, ``half = z sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n)``.
    n = 0 gives (0, 1).

    >>> [round(x, 4) for x in wilson_interval(0, 10)]
    [0.0, 0.2775]
    """
    _check_kn(k, n)
    if n == 0:
        return 0.0, 1.0
    z = _z(level)
    p = k / n
    den = 1 + z * z / n
    center = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    lo = 0.0 if k == 0 else max(0.0, center - half)
    hi = 1.0 if k == n else min(1.0, center + half)
    return lo, hi


def jeffreys_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Jeffreys interval: quantiles of Beta(k + 1/2, n - k + 1/2); 0 at k = 0, 1 at k = n."""
    _check_kn(k, n)
    if n == 0:
        return 0.0, 1.0
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(_st.beta.ppf(a, k + 0.5, n - k + 0.5))
    hi = 1.0 if k == n else float(_st.beta.ppf(1 - a, k + 0.5, n - k + 0.5))
    return lo, hi


def proportion_interval(k: int, n: int, level: float = 0.95, method: str = "wilson") -> tuple[float, float]:
    if method == "wilson":
        return wilson_interval(k, n, level)
    if method == "jeffreys":
        return jeffreys_interval(k, n, level)
    raise ConfigError(f"interval method must be 'wilson' or 'jeffreys'; got {method!r}")


def newcombe_interval(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> tuple[float, float]:
    """Interval for p1 - p2 from the two Wilson intervals (Newcombe 1998, method 10)."""
    p1, p2 = (k1 / n1 if n1 else 0.0), (k2 / n2 if n2 else 0.0)
    l1, u1 = wilson_interval(k1, n1, level)
    l2, u2 = wilson_interval(k2, n2, level)
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


@dataclass(frozen=True)
class HomogeneityTest:
    """Test of "all groups have the same success rate" on a groups x {correct, wrong} table."""

    statistic: float      # Pearson chi-square
    dof: int              # groups - 1
    p_value: float
    method: str           # "chi2", "exact-mc" (Monte Carlo, margins fixed) or "degenerate"
    min_expected: float   # smallest expected cell count (chi2 wants >= 5)
    n_resamples: int = 0


def _chi2_stat(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Pearson chi-square of the table [k, n-k] for one or many k vectors (last axis = groups)."""
    p = k.sum(axis=-1, keepdims=True) / n.sum()
    e1, e0 = n * p, n * (1 - p)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(e1 > 0, (k - e1) ** 2 / e1, 0.0) + np.where(e0 > 0, ((n - k) - e0) ** 2 / e0, 0.0)
    return t.sum(axis=-1)


def homogeneity_test(k: Sequence[int], n: Sequence[int], *, method: str = "auto",
                     n_resamples: int = 20000, seed: int = 0) -> HomogeneityTest:
    """Chi-square (or exact) test that every group has the same rate.

    Parameters
    ----------
    k, n : sequences of int
        Correct trials and trials per group (variation).
    method : "auto", "chi2" or "exact"
        ``"exact"`` is a Monte Carlo permutation test conditional on both margins: under the
        null, the correct trials are a random draw of the groups' trials (multivariate
        hypergeometric), and the p-value is the share of draws with a chi-square at least the
        observed one, ``(1 + #) / (1 + n_resamples)``. ``"auto"`` uses it when an expected count
        is below 5.

    Notes
    -----
    With all trials correct (or all wrong) there is no variation to test: p = 1 ("degenerate").
    """
    k_arr, n_arr = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    if k_arr.shape != n_arr.shape or k_arr.ndim != 1 or len(k_arr) < 2:
        raise DataError("homogeneity_test needs k and n of the same length >= 2 (one entry per group)")
    if np.any(n_arr <= 0) or np.any(k_arr < 0) or np.any(k_arr > n_arr):
        raise DataError(f"need 0 <= k <= n and n > 0 in every group; got k={list(k)}, n={list(n)}")
    total_k = k_arr.sum()
    dof = len(k_arr) - 1
    p = total_k / n_arr.sum()
    min_exp = float(min((n_arr * p).min(), (n_arr * (1 - p)).min()))
    if total_k == 0 or total_k == n_arr.sum():
        return HomogeneityTest(0.0, dof, 1.0, "degenerate", min_exp)
    obs = float(_chi2_stat(k_arr, n_arr))
    if method not in ("auto", "chi2", "exact"):
        raise ConfigError(f"method must be 'auto', 'chi2' or 'exact'; got {method!r}")
    if method == "chi2" or (method == "auto" and min_exp >= 5):
        return HomogeneityTest(obs, dof, float(_st.chi2.sf(obs, dof)), "chi2", min_exp)
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_hypergeometric(n_arr.astype(np.int64), int(total_k), size=n_resamples)
    sims = _chi2_stat(draws.astype(float), n_arr)
    ge = int(np.sum(sims >= obs - 1e-9))
    return HomogeneityTest(obs, dof, (1 + ge) / (1 + n_resamples), "exact-mc", min_exp, n_resamples)


@dataclass(frozen=True)
class PromptStat:
    """k/n and the correct-response rate of one prompt for one model."""

    model: str
    prompt_id: str
    family: str
    variation: str
    prompt_type: str
    kind: str
    upstream_id: int | None
    right_answer: Any
    k: int                # correct trials
    n: int                # trials
    n_unparsed: int       # trials whose answer could not be read (counted as incorrect)
    rate: float
    low: float
    high: float


@dataclass(frozen=True)
class FamilyStat:
    """One family x model x prompt type: pooled and per-variation rates, spread, homogeneity."""

    model: str
    family: str
    prompt_type: str
    kind: str
    n_variations: int
    k: int
    n: int
    n_unparsed: int
    pooled_rate: float
    pooled_low: float     # Wilson/Jeffreys interval of the pooled rate (valid if homogeneous)
    pooled_high: float
    macro_mean: float     # mean of the per-variation rates
    sd: float             # SD of the per-variation rates (ddof=1; 0 for one variation)
    rate_min: float
    rate_max: float
    homogeneity: HomogeneityTest | None
    variations: tuple[str, ...] = ()

    @property
    def range(self) -> float:
        return self.rate_max - self.rate_min


@dataclass(frozen=True)
class ControlGap:
    """Pooled rate of a family minus that of one of its controls (same model and prompt type)."""

    model: str
    family: str
    control: str
    prompt_type: str
    family_rate: float
    control_rate: float
    gap: float
    low: float            # Newcombe interval of the difference
    high: float


#: The tables of a :class:`RateSummary`, in reading order: name -> column headers.
TABLES = {
    "families": ("model", "family", "prompt type", "k/n", "pooled", "interval", "macro mean", "SD",
                 "range", "homogeneity p", "unparsed"),
    "gaps": ("model", "family", "control", "prompt type", "gap", "interval"),
    "prompts": ("model", "prompt", "upstream id", "answer", "k/n", "rate", "interval", "unparsed"),
}
_TEXT_COLUMNS = {"model", "family", "control", "prompt type", "prompt"}   # left-aligned in as_text


@dataclass
class RateSummary:
    """Correct-response rates of AIW results: per prompt, per family, and family minus control.

    What :func:`summarize_rates` computed; ``to_dict`` / ``save`` / ``load`` give the JSON summary
    (``<results>.summary.json``), :meth:`table` the formatted tables that ``as_text`` prints and
    :mod:`scalinglab.report` renders as HTML.
    """

    prompts: list[PromptStat]
    families: list[FamilyStat]
    gaps: list[ControlGap]
    level: float = 0.95
    interval: str = "wilson"
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def fam(f: FamilyStat) -> dict[str, Any]:
            d = asdict(f)
            d["range"] = f.range
            return d

        return {"level": self.level, "interval": self.interval, "meta": self.meta,
                "prompts": [asdict(p) for p in self.prompts],
                "families": [fam(f) for f in self.families],
                "gaps": [asdict(g) for g in self.gaps]}

    def save(self, path: str | Path) -> Path:
        """Write the JSON summary atomically; :meth:`load` reads it back equal."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> RateSummary:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        fams = []
        for f in d["families"]:
            f = dict(f)
            f.pop("range", None)
            h = f.pop("homogeneity")
            fams.append(FamilyStat(**{**f, "variations": tuple(f.get("variations", ())),
                                      "homogeneity": HomogeneityTest(**h) if h else None}))
        return cls([PromptStat(**p) for p in d["prompts"]], fams,
                   [ControlGap(**g) for g in d["gaps"]], d["level"], d["interval"], d.get("meta", {}))

    def family(self, family: str, *, model: str | None = None,
               prompt_type: str | None = None) -> list[FamilyStat]:
        return [f for f in self.families if f.family == family
                and (model is None or f.model == model)
                and (prompt_type is None or f.prompt_type == prompt_type)]

    def table(self, name: str) -> tuple[tuple[str, ...], list[list[str]]]:
        """One table of the summary as ``(header, rows)`` of formatted cells.

        ``name`` is ``"families"`` (pooled k/n and interval, macro mean, SD and range over
        variations, homogeneity p-value and its method), ``"gaps"`` (family minus control with
        Newcombe's interval) or ``"prompts"`` (k/n, rate and interval of each prompt); see
        :data:`TABLES`. The one definition of the columns, for text and HTML alike.
        """
        if name not in TABLES:
            raise ConfigError(f"unknown table {name!r}; choose one of {', '.join(TABLES)}")
        if name == "families":
            rows = [[f.model, f.family, f.prompt_type, f"{f.k}/{f.n}", f"{f.pooled_rate:.3f}",
                     f"[{f.pooled_low:.3f}, {f.pooled_high:.3f}]", f"{f.macro_mean:.3f}", f"{f.sd:.3f}",
                     f"{f.rate_min:.2f}-{f.rate_max:.2f}",
                     "-" if f.homogeneity is None else f"{f.homogeneity.p_value:.3g} ({f.homogeneity.method})",
                     str(f.n_unparsed)] for f in self.families]
        elif name == "gaps":
            rows = [[g.model, g.family, g.control, g.prompt_type, f"{g.gap:+.3f}",
                     f"[{g.low:+.3f}, {g.high:+.3f}]"] for g in self.gaps]
        else:
            rows = [[p.model, p.prompt_id, "-" if p.upstream_id is None else str(p.upstream_id),
                     str(p.right_answer), f"{p.k}/{p.n}", f"{p.rate:.3f}", f"[{p.low:.3f}, {p.high:.3f}]",
                     str(p.n_unparsed)] for p in self.prompts]
        return TABLES[name], rows

    def as_text(self) -> str:
        pct = int(round(self.level * 100))
        lines = [f"AIW rates ({pct}% {self.interval} intervals; rate = correct / trials)", ""]
        titles = {"families": "Families (pooled over variations):",
                  "gaps": "Family minus control (pooled rates, Newcombe interval):",
                  "prompts": "Prompts:"}
        for name, title in titles.items():
            header, rows = self.table(name)
            if not rows and name != "prompts":
                continue
            widths = [max(len(c) for c in col) for col in zip(header, *rows)]

            def line(cells: Sequence[str]) -> str:
                return " ".join(c.ljust(w) if h in _TEXT_COLUMNS else c.rjust(w)
                                for c, w, h in zip(cells, widths, header)).rstrip()

            lines += [title, line(header), *(line(r) for r in rows), ""]
        return "\n".join(lines).rstrip()

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return (f"RateSummary(prompts={len(self.prompts)}, families={len(self.families)}, "
                f"gaps={len(self.gaps)}, models={self.meta.get('models', [])}, level={self.level})")


def _dedupe(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple, dict[str, Any]] = {}
    shas: dict[tuple, set] = defaultdict(set)
    dup = 0
    for r in records:
        if r.get("record", "response") != "response":
            continue
        key = (r["model"], r["prompt_id"], int(r["trial"]))
        shas[(r["model"], r["prompt_id"])].add(r.get("prompt_sha"))
        if key in seen:
            dup += 1
            continue
        seen[key] = r
    for (model, pid), s in shas.items():
        if len(s) > 1:
            raise DataError(f"responses of {model!r} to {pid!r} hold {len(s)} different prompt texts "
                            "(task versions); summarise them separately")
    if dup:
        warnings.warn(f"{dup} duplicate (model, prompt, trial) records ignored; the first of each "
                      "is used", DataWarning, stacklevel=3)
    return list(seen.values())


def summarize_rates(records: Iterable[dict[str, Any]], *, level: float = 0.95, interval: str = "wilson",
                    homogeneity: str = "auto", seed: int = 0) -> RateSummary:
    """Per-prompt, per-family and family-vs-control statistics of response records.

    Records are the JSON objects of a results file (:mod:`scalinglab.evals.records`); a trial
    counts as correct when its ``correct`` field is true (re-score first to change the scorer).
    Duplicate (model, prompt, trial) records are counted once.
    """
    proportion_interval(0, 1, level, interval)  # validates level and method
    recs = _dedupe(records)
    if not recs:
        raise DataError("no response records to summarise")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in recs:
        groups[(r["model"], r["prompt_id"])].append(r)
    prompts = []
    for (model, pid), rs in sorted(groups.items()):
        r0 = rs[0]
        k = sum(1 for r in rs if r.get("correct") is True)
        n = len(rs)
        lo, hi = proportion_interval(k, n, level, interval)
        prompts.append(PromptStat(
            model=model, prompt_id=pid, family=str(r0.get("family", "")),
            variation=str(r0.get("variation", "")), prompt_type=str(r0.get("prompt_type", "")),
            kind=str(r0.get("kind", "problem")), upstream_id=r0.get("upstream_id"),
            right_answer=r0.get("right_answer"), k=k, n=n,
            n_unparsed=sum(1 for r in rs if r.get("parse_status") != "parsed"),
            rate=k / n, low=lo, high=hi))
    fam_groups: dict[tuple[str, str, str], list[PromptStat]] = defaultdict(list)
    for p in prompts:
        if p.family != "upstream":
            fam_groups[(p.model, p.family, p.prompt_type)].append(p)
    families = []
    for (model, fam, pt), ps in sorted(fam_groups.items()):
        k, n = sum(p.k for p in ps), sum(p.n for p in ps)
        rates = np.array([p.rate for p in ps])
        lo, hi = proportion_interval(k, n, level, interval)
        hom = homogeneity_test([p.k for p in ps], [p.n for p in ps], method=homogeneity, seed=seed) \
            if len(ps) >= 2 else None
        families.append(FamilyStat(
            model=model, family=fam, prompt_type=pt, kind=ps[0].kind, n_variations=len(ps), k=k, n=n,
            n_unparsed=sum(p.n_unparsed for p in ps), pooled_rate=k / n, pooled_low=lo,
            pooled_high=hi, macro_mean=float(rates.mean()),
            sd=float(rates.std(ddof=1)) if len(ps) > 1 else 0.0,
            rate_min=float(rates.min()), rate_max=float(rates.max()), homogeneity=hom,
            variations=tuple(p.variation for p in ps)))
    gaps = _gaps(families, level)
    return RateSummary(prompts, families, gaps, level, interval,
                   {"n_records": len(recs), "models": sorted({r["model"] for r in recs})})


def _gaps(families: list[FamilyStat], level: float) -> list[ControlGap]:

    by_key = {(f.model, f.family, f.prompt_type): f for f in families}
    out = []
    for f in families:
        try:
            controls = get_family(f.family).controls
        except KeyError:  # a family not known here (e.g. results from elsewhere)
            continue
        for c in controls:
            cf = by_key.get((f.model, c, f.prompt_type))
            if cf is None:
                continue
            lo, hi = newcombe_interval(f.k, f.n, cf.k, cf.n, level)
            out.append(ControlGap(f.model, f.family, c, f.prompt_type, f.pooled_rate, cf.pooled_rate,
                                  f.pooled_rate - cf.pooled_rate, lo, hi))
    return out
