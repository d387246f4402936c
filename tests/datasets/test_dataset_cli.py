"""``scalinglab datasets``: list, show, register, build, audit; bad input is one line and exit 2."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from scalinglab._optional import has

pytestmark = pytest.mark.skipif(not has("typer"), reason="needs typer (scalinglab[cli])")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from _cli import assert_one_line_error, run_cli  # noqa: E402

WORDS = ["alpha", "beta", "gamma", "delta", "the", "and", "of", "river", "stone", "light", "cloud", "field"]


def _corpus(tmp_path, n=40):
    rng = random.Random(0)
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(n):
        (folder / f"d{i:02d}.txt").write_text(" ".join(rng.choice(WORDS) for _ in range(30 + 3 * i)) + ".\n")
    return folder


def test_register_list_show(tmp_path, capsys):
    code, out, err = run_cli(capsys, "datasets", "register", "mine", _corpus(tmp_path), "--licence", "CC0-1.0")
    assert code == 0 and "mine" in out and "40 documents" in out
    code, out, _ = run_cli(capsys, "datasets", "list")
    assert code == 0 and "mine" in out and "debian-text" in out and "python-sci" in out
    code, out, _ = run_cli(capsys, "datasets", "show", "mine", "--json", "--verify")
    m = json.loads(out)
    assert code == 0 and m["n_documents"] == 40 and m["licence"] == "CC0-1.0" and len(m["hash"]) == 64


def test_build_and_audit_a_recipe(tmp_path, capsys):
    pytest.importorskip("datatrove")
    run_cli(capsys, "datasets", "register", "mine", _corpus(tmp_path), "-q")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: mine-long\ninputs: [mine]\nsteps:\n  - length: {min_words: 60}\n")
    code, out, _ = run_cli(capsys, "datasets", "build", recipe, "--check")
    assert code == 0 and "ok" in out
    code, out, err = run_cli(capsys, "datasets", "build", recipe, "-q")
    assert code == 0 and "gopher_short_doc" in out and "mine-long" in out
    code, out, _ = run_cli(capsys, "datasets", "audit", "mine-long", "--json")
    a = json.loads(out)
    assert a["steps"][0]["kind"] == "length" and a["docs_in"] == 40 and a["docs_out"] == a["steps"][0]["docs_out"]
    code, out, err = run_cli(capsys, "datasets", "build", recipe, "-q")
    assert_one_line_error(code, err, "already exists", "--overwrite")


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    code, _, err = run_cli(capsys, "datasets", "show", "debian-txt")
    assert_one_line_error(code, err, "unknown dataset 'debian-txt'", "debian-text")
    folder = _corpus(tmp_path)
    (folder / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    code, _, err = run_cli(capsys, "datasets", "register", "bad", folder)
    assert_one_line_error(code, err, "blob.bin is binary", "exclude")
    code, _, err = run_cli(capsys, "datasets", "register", "ok", folder, "--exclude", "*.bin", "-q")
    assert code == 0
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: out\ninputs: [ok]\nsteps:\n  - lenght: {}\n")
    code, _, err = run_cli(capsys, "datasets", "build", recipe)
    assert_one_line_error(code, err, str(recipe), "unknown step 'lenght'", "Did you mean: length")
    code, _, err = run_cli(capsys, "datasets", "audit", "ok")
    assert_one_line_error(code, err, "not built by a recipe")


def test_the_shape_worlds_list_and_show(capsys):
    code, out, _ = run_cli(capsys, "datasets", "list")
    assert code == 0 and "stdlib" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("shapeworld-partial "))
    assert "image-text, generated on the fly" in line and "partial captions" in line
    from scalinglab.datasets import get_world

    code, out, _ = run_cli(capsys, "datasets", "show", "shapeworld")
    assert code == 0 and f"hash:        {get_world('shapeworld').hash}" in out
    code, out, _ = run_cli(capsys, "datasets", "show", "shapeworld-partial", "--json")
    assert code == 0 and json.loads(out)["world"]["omit_colour"] == 0.4


def test_a_noisy_pool_from_the_command_line_lists_shows_builds_and_audits(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "datasets", "pool", "noisy", "--samples", "256", "--rate", "misaligned=0.25", "-q")
    assert code == 0 and "noisy" in out and "misaligned 64" in out and "256 image-text samples" in out
    code, out, _ = run_cli(capsys, "datasets", "list")
    (line,) = [ln for ln in out.splitlines() if ln.startswith("noisy ")]
    assert "256 image-text samples" in line
    code, out, _ = run_cli(capsys, "datasets", "show", "noisy")
    assert code == 0 and '"misaligned": 0.25' in out and "256 samples" in out
    code, out, _ = run_cli(capsys, "datasets", "show", "noisy", "--json")
    assert json.loads(out)["counts"]["misaligned"] == 64
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: deduped\ninputs: [noisy]\nsteps:\n  - image_dedup: {}\n")
    code, out, _ = run_cli(capsys, "datasets", "build", str(recipe), "-q")
    assert code == 0 and "image_dedup" in out
    code, out, _ = run_cli(capsys, "datasets", "audit", "deduped", "--no-examples")
    assert code == 0 and "targets exact_duplicate, near_duplicate: precision 1.00, recall 1.00" in out
    code, _, err = run_cli(capsys, "datasets", "pool", "bad", "--rate", "misalinged=0.2")
    assert_one_line_error(code, err, "--rate 'misalinged=0.2'", "Did you mean: misaligned")
