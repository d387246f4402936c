"""Answer extraction for AIW responses, in three documented modes.

What to use when
----------------
``"strict"`` (default for chat prompts)
    For new evaluations. Looks only at the text after the end of a reasoning block
    (``</think>`` and similar); takes the *last* answer marker: an ``Answer:`` anchor (``### Answer:``,
    ``**Final answer:**``, ``the answer is``) whose line holds a number, or a ``\\boxed{N}``;
    accepts numerals and number words (``seven``); compares numerically (``"003"`` equals 3). No
    fallback guessing: a response without a marker is ``"unparsed"`` and counts as incorrect,
    and the unparsed rate is reported beside the correct-response rate.
``"upstream"``
    Parity with the published numbers of Nezhurina et al. (2024, arXiv:2406.02061; code
    LAION-AI/AIW, ``data_collection/examples/example_litellm.py``): newlines are replaced by spaces,
    the text is lower-cased, the first match of ``answer:.*?(\\d+)`` is the answer, else the first
    ``has.*?(\\d+)``; correctness is *string* equality with the right answer (so ``"003"`` is wrong
    and a float right answer such as ``3.0`` never matches, exactly as upstream). Use it only to
    reproduce or compare with the paper; it reads "Alice has 3 brothers" as the answer 3 when the
    model gives no answer line.
``"completion"`` (default for the base-model ``completion`` prompt type)
    The continuation after ``"### Answer: "``: cut at the next ``###`` (a new ``### Problem:``
    block), then the first number (numeral or word).

Every mode returns an :class:`Extraction` with ``status`` ``"parsed"`` or ``"unparsed"``;
:func:`score` adds correctness. Scorer versions (:data:`SCORER_VERSIONS`) are stored with every
scored response and bumped whenever a rule changes.

>>> extract("Let me think... ### Answer: 7").answer
7
>>> extract("The brother has 6 sisters.").status
'unparsed'
>>> extract("The brother has 6 sisters.", mode="upstream").answer
6
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError, suggest

__all__ = ["MODES", "SCORER_VERSIONS", "Extraction", "Score", "extract", "resolve_mode", "score"]

SCORER_VERSIONS = {"strict": 1, "upstream": 1, "completion": 1}
MODES = tuple(SCORER_VERSIONS)

# End-of-reasoning markers of common reasoning models (DeepSeek-R1/Qwen3 `</think>`, others).
_REASONING_END = re.compile(r"</think>|</thinking>|</reasoning>|<\|end_of_thought\|>|◁/think▷",
                            re.IGNORECASE)
_REASONING_START = re.compile(r"<think>|<thinking>|<reasoning>|<\|begin_of_thought\|>|◁think▷",
                              re.IGNORECASE)
# "### Answer:", "**Final Answer:**", "Answer =", "the answer is", "final answer is"
_ANCHOR = re.compile(r"answer\s*(?:\*\*|__)?\s*(?:[:=：]|is\b)(?:\s*(?:\*\*|__))?", re.IGNORECASE)
_BOXED = re.compile(r"\\boxed\s*\{\s*([^{}]*?)\s*\}")
_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_NUMERAL = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?!\d)")
_NUMWORD = re.compile(
    r"\b((?:" + "|".join(_TENS) + r")(?:[- ](?:" + "|".join(list(_WORDS)[1:10]) + r"))?"
    r"|" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE)


@dataclass(frozen=True)
class Extraction:
    """What was read from one response."""

    answer: int | float | None   # the parsed number (int when integral); None when unparsed
    raw: str | None              # the matched text ("003", "seven", the upstream digit string)
    status: str                  # "parsed" or "unparsed"
    method: str                  # "anchor", "boxed", "first_number", "upstream_answer", "upstream_has", "none"
    mode: str

    @property
    def parsed(self) -> bool:
        return self.status == "parsed"


@dataclass(frozen=True)
class Score:
    """An extraction plus its correctness against the right answer."""

    extraction: Extraction
    correct: bool
    scorer: str                  # "<mode>-v<version>", stored with every response

    @property
    def parsed_answer(self) -> int | float | str | None:
        e = self.extraction
        return e.raw if e.mode == "upstream" else e.answer

    @property
    def parse_status(self) -> str:
        return self.extraction.status


def resolve_mode(mode: str, *, style: str = "chat") -> str:
    """``"auto"`` -> ``"completion"`` for completion-style prompts, else ``"strict"``."""
    if mode == "auto":
        return "completion" if style == "completion" else "strict"
    if mode not in SCORER_VERSIONS:
        raise ConfigError(f"unknown extraction mode {mode!r}.{suggest(mode, MODES)} "
                          f"Choose one of: auto, {', '.join(MODES)}")
    return mode


def _to_number(token: str) -> int | float | None:
    t = token.strip().lower()
    if t and t[0].isdigit():
        v = float(t)
        return int(v) if v.is_integer() else v
    t = t.replace("-", " ")
    parts = t.split()
    if len(parts) == 1:
        return _WORDS.get(parts[0], _TENS.get(parts[0]))
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in _WORDS:
        return _TENS[parts[0]] + _WORDS[parts[1]]
    return None


def _first_number(segment: str) -> tuple[int | float, str] | None:
    """The first numeral of ``segment``, else its first number word ("seven", "twenty-one").

    Numerals win over words so that "One brother has 7 sisters" reads 7, not 1.
    """
    m = _NUMERAL.search(segment) or _NUMWORD.search(segment)
    if not m:
        return None
    v = _to_number(m.group(1))
    return None if v is None else (v, m.group(1))


def _answer_line(text: str, start: int) -> str:
    """The text after an anchor up to the end of its first non-empty line."""
    rest = text[start:]
    rest = rest.lstrip(" \t*_`$:>-")
    if rest.startswith("\n"):  # "### Answer:\n7"
        rest = rest.lstrip()
    return rest.split("\n", 1)[0]


def _strict(text: str) -> Extraction:
    ends = list(_REASONING_END.finditer(text))
    if ends:
        text = text[ends[-1].end():]
    elif _REASONING_START.search(text):
        # reasoning opened but never closed: the response was cut before any answer
        return Extraction(None, None, "unparsed", "none", "strict")
    markers: list[tuple[int, str, tuple[int | float, str] | None]] = []
    for m in _ANCHOR.finditer(text):
        line = _answer_line(text, m.end())
        boxed = _BOXED.search(line)
        if boxed:
            got = _first_number(boxed.group(1))
        else:  # "### Answer: 6 + 1 = 7" -> the number after the last "="
            got = _first_number(line.rsplit("=", 1)[1]) if "=" in line else None
            got = got or _first_number(line)
        markers.append((m.start(), "anchor", got))
    for m in _BOXED.finditer(text):
        if any(pos <= m.start() and kind == "anchor" and got is not None
               and m.start() - pos < 200 and "\n" not in text[pos:m.start()]
               for pos, kind, got in markers):
            continue  # "### Answer: \boxed{7}" is one marker, already read by the anchor
        markers.append((m.start(), "boxed", _first_number(m.group(1))))
    if not markers:
        return Extraction(None, None, "unparsed", "none", "strict")
    _, method, got = max(markers, key=lambda t: t[0])
    if got is None:
        return Extraction(None, None, "unparsed", method, "strict")
    return Extraction(got[0], got[1], "parsed", method, "strict")


def _upstream(text: str) -> Extraction:
    # LAION-AI/AIW example_litellm.py: newlines -> spaces, lower-case, 'answer:.*?(\d+)' then 'has.*?(\d+)'
    t = text.replace("\n", " ").lower()
    for pattern, method in ((r"answer:.*?(\d+)", "upstream_answer"), (r"has.*?(\d+)", "upstream_has")):
        found = re.findall(pattern, t)
        if found:
            raw = found[0]
            return Extraction(int(raw), raw, "parsed", method, "upstream")
    return Extraction(None, None, "unparsed", "none", "upstream")


def _strip_echo(text: str, prompt: str | None) -> str:
    """Drop a leading copy of the prompt (HF pipelines return prompt + continuation; upstream
    files store it with newlines turned into spaces)."""
    if not prompt:
        return text
    words = prompt.split()
    if not words:
        return text
    m = re.match(r"\s*" + r"\s+".join(map(re.escape, words)), text)
    return text[m.end():] if m else text


def _completion(text: str, prompt: str | None = None) -> Extraction:
    head = _strip_echo(text, prompt).split("###", 1)[0]
    got = _first_number(head)
    if got is None:
        return Extraction(None, None, "unparsed", "none", "completion")
    return Extraction(got[0], got[1], "parsed", "first_number", "completion")


def extract(text: str | None, *, mode: str = "strict", style: str = "chat",
            prompt: str | None = None) -> Extraction:
    """Read the answer from one response (see the module docstring for the modes).

    ``prompt`` (completion mode only): a response that starts with a copy of the prompt, as
    base-model pipelines return, is read after that copy.
    """
    mode = resolve_mode(mode, style=style)
    if not text:
        return Extraction(None, None, "unparsed", "none", mode)
    if mode == "upstream":
        return _upstream(text)
    if mode == "completion":
        return _completion(text, prompt)
    return _strict(text)


def score(text: str | None, right_answer: int | float | str, *, mode: str = "strict",
          style: str = "chat", prompt: str | None = None) -> Score:
    """Extract and compare with ``right_answer``.

    Strict and completion modes compare numerically (``"003"`` == 3 == ``"3.0"``); upstream mode
    compares the digit string with ``str(right_answer)`` as the paper's code did.
    """
    mode = resolve_mode(mode, style=style)
    e = extract(text, mode=mode, prompt=prompt)
    if not e.parsed:
        correct = False
    elif mode == "upstream":
        correct = e.raw == (right_answer if isinstance(right_answer, str) else str(right_answer))
    else:
        try:
            correct = float(e.answer) == float(right_answer)
        except (TypeError, ValueError):
            correct = False
    return Score(e, bool(correct), f"{mode}-v{SCORER_VERSIONS[mode]}")
