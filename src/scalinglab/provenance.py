"""Where a result came from: the one provenance record every artifact carries.

:func:`environment` is the record: package versions (read from installed metadata, so asking for
torch's version never imports torch), Python, platform, host and CPU, the git commit and whether
the work tree was dirty, the command line, and the UTC time. Trainers add what only they know
(threads, device, data hash); the report adds what it reads (store, sweep, data fingerprint);
fit artifacts keep just :func:`versions`. One shape everywhere, so records can be compared.

Bottom layer: imports nothing from scalinglab but its version.
"""

from __future__ import annotations

import datetime as _dt
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from ._version import __version__

__all__ = ["DEFAULT_PACKAGES", "environment", "git_state", "versions"]

#: Packages whose versions every full record lists when they are installed.
DEFAULT_PACKAGES = ("numpy", "scipy", "torch", "matplotlib", "pandas", "pyarrow", "datatrove",
                    "submitit", "ray", "transformers")


def versions(packages: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str]:
    """``{"scalinglab": ..., "python": ..., <package>: <version>}`` for the installed ``packages``."""
    out = {"scalinglab": __version__, "python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


@lru_cache(maxsize=1)
def git_state() -> dict[str, Any]:
    """``{"git_commit": sha, "git_dirty": bool}`` of the checkout scalinglab runs from ({} outside git)."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return {}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
        return {"git_commit": sha.stdout.strip(), "git_dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return {}


@lru_cache(maxsize=1)
def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(packages: Iterable[str] = DEFAULT_PACKAGES, **extra: Any) -> dict[str, Any]:
    """The provenance record: versions, machine, code state, command and time, plus ``extra``.

    >>> rec = environment(("numpy",), seed=3)
    >>> sorted(k for k in rec if k in ("versions", "hostname", "time", "seed"))
    ['hostname', 'seed', 'time', 'versions']
    """
    rec: dict[str, Any] = {
        "versions": versions(packages),
        "platform": platform.platform(terse=True),
        "hostname": socket.gethostname(),
        "cpu": _cpu_name(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "",
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **git_state(),
    }
    rec.update(extra)
    return rec
