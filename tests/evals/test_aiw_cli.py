"""``scalinglab aiw`` through the real entry point (errors become one line and exit code 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.requires("typer")

DATA = Path(__file__).resolve().parent / "data"


def _main(argv, capsys):
    from scalinglab.cli.main import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_and_render(capsys):
    code, out, _ = _main(["aiw", "list"], capsys)
    assert code == 0 and "aiw_friends" in out and "thinking_v2" in out and "control" in out
    assert "model clients (aiw run --client): openai_http, responses_file, scalinglab_ckpt, " \
           "transformers_local" in out
    code, out, _ = _main(["aiw", "render", "aiw", "-v", "1", "-p", "standard"], capsys)
    assert code == 0 and "[aiw/1/standard] answer=7 upstream_id=55" in out
    assert "Alice has 3 brothers and she also has 6 sisters." in out
    code, out, _ = _main(["aiw", "render", "aiw_ext", "-v", "2", "--json"], capsys)
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [r["prompt_id"] for r in rows] == ["aiw_ext/2/thinking_v2", "aiw_ext/2/format_only"]


def test_bad_names_exit_2_with_suggestions(capsys):
    code, _, err = _main(["aiw", "render", "aiw_frends"], capsys)
    assert code == 2 and "Did you mean: aiw_friends" in err
    code, _, err = _main(["aiw", "render", "aiw", "-p", "thinkingv2"], capsys)
    assert code == 2 and "Did you mean: thinking_v2" in err
    code, _, err = _main(["aiw", "run", "--out", "x.jsonl", "--client", "openai_http"], capsys)
    assert code == 2 and "--client openai_http needs --base-url and --model" in err
    code, _, err = _main(["aiw", "run", "--out", "x.jsonl", "-c", "openai_htp"], capsys)
    assert code == 2 and "unknown model client 'openai_htp'" in err and "Did you mean: openai_http" in err


def test_score_upstream_file_in_upstream_mode(capsys, tmp_path):
    code, out, _ = _main(["aiw", "score", str(DATA / "upstream_sample.json"), "--mode", "upstream",
                          "--summary", str(tmp_path / "s.json"), "--out", str(tmp_path / "r.jsonl")], capsys)
    assert code == 0
    assert "aiw_friends/1/thinking_v2" in out and "2/6" in out and "577" in out
    s = json.loads((tmp_path / "s.json").read_text())
    assert {p["prompt_id"]: (p["k"], p["n"]) for p in s["prompts"] if p["model"] == "openai/o1-mini"} == \
        {"aiw_friends/1/thinking_v2": (2, 6)}
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 9


@pytest.mark.requires("matplotlib")
def test_run_with_stored_responses_then_report(capsys, tmp_path):
    out = tmp_path / "res.jsonl"
    code, text, err = _main(["aiw", "run", "--client", "responses_file", "--responses",
                             str(DATA / "upstream_sample.json"), "--model", "openai/o1-mini",
                             "-f", "aiw_friends", "-v", "1", "-p", "thinking_v2", "-n", "6",
                             "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    assert "6 new trials, 0 already stored" in text and out.exists()
    assert (tmp_path / "res.summary.json").exists()
    code, text, err = _main(["aiw", "report", str(out), "--out-dir", str(tmp_path / "rep")], capsys)
    assert code == 0, err
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "<img" in html and "aiw_friends" in html and "2/6" in html
    assert '<section id="provenance">' in html and str(out) in html   # the report package's page
    assert (tmp_path / "rep" / "variations_aiw_friends_thinking_v2.png").stat().st_size > 1000


def test_export_lm_eval_writes_a_pack(capsys, tmp_path):
    code, out, _ = _main(["aiw", "export-lm-eval", str(tmp_path / "pack"), "-f", "aiw_friends",
                          "-p", "thinking_v2", "--repeats", "5"], capsys)
    assert code == 0 and "wrote 6 tasks" in out
    y = (tmp_path / "pack" / "aiw_friends_1_thinking_v2.yaml").read_text()
    assert "repeats: 5" in y and "keep_all_repeats" in y and "process_results" in y
    assert (tmp_path / "pack" / "_group_aiw_friends_thinking_v2.yaml").exists()
    docs = [json.loads(x) for x in (tmp_path / "pack" / "aiw_docs.jsonl").read_text().splitlines()]
    assert [d["right_answer"] for d in docs] == [7, 3, 5, 2, 4, 6]
