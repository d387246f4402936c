"""AIW task families as data: YAML templates, variations, answer formulas and prompt types.

A *family* (one YAML file in ``tasks/aiw/``) is one problem structure, e.g. the original
"Alice has N brothers and she also has M sisters. How many sisters does Alice's brother have?"
(Nezhurina et al. 2024, arXiv:2406.02061, Sec. 2). It holds:

* ``templates``: named problem texts with ``{placeholders}``; ``question`` is appended;
* ``derived``: wording computed from the variables (``count(N, 'brother')`` -> ``"1 brother"``);
* ``answer``: a formula over the variables (``M + 1``), evaluated by a safe expression evaluator
  (:mod:`scalinglab.evals._expr`); answers are never listed by hand;
* ``variations``: the numbers and clause order of each variation, and the upstream prompt id of
  each (variation, prompt type) pair that reproduces a prompt of LAION-AI/AIW ``prompts.json``;
* ``version``: bumped whenever a rendered prompt or the answer changes (results record it).

A *prompt type* (``prompt_types.yaml``) is the instruction appended after the problem (STANDARD,
THINKING, THINKING v2, RESTRICTED, format-only, plain) or the base-model completion form
``"### Problem: ...\\n### Answer: "``.

Users add families without code: drop a YAML file in a directory and call
:func:`add_task_path` (or pass ``--tasks-dir`` on the command line). ``include: other.yaml``
inherits every key of another family file and overrides what is given (as in lm-eval task YAMLs).

>>> p = render("aiw", variations=["1"], prompt_types=["standard"])[0]
>>> p.prompt_id, p.right_answer, p.upstream_id
('aiw/1/standard', 7, 55)
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import load_mapping
from ..errors import ConfigError, UnknownNameError, suggest
from . import _expr

__all__ = [
    "Family",
    "Prompt",
    "PromptType",
    "Variation",
    "add_task_path",
    "get_family",
    "get_prompt_type",
    "list_families",
    "list_prompt_types",
    "render",
    "render_all",
]

TASK_DIR = Path(__file__).resolve().parent / "tasks" / "aiw"
PROMPT_TYPES_FILE = "prompt_types.yaml"

_FAMILY_KEYS = {"family", "version", "title", "kind", "controls", "citation", "description",
                "templates", "question", "derived", "answer", "prompt_types", "variations",
                "include", "default_template"}
_VARIATION_KEYS = {"vars", "template", "text", "upstream", "note"}
_PTYPE_KEYS = {"template", "description", "style", "stop"}


@dataclass(frozen=True)
class PromptType:
    """How a problem is wrapped: the instruction after it, or the base-model completion form."""

    name: str
    template: str                    # contains "{problem}"
    description: str = ""
    style: str = "chat"              # "chat" (a user message) or "completion" (raw text continuation)
    stop: tuple[str, ...] = ()       # stop sequences sent to the model client (completion style)
    version: int = 1                 # version of the prompt-type file


@dataclass(frozen=True)
class Variation:
    """One variation of a family: its variable values, clause order and upstream ids."""

    name: str
    variables: dict[str, Any]
    template: str | None = None      # a key of Family.templates
    text: str | None = None          # literal template text (overrides `template`; upstream quirks)
    upstream: dict[str, int] = field(default_factory=dict)  # prompt type -> LAION-AI/AIW prompt id
    note: str = ""


@dataclass(frozen=True)
class Prompt:
    """One rendered prompt: what is sent to the model and what the right answer is."""

    prompt_id: str                   # "<family>/<variation>/<prompt type>", e.g. "aiw/1/standard"
    family: str
    family_version: int
    variation: str
    prompt_type: str
    prompt_type_version: int
    text: str
    right_answer: int
    style: str                       # "chat" or "completion"
    stop: tuple[str, ...] = ()
    upstream_id: int | None = None   # LAION-AI/AIW prompts.json id with exactly this text
    variables: dict[str, Any] = field(default_factory=dict)
    kind: str = "problem"            # "problem" or "control"

    @property
    def sha(self) -> str:
        """First 12 hex digits of the SHA-256 of the prompt text (stored with every response)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:12]

    @property
    def task_version(self) -> str:
        """``"<family version>.<prompt-type version>"``: changes whenever the text may change."""
        return f"{self.family_version}.{self.prompt_type_version}"

    def to_dict(self) -> dict[str, Any]:
        return {"prompt_id": self.prompt_id, "family": self.family, "variation": self.variation,
                "prompt_type": self.prompt_type, "task_version": self.task_version,
                "text": self.text, "right_answer": self.right_answer, "style": self.style,
                "stop": list(self.stop), "upstream_id": self.upstream_id, "kind": self.kind,
                "variables": dict(self.variables), "prompt_sha": self.sha}


