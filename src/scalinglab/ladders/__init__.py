"""Model ladders as data: YAML files of rungs that share defaults (STYLE P6; open_clip style).

What to use when
----------------
* ``list_ladders()`` names what is available (the shipped ``gpt-tiny`` demo ladder and the
  larger ``gpt-small`` for full runs, plus any you added).
* ``get_ladder("gpt-tiny")`` returns a frozen :class:`Ladder` of one procedure; index it by rung
  name (``ladder["gpt-tiny-3"].model`` is a typed config, e.g. ``GPTConfig``, ready for
  ``RunSpec.model``) or iterate its rungs.
* ``get_rung("gpt-tiny-3")`` finds a rung by its name alone (``<ladder>-<index>``).
* ``add_ladder_path(path)`` registers your own YAML file, or every ``*.yaml`` in a folder.

Parameter counts come from the procedure's config (:mod:`scalinglab.procedures`); a rung that
states ``n_params`` must match it. Importing this package never imports torch.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, UnknownNameError, suggest
from ._load import Ladder, LadderDefaults, Rung, load_ladder

__all__ = ["Ladder", "LadderDefaults", "Rung", "add_ladder_path", "get_ladder", "get_rung", "list_ladders"]

_HERE = Path(__file__).resolve().parent
_PATHS: dict[str, Path] = {}        # ladder name -> YAML file
_CACHE: dict[str, Ladder] = {}      # ladder name -> loaded (validated) ladder


def _register_file(path: Path) -> str:
    lad = load_ladder(path)
    _PATHS[lad.name] = path
    _CACHE[lad.name] = lad
    return lad.name


def _scan_builtin() -> None:
    if not _PATHS:
        for p in sorted(_HERE.glob("*.yaml")):
            _PATHS.setdefault(p.stem, p)


def add_ladder_path(path: str | Path) -> list[str]:
    """Register a ladder YAML file, or every ``*.yaml``/``*.yml`` in a folder; return the names.

    A later file with an existing ladder name replaces the earlier one (as open_clip's
    ``add_model_config`` does).
    """
    _scan_builtin()
    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        if not files:
            raise ConfigError(f"no *.yaml ladder files in {str(path)!r}")
    elif path.is_file():
        files = [path]
    else:
        raise ConfigError(f"ladder path {str(path)!r} does not exist")
    return [_register_file(f) for f in files]


def list_ladders() -> list[str]:
    """Names of the known ladders, sorted."""
    _scan_builtin()
    return sorted(_PATHS)


def get_ladder(name: str) -> Ladder:
    """The ladder called ``name`` (frozen), loading and validating it on first use.

    >>> lad = get_ladder("gpt-tiny")
    >>> lad.names[0], lad["gpt-tiny-1"].n_params
    ('gpt-tiny-1', 24896)
    """
    _scan_builtin()
    if name not in _PATHS:
        raise UnknownNameError(f"unknown ladder {name!r}.{suggest(name, _PATHS)} "
                               f"Available: {', '.join(sorted(_PATHS))}")
    if name not in _CACHE:
        _CACHE[name] = load_ladder(_PATHS[name])
    return _CACHE[name]


def get_rung(name: str) -> Rung:
    """The rung called ``name`` in any known ladder (``"gpt-tiny-3"``)."""
    every: list[str] = []
    for lname in list_ladders():
        lad = get_ladder(lname)
        if name in lad:
            return lad[name]
        every += lad.names
    raise UnknownNameError(f"unknown rung {name!r}.{suggest(name, every)} Available: {', '.join(every)}")
