"""Results files of schema 1 (the model client stored as ``backend``) still read, score and resume.

``data/results_schema1.jsonl`` was written by scalinglab before the rename (commit 2dd6b36,
``scalinglab.evals.run`` with the ``responses_file`` backend replaying ``upstream_sample.json``:
``aiw_friends`` variation 1, ``thinking_v2``, 6 trials, ``extract_mode="upstream"``,
``summary=False``); only the replayed file's path was made relative. It is kept verbatim so that
these tests read what the old code wrote, not what the new code thinks it wrote.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scalinglab.errors import BackendError, DataError
from scalinglab.evals import evaluate, get_client, read_jsonl, read_responses, render, summarize_rates
from scalinglab.evals.records import RECORD_SCHEMA, upgrade_record

DATA = Path(__file__).resolve().parent / "data"
OLD = DATA / "results_schema1.jsonl"


def test_the_fixture_is_schema_1_with_backend_keys():
    raw = [json.loads(x) for x in OLD.read_text().splitlines()]
    assert {r["schema"] for r in raw} == {1} and all("backend" in r and "client" not in r for r in raw)


def test_old_records_come_back_in_the_current_schema():
    recs = read_jsonl(OLD)
    assert RECORD_SCHEMA == 2 and {r["schema"] for r in recs} == {RECORD_SCHEMA}
    assert all("backend" not in r for r in recs)
    (run,) = [r for r in recs if r["record"] == "run"]
    assert run["client"] == {"client": "responses_file", "model": "openai/o1-mini",
                             "path": "tests/evals/data/upstream_sample.json"}
    responses = [r for r in recs if r["record"] == "response"]
    assert len(responses) == 6 and {r["client"] for r in responses} == {"responses_file"}
    (fam,) = summarize_rates(responses).family("aiw_friends")
    assert (fam.k, fam.n) == (2, 6)                       # upstream: trials 12 and 15 were right
    assert read_responses(OLD, mode="strict")[1]["client"] == "responses_file"


def test_upgrade_leaves_its_input_alone_and_refuses_a_newer_schema():
    old = {"schema": 1, "record": "response", "backend": "openai_http"}
    new = upgrade_record(old)
    assert new == {"schema": 2, "record": "response", "client": "openai_http"}
    assert old == {"schema": 1, "record": "response", "backend": "openai_http"}
    current = {"schema": 2, "client": "x"}
    assert upgrade_record(current) is current
    with pytest.raises(DataError, match="schema 3 is newer"):
        upgrade_record({"schema": 3})


def test_a_newer_schema_in_a_file_names_the_file_and_line(tmp_path):
    p = tmp_path / "future.jsonl"
    p.write_text(OLD.read_text() + json.dumps({"schema": 3, "record": "run"}) + "\n")
    with pytest.raises(DataError, match=r"future\.jsonl, line 8: record schema 3 is newer.*upgrade scalinglab"):
        read_jsonl(p)


def test_evaluate_resumes_an_old_file_and_appends_current_records(tmp_path):
    out = tmp_path / "old.jsonl"
    shutil.copy(OLD, out)
    client = get_client("responses_file", DATA / "upstream_sample.json", model="openai/o1-mini")
    prompts = render("aiw_friends", variations=["1"], prompt_types=["thinking_v2"])
    again = evaluate(client, prompts, out=out, n_trials=6, extract_mode="upstream")
    assert again.n_new == 0 and again.n_resumed == 6       # the old trials count as stored
    assert out.read_text() == OLD.read_text()             # nothing to do: the file is untouched
    # a seventh trial (the replay holds six, so it fails): its lines are appended in the current
    # schema beside the old ones
    with pytest.raises(BackendError, match="trial 6 was asked for"):
        evaluate(client, prompts, out=out, n_trials=7, extract_mode="upstream", max_retries=0)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["schema"] for r in lines[-2:]] == [2, 2]
    assert lines[-2]["record"] == "run" and lines[-2]["client"]["client"] == "responses_file"
    assert lines[-1]["record"] == "error" and lines[-1]["client"] == "responses_file"
    assert again.summary.family("aiw_friends")[0].k == 2
