"""Throughput of the noisy shape-world pool generator, against the clean world's in the same run.

:func:`scalinglab.datasets.pool.pool_samples` draws a pool (scenes, noise, captions) and encodes its
images as PNG; :func:`scalinglab.datasets.pool.build_pool` also writes the WebDataset shards, the
decoded cache and the manifest. The baseline is the clean world's own generator,
:func:`~scalinglab.datasets.shapeworld.get_batch`, drawing the same number of samples in batches of
:data:`~scalinglab.datasets.shapeworld.BLOCK` (scenes, pixels, caption tokens; no PNG), timed in
the same process. Times are CPU seconds (``time.process_time``, one process), the best of
``--repeats``; the ratios are what to compare across machines. Also timed: the image-text recipe
steps that need no model (basic filter, dedup, concept filter) on the built pool.

Usage::

    python benchmarks/pool_throughput.py [--n 8192] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from scalinglab.datasets import shapeworld as sw
from scalinglab.datasets.imagefilters import basic_filter, concept_filter, image_dedup
from scalinglab.datasets.pool import PoolConfig, build_pool, pool_samples

COLOURS = ("red", "blue", "green", "yellow", "white", "cyan", "magenta", "orange")


def best(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t = time.process_time()
        fn()
        out.append(time.process_time() - t)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n, cfg = args.n, PoolConfig(n_samples=args.n)
    world = sw.WorldConfig()

    def clean() -> None:
        for step in range(0, n, sw.BLOCK):
            sw.get_batch(world, step=step // sw.BLOCK, seed=0, batch_size=min(sw.BLOCK, n - step))

    t_clean = best(clean, args.repeats)
    t_pool = best(lambda: pool_samples(cfg), args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        t_build = best(lambda: build_pool(cfg, "pool", root=tmp, overwrite=True), args.repeats)
        s = pool_samples(cfg)
        t_basic = best(lambda: basic_filter(s.captions), args.repeats)
        t_dedup = best(lambda: image_dedup(s.images, s.captions), args.repeats)
        t_concept = best(lambda: concept_filter(s.captions, concepts=COLOURS), args.repeats)
    rows = [("clean world (get_batch), baseline", t_clean), ("pool in memory (pool_samples, PNG)", t_pool),
            ("pool built (shards, cache, manifest)", t_build), ("basic_filter", t_basic),
            ("image_dedup", t_dedup), ("concept_filter", t_concept)]
    print(f"{n:,} samples, CPU seconds (best of {args.repeats}), samples/s, ratio to the clean world's time")
    for name, t in rows:
        print(f"  {name:<40}{t:8.2f} s {n / t:>10,.0f}/s {t / t_clean:8.2f}x")
    assert np.isfinite(t_clean)


if __name__ == "__main__":
    main()
