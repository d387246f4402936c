"""The one training loop of the image-text procedures (CLIP, CoCa, MaMMUT), and their evaluation.

Modelled on :mod:`scalinglab.train.loop` and read top to bottom the same way: plan the steps; build
the model and AdamW; restore this run's last checkpoint (resume) or a trunk checkpoint (cooldown
branch); train with the schedule of :mod:`scalinglab.train.schedule`, evaluating a short curve and
saving checkpoints on the way; evaluate the final model (:func:`evaluate`); return a plain dict
with every metric and its standard error, parameter and FLOP counts per convention, the curve and
the provenance. (The typed ``run(spec, run_dir=...) -> RunRecord`` adapter is the lead's.)

Determinism: on CPU, with the same arguments and thread count, the result is bit-identical. The
model is initialised under ``torch.manual_seed(seed)``; the batch of update ``step`` is drawn from
``(seed, step)`` alone (:func:`scalinglab.datasets.shapeworld.get_batch`, or sample indices of a
shard dataset); there is no dropout. A resumed run replays exactly the updates the interrupted one
would have made.

Sizes are in samples: ``n_samples`` (D, samples seen), ``batch_size`` samples per update; LR
schedules are those of the GPT trainer with "tokens" read as samples. Optimiser as open_clip's
``open_clip_train/main.py``: AdamW with betas (0.9, 0.98), eps 1e-6, weight decay on matrices only
(gains, biases and the temperature excluded), gradient clipping, and the temperature clamped to
``[0, ln 100]`` after every update.

Termination: ``SIGTERM`` saves ``ckpt/last.pt`` at the next step boundary and ends the process
as ``SIGTERM`` would (exit status -15), like the GPT loop; a NaN/inf loss, or a smoothed loss above
twice the loss of chance, ends the run with ``status="diverged"``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import canonical_json
from ..datasets import shapeworld as sw
from ..datasets.imagetext import open_image_text
from ..datasets.wds import ShardDataset
from ..errors import ConfigError, TrainingError, UnknownNameError, suggest
from ..evals import zeroshot as zs
from ..procedures import procedure_of
from ..procedures.clip import CLIPConfig
from ..procedures.coca import CoCaConfig
from ..procedures.mammut import MaMMUTConfig
from ..store.schema import RunRecord, RunSpec
from .checkpoint import (
    checkpoint_path,
    die_by_sigterm,
    divergence,
    load_checkpoint,
    run_provenance,
    save_checkpoint,
    sigterm_flag,
    smoothed,
)
from .clip import CLIP
from .coca import CoCa
from .mammut import MaMMUT
from .schedule import CHECKPOINT_KEY, WARMUP_MAX_FRAC, RunPlan, check_schedule, lr_at
from .towers import LOGIT_SCALE_MAX

__all__ = ["MODELS", "build_model", "evaluate", "evaluate_common", "run", "train"]

MODELS = {CLIPConfig: CLIP, CoCaConfig: CoCa, MaMMUTConfig: MaMMUT}
CONFIGS = {c.PROCEDURE: c for c in MODELS}
N_CURVE_POINTS = 6         # cheap evaluations along the run
CURVE_PAIRS = 256          # val pairs for the curve's contrastive loss
CURVE_PER_CLASS = 2        # images per class for the curve's zero-shot error
EVAL_CHUNK = 256           # samples per forward pass in evaluation
LOSS_CHUNK = 128           # val contrastive loss is computed over batches of this size
DIVERGE_FACTOR = 2.0

def build_model(config) -> torch.nn.Module:
    """The torch model of a procedure config (or of ``{"procedure": name, **fields}``)."""
    if isinstance(config, dict):
        data = dict(config)
        name = data.pop("procedure", None)
        if name not in CONFIGS:
            raise UnknownNameError(f"unknown image-text procedure {name!r}.{suggest(str(name), CONFIGS)} "
                                   f"Available: {', '.join(CONFIGS)}")
        config = CONFIGS[name].from_dict(data)
    try:
        return MODELS[type(config)](config)
    except KeyError:
        raise ConfigError(f"no image-text model for {type(config).__name__}; use one of "
                          f"{', '.join(c.__name__ for c in MODELS)}") from None


# --- data ------------------------------------------------------------------------------------

def _check_data(config, data) -> None:
    ctx, vocab, size = data.context_length, len(_vocab_of(data)), data.image_size
    if config.context_length < ctx:
        raise ConfigError(f"model context_length ({config.context_length}) is shorter than the "
                          f"data's captions ({ctx} tokens); raise context_length to {ctx}")
    if config.vocab_size < vocab:
        raise ConfigError(f"model vocab_size ({config.vocab_size}) is smaller than the data's "
                          f"vocabulary ({vocab}); raise vocab_size to {vocab}")
    if config.image_size != size:
        raise ConfigError(f"model image_size ({config.image_size}) differs from the data's "
                          f"images ({size}); set image_size: {size}")


def _pad(tokens: np.ndarray, length: int) -> np.ndarray:
    if tokens.shape[1] == length:
        return tokens
    out = np.zeros((tokens.shape[0], length), dtype=np.int64)
    out[:, :tokens.shape[1]] = tokens
    return out


def _train_batch(data, *, step: int, seed: int, batch_size: int, ctx: int):
    if isinstance(data, ShardDataset):
        images, tokens = data.train_batch(step=step, seed=seed, batch_size=batch_size)
    else:
        b = sw.get_batch(data, step=step, seed=seed, batch_size=batch_size)
        images, tokens = b.images, b.tokens
    return torch.from_numpy(images), torch.from_numpy(_pad(tokens, ctx))


# --- evaluation ------------------------------------------------------------------------------

@torch.no_grad()
def _embed_images(model, images: np.ndarray) -> np.ndarray:
    out = [model.encode_image(torch.from_numpy(images[i:i + EVAL_CHUNK]))
           for i in range(0, len(images), EVAL_CHUNK)]
    return torch.cat(out).double().numpy()


@torch.no_grad()
def _embed_texts(model, tokens: np.ndarray, ctx: int) -> np.ndarray:
    tokens = _pad(tokens, ctx)
    out = [model.encode_text(torch.from_numpy(tokens[i:i + EVAL_CHUNK]))
           for i in range(0, len(tokens), EVAL_CHUNK)]
    return torch.cat(out).double().numpy()


@torch.no_grad()
def _val_losses(model, images: np.ndarray, tokens: np.ndarray, ctx: int) -> dict:
    """Mean val losses over chunks of :data:`LOSS_CHUNK` pairs (one chunk of all, when fewer), SE over chunks."""
    per = {"val_contrastive_loss": [], "val_caption_loss": []}
    size = min(LOSS_CHUNK, len(images))
    for i in range(0, len(images) - size + 1, size) if size >= 2 else ():
        out = model(torch.from_numpy(images[i:i + size]),
                    torch.from_numpy(_pad(tokens[i:i + size], ctx)))
        per["val_contrastive_loss"].append(float(out["contrastive_loss"]))
        if "caption_loss" in out:
            per["val_caption_loss"].append(float(out["caption_loss"]))
    res = {}
    for k, v in per.items():
        if v:
            a = np.asarray(v)
            res[k] = float(a.mean())
            res[k + "_se"] = float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else float("nan")
    return res


def _vocab_of(data):
    return data.vocab if isinstance(data, ShardDataset) else sw.Vocabulary.from_world(data)


@torch.no_grad()
def _prompt_embeddings(model, prompts: list[list[str]], vocab, ctx: int) -> np.ndarray:
    flat = [p for ps in prompts for p in ps]
    toks = np.stack([vocab.encode(p, ctx, where="class prompt") for p in flat])
    emb = _embed_texts(model, toks, ctx)
    return emb.reshape(len(prompts), len(prompts[0]), -1)


@torch.no_grad()
def _caption_scores(model, images: np.ndarray, prompt_tokens: np.ndarray) -> np.ndarray:
    """Log-likelihood ``(N, C)`` of each class prompt given each image (captioners only).

    Sum of ``log p(token | image, previous tokens)`` over the prompt's tokens after ``<sot>``,
    ``<eot>`` included. The decoders are causal, so prompts are cut to their longest length
    without changing any probability.
    """
    L = int((prompt_tokens != sw.PAD).sum(axis=1).max())
    pt = torch.from_numpy(prompt_tokens[:, :L])
    C = len(pt)
    scores = []
    for i in range(0, len(images), max(1, EVAL_CHUNK // C)):
        ctx = model.image_context(torch.from_numpy(images[i:i + max(1, EVAL_CHUNK // C)]))
        n = ctx.shape[0]
        ctx = ctx.repeat_interleave(C, dim=0)
        toks = pt.repeat(n, 1)
        logp = torch.log_softmax(model.caption_logits(ctx, toks)[:, :-1].float(), dim=-1)
        tgt = toks[:, 1:]
        ll = logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1) * (tgt != sw.PAD)
        scores.append(ll.sum(dim=1).view(n, C))
    return torch.cat(scores).double().numpy()


def _suffixed(metrics: dict, suffix: str) -> dict:
    """``name`` -> ``name<suffix>`` and ``name_se`` -> ``name<suffix>_se``."""
    return {(k[:-3] + suffix + "_se" if k.endswith("_se") else k + suffix): v for k, v in metrics.items()}


@torch.no_grad()
def evaluate_common(model, vocab, world: sw.WorldConfig, *, n_pairs: int = 1024, n_per_class: int = 16) -> dict:
    """Metrics on a common clean held-out set: the fixed ``test`` split of ``world``, whatever the
    model trained on (suffix ``_common``): ``val_contrastive_loss_common`` on its first ``n_pairs``
    scenes and ``zeroshot_error_common`` on ``n_per_class`` single-object test images per class.

    Captions and class prompts are encoded with the model's own ``vocab`` (words it never saw
    become ``<unk>``), so models trained on different shard datasets are scored on the same images
    and the same caption text.
    """
    ctx = model.cfg.context_length
    wv = sw.Vocabulary.from_world(world)
    test = sw.split_batch(world, "test", 0, n_pairs)
    tokens = np.stack([vocab.encode(wv.decode(t), ctx, where="common held-out caption") for t in test.tokens])
    m = _suffixed(_val_losses(model, test.images, tokens, ctx), "_common")
    _, _, classes = sw.classification_set(world, split="test", n_per_class=1)
    classifier = zs.zeroshot_classifier(_prompt_embeddings(model, zs.class_prompts(classes, world), vocab, ctx))
    batch, labels, _ = sw.classification_set(world, split="test", n_per_class=n_per_class)
    m.update(_suffixed(zs.classify(_embed_images(model, batch.images) @ classifier.T, labels, prefix="zeroshot_"),
                       "_common"))
    return m


def evaluate(model, data, *, n_pairs: int = 1024, n_per_class: int = 16, n_loglik_per_class: int = 2,
             fashion_mnist: int = 0, common: sw.WorldConfig | None = None) -> dict:
    """Every metric of a trained image-text model on its data, each with ``<name>_se``.

    World data: val losses on the first ``n_pairs`` ``val`` scenes; retrieval and hard negatives
    on the first ``n_pairs`` ``test`` scenes; zero-shot classification of every (shape, colour)
    pair on ``n_per_class`` single-object ``test`` images per seen class (``zeroshot_*``) and per
    held-out class (``heldout_zeroshot_*``, compositional generalisation); CoCa and MaMMUT also
    classify ``n_loglik_per_class`` images per class by caption log-likelihood
    (``captioning_zeroshot_*``). ``fashion_mnist=n`` adds zero-shot classification of the first
    ``n`` Fashion-MNIST test images (``fmnist_zeroshot_*``; see docs/language-vision.md for what
    that number means for a model that never saw a garment). Shard data: val losses and retrieval
    on the held-out shard samples. ``common`` (a world) adds :func:`evaluate_common`'s metrics.
    """
    was = model.training
    model.eval()
    ctx = model.cfg.context_length
    vocab = _vocab_of(data)
    m: dict[str, Any] = {}
    try:
        if common is not None:
            m.update(evaluate_common(model, vocab, common, n_pairs=n_pairs, n_per_class=n_per_class))
        if isinstance(data, ShardDataset):
            images, tokens = data.val_images[:n_pairs], data.val_tokens[:n_pairs]
            m.update(_val_losses(model, images, tokens, ctx))
            m.update({f"retrieval_{k}": v for k, v in zs.retrieval(
                _embed_images(model, images), _embed_texts(model, tokens, ctx)).items()})
            return m
        world = data
        val = sw.split_batch(world, "val", 0, n_pairs)
        m.update(_val_losses(model, val.images, val.tokens, ctx))
        test = sw.split_batch(world, "test", 0, n_pairs)
        img_emb = _embed_images(model, test.images)
        txt_emb = _embed_texts(model, test.tokens, ctx)
        m.update({f"retrieval_{k}": v for k, v in zs.retrieval(img_emb, txt_emb).items()})
        negs = zs.hard_negatives(test.scenes, world)
        pos_all = (img_emb * txt_emb).sum(axis=1)
        hits = []
        for kind, (idx, words) in negs.items():
            if not len(idx):
                continue
            neg_tok = np.stack([vocab.encode(" ".join(w), ctx) for w in words])
            neg = (img_emb[idx] * _embed_texts(model, neg_tok, ctx)).sum(axis=1)
            acc, se = zs.choice_accuracy(pos_all[idx], neg)
            m[f"hard_negative_{kind}_accuracy"], m[f"hard_negative_{kind}_accuracy_se"] = acc, se
            hits.append(pos_all[idx] > neg)
        m["hard_negative_accuracy"], m["hard_negative_accuracy_se"] = zs.rate(np.concatenate(hits))
        _, _, classes = sw.classification_set(world, split="test", n_per_class=1)
        classifier = zs.zeroshot_classifier(_prompt_embeddings(
            model, zs.class_prompts(classes, world), vocab, ctx))
        splits = [("test", "zeroshot_")] + ([("heldout", "heldout_zeroshot_")]
                                           if world.heldout_pairs() else [])
        for split, prefix in splits:
            batch, labels, _ = sw.classification_set(world, split=split, n_per_class=n_per_class)
            scores = _embed_images(model, batch.images) @ classifier.T
            m.update(zs.classify(scores, labels, prefix=prefix))
            if hasattr(model, "caption_logits") and n_loglik_per_class and split == "test":
                keep = np.concatenate([np.nonzero(labels == c)[0][:n_loglik_per_class]
                                       for c in np.unique(labels)])
                prompts = np.stack([vocab.encode(ps[0], ctx)
                                    for ps in zs.class_prompts(classes, world, ("{}",))])
                ll = _caption_scores(model, batch.images[keep], prompts)
                m.update(zs.classify(ll, labels[keep], prefix="captioning_zeroshot_"))
        if fashion_mnist:
            images, labels = zs.load_fashion_mnist(n=fashion_mnist)
            prompts = [[t.format(name) for t in zs.TEMPLATES] for name in zs.FASHION_MNIST_CLASSES]
            classifier = zs.zeroshot_classifier(_prompt_embeddings(model, prompts, vocab, ctx))
            m.update(zs.classify(_embed_images(model, images) @ classifier.T, labels,
                                 prefix="fmnist_zeroshot_"))
        return m
    finally:
        model.train(was)


@torch.no_grad()
def _curve_point(model, data, curve_sets) -> dict:
    was = model.training
    model.eval()
    try:
        ctx = model.cfg.context_length
        images, tokens = curve_sets["pairs"]
        point = _val_losses(model, images, tokens, ctx)
        if "classify" in curve_sets:
            cimages, labels, classifier_prompts = curve_sets["classify"]
            classifier = zs.zeroshot_classifier(_prompt_embeddings(
                model, classifier_prompts, _vocab_of(data), ctx))
            point.update(zs.classify(_embed_images(model, cimages) @ classifier.T, labels,
                                     prefix="zeroshot_"))
        return {k: v for k, v in point.items() if not k.endswith("_se")}
    finally:
        model.train(was)


def _curve_sets(data) -> dict:
    if isinstance(data, ShardDataset):
        return {"pairs": (data.val_images[:CURVE_PAIRS], data.val_tokens[:CURVE_PAIRS])}
    val = sw.split_batch(data, "val", 0, CURVE_PAIRS)
    batch, labels, classes = sw.classification_set(data, split="test", n_per_class=CURVE_PER_CLASS)
    return {"pairs": (val.images, val.tokens),
            "classify": (batch.images, labels, zs.class_prompts(classes, data))}


# --- checkpoints and provenance --------------------------------------------------------------

def _ckpt(run_dir: Path, samples: int | None = None) -> Path:
    return checkpoint_path(run_dir, samples, unit="samples")


def _hash(obj) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def _data_identity(data) -> dict:
    if isinstance(data, ShardDataset):
        return {"data": "shards", "data_manifest_hash": data.manifest_hash, "data_path": data.path}
    return {"data": "shapeworld", "data_manifest_hash": sw.manifest_hash(data),
            "world": data.to_dict()}


def _provenance(seed: int, data, device: torch.device) -> dict:
    return run_provenance(device, seed=seed, **_data_identity(data))


# --- the run ---------------------------------------------------------------------------------

def train(config, *, n_samples: int, batch_size: int, lr: float, run_dir: str | Path,
          seed: int = 0, data: sw.WorldConfig | ShardDataset | None = None,
          schedule: str = "cosine", warmup_samples: int = 0, cooldown_frac: float = 0.2,
          min_lr_frac: float = 0.0, weight_decay: float = 0.1, beta1: float = 0.9,
          beta2: float = 0.98, eps: float = 1e-6, grad_clip: float = 1.0,
          eval_pairs: int = 1024, eval_per_class: int = 16, eval_loglik_per_class: int = 2,
          eval_fashion_mnist: int = 0, eval_common: sw.WorldConfig | None = None, resume: bool = True,
          progress: Callable[[dict], Any] | None = None, num_threads: int | None = None,
          checkpoint_every_s: float = 300.0, checkpoint_every_steps: int | None = None,
          checkpoint_at_samples: Sequence[int] = (), branch_of: str | Path | None = None,
          branch_at_samples: int | None = None, device: str = "cpu") -> dict:
    """Train one CLIP, CoCa or MaMMUT run and return its results as a plain dict.

    Parameters
    ----------
    config : CLIPConfig, CoCaConfig, MaMMUTConfig or dict
        The model (a dict needs ``"procedure"``). Its ``context_length`` and ``vocab_size`` must
        hold the data's captions and vocabulary.
    n_samples, batch_size : int
        Samples seen (D) and samples per update; ``n_samples`` is rounded to whole updates.
    lr, schedule, warmup_samples, cooldown_frac, min_lr_frac
        Peak LR and its schedule (``cosine``, ``wsd`` or ``constant``; :func:`schedule.lr_at`);
        ``warmup_samples=0`` means :data:`schedule.WARMUP_MAX_FRAC` of the run.
    run_dir : path
        Checkpoints go to ``run_dir/ckpt/``.
    data : WorldConfig or ShardDataset, optional
        The shape world (default ``WorldConfig()``) or a user's WebDataset shards
        (:func:`scalinglab.datasets.wds.load_shards`).
    eval_pairs, eval_per_class, eval_loglik_per_class, eval_fashion_mnist : int
        Sizes of the final evaluation (:func:`evaluate`).
    eval_common : WorldConfig, optional
        Also score the final model on this world's fixed test split (:func:`evaluate_common`;
        metrics ``*_common``), a held-out set common to runs on different datasets.
    checkpoint_at_samples : sequence of int
        A trunk saves ``ckpt/samples_<n>.pt`` after these many samples (for cooldown branches).
    branch_of, branch_at_samples
        A cooldown branch starts from ``<branch_of>/ckpt/samples_<branch_at_samples>.pt`` (a
        ``wsd`` trunk with the same settings); it must start where its own cooldown starts.
    progress : callable, optional
        Called with ``{"step", "steps", "samples", "n_samples", "train_loss", "lr",
        "samples_per_s"}`` about 100 times per run, plus the curve's metrics at curve points.

    Returns
    -------
    dict
        ``status`` ("done" or "diverged"), ``error``, ``metrics`` (name -> value and
        ``<name>_se``; empty when diverged), ``procedure``, ``config``, ``samples_seen``,
        ``steps``, ``n_params`` and ``flops`` (per convention; flops = per-sample FLOPs x
        samples seen), ``flops_per_sample``, ``curve`` (``[samples, {metric: value}]``),
        ``train_loss``, ``wall_s``, ``provenance``.
    """
    t_start = time.perf_counter()
    if isinstance(config, dict):
        config = build_model(config).cfg
    data = sw.WorldConfig() if data is None else data
    _check_data(config, data)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1; got {batch_size}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ConfigError(f"lr must be a positive number; got {lr}")
    if schedule not in ("cosine", "wsd", "constant"):
        raise ConfigError(f"unknown schedule {schedule!r}; use 'cosine', 'wsd' or 'constant'")
    check_schedule(cooldown_frac=cooldown_frac, min_lr_frac=min_lr_frac,
                   warmup=warmup_samples, where="train")
    if n_samples < batch_size:
        raise ConfigError(f"n_samples ({n_samples}) is less than one update of batch_size "
                          f"{batch_size}; raise n_samples or lower batch_size")
    total = round(n_samples / batch_size)
    warm = max(1, round((warmup_samples or WARMUP_MAX_FRAC * total * batch_size) / batch_size))
    cooldown = total - max(1, round(cooldown_frac * total)) if schedule == "wsd" else total
    if warm > cooldown:
        raise ConfigError(f"warmup ({warm} steps) is longer than the stable phase ({cooldown} "
                          f"steps) of this {total}-step run; lower warmup_samples")
    ckpt_steps = []
    for s_ in checkpoint_at_samples:
        st = round(int(s_) / batch_size)
        if st * batch_size != int(s_) or not 0 < st <= cooldown:
            raise ConfigError(f"checkpoint_at_samples value {s_} must be a multiple of batch_size "
                              f"{batch_size} within the stable phase ({cooldown * batch_size} samples)")
        ckpt_steps.append(st)
    start = 0
    if (branch_of is None) != (branch_at_samples is None):
        raise ConfigError("a cooldown branch needs both branch_of (the trunk's run_dir) and "
                          "branch_at_samples")
    if branch_of is not None:
        start = round(branch_at_samples / batch_size)
        if schedule != "wsd" or start != cooldown or start * batch_size != branch_at_samples:
            raise ConfigError(f"branch_at_samples ({branch_at_samples}) must be where this wsd "
                              f"run's cooldown starts: step {cooldown} x {batch_size} samples = "
                              f"{cooldown * batch_size}")
    plan = RunPlan(units_per_step=batch_size, total_steps=total, warmup_steps=warm,
                   cooldown_start=cooldown, start_step=start, checkpoint_steps=tuple(sorted(ckpt_steps)))
    # What a branch shares with its trunk, and what identifies this run's checkpoints.
    shared = {"procedure": config.PROCEDURE, "config": config.to_dict(), "batch_size": batch_size,
              "lr": lr, "seed": seed, "warmup_steps": warm, "weight_decay": weight_decay,
              "betas": [beta1, beta2], "eps": eps, "grad_clip": grad_clip,
              "data": _data_identity(data)}
    identity = {**shared, "schedule": schedule, "total_steps": total, "cooldown_frac": cooldown_frac,
                "min_lr_frac": min_lr_frac, "start_step": start}

    threads = num_threads or int(os.environ.get("SCALINGLAB_TORCH_THREADS", "1"))
    old_threads = torch.get_num_threads()
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available; use device='cpu'")
    if dev.type == "cpu":
        torch.set_num_threads(threads)
    try:
        return _train(config, data, plan, shared, identity, Path(run_dir), dev, seed=seed, lr=lr,
                      schedule=schedule, min_lr_frac=min_lr_frac, weight_decay=weight_decay,
                      betas=(beta1, beta2), eps=eps, grad_clip=grad_clip, resume=resume,
                      progress=progress, checkpoint_every_s=checkpoint_every_s,
                      checkpoint_every_steps=checkpoint_every_steps, branch_of=branch_of,
                      eval_kw=dict(n_pairs=eval_pairs, n_per_class=eval_per_class,
                                   n_loglik_per_class=eval_loglik_per_class,
                                   fashion_mnist=eval_fashion_mnist, common=eval_common),
                      t_start=t_start)
    finally:
        torch.set_num_threads(old_threads)


def _optimizer(model, *, lr, weight_decay, betas, eps) -> torch.optim.AdamW:
    """AdamW; decay on matrices (dim >= 2) only: gains, biases and the temperature are exempt."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, foreach=True)


