"""No private name crosses a module boundary (issue 10, item 4; httpx's rule).

What another module needs is public in its owner. Allowed: a private *module* imported from
inside its own package (``scalinglab._optional`` anywhere in scalinglab, ``laws/_optimize.py``
from ``laws/result.py``), but none of the private names inside it.
Checked with ``ast`` on every module of ``src/scalinglab``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "scalinglab"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(mod: str, is_pkg: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _inside(mod: str, package: str) -> bool:
    """Is module ``mod`` inside ``package`` (the package that owns a private module)?"""
    return mod == package or mod.startswith(package + ".")


def _violations() -> list[str]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        mod = _module_name(path)
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), str(path))
        aliases: dict[str, str] = {}      # local name -> imported scalinglab module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                src = _resolve(mod, is_pkg, node.level, node.module)
                if not src.startswith("scalinglab"):
                    continue
                for a in node.names:
                    full = f"{src}.{a.name}"
                    if (SRC.parent / Path(*full.split("."))).with_suffix(".py").exists() or \
                            (SRC.parent / Path(*full.split(".")) / "__init__.py").exists():
                        aliases[a.asname or a.name] = full       # a module
                        if _private(a.name) and not _inside(mod, src):
                            out.append(f"{mod}: imports private module {full} from outside {src}")
                    elif _private(a.name):
                        out.append(f"{mod}: imports private name {a.name} from {src}")
                parts = src.split(".")
                for i, part in enumerate(parts):
                    if _private(part) and not _inside(mod, ".".join(parts[:i])):
                        out.append(f"{mod}: imports from private module {src} from outside "
                                   f"{'.'.join(parts[:i])}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in aliases and _private(node.attr):
                out.append(f"{mod}: uses {aliases[node.value.id]}.{node.attr}")
    return sorted(set(out))


def test_no_private_name_is_imported_across_modules():
    assert _violations() == []


def test_the_checker_finds_a_violation(tmp_path, monkeypatch):
    pkg = tmp_path / "scalinglab"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "m.py").write_text("def _helper():\n    pass\n")
    (pkg / "a" / "_p.py").write_text("x = 1\n")
    (pkg / "b.py").write_text("from .a.m import _helper\nfrom .a import m\nm._helper()\n"
                              "from .a._p import x\n")
    monkeypatch.setattr(__import__(__name__), "SRC", pkg)
    found = _violations()
    assert "scalinglab.b: imports private name _helper from scalinglab.a.m" in found
    assert "scalinglab.b: uses scalinglab.a.m._helper" in found
    assert "scalinglab.b: imports from private module scalinglab.a._p from outside scalinglab.a" in found
    assert not any(v.startswith("scalinglab.a.m") for v in found)
