"""Datasets: text datasets with manifests, recipes and their audits; image-text datasets by name.

What to use when
----------------
* :func:`get_dataset` (``"stdlib"``, ``"python-sci"``, ``"debian-text"`` or a name you built):
  a :class:`Dataset` -- JSONL shards plus a :class:`Manifest` whose ``hash`` identifies the
  documents (runs record it). Built-ins need no download; they are built on first use.
* :func:`register_dataset` to add your own text (a folder, JSONL, Parquet, a Hugging Face dataset
  saved to disk); :func:`list_datasets` for what exists.
* :func:`load_recipe` / :func:`run_recipe` to filter, deduplicate and mix datasets with a YAML
  recipe compiled to a datatrove pipeline; the result is a dataset with an :class:`Audit` (what
  each step removed and why). Needs ``pip install 'scalinglab[datasets]'``.
* Train on a dataset by name: ``RunSpec(dataset="debian-text")`` (:mod:`scalinglab.train.data`).
* Image-text procedures (CLIP, CoCa, MaMMUT) name a shape world (``"shapeworld"``,
  ``"shapeworld-partial"``, or one registered with :func:`register_world`) or a folder of WebDataset
  shards (:mod:`.imagetext`; :mod:`.shapeworld` is the generator, :mod:`.wds` the shard reader).
* :func:`load_chinchilla` for the Hoffmann et al. (2022) Figure 4 points as used by the
  Besiroglu et al. (2024) replication; :func:`path` for the files shipped with scalinglab
  (provenance in ``README.md`` beside this file).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import UnknownNameError, suggest
from ..laws.tables import load_runs
from .imagetext import World, get_world, list_worlds, register_world
from .manifest import Manifest, Shard
from .registry import Dataset, DatasetSpec, build_dataset, data_dir, get_dataset, list_datasets, register_dataset

__all__ = [
    "Audit",
    "Dataset",
    "DatasetSpec",
    "Manifest",
    "Recipe",
    "Shard",
    "World",
    "build_dataset",
    "data_dir",
    "get_dataset",
    "get_world",
    "list_datasets",
    "list_worlds",
    "load_chinchilla",
    "load_overtraining",
    "load_recipe",
    "path",
    "register_dataset",
    "register_world",
    "run_recipe",
]

_LAZY = {"Audit": ".audit", "Recipe": ".recipe", "load_recipe": ".recipe", "run_recipe": ".recipe"}


def __getattr__(name: str) -> Any:   # PEP 562: recipes import datatrove only when used
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def path(name: str) -> Path:
    """Filesystem path of a shipped data file (``"chinchilla_epoch_points.csv"``, ...)."""
    p = Path(str(resources.files(__package__).joinpath(name)))
    if not p.exists():

        avail = sorted(x.name for x in p.parent.iterdir() if x.suffix in {".csv", ".json"})
        raise UnknownNameError(f"no shipped dataset {name!r}.{suggest(name, avail)} Available: {', '.join(avail)}")
    return p


def load_chinchilla(*, drop_highest_loss: int = 5):
    """The Chinchilla Figure-4 points (245 rows) as :class:`~scalinglab.laws.runs.Runs`.

    ``drop_highest_loss=5`` applies the replication's rule (Besiroglu et al. 2024): keep rows with
    loss below the 5th-largest loss, 240 rows. D is derived as C / (6N).
    """

    runs = load_runs(path("chinchilla_epoch_points.csv"), n_params="Model Size",
                     flops="Training FLOP", target="loss", source_name="chinchilla_epoch_points.csv")
    return runs.drop_highest(drop_highest_loss)


OVERTRAINING_CSV = "overtraining_gadre2024.csv"


def load_overtraining(target: str = "loss_c4_val"):
    """The 104 runs of Gadre et al. 2024 ("Language models scale reliably with over-training and on
    downstream tasks"; 11M-6.9B parameters on C4, RedPajama and RefinedWeb, tokens per parameter
    M = 5 .. 640) as :class:`~scalinglab.laws.runs.Runs`.

    ``target`` is one of the table's loss columns (``loss_c4_val``, the paper's default "C4 eval",
    ``loss_paloma_*``, ...) or a downstream error (``err_avg17``, ``err_avg46``). N counts the
    embeddings (the paper's ``params``); groups: ``dataset`` (``c4_original``, ``rpj``,
    ``rw_original``), ``model``, ``tokens_per_param``. Provenance and licence (MIT): README.md
    beside the file; docs/fitting.md reproduces the paper's Figure 1 errors from it.
    """
    return load_runs(path(OVERTRAINING_CSV), n_params="n_params", n_tokens="n_tokens", flops="flops",
                     target=target, run_id="run_name", group_by=["dataset", "model", "tokens_per_param"],
                     source_name=OVERTRAINING_CSV)