def _chance_loss(model, batch_size: int) -> float:
    """Loss of a model that knows nothing: ln B contrastive (+ 2 ln V caption for captioners)."""
    out = math.log(batch_size)
    if hasattr(model, "caption_logits"):
        out += 2.0 * math.log(model.cfg.vocab_size)
    return out


def _train(config, data, plan, shared, identity, run_dir, dev, *, seed, lr, schedule, min_lr_frac,
           weight_decay, betas, eps, grad_clip, resume, progress, checkpoint_every_s,
           checkpoint_every_steps, branch_of, eval_kw, t_start) -> dict:
    torch.manual_seed(seed)
    model = MODELS[type(config)](config).to(dev)
    assert sum(p.numel() for p in model.parameters()) == config.n_params("total")
    opt = _optimizer(model, lr=lr, weight_decay=weight_decay, betas=betas, eps=eps)
    bs, ctx = plan.units_per_step, config.context_length
    step, curve, ema, wall_prev, resumed_from = 0, [], None, 0.0, None
    run_hash = _hash(identity)

    last = _ckpt(run_dir)
    if resume and last.exists():
        state = load_checkpoint(last, dev)
        if state.get("run_hash") != run_hash:
            raise TrainingError(f"{str(last)!r} belongs to a different run; use another run_dir "
                                "or delete the checkpoint to retrain")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        step, curve, ema, wall_prev = state["step"], state["curve"], state["ema"], state["wall_s"]
        resumed_from = step
    elif plan.start_step:
        path = _ckpt(Path(branch_of), plan.start_step * bs)
        if not path.exists():
            raise TrainingError(f"cooldown branch needs its trunk's checkpoint {str(path)!r}, which "
                                f"does not exist. Train the trunk first with checkpoint_at_samples "
                                f"including {plan.start_step * bs}.")
        state = load_checkpoint(path, dev)
        diff = [k for k in shared if state["shared"].get(k) != json.loads(json.dumps(shared[k]))]
        if diff:
            raise ConfigError(f"branch differs from its trunk in {', '.join(diff)}; a cooldown "
                              "branch must continue the very same run")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        step, curve, ema = state["step"], state["curve"], state["ema"]

    def state_dict(done: bool, wall: float) -> dict:
        return {"run_hash": run_hash, "shared": json.loads(json.dumps(shared)), "step": step,
                "model": model.state_dict(), "optim": opt.state_dict(), "curve": curve,
                "ema": ema, "wall_s": wall, "done": done, "torch": torch.__version__}

    span = plan.total_steps - plan.start_step
    n_points = max(2, round(N_CURVE_POINTS * span / plan.total_steps))
    curve_steps = {plan.start_step + round(span * (i + 1) / n_points) for i in range(n_points)}
    curve_sets = _curve_sets(data)
    diverge_at = DIVERGE_FACTOR * _chance_loss(model, bs)
    report_every = max(1, plan.total_steps // 100)
    status, error = "done", None
    t_loop, last_ckpt, step0 = time.perf_counter(), time.perf_counter(), step
    gen_s = 0.0

    model.train()
    with sigterm_flag() as terminated:
        while step < plan.total_steps:
            cur_lr = lr_at(step, lr=lr, plan=plan, schedule=schedule, min_lr_frac=min_lr_frac)
            for g in opt.param_groups:
                g["lr"] = cur_lr
            t_gen = time.perf_counter()
            images, tokens = _train_batch(data, step=step, seed=seed, batch_size=bs, ctx=ctx)
            gen_s += time.perf_counter() - t_gen
            out = model(images.to(dev), tokens.to(dev))
            loss = out["loss"]
            loss.backward()
            if grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            with torch.no_grad():
                model.logit_scale.clamp_(0, LOGIT_SCALE_MAX)
            step += 1
            lossf = float(loss.detach())
            ema = smoothed(lossf, ema)
            why = divergence(lossf, ema, diverge_at, f"twice chance ({diverge_at:.3g})",
                             where=f"step {step}/{plan.total_steps} ({step * bs} samples)", lr=cur_lr)
            if why is not None:
                status, error = "diverged", why
                break
            if step in plan.checkpoint_steps:
                save_checkpoint(_ckpt(run_dir, step * bs), state_dict(False, 0.0))
            event = None
            if step in curve_steps:
                event = _curve_point(model, data, curve_sets)
                curve.append([step * bs, event])
            now = time.perf_counter()
            if (checkpoint_every_steps and step % checkpoint_every_steps == 0) or \
                    now - last_ckpt > checkpoint_every_s:
                save_checkpoint(last, state_dict(False, wall_prev + now - t_start))
                last_ckpt = now
            if progress is not None and (event or step % report_every == 0):
                progress({"step": step, "steps": plan.total_steps, "samples": step * bs,
                          "n_samples": plan.total_steps * bs, "train_loss": lossf, "lr": cur_lr,
                          "samples_per_s": (step - step0) * bs / max(now - t_loop, 1e-9),
                          **(event or {})})
            if terminated[0]:
                save_checkpoint(last, state_dict(False, wall_prev + time.perf_counter() - t_start))
                die_by_sigterm()

    train_s = time.perf_counter() - t_loop
    metrics: dict = {}
    if status == "done":
        save_checkpoint(last, state_dict(True, wall_prev + time.perf_counter() - t_start))
        t_eval = time.perf_counter()
        metrics = evaluate(model, data, **eval_kw)
        eval_s = time.perf_counter() - t_eval
    else:
        eval_s = 0.0
    samples = step * bs
    proc = procedure_of(config)
    prov = _provenance(seed, data, dev)
    prov.update({"steps": plan.total_steps, "samples_per_step": bs, "warmup_steps": plan.warmup_steps,
                 "schedule": schedule, "cooldown_start_samples": plan.cooldown_start * bs,
                 "samples_trained": samples - plan.start_step * bs, "resumed_from_step": resumed_from,
                 "branch_start_samples": plan.start_step * bs, "precision": "fp32",
                 "train_s": train_s, "data_s": gen_s, "eval_s": eval_s,
                 "eval": {k: (v.to_dict() if isinstance(v, sw.WorldConfig) else v) for k, v in eval_kw.items()},
                 "flop_conventions": {
                     "exact": "3 x forward matmul FLOPs per sample (attention over full Lq x Lk)",
                     "forward": "forward matmul FLOPs per sample, every training pass"},
                 "role": "trunk" if plan.checkpoint_steps else ("branch" if plan.start_step else "run")})
    return {"procedure": config.PROCEDURE, "config": config.to_dict(), "status": status,
            "error": error, "metrics": metrics, "samples_seen": samples, "steps": plan.total_steps,
            "n_params": {c: config.n_params(c) for c in proc.param_conventions},
            "flops_per_sample": {c: config.flops_per_sample(c) for c in proc.flops_conventions},
            "flops": {c: config.flops_per_sample(c) * samples for c in proc.flops_conventions},
            "curve": curve, "train_loss": ema if status == "done" else None,
            "wall_s": wall_prev + time.perf_counter() - t_start, "provenance": prov}


# --- the sweep's entry point -----------------------------------------------------------------

def _data_of(spec: RunSpec):
    """``spec.dataset``: a shape world by name (``"shapeworld"`` ...) or a folder of WebDataset shards."""

    if "world" in spec.extra:
        raise ConfigError(f"run {spec.run_id}: the world's settings come from the dataset name now, not "
                          "from extra['world']; register the world with "
                          "scalinglab.datasets.register_world(name, WorldConfig(...)) and set dataset: name")
    return open_image_text(spec.dataset, image_size=spec.model.image_size,
                           context_length=spec.model.context_length, vocab_size=spec.model.vocab_size)


def _common_of(spec: RunSpec) -> sw.WorldConfig | None:
    """The shape world of ``extra["eval_common"]`` (None without one)."""
    name = spec.extra.get("eval_common")
    if not name:
        return None
    world = open_image_text(str(name), image_size=spec.model.image_size)
    if not isinstance(world, sw.WorldConfig):
        raise ConfigError(f"run {spec.run_id}: eval.common_dataset {name!r} must be a shape world (its fixed "
                          "test split is the common held-out set); shard folders have no common split")
    return world


def run(spec: RunSpec | dict, *, run_dir: str | Path, resume: bool = True,
        progress: Callable[[dict], Any] | None = None, num_threads: int | None = None,
        checkpoint_every_s: float = 300.0, checkpoint_every_steps: int | None = None,
        trunk_dir: str | Path | None = None) -> RunRecord:
    """Train one image-text run from its :class:`RunSpec` (the registered trainer of clip/coca/mammut).

    A thin adapter over :func:`train`: D (``spec.n_data``) and ``warmup`` count samples; the
    data is ``spec.dataset`` (a shape world by name, :mod:`scalinglab.datasets.imagetext`, or a
    folder of WebDataset shards); evaluation sizes come from
    ``extra["eval_pairs"]`` (default 1024), ``extra["eval_per_class"]`` (16),
    ``extra["eval_loglik_per_class"]`` (2) and ``extra["eval_fashion_mnist"]`` (0), and
    ``extra["eval_common"]`` names a shape world whose test split scores every run alike (sweep
    ``eval: {common_dataset: shapeworld}``; metrics ``*_common``); a trunk saves
    branch checkpoints at ``extra["checkpoint_at"]`` (samples) and a branch starts
    from ``<run_dir>/../<branch_of>`` (or ``trunk_dir``) at ``branch_at``. Metrics go to
    ``metrics`` and their standard errors to ``metrics_se``.
    """
    spec = RunSpec.from_dict(spec) if isinstance(spec, dict) else spec
    run_dir = Path(run_dir)
    ex = spec.extra
    branch_of = None
    if spec.branch_of is not None:
        branch_of = Path(trunk_dir) if trunk_dir is not None else run_dir.parent / spec.branch_of
    out = train(spec.model, n_samples=spec.n_data, batch_size=spec.batch_size, lr=spec.lr,
                run_dir=run_dir, seed=spec.seed, data=_data_of(spec), schedule=spec.schedule,
                warmup_samples=spec.warmup, cooldown_frac=spec.cooldown_frac,
                min_lr_frac=spec.min_lr_frac, weight_decay=spec.weight_decay, beta1=spec.beta1,
                beta2=spec.beta2, grad_clip=spec.grad_clip,
                eval_pairs=int(ex.get("eval_pairs", 1024)),
                eval_per_class=int(ex.get("eval_per_class", 16)),
                eval_loglik_per_class=int(ex.get("eval_loglik_per_class", 2)),
                eval_fashion_mnist=int(ex.get("eval_fashion_mnist", 0)), eval_common=_common_of(spec),
                resume=resume,
                progress=progress, num_threads=num_threads, checkpoint_every_s=checkpoint_every_s,
                checkpoint_every_steps=checkpoint_every_steps,
                checkpoint_at_samples=tuple(ex.get(CHECKPOINT_KEY, ()) or ()),
                branch_of=branch_of, branch_at_samples=spec.branch_at, device=spec.device)
    m = out["metrics"]
    metrics = {k: float(v) for k, v in m.items() if not k.endswith("_se")}
    metrics_se = {k[:-3]: float(v) for k, v in m.items() if k.endswith("_se")}
    if out["train_loss"] is not None:
        metrics["train_loss"] = float(out["train_loss"])
    first = spec.procedure_spec.metrics[0]
    curve_key = first if all(first in c[1] for c in out["curve"]) else "val_contrastive_loss"
    return RunRecord(
        run_id=spec.run_id, spec=spec, status=out["status"], metrics=metrics,
        metrics_se=metrics_se, n_data_seen=out["samples_seen"],
        dataset_hash=out["provenance"]["data_manifest_hash"], n_params=out["n_params"],
        flops=out["flops"], curve=tuple((int(d), float(c[curve_key])) for d, c in out["curve"] if curve_key in c),
        wall_s=out["wall_s"], error=out["error"], provenance=out["provenance"])