@dataclass(frozen=True)
class Family:
    """A problem structure with its variations (loaded from one YAML file)."""

    name: str
    version: int
    title: str
    templates: dict[str, str]
    question: str
    derived: dict[str, str]
    answer: str
    variations: tuple[Variation, ...]
    prompt_types: tuple[str, ...]
    kind: str = "problem"            # "problem", or "control" for AIW Light-style controls
    controls: tuple[str, ...] = ()   # names of the control families this family is compared with
    citation: str = ""
    description: str = ""
    source: str = ""                 # file it was loaded from

    def variation(self, name: str | int) -> Variation:
        name = str(name)
        for v in self.variations:
            if v.name == name:
                return v
        avail = [v.name for v in self.variations]
        raise UnknownNameError(f"family {self.name!r} has no variation {name!r}."
                               f"{suggest(name, avail)} Available: {', '.join(avail)}")

    def values(self, variation: Variation) -> dict[str, Any]:
        """Variables of a variation plus the derived wording, in dependency order."""
        vals = dict(variation.variables)
        for key, formula in self.derived.items():
            if key in variation.variables:  # a variation may override derived wording
                continue
            vals[key] = _expr.evaluate(formula, vals, where=f"{self.name} derived {key!r}")
        return vals

    def answer_for(self, variation: Variation | str | int) -> int:
        """The right answer of a variation, computed from the ``answer`` formula."""
        v = variation if isinstance(variation, Variation) else self.variation(variation)
        value = _expr.evaluate(self.answer, self.values(v),
                               where=f"{self.name} variation {v.name} answer")
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{self.name}: answer formula {self.answer!r} must give an integer; "
                              f"got {value!r} for variation {v.name}")
        return value

    def problem(self, variation: Variation | str | int) -> str:
        """The problem text (template + question) of a variation, without any instruction."""
        v = variation if isinstance(variation, Variation) else self.variation(variation)
        if v.text is not None:
            tmpl, where = v.text, f"{self.name} variation {v.name} text"
        else:
            key = v.template
            if key not in self.templates:
                raise ConfigError(
                    f"{self.name} variation {v.name}: unknown template {key!r}."
                    f"{suggest(str(key), self.templates)} Templates: {', '.join(self.templates)}")
            tmpl, where = self.templates[key], f"{self.name} template {key!r}"
        text = _format(tmpl, self.values(v), where)
        return f"{text} {self.question}" if self.question else text

    def render(self, variation: Variation | str | int, prompt_type: str | PromptType) -> Prompt:
        """Render one (variation, prompt type) pair into a :class:`Prompt`."""
        v = variation if isinstance(variation, Variation) else self.variation(variation)
        pt = prompt_type if isinstance(prompt_type, PromptType) else get_prompt_type(prompt_type)
        text = _format(pt.template, {"problem": self.problem(v)}, f"prompt type {pt.name!r}")
        return Prompt(prompt_id=f"{self.name}/{v.name}/{pt.name}", family=self.name,
                      family_version=self.version, variation=v.name, prompt_type=pt.name,
                      prompt_type_version=pt.version, text=text, right_answer=self.answer_for(v),
                      style=pt.style, stop=pt.stop, upstream_id=v.upstream.get(pt.name),
                      variables=dict(v.variables), kind=self.kind)


def _format(template: str, values: dict[str, Any], where: str) -> str:
    """``str.format`` restricted to plain ``{name}`` fields, with a clear error for unknown names."""
    out = []
    for literal, fname, spec, conv in string.Formatter().parse(template):
        out.append(literal)
        if fname is None:
            continue
        if spec or conv or not fname.isidentifier():
            raise ConfigError(f"{where}: only plain {{name}} placeholders are allowed; got "
                              f"{{{fname}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}")
        if fname not in values:
            raise ConfigError(f"{where}: placeholder {{{fname}}} is not a variable."
                              f"{suggest(fname, values)} Known: {', '.join(sorted(values))}")
        out.append(str(values[fname]))
    return "".join(out)


