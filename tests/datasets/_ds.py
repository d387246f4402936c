"""Helpers shared by the dataset tests."""

from __future__ import annotations


def write_docs(folder, docs):
    folder.mkdir(parents=True, exist_ok=True)
    for i, d in enumerate(docs):
        (folder / f"doc_{i:03d}.txt").write_text(d, encoding="utf-8")
    return folder
