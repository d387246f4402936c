"""Image-text datasets by name: shape worlds and folders of WebDataset shards.

A sweep or a :class:`~scalinglab.store.schema.RunSpec` of an image-text procedure (``clip``,
``coca``, ``mammut``) names its data in ``dataset``, exactly as a language model names its text:

=====================  ===============================================================================
``dataset``            data
=====================  ===============================================================================
``shapeworld``         the shape world with its default settings (:class:`~.shapeworld.WorldConfig`)
``shapeworld-partial`` the same world with partial captions: a group's colour goes unnamed with
                       probability 0.4, as alt-texts leave attributes out (harder at every demo budget;
                       docs/language-vision.md, "How the world's difficulty was chosen")
a name you registered  :func:`register_world` (any :class:`WorldConfig`), kept in :func:`data_dir`
a built pool           an image-text dataset in :func:`data_dir` (a noisy pool, :mod:`.pool`, or an
                       image-text recipe's output): WebDataset shards with ``image-text.json``
a path                 a folder of WebDataset ``.tar`` shards of image-caption pairs, or one ``.tar``
                       (:func:`scalinglab.datasets.wds.load_shards`)
=====================  ===============================================================================

The name alone fixes the world's settings; they are part of the data's manifest hash, which every
run records. A world is generated on the fly (nothing is built or downloaded), so a registration
is one small ``world.json`` in ``<data_dir>/<name>/``: every process that shares the data folder
(local workers, Slurm jobs, Ray tasks) sees it. :func:`check_image_text` is what the sweep planner
calls to refuse an unknown name or an empty shard folder before anything trains;
:func:`open_image_text` is what the trainer calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write
from .._registry import Registry
from ..errors import ConfigError, DataError, UnknownNameError, suggest
from . import registry  # a module reference: registry lists the worlds, and worlds live in its folder
from .shapeworld import SPECIALS, WorldConfig, manifest_hash
from .wds import POOL_MANIFEST, load_dataset_folder, load_shards

__all__ = [
    "WORLDS",
    "World",
    "check_image_text",
    "get_world",
    "is_shard_dataset",
    "is_world",
    "list_worlds",
    "open_image_text",
    "register_world",
]

WORLD_FILE = "world.json"


@dataclass(frozen=True)
class World:
    """A named shape world: its settings and what it is for."""

    name: str
    config: WorldConfig
    description: str = ""

    @property
    def hash(self) -> str:
        """The manifest hash of the world's data (:func:`~.shapeworld.manifest_hash`)."""
        return manifest_hash(self.config)


WORLDS: Registry[World] = Registry("image-text dataset")
WORLDS.register("shapeworld", World(
    "shapeworld", WorldConfig(),
    "procedural 32x32 scenes of 1-4 objects with compositional captions, Zipf-distributed shapes and "
    "colours, clutter, occlusion and 8 held-out (shape, colour) pairs; generated on the fly"))
WORLDS.register("shapeworld-partial", World(
    "shapeworld-partial", WorldConfig(omit_colour=0.4),
    "the shape world with partial captions: a group's colour goes unnamed with probability 0.4"))


def _root(root: str | Path | None) -> Path:

    return Path(root) if root is not None else registry.data_dir()


def _registered(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / WORLD_FILE).is_file())


def is_shard_dataset(name: str, *, root: str | Path | None = None) -> bool:
    """Whether ``name`` is a built image-text dataset (shards + ``image-text.json``) under ``root``."""
    return (isinstance(name, str) and bool(name) and "/" not in name and not name.startswith(".")
            and (_root(root) / name / POOL_MANIFEST).is_file())


def list_worlds(*, root: str | Path | None = None) -> list[str]:
    """Names of the built-in shape worlds and of those registered under ``root``."""
    return sorted(set(WORLDS.names()) | set(_registered(_root(root))))


def is_world(name: str, *, root: str | Path | None = None) -> bool:
    """Whether ``name`` is a shape world (built-in or registered), not a text dataset or a path."""
    return isinstance(name, str) and (name in WORLDS or name in _registered(_root(root)))


def get_world(name: str, *, root: str | Path | None = None) -> World:
    """The shape world called ``name``.

    Raises
    ------
    UnknownNameError
        No built-in or registered world has that name (close names are suggested).
    DataError
        The registration file is damaged (its path and the fix are named).
    """
    if name in WORLDS:
        return WORLDS.get(name)
    path = _root(root) / str(name) / WORLD_FILE
    if path.is_file():
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return World(name=str(name), config=WorldConfig.from_dict(d["world"]),
                         description=str(d.get("description", "")))
        except (OSError, ValueError, KeyError, TypeError, ConfigError) as exc:
            raise DataError(f"{str(path)!r} is not a world registration ({exc}); register the world "
                            "again with scalinglab.datasets.register_world(..., overwrite=True)") from None
    known = list_worlds(root=root)
    raise UnknownNameError(f"unknown image-text dataset {name!r}.{suggest(str(name), known)} Shape worlds: "
                           f"{', '.join(known)}; or give a folder of WebDataset .tar shards, or register a "
                           "world with scalinglab.datasets.register_world")