# --------------------------------------------------------------------------- loading

def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    for k in data:
        if k not in allowed:
            raise ConfigError(f"unknown key {k!r} in {where}.{suggest(str(k), allowed)} "
                              f"Allowed keys: {', '.join(sorted(allowed))}")


def _read_family_dict(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"include cycle: {' -> '.join(str(p) for p in (*seen, path))}")
    data = load_mapping(path)
    _check_keys(data, _FAMILY_KEYS, str(path))
    inc = data.pop("include", None)
    if inc is None:
        return data
    base = _read_family_dict(path.parent / str(inc), (*seen, path))
    base.pop("family", None)  # the including file must name itself
    base.update(data)          # shallow override, as lm-eval's include
    return base


def load_family(path: str | Path) -> Family:
    """Load and validate one family YAML file (with ``include:`` resolved)."""
    path = Path(path)
    d = _read_family_dict(path)
    where = str(path)
    for key in ("family", "version", "answer", "variations"):
        if key not in d:
            raise ConfigError(f"{where}: missing required key {key!r}")
    name = d["family"]
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"{where}: family name must be letters, digits, '_' or '-'; got {name!r}")
    version = d["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ConfigError(f"{where}: version must be a positive integer; got {version!r}")
    kind = d.get("kind", "problem")
    if kind not in ("problem", "control"):
        raise ConfigError(f"{where}: kind must be 'problem' or 'control'; got {kind!r}")
    templates = dict(d.get("templates") or {})
    default_template = d.get("default_template")
    variations = []
    raw_vars = d["variations"]
    if not isinstance(raw_vars, dict) or not raw_vars:
        raise ConfigError(f"{where}: variations must be a non-empty mapping name -> spec")
    for vname, spec in raw_vars.items():
        vwhere = f"{where} variation {vname!r}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{vwhere} must be a mapping; got {spec!r}")
        _check_keys(spec, _VARIATION_KEYS, vwhere)
        upstream = spec.get("upstream") or {}
        if not isinstance(upstream, dict) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in upstream.values()):
            raise ConfigError(f"{vwhere}: upstream must map prompt type -> integer id; got {upstream!r}")
        tmpl = spec.get("template", default_template)
        if spec.get("text") is None and tmpl is None:
            raise ConfigError(f"{vwhere}: give a template name (one of {', '.join(templates) or 'none'}) "
                              f"or a literal text")
        variables = dict(spec.get("vars") or {})
        for k, val in variables.items():
            if not (isinstance(val, (int, str)) and not isinstance(val, bool)):
                raise ConfigError(f"{vwhere}: variable {k!r} must be an integer or text; got {val!r}")
        variations.append(Variation(name=str(vname), variables=variables, template=tmpl,
                                    text=spec.get("text"), upstream=dict(upstream),
                                    note=str(spec.get("note", ""))))
    fam = Family(name=name, version=version, title=str(d.get("title", name)), templates=templates,
                 question=str(d.get("question", "")), derived=dict(d.get("derived") or {}),
                 answer=str(d["answer"]), variations=tuple(variations),
                 prompt_types=tuple(d.get("prompt_types") or ()), kind=kind,
                 controls=tuple(d.get("controls") or ()), citation=str(d.get("citation", "")),
                 description=str(d.get("description", "")), source=where)
    # validate eagerly so a broken file fails at load time, with the file name in the message
    for v in fam.variations:
        fam.problem(v)
        fam.answer_for(v)
    return fam


def _load_prompt_types(path: Path) -> dict[str, PromptType]:
    d = load_mapping(path)
    _check_keys(d, {"version", "prompt_types"}, str(path))
    version = d.get("version", 1)
    out = {}
    for name, spec in (d.get("prompt_types") or {}).items():
        where = f"{path} prompt type {name!r}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where} must be a mapping")
        _check_keys(spec, _PTYPE_KEYS, where)
        tmpl = spec.get("template")
        if not isinstance(tmpl, str) or "{problem}" not in tmpl:
            raise ConfigError(f"{where}: template must be text containing {{problem}}; got {tmpl!r}")
        style = spec.get("style", "chat")
        if style not in ("chat", "completion"):
            raise ConfigError(f"{where}: style must be 'chat' or 'completion'; got {style!r}")
        out[str(name)] = PromptType(name=str(name), template=tmpl,
                                    description=str(spec.get("description", "")), style=style,
                                    stop=tuple(spec.get("stop") or ()), version=int(version))
    return out


