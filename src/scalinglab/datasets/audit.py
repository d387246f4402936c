"""The audit of a recipe: what each step removed and why, with counts and examples.

Counts are documents and tokens under the byte-level tokenizer (= UTF-8 bytes of the text, the
one tokenization that needs no tokenizer file); ``reasons`` split a step's removals by the rule
that fired (datatrove's reason names, e.g. ``gopher_short_doc``, ``dup_line_frac``). Examples
are the first removed documents of each step in output order, cut to :data:`EXAMPLE_CHARS`.

The audit is rendered as text (``as_text``), as HTML (``_repr_html_``) and as a JSON-able dict
(``to_dict``) for the report. It describes any sample stream: image-text steps
(:mod:`.imagefilters`) count samples as documents and caption bytes as tokens, record removals by
planted noise kind in ``removed_by_source``, and put their precision and recall against the planted
noise in ``info`` (shown by :meth:`StepAudit.quality_line`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from .._io import write_json

__all__ = ["EXAMPLE_CHARS", "Audit", "StepAudit"]

EXAMPLE_CHARS = 300
N_EXAMPLES = 3


@dataclass(frozen=True)
class StepAudit:
    """One step of a recipe: documents and tokens in and out, removals by reason and by source."""

    index: int                                  # position in the recipe's steps (the mix is last)
    kind: str                                   # "gopher_quality", "minhash_dedup", "mix", ...
    options: Mapping[str, Any]                  # the step's options as written in the recipe
    docs_in: int
    docs_out: int
    tokens_in: int
    tokens_out: int
    reasons: Mapping[str, int] = field(default_factory=dict)             # reason -> documents removed
    removed_by_source: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # source -> counts
    examples: tuple[Mapping[str, Any], ...] = ()                         # {id, source, reason, text}
    info: Mapping[str, Any] = field(default_factory=dict)                # e.g. the classifier's accuracy

    @property
    def docs_removed(self) -> int:
        return self.docs_in - self.docs_out

    @property
    def tokens_removed(self) -> int:
        return self.tokens_in - self.tokens_out

    def quality_line(self) -> str:
        """Precision and recall against planted noise, and removed shares by kind ("" when the step
        ran on data without noise labels)."""
        i = self.info
        if "recall" not in i:
            return ""

        def f(x: Any) -> str:
            return "-" if x is None else f"{x:.2f}"

        shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in i.get("removed_share_by_kind", {}).items())
        return (f"targets {', '.join(i.get('targets', []))}: precision {f(i.get('precision'))}, recall "
                f"{f(i.get('recall'))}; removed share by kind: {shares}")

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "options": dict(self.options),
                "docs_in": self.docs_in, "docs_out": self.docs_out, "docs_removed": self.docs_removed,
                "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
                "tokens_removed": self.tokens_removed, "reasons": dict(self.reasons),
                "removed_by_source": {k: dict(v) for k, v in self.removed_by_source.items()},
                "examples": [dict(e) for e in self.examples], "info": dict(self.info)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StepAudit:
        return cls(index=d["index"], kind=d["kind"], options=d.get("options", {}), docs_in=d["docs_in"],
                   docs_out=d["docs_out"], tokens_in=d["tokens_in"], tokens_out=d["tokens_out"],
                   reasons=d.get("reasons", {}), removed_by_source=d.get("removed_by_source", {}),
                   examples=tuple(d.get("examples", ())), info=d.get("info", {}))


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


@dataclass(frozen=True)
class Audit:
    """What a recipe did, step by step (see the module docstring for the units)."""

    recipe: str                                         # the recipe's (= output dataset's) name
    inputs: Mapping[str, Mapping[str, Any]]             # input dataset -> {hash, documents, tokens}
    steps: tuple[StepAudit, ...]
    tokenizer: str = "byte"

    @property
    def docs_in(self) -> int:
        return sum(int(v["documents"]) for v in self.inputs.values())

    @property
    def tokens_in(self) -> int:
        return sum(int(v["tokens"]) for v in self.inputs.values())

    @property
    def docs_out(self) -> int:
        return self.steps[-1].docs_out if self.steps else self.docs_in

    @property
    def tokens_out(self) -> int:
        return self.steps[-1].tokens_out if self.steps else self.tokens_in

    def to_dict(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "tokenizer": self.tokenizer,
                "inputs": {k: dict(v) for k, v in self.inputs.items()},
                "docs_in": self.docs_in, "tokens_in": self.tokens_in,
                "docs_out": self.docs_out, "tokens_out": self.tokens_out,
                "steps": [s.to_dict() for s in self.steps]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Audit:
        return cls(recipe=d["recipe"], inputs=d["inputs"],
                   steps=tuple(StepAudit.from_dict(s) for s in d["steps"]), tokenizer=d.get("tokenizer", "byte"))

    def save(self, path: str | Path) -> Path:
        write_json(Path(path), self.to_dict())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Audit:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def as_text(self, *, examples: bool = True) -> str:
        lines = [f"Audit of recipe {self.recipe!r} (tokens: {self.tokenizer}-level)",
                 "inputs: " + ", ".join(f"{k} {int(v['documents']):,} docs / {int(v['tokens']):,} tokens"
                                        for k, v in self.inputs.items()),
                 f"{'#':>2}  {'step':<18}{'docs in':>10}{'removed':>10}{'%':>7}{'tokens in':>13}"
                 f"{'removed':>12}{'%':>7}  reasons"]
        for s in self.steps:
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(s.reasons.items(), key=lambda kv: -kv[1]))
            lines.append(f"{s.index:>2}  {s.kind:<18}{s.docs_in:>10,}{s.docs_removed:>10,}"
                         f"{_pct(s.docs_removed, s.docs_in):>7}{s.tokens_in:>13,}{s.tokens_removed:>12,}"
                         f"{_pct(s.tokens_removed, s.tokens_in):>7}  {reasons}")
        for s in self.steps:
            if s.quality_line():
                lines.append(f"  [{s.index} {s.kind}] {s.quality_line()}")
        lines.append(f"kept {self.docs_out:,} of {self.docs_in:,} documents ({_pct(self.docs_out, self.docs_in)}), "
                     f"{self.tokens_out:,} of {self.tokens_in:,} tokens ({_pct(self.tokens_out, self.tokens_in)})")
        if examples:
            for s in self.steps:
                for e in s.examples:
                    text = " ".join(str(e.get("text", "")).split())[:120]
                    lines.append(f"  [{s.index} {s.kind}] {e.get('reason')}: {e.get('id')}: {text!r}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        head = ("<tr><th>#</th><th>step</th><th>docs in</th><th>docs removed</th><th>tokens in</th>"
                "<th>tokens removed</th><th>reasons</th><th>examples</th></tr>")
        rows = []
        for s in self.steps:
            reasons = "<br>".join(f"{escape(k)}: {v:,}" for k, v in sorted(s.reasons.items(), key=lambda kv: -kv[1]))
            ex = "<br>".join(f"<code>{escape(str(e.get('id')))}</code> ({escape(str(e.get('reason')))}): "
                             f"{escape(' '.join(str(e.get('text', '')).split())[:160])}" for e in s.examples)
            q = f"<br><i>{escape(s.quality_line())}</i>" if s.quality_line() else ""
            rows.append(f"<tr><td>{s.index}</td><td>{escape(s.kind)}</td><td>{s.docs_in:,}</td>"
                        f"<td>{s.docs_removed:,} ({_pct(s.docs_removed, s.docs_in)})</td><td>{s.tokens_in:,}</td>"
                        f"<td>{s.tokens_removed:,} ({_pct(s.tokens_removed, s.tokens_in)})</td>"
                        f"<td>{reasons}{q}</td><td>{ex}</td></tr>")
        return (f"<table class='audit'><caption>Recipe {escape(self.recipe)}: kept {self.docs_out:,} of "
                f"{self.docs_in:,} documents, {self.tokens_out:,} of {self.tokens_in:,} {escape(self.tokenizer)} "
                f"tokens</caption>{head}{''.join(rows)}</table>")
