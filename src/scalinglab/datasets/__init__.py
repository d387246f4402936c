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