class _Index:
    """Families and prompt types, loaded on first use from the shipped directory and user paths."""

    def __init__(self) -> None:
        self.families: dict[str, Family] = {}
        self.prompt_types: dict[str, PromptType] = {}
        self.loaded = False

    def ensure(self) -> None:
        if not self.loaded:
            self.loaded = True
            self.add(TASK_DIR, overwrite=False)

    def add(self, path: Path, *, overwrite: bool) -> list[str]:
        """Load a file or folder; all-or-nothing: on any error nothing is registered."""
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"task path {str(path)!r} does not exist")
        files = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
        new_pts: dict[str, PromptType] = {}
        new_fams: dict[str, Family] = {}
        for f in files:
            if f.name == PROMPT_TYPES_FILE:
                new_pts.update(_load_prompt_types(f))
                continue
            if "family" not in load_mapping(f):
                continue  # a shared base file meant only for include:
            fam = load_family(f)
            old = new_fams.get(fam.name) or self.families.get(fam.name)
            if old is not None and not overwrite and old.source != fam.source:
                raise ConfigError(f"family {fam.name!r} from {f} is already defined by {old.source}; "
                                  "rename it or pass overwrite=True")
            new_fams[fam.name] = fam
        known = {**self.prompt_types, **new_pts}
        for fam in new_fams.values():  # every prompt type a family names must exist
            for pt in fam.prompt_types:
                if pt not in known:
                    raise ConfigError(f"{fam.source}: unknown prompt type {pt!r} in prompt_types."
                                      f"{suggest(pt, known)} Known: {', '.join(sorted(known))}")
        self.prompt_types.update(new_pts)
        self.families.update(new_fams)
        return list(new_fams)


_INDEX = _Index()


def add_task_path(path: str | Path, *, overwrite: bool = False) -> list[str]:
    """Load user family YAML files (a file or a directory); returns the family names added.

    A ``prompt_types.yaml`` in the directory adds (or replaces) prompt types.
    """
    _INDEX.ensure()
    return _INDEX.add(Path(path), overwrite=overwrite)


def _lookup(table: dict, name: str, kind: str):
    try:
        return table[name]
    except KeyError:
        raise UnknownNameError(f"unknown {kind} {name!r}.{suggest(name, table)} "
                               f"Available: {', '.join(sorted(table))}") from None


def list_families(*, kind: str | None = None) -> list[str]:
    """Names of all known families (``kind="problem"`` or ``"control"`` to filter)."""
    _INDEX.ensure()
    return sorted(n for n, f in _INDEX.families.items() if kind is None or f.kind == kind)


def get_family(name: str) -> Family:
    """The family called ``name``; unknown names raise UnknownNameError with close names."""
    _INDEX.ensure()
    return _lookup(_INDEX.families, name, "AIW family")


def list_prompt_types() -> list[str]:
    _INDEX.ensure()
    return sorted(_INDEX.prompt_types)


def get_prompt_type(name: str) -> PromptType:
    """The prompt type called ``name`` (standard, thinking, thinking_v2, restricted, ...)."""
    _INDEX.ensure()
    return _lookup(_INDEX.prompt_types, name, "prompt type")


def render(family: str | Family, *, variations: list[str] | None = None,
           prompt_types: list[str] | None = None) -> list[Prompt]:
    """Render a family's prompts: every listed variation x prompt type (defaults: all of them).

    ``prompt_types`` defaults to the family's own list (the types its study used); any known
    prompt type may be asked for explicitly.
    """
    fam = family if isinstance(family, Family) else get_family(family)
    pts = [get_prompt_type(p) for p in (prompt_types or fam.prompt_types or list_prompt_types())]
    vs = [fam.variation(v) for v in variations] if variations else list(fam.variations)
    return [fam.render(v, pt) for v in vs for pt in pts]


def render_all(*, families: list[str] | None = None, prompt_types: list[str] | None = None,
               variations: list[str] | None = None) -> list[Prompt]:
    """Prompts of several families (default: all) for the given prompt types and variations."""
    out = []
    for name in families or list_families():
        fam = get_family(name)
        vs = [v for v in (variations or []) if v in {x.name for x in fam.variations}] or None
        if variations and vs is None:
            continue
        out.extend(render(fam, variations=vs, prompt_types=prompt_types))
    return out
