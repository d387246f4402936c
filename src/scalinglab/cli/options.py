"""Defaults that several command groups share (one definition, so that they agree)."""

from __future__ import annotations

import os

#: The results store a command uses when ``--store`` is not given.
DEFAULT_STORE = os.environ.get("SCALINGLAB_STORE", "scalinglab-store")
