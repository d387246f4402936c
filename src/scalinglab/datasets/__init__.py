"""Public datasets shipped with scalinglab (provenance in ``README.md`` beside this file).

What to use when: :func:`load_chinchilla` for the Hoffmann et al. (2022) Figure 4 points as used by
the Besiroglu et al. (2024) replication; :func:`path` for the raw files.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["load_chinchilla", "path"]


def path(name: str) -> Path:
    """Filesystem path of a shipped data file (``"chinchilla_epoch_points.csv"``, ...)."""
    p = Path(str(resources.files(__package__).joinpath(name)))
    if not p.exists():
        from ..errors import UnknownNameError, suggest

        avail = sorted(x.name for x in p.parent.iterdir() if x.suffix in {".csv", ".json"})
        raise UnknownNameError(f"no shipped dataset {name!r}.{suggest(name, avail)} Available: {', '.join(avail)}")
    return p


def load_chinchilla(*, drop_highest_loss: int = 5):
    """The Chinchilla Figure-4 points (245 rows) as :class:`~scalinglab.laws.data.Runs`.

    ``drop_highest_loss=5`` applies the replication's rule (Besiroglu et al. 2024): keep rows with
    loss below the 5th-largest loss, 240 rows. D is derived as C / (6N).
    """
    from ..laws.data import load_runs

    runs = load_runs(path("chinchilla_epoch_points.csv"), n_params="Model Size",
                     flops="Training FLOP", target="loss", source_name="chinchilla_epoch_points.csv")
    if drop_highest_loss:
        cut = np.sort(runs.target)[-drop_highest_loss]
        runs = runs.subset(runs.target < cut)
    return runs
