"""The decision log of a closed loop: ``<store>/loops/<name>/decisions.jsonl``.

Every decision is appended before its runs are submitted, a ``state`` event after every refit, a
``confirm`` event where a stop read off that refit is checked with more bootstrap refits, and a
``trained`` event closes each round; the file is rewritten atomically on every event, and one
process at a time holds the loop (a lock file beside the log).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._io import atomic_write, jsonable
from ..errors import StoreError

__all__ = ["LOG_NAME", "LOOP_DIR", "DecisionLog", "list_loops", "loop_dir", "read_log"]

LOOP_DIR = "loops"
LOG_NAME = "decisions.jsonl"


def loop_dir(store_root: Path, name: str) -> Path:
    return Path(store_root) / LOOP_DIR / name


def read_log(store: str | Path, name: str) -> list[dict[str, Any]]:
    """The events of a closed loop's decision log (``[]`` when it has none)."""
    p = loop_dir(Path(store), name) / LOG_NAME
    if not p.exists():
        return []
    out = []
    for i, line in enumerate(p.read_text().splitlines()):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                raise StoreError(f"{str(p)!r} line {i + 1} is not JSON; the log is written atomically, so "
                                 "it was edited by hand: restore it or start a loop with another --name") from None
    return out


def list_loops(store: str | Path) -> list[str]:
    """Names of the closed loops logged in a store."""
    root = Path(store) / LOOP_DIR
    return sorted(p.parent.name for p in root.glob(f"*/{LOG_NAME}")) if root.is_dir() else []


class DecisionLog:
    """Append-only JSONL, rewritten atomically on every event (a reader never sees half a line)."""

    def __init__(self, store_root: Path, name: str):
        self.dir = loop_dir(store_root, name)
        self.path = self.dir / LOG_NAME
        self.events = read_log(store_root, name)

    def add(self, event: Mapping[str, Any]) -> None:
        ev = {"event": event["event"], "time": round(time.time(), 3), **jsonable(dict(event))}
        self.events.append(ev)
        text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in self.events)
        try:
            atomic_write(self.path, text)
        except OSError as exc:
            raise StoreError(f"cannot write the loop log {str(self.path)!r}: {exc}") from None

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]

    def lock(self):
        return _flock(self.dir / ".lock")


class _flock:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise StoreError(f"another process is running the closed loop in {str(self.path.parent)!r}; "
                             "wait for it or use another --name") from None
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


