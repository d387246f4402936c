"""The README is true: CI runs its commands, and its tour runs as written and prints what it shows.

The tour's ``bash`` blocks run in one fresh bash process (``source .venv/bin/activate`` first, as
the README says), its ``python`` block with the venv's ``python``, in an empty folder whose
``.venv`` is the environment running these tests. Every line of a ``text`` block must appear in
the output of the block before it, in order; numbers match to 0.1% (bootstrap digits depend on
the machine), words exactly.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

pytestmark = pytest.mark.requires("typer", "matplotlib")


def _fenced(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w*)\n(.*?)```", text, flags=re.S)]


def _tour() -> list[tuple[str, list[tuple[str, str]]]]:
    """The tour's sections: (heading, [(language, code)])."""
    start = README.index("## A five-minute tour")
    end = README.index("\n## ", start + 10)
    parts = re.split(r"\n### ", README[start:end])
    return [(p.splitlines()[0], _fenced(p)) for p in parts]


def test_ci_runs_the_readme_commands_verbatim():
    install, test = _fenced(README)[0][1].strip().splitlines()
    assert install.startswith("python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 -e")
    ci = [ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()
          if ln.strip() and not ln.strip().startswith("#")]
    assert install in ci and test in ci
    assert ci.index(install) < ci.index(test)
    assert not [ln for ln in ci if "pip install" in ln and ln != install], "CI installs otherwise than the README"


def _tokens(line: str) -> list[str]:
    return [t for t in re.split(r"[\s\[\](),;%]+", line) if t]


def _same(shown: str, got: str) -> bool:
    a, b = _tokens(shown), _tokens(got)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if NUMBER.match(x) and NUMBER.match(y):
            fx, fy = float(x), float(y)
            if abs(fx - fy) > 1e-3 * max(abs(fx), abs(fy)) + 1e-12:
                return False
        elif re.fullmatch(r"\d+/\d+", x) and re.fullmatch(r"\d+/\d+", y):   # starts agreeing: 24/24
            (p, q), (r, s) = map(int, x.split("/")), map(int, y.split("/"))
            if q != s or abs(p - r) > max(1, q // 10):
                return False
        elif x != y:
            return False
    return True


def assert_shows(shown: str, output: str, what: str) -> None:
    """Every line of ``shown`` appears in ``output``, in order."""
    lines = output.splitlines()
    i = 0
    for want in shown.strip("\n").splitlines():
        while i < len(lines) and not _same(want, lines[i]):
            i += 1
        assert i < len(lines), f"{what}: the README shows\n  {want}\nbut the output has no such line (in order):\n{output}"
        i += 1


def _venv(tmp_path: Path) -> None:
    if sys.prefix == sys.base_prefix or not (Path(sys.prefix) / "bin" / "activate").exists():
        pytest.skip("the tour runs in the virtual environment the README's first command makes; run the tests "
                    "with its python (.venv/bin/python -m pytest)")
    (tmp_path / ".venv").symlink_to(sys.prefix)


def _run_tour(sections, cwd: Path, timeout: int) -> list[tuple[str, str, str]]:
    """Run the code blocks of ``sections`` in one bash; return (heading, language, output) per block."""
    script = ["set -e", "source .venv/bin/activate"]
    blocks = []
    for heading, fenced in sections:
        for lang, code in fenced:
            if lang not in ("bash", "python"):
                continue
            k = len(blocks)
            marker = f"@@tour-block-{k}@@"
            script.append(f"echo {marker}; echo {marker} >&2")
            if lang == "bash":
                script.append(code)
            else:
                (cwd / f"tour_block_{k}.py").write_text(code)
                script.append(f"python tour_block_{k}.py")
            blocks.append((heading, lang))
    script.append("echo @@tour-end@@; echo @@tour-end@@ >&2")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    out = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, capture_output=True, text=True,
                         timeout=timeout, env=env)
    assert out.returncode == 0 and "@@tour-end@@" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]
    results = []
    for k, (heading, lang) in enumerate(blocks):
        nxt = f"@@tour-block-{k + 1}@@" if k + 1 < len(blocks) else "@@tour-end@@"
        cut = (lambda s: s.split(f"@@tour-block-{k}@@", 1)[1].split(nxt, 1)[0])
        results.append((heading, lang, cut(out.stdout) + cut(out.stderr)))
    return results


def _expected(sections) -> list[str | None]:
    """For each runnable block, the text block that follows it (what the README says it prints)."""
    out = []
    for _, fenced in sections:
        for i, (lang, _) in enumerate(fenced):
            if lang in ("bash", "python"):
                nxt = fenced[i + 1] if i + 1 < len(fenced) else None
                out.append(nxt[1] if nxt and nxt[0] == "text" else None)
    return out


@pytest.mark.slow
def test_the_tour_runs_as_written_and_prints_what_the_readme_shows(tmp_path):
    _venv(tmp_path)
    sections = [s for s in _tour() if not s[0].startswith("5.")]
    assert [h[:2] for h, _ in sections[1:]] == ["1.", "2.", "3.", "4."]
    results = _run_tour(sections, tmp_path, timeout=900)
    shown = _expected(sections)
    assert sum(s is not None for s in shown) == 4          # fit, allocate, backtest, compare
    for (heading, _, output), text in zip(results, shown):
        if text is not None:
            assert_shows(text, output, heading)
    for name in ("fit.png", "chinchilla-fit.json", "fit.json", "backtest.png"):     # the files it names
        assert (tmp_path / name).stat().st_size > 0, name


@pytest.mark.slow
def test_the_tour_s_last_section_on_the_demo_the_first_command_trained(tmp_path):
    demo = REPO / "scalinglab-demo"
    if not (demo / "store" / "results.sqlite").exists():
        pytest.skip("run the README's first command first: it trains scalinglab-demo/, which section 5 reuses")
    _venv(tmp_path)
    shutil.copytree(demo, tmp_path / "scalinglab-demo", ignore=shutil.ignore_patterns("ckpt"))
    (section,) = [s for s in _tour() if s[0].startswith("5.")]
    assert [lang for lang, _ in section[1] if lang in ("bash", "python")] == ["bash", "bash"]
    (_, _, output), (_, _, design) = _run_tour([section], tmp_path, timeout=900)
    assert "0 trained, 65 already in the store" in output
    assert re.search(r"-> (PASS|FAIL)( \(with \d+ caveats?: .+\))?: the criterion", output)
    where = (tmp_path / "scalinglab-demo" / "appendix.html").resolve()
    assert f"wrote {where}" in output and where.exists()
    assert "backtest holds out 'largest 3' (the holdout scalinglab demo used, recorded in" in output
    # `design` only proposes, on the demo's store: the prediction at the target, what to train next and why
    assert "closed loop: until width at 9.43175e12 on gpt-tiny-4 < 10%" in design, design
    assert re.search(r"prediction at N=\S+, D=\S+: \d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\], width \d+\.\d\d%\n"
                     r"    95% (calibrated|bootstrap), \d\.\d\d decades beyond the data", design), design
    assert re.search(r"^(next \(\w+\): .+ FLOPs; .+|stop: .+)$", design, flags=re.M), design
    assert not list((tmp_path / "scalinglab-demo" / "store").glob("loops/*/decisions.jsonl")), "design must not log"
