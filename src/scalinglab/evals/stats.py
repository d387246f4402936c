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

Validity
--------
Trials of one prompt are treated as independent Bernoulli draws with one rate. That holds for
temperature sampling with a different seed per trial; it fails for greedy decoding or a constant
seed (identical trials), which the runner avoids. The pooled interval additionally assumes all
variations share one rate: when the homogeneity test rejects, report the per-variation rates and
the macro mean, not the pooled interval. The chi-square test needs expected counts >= 5 in
every cell; otherwise ``method="auto"`` uses a Monte Carlo exact test conditional on the margins.
"""

from __future__ import annotations

import html
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

from ..errors import ConfigError, DataError, DataWarning

__all__ = [
    "ControlGap",
    "FamilyStat",
    "HomogeneityTest",
    "PromptStat",
    "Summary",
    "jeffreys_interval",
    "homogeneity_test",
    "newcombe_interval",
    "proportion_interval",
    "summarize",
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


@dataclass
class Summary:
    """Everything :func:`summarize` computed; ``to_dict`` / ``save`` give the JSON summary."""

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
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, default=str), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Summary:
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

    def as_text(self) -> str:
        pct = int(round(self.level * 100))
        lines = [f"AIW summary ({pct}% {self.interval} intervals; rates = correct / trials)", ""]
        if self.families:
            lines.append(f"{'model':24s} {'family':22s} {'prompt type':12s} {'k/n':>9s} "
                         f"{'pooled':>6s} {'interval':>15s} {'macro':>6s} {'SD':>5s} "
                         f"{'range':>11s} {'homog. p':>9s} {'unparsed':>8s}")
            for f in self.families:
                h = f.homogeneity
                hp = "-" if h is None else f"{h.p_value:.3g}"
                lines.append(
                    f"{f.model[:24]:24s} {f.family[:22]:22s} {f.prompt_type[:12]:12s} "
                    f"{f'{f.k}/{f.n}':>9s} {f.pooled_rate:6.3f} "
                    f"{f'[{f.pooled_low:.3f}, {f.pooled_high:.3f}]':>15s} {f.macro_mean:6.3f} "
                    f"{f.sd:5.3f} {f'{f.rate_min:.2f}-{f.rate_max:.2f}':>11s} {hp:>9s} "
                    f"{f.n_unparsed:8d}")
            lines.append("")
        if self.gaps:
            lines.append("Family minus control (pooled rates, Newcombe interval):")
            for g in self.gaps:
                lines.append(f"  {g.model[:24]:24s} {g.family} - {g.control} [{g.prompt_type}]: "
                             f"{g.gap:+.3f} [{g.low:+.3f}, {g.high:+.3f}]")
            lines.append("")
        lines.append(f"{'model':24s} {'prompt':34s} {'upstream':>8s} {'answer':>6s} {'k/n':>9s} "
                     f"{'rate':>6s} {'interval':>15s} {'unparsed':>8s}")
        for p in self.prompts:
            up = "-" if p.upstream_id is None else str(p.upstream_id)
            lines.append(f"{p.model[:24]:24s} {p.prompt_id[:34]:34s} {up:>8s} {str(p.right_answer):>6s} "
                         f"{f'{p.k}/{p.n}':>9s} {p.rate:6.3f} {f'[{p.low:.3f}, {p.high:.3f}]':>15s} "
                         f"{p.n_unparsed:8d}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()

    def as_html(self) -> str:
        esc = html.escape

        def table(head: list[str], rows: list[list[Any]]) -> str:
            h = "".join(f"<th>{esc(x)}</th>" for x in head)
            body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in r) + "</tr>" for r in rows)
            return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"

        fam_rows = [[f.model, f.family, f.prompt_type, f"{f.k}/{f.n}", f"{f.pooled_rate:.3f}",
                     f"[{f.pooled_low:.3f}, {f.pooled_high:.3f}]", f"{f.macro_mean:.3f}", f"{f.sd:.3f}",
                     f"{f.rate_min:.2f}-{f.rate_max:.2f}",
                     "-" if f.homogeneity is None else f"{f.homogeneity.p_value:.3g} ({f.homogeneity.method})",
                     f.n_unparsed] for f in self.families]
        gap_rows = [[g.model, g.family, g.control, g.prompt_type, f"{g.gap:+.3f}",
                     f"[{g.low:+.3f}, {g.high:+.3f}]"] for g in self.gaps]
        p_rows = [[p.model, p.prompt_id, p.upstream_id if p.upstream_id is not None else "-",
                   p.right_answer, f"{p.k}/{p.n}", f"{p.rate:.3f}", f"[{p.low:.3f}, {p.high:.3f}]",
                   p.n_unparsed] for p in self.prompts]
        pct = int(round(self.level * 100))
        return (f"<h2>Families</h2><p>{pct}% {esc(self.interval)} intervals.</p>"
                + table(["model", "family", "prompt type", "k/n", "pooled", "interval", "macro mean",
                         "SD", "range", "homogeneity p", "unparsed"], fam_rows)
                + ("<h2>Family minus control</h2>" + table(
                    ["model", "family", "control", "prompt type", "gap", "interval"], gap_rows)
                   if gap_rows else "")
                + "<h2>Prompts</h2>" + table(["model", "prompt", "upstream id", "answer", "k/n", "rate",
                                               "interval", "unparsed"], p_rows))

    def _repr_html_(self) -> str:
        return self.as_html()

    def __repr__(self) -> str:
        return (f"Summary(prompts={len(self.prompts)}, families={len(self.families)}, "
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


def summarize(records: Iterable[dict[str, Any]], *, level: float = 0.95, interval: str = "wilson",
              homogeneity: str = "auto", seed: int = 0) -> Summary:
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
    return Summary(prompts, families, gaps, level, interval,
                   {"n_records": len(recs), "models": sorted({r["model"] for r in recs})})


def _gaps(families: list[FamilyStat], level: float) -> list[ControlGap]:
    from .task import get_family

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