def register_world(name: str, world: WorldConfig, *, description: str = "",
                   root: str | Path | None = None, overwrite: bool = False) -> World:
    """Register ``world`` under ``name`` so that sweeps can say ``dataset: <name>``.

    Writes ``<root>/<name>/world.json`` (default root :func:`~.registry.data_dir`), atomically.

    Raises
    ------
    ConfigError
        A bad name, a built-in world's or a text dataset's name, or ``world`` is not a
        :class:`WorldConfig`.
    DataError
        The name is registered already and ``overwrite`` is False.
    """

    registry.check_name(name)
    if not isinstance(world, WorldConfig):
        raise ConfigError(f"register_world needs a WorldConfig; got {type(world).__name__}")
    if name in WORLDS or name in registry.BUILTIN:
        raise ConfigError(f"{name!r} is a built-in dataset; register your world under another name")
    folder = _root(root) / name
    if (folder / "manifest.json").exists():
        raise ConfigError(f"{name!r} is a text dataset at {str(folder)!r}; choose another name")
    path = folder / WORLD_FILE
    if path.exists() and not overwrite:
        raise DataError(f"a world named {name!r} is registered already ({str(path)!r}); pass "
                        "overwrite=True to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    entry = World(name=name, config=world, description=description)
    atomic_write(path, json.dumps({"name": name, "world": world.to_dict(), "description": description,
                                   "manifest_hash": entry.hash}, indent=1, sort_keys=True) + "\n")
    return entry


def _is_path(dataset: str) -> bool:
    return "/" in dataset or dataset.endswith(".tar") or Path(dataset).expanduser().exists()


def _check_tar(path: Path) -> None:
    """Read every member header of a tar file (not the images): a truncated or foreign file fails."""
    import tarfile

    try:
        with tarfile.open(path) as tf:
            tf.getmembers()
    except (tarfile.TarError, EOFError, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{str(path)!r} is not a readable tar file ({msg}); re-create the shard or move "
                        "it out of the folder") from None


def check_image_text(dataset: str, *, root: str | Path | None = None) -> None:
    """Refuse, at planning time, a dataset an image-text trainer cannot open.

    A world name must be known; a path must be a ``.tar`` file or a folder holding at least one,
    and every shard must be a readable tar file (member headers are read, not the images: an image
    that does not decode or a caption too long for the context is found by the trainer, which
    fails that run with a one-line :class:`~scalinglab.errors.DataError`).

    Raises
    ------
    UnknownNameError
        An unknown name (text datasets are named as such).
    DataError
        A path that does not exist, a folder without ``.tar`` shards, or a shard that is not a
        readable tar file (each named with the fix).
    """
    if not isinstance(dataset, str) or not dataset:
        raise ConfigError(f"an image-text dataset is a world name or a shard folder; got {dataset!r}")
    if is_world(dataset, root=root):
        return
    if is_shard_dataset(dataset, root=root):
        dataset = str(_root(root) / dataset / "shards")
    if _is_path(dataset):
        p = Path(dataset).expanduser()
        shards = [p] if p.is_file() and p.suffix == ".tar" else \
            sorted(q for q in p.iterdir() if q.suffix == ".tar") if p.is_dir() else []
        if shards:
            for shard in shards:
                _check_tar(shard)
            return
        if not p.exists():
            raise DataError(f"shard path {dataset!r} does not exist; give a folder of WebDataset .tar "
                            "shards (key.jpg/png + key.txt per sample) or a shape world such as "
                            "'shapeworld'")
        raise DataError(f"no .tar shards in {dataset!r}; write WebDataset shards there (key.jpg/png + "
                        "key.txt per sample) or name a shape world such as 'shapeworld'")

    if dataset in registry.list_datasets(root=root):
        raise ConfigError(f"dataset {dataset!r} is a text dataset; image-text procedures (clip, coca, "
                          f"mammut) train on a shape world ({', '.join(list_worlds(root=root))}) or a "
                          "folder of WebDataset shards")
    get_world(dataset, root=root)          # raises UnknownNameError with suggestions


def open_image_text(dataset: str, *, image_size: int, context_length: int | None = None,
                    vocab_size: int | None = None, root: str | Path | None = None) -> Any:
    """The data an image-text trainer takes: a :class:`WorldConfig` or a :class:`~.wds.ShardDataset`.

    A world's ``image_size`` must equal the model's (worlds are rendered at their own size).
    Shards are resized to ``image_size``; their captions must fit ``context_length`` tokens, and
    their vocabulary is the ``vocab_size - 4`` most frequent caption words (rarer words become
    ``<unk>``), so a ladder's models take any shard folder.
    """
    check_image_text(dataset, root=root)
    if is_world(dataset, root=root):
        world = get_world(dataset, root=root).config
        if world.image_size != image_size:
            raise ConfigError(f"dataset {dataset!r} renders {world.image_size}x{world.image_size} images "
                              f"but the model takes {image_size}x{image_size}; set the model's "
                              f"image_size to {world.image_size} or register a world of that size")
        return world

    kw = {} if vocab_size is None else {"max_words": max(1, int(vocab_size) - len(SPECIALS))}
    if is_shard_dataset(dataset, root=root):
        return load_dataset_folder(_root(root) / dataset, image_size=image_size, context_length=context_length, **kw)
    return load_shards(Path(dataset).expanduser(), image_size=image_size, context_length=context_length, **kw)
