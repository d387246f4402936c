"""Recipe throughput: MB/s per core of datatrove's filters and MinHash dedup vs plain Python.

Text: the first ``--mb`` megabytes of the built-in ``debian-text`` dataset (English prose), or of
``--dataset``. Everything runs in one process on one core (``tasks: 1``); the machine may be shared,
so read the ratios (measured in the same run), not the absolute rates.

Rows:

* ``filters (datatrove, in-process)``: GopherQuality + GopherRepetition + C4Quality + FineWebQuality,
  each called on every document (``filter(doc)``, no early exit).
* ``filters (plain Python)``: the baseline -- the Gopher word-count, mean-word-length, symbol-ratio,
  stop-word, duplicate-line/paragraph and top-2-gram rules written with ``str.split`` and dicts.
* ``filters (recipe, end to end)``: ``run_recipe`` with ``gopher_repetition`` and
  ``fineweb_quality`` (the Gopher quality and C4 rules reject almost every GCIDE chunk, so a recipe
  with them would end empty): readers, writers, exclusion writers, the audit's count steps and
  spaCy's start-up included; later filters see only what earlier ones kept.
* ``minhash (recipe, end to end)``: ``run_recipe`` with one ``minhash_dedup`` step (signatures,
  14 bucket tasks, clustering, filtering: four datatrove stages).
* ``minhash (plain Python)``: the baseline -- 5-word shingles hashed with CRC-32, 112 universal
  hash permutations in Python integers, 14 bands of 8, duplicate pairs from band dictionaries.

Usage::

    python benchmarks/recipe_throughput.py [--mb 4] [--baseline-mb 0.5] [--dataset debian-text]
    python benchmarks/recipe_throughput.py --planted 2000     # MinHash detection rate by similarity

Results are recorded in docs/benchmarks.md ("Recipe throughput").
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from pathlib import Path


def _take(dataset: str, mb: float) -> list[tuple[str, str]]:
    from scalinglab.datasets import get_dataset

    out, size = [], 0
    for i, t in get_dataset(dataset).documents():
        out.append((i, t))
        size += len(t.encode())
        if size >= mb * 1e6:
            break
    return out


def _mb(docs: list[tuple[str, str]]) -> float:
    return sum(len(t.encode()) for _, t in docs) / 1e6


# --- plain-Python baselines -------------------------------------------------------------------

STOP = {"the", "be", "to", "of", "and", "that", "have", "with"}


def plain_filters(text: str) -> bool:
    """Every rule is evaluated (no early exit), as the datatrove row evaluates every filter."""
    words = text.split()
    n = max(len(words), 1)
    checks = [50 <= len(words) <= 100000]
    mean = sum(len(w) for w in words) / n
    checks.append(3 <= mean <= 10)
    checks.append(text.count("#") / n <= 0.1 and (text.count("...") + text.count("\u2026")) / n <= 0.1)
    checks.append(len(STOP & {w.lower() for w in words}) >= 2)
    lines = [ln for ln in text.split("\n") if ln]
    checks.append(not lines or (len(lines) - len(set(lines))) / len(lines) <= 0.3)
    paras = [p for p in re.split(r"\n{2,}", text.strip()) if p]
    checks.append(not paras or (len(paras) - len(set(paras))) / len(paras) <= 0.3)
    bigrams = Counter(zip(words, words[1:]))
    if bigrams:
        (a, b), c = bigrams.most_common(1)[0]
        checks.append((len(a) + len(b) + 1) * c / max(len(text), 1) <= 0.2)
    return all(checks)


P61 = (1 << 61) - 1


def plain_minhash(docs: list[tuple[str, str]], *, n_grams: int = 5, bands: int = 14, rows: int = 8) -> int:
    import random

    rng = random.Random(1)
    k = bands * rows
    a = [rng.randrange(1, P61) for _ in range(k)]
    b = [rng.randrange(0, P61) for _ in range(k)]
    buckets: list[dict] = [defaultdict(list) for _ in range(bands)]
    pairs = set()
    for idx, (_, text) in enumerate(docs):
        w = re.findall(r"\w+", text.lower())
        sh = {zlib.crc32(" ".join(w[i:i + n_grams]).encode()) for i in range(max(1, len(w) - n_grams + 1))}
        sig = [min((ai * s + bi) % P61 for s in sh) for ai, bi in zip(a, b)]
        for band in range(bands):
            key = tuple(sig[band * rows:(band + 1) * rows])
            for other in buckets[band][key]:
                pairs.add((other, idx))
            buckets[band][key].append(idx)
    return len(pairs)


# --- datatrove --------------------------------------------------------------------------------

def dt_filters_inprocess(docs: list[tuple[str, str]]) -> int:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    filters = [GopherQualityFilter(), GopherRepetitionFilter(), C4QualityFilter(), FineWebQualityFilter()]
    filters[0].filter(Document(text="warm up the tokenizer " * 20, id="w"))    # spaCy start-up out of the timing
    kept = 0
    for i, t in docs:                       # every filter sees every document (no early exit)
        results = [f.filter(Document(text=t, id=i)) for f in filters]
        kept += all(r is True or (r is not False and r[0]) for r in results)
    return kept


def _recipe_time(docs, steps, root: Path, name: str) -> float:
    import json

    from scalinglab.datasets import register_dataset, run_recipe

    src = root / f"{name}.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for _, t in docs))
    register_dataset(f"{name}-in", str(src), root=root, overwrite=True)
    t0 = time.perf_counter()
    run_recipe({"name": name, "inputs": [f"{name}-in"], "steps": steps}, root=root, overwrite=True)
    return time.perf_counter() - t0


def planted_dedup(n_pairs: int, root: Path, seed: int = 0) -> list[tuple[str, int, int, float]]:
    """Detection rate of MinHash dedup on planted near-duplicate pairs, by 5-gram Jaccard bin.

    Each pair is a 200-word document of random letter-words and a copy with m words replaced
    (m from 1 to 40); the pair counts as found when exactly one of the two is removed. Returns
    ``(bin, pairs, found, theory)`` with theory = 1 - (1 - s^8)^14 at the bin's mean similarity.
    """
    import json
    import random

    from scalinglab.datasets import register_dataset, run_recipe

    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 8))) for _ in range(5000)]
    base = [[rng.choice(vocab) for _ in range(200)] for _ in range(n_pairs)]
    copies, sims = [], []
    for b in base:
        c = list(b)
        for i in rng.sample(range(200), rng.randint(1, 40)):
            c[i] = rng.choice(vocab)
        sb = {" ".join(b[i:i + 5]) for i in range(196)}
        sc = {" ".join(c[i:i + 5]) for i in range(196)}
        copies.append(c)
        sims.append(len(sb & sc) / len(sb | sc))
    texts = [" ".join(b) for b in base] + [" ".join(c) for c in copies]
    src = root / "planted.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    register_dataset("planted", str(src), root=root, overwrite=True)
    ds = run_recipe({"name": "planted-dedup", "inputs": ["planted"], "steps": [{"minhash_dedup": {}}]},
                    root=root, overwrite=True)
    kept = {int(i.rsplit("/", 1)[1]) - 1 for i, _ in ds.documents()}
    found = [(j not in kept) != (n_pairs + j not in kept) for j in range(n_pairs)]
    extra = sum(1 for j in range(n_pairs) if j not in kept and n_pairs + j not in kept)
    out = []
    for lo in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        idx = [j for j in range(n_pairs) if lo <= sims[j] < lo + 0.1 or (lo == 0.9 and sims[j] == 1.0)]
        if idx:
            s_mean = sum(sims[j] for j in idx) / len(idx)
            out.append((f"[{lo:.1f}, {lo + 0.1:.1f})", len(idx), sum(found[j] for j in idx),
                        1 - (1 - s_mean ** 8) ** 14))
    out.append(("both removed", n_pairs, extra, 0.0))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=4.0, help="MB of text for the datatrove rows")
    ap.add_argument("--baseline-mb", type=float, default=0.5, help="MB of text for the plain-Python MinHash")
    ap.add_argument("--dataset", default="debian-text")
    ap.add_argument("--planted", type=int, default=0, help="instead: MinHash detection on N planted pairs")
    args = ap.parse_args(argv)
    if args.planted:
        with tempfile.TemporaryDirectory() as tmp:
            rows = planted_dedup(args.planted, Path(tmp))
        print(f"MinHash dedup (5-grams, 14 bands x 8 hashes) on {args.planted} planted pairs")
        print(f"{'5-gram Jaccard':<16}{'pairs':>7}{'found':>7}{'rate':>8}{'theory':>8}")
        for b, n, f, th in rows:
            print(f"{b:<16}{n:>7}{f:>7}{f / n:>8.3f}{th:>8.3f}")
        return 0
    docs = _take(args.dataset, args.mb)
    small = _take(args.dataset, args.baseline_mb)
    mb, mb_small = _mb(docs), _mb(small)
    rows = []

    t0 = time.perf_counter()
    kept_plain = sum(plain_filters(t) for _, t in docs)
    rows.append(("filters (plain Python)", mb, time.perf_counter() - t0, f"kept {kept_plain}/{len(docs)}"))
    t0 = time.perf_counter()
    kept_dt = dt_filters_inprocess(docs)
    rows.append(("filters (datatrove, in-process)", mb, time.perf_counter() - t0, f"kept {kept_dt}/{len(docs)}"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        steps = [{"gopher_repetition": {}}, {"fineweb_quality": {}}]
        rows.append(("filters (recipe, end to end)", mb, _recipe_time(docs, steps, root, "bench-filters"),
                     "gopher_repetition + fineweb_quality"))
        rows.append(("minhash (recipe, end to end)", mb, _recipe_time(docs, [{"minhash_dedup": {}}], root,
                                                                      "bench-minhash"), ""))
    t0 = time.perf_counter()
    n_pairs = plain_minhash(small)
    rows.append(("minhash (plain Python)", mb_small, time.perf_counter() - t0, f"{n_pairs} candidate pairs"))

    base = {"filters": rows[0][1] / rows[0][2], "minhash": rows[4][1] / rows[4][2]}
    print(f"{args.dataset}: {len(docs)} documents, {mb:.2f} MB (plain-Python MinHash on {mb_small:.2f} MB); "
          f"one process; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'row':<34}{'MB':>7}{'s':>9}{'MB/s':>9}{'x baseline':>12}  note")
    for name, size, sec, note in rows:
        rate = size / sec
        ref = base["filters" if name.startswith("filters") else "minhash"]
        print(f"{name:<34}{size:>7.2f}{sec:>9.2f}{rate:>9.3f}{rate / ref:>12.2f}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
