"""The reference CLIP of DataComp's CLIP-score filter: a tiny CLIP trained on the clean shape world.

DataComp's CLIP-score baseline (Gadre et al. 2023, Sec. 4 "Baselines") keeps the pool's samples
whose image and caption embeddings, under a CLIP trained on *other*, curated data (OpenAI's
ViT-L/14), have the highest cosine similarity. Here the curated data is the clean shape world the
pool was generated from (a "clean seed set": :func:`~scalinglab.datasets.shapeworld.get_batch`
batches, which no pool sample is), and the model a rung of the ``clip-tiny`` ladder trained with
the project's image-text trainer (:func:`scalinglab.train.imagetext.train`).

The model is cached by the SHA-256 of what determines it (the world's manifest hash, the rung's
config, samples, learning rate, batch size, seed, trainer settings) under
``<cache_dir>/clip-<hash16>/``; a second call loads it. :func:`clip_scores` is what the recipe step
``clip_score`` calls (through the registry target ``"scalinglab.train.reference:clip_scores"``, so
that planning or checking a recipe never imports torch).

Captions are encoded with the clean world's vocabulary: words the world never says (unseen
colours, file names) become ``<unk>``, and a caption longer than the model's context keeps its
first words.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import canonical_json, write_json
from ..datasets import shapeworld as sw
from ..errors import ConfigError
from ..ladders import get_rung
from .checkpoint import load_checkpoint
from .imagetext import build_model, train

__all__ = ["clip_scores", "reference_clip"]

VERSION = 1                      # bump when the training recipe below changes


def _key(world: sw.WorldConfig, config: Any, *, n_samples: int, lr: float, batch_size: int, seed: int) -> str:
    ident = {"version": VERSION, "world": sw.manifest_hash(world), "procedure": config.PROCEDURE,
             "config": config.to_dict(), "n_samples": int(n_samples), "lr": float(lr),
             "batch_size": int(batch_size), "seed": int(seed), "schedule": "cosine", "torch": torch.__version__}
    return hashlib.sha256(canonical_json(ident).encode()).hexdigest()


def reference_clip(world: sw.WorldConfig, *, rung: str = "clip-tiny-3", n_samples: int = 16384,
                   lr: float = 3e-3, batch_size: int = 64, seed: int = 0, cache_dir: str | Path,
                   progress: Callable[[str], None] | None = None) -> tuple[torch.nn.Module, dict]:
    """The reference CLIP of ``world`` (trained, or loaded from ``cache_dir``) and its facts.

    Returns ``(model, info)``; ``info`` has the cache key, rung, samples, the model's zero-shot
    error on the clean world's test split and the training wall time.
    """
    r = get_rung(rung)
    if r.procedure != "clip":
        raise ConfigError(f"the reference model must be a CLIP rung (clip-tiny-*); got {rung!r} ({r.procedure})")
    config = r.model
    if config.image_size != world.image_size or config.context_length < world.context_length:
        raise ConfigError(f"rung {rung!r} takes {config.image_size}px images and {config.context_length} tokens; "
                          f"the world renders {world.image_size}px with captions of {world.context_length}")
    key = _key(world, config, n_samples=n_samples, lr=lr, batch_size=batch_size, seed=seed)
    folder = Path(cache_dir) / f"clip-{key[:16]}"
    info_path = folder / "reference.json"
    if not info_path.exists():
        if progress:
            progress(f"reference CLIP: training {rung} on {n_samples:,} clean samples (cached as {folder.name})")
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
        try:
            out = train(config, n_samples=n_samples, batch_size=batch_size, lr=lr, run_dir=tmp, seed=seed,
                        data=world, schedule="cosine", eval_pairs=512, eval_per_class=8,
                        eval_loglik_per_class=0, resume=False)
            if out["status"] != "done":
                raise ConfigError(f"the reference CLIP diverged ({out['error']}); lower its lr")
            m = out["metrics"]
            info = {"key": key, "rung": rung, "n_params": int(r.n_params), "n_samples": int(n_samples),
                    "lr": lr, "batch_size": batch_size, "seed": seed, "world_manifest_hash": sw.manifest_hash(world),
                    "zeroshot_error": m.get("zeroshot_error"), "retrieval_i2t_r1": m.get("retrieval_i2t_r1"),
                    "train_wall_s": out["wall_s"]}
            write_json(tmp / "reference.json", info)
            if folder.exists():                       # another process finished first
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    info = json.loads(info_path.read_text())
    model = build_model(config)
    model.load_state_dict(load_checkpoint(folder / "ckpt" / "last.pt", torch.device("cpu"))["model"])
    model.eval()
    return model, {**info, "cache": str(folder)}


def clip_scores(images: np.ndarray, captions: Sequence[str], *, world: sw.WorldConfig, cache_dir: str | Path,
                rung: str = "clip-tiny-3", n_samples: int = 16384, lr: float = 3e-3, batch_size: int = 64,
                seed: int = 0, progress: Callable[[str], None] | None = None) -> tuple[np.ndarray, dict]:
    """Cosine similarity of each (image, caption) under the reference CLIP of ``world``.

    Returns ``(scores, info)``: ``scores`` ``(N,)`` float64 in [-1, 1]; ``info`` as
    :func:`reference_clip`'s.
    """
    model, info = reference_clip(world, rung=rung, n_samples=n_samples, lr=lr, batch_size=batch_size,
                                 seed=seed, cache_dir=cache_dir, progress=progress)
    vocab = sw.Vocabulary.from_world(world)
    ctx = model.cfg.context_length
    toks = np.stack([vocab.encode(" ".join(str(c).split()[:ctx - 2]), ctx) for c in captions])
    threads = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("SCALINGLAB_TORCH_THREADS", "1")))
    out = []
    try:
        with torch.no_grad():
            for i in range(0, len(toks), 512):
                zi = model.encode_image(torch.from_numpy(np.ascontiguousarray(images[i:i + 512])))
                zt = model.encode_text(torch.from_numpy(toks[i:i + 512]))
                out.append((zi * zt).sum(dim=-1).double())      # both unit vectors: cosine
    finally:
        torch.set_num_threads(threads)
    return torch.cat(out).numpy(), info
