"""Runner and results files without a server: replayed responses, seeds, resume rules, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scalinglab.errors import BackendError, ConfigError, DataError, StoreError, UnknownNameError
from scalinglab.evals import evaluate, get_client, read_jsonl, read_responses, render, rescore, trial_seed
from scalinglab.evals.runner import summary_path_for

DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "upstream_sample.json"


def test_trial_seeds_differ_per_trial_and_prompt_and_are_stable():
    seeds = {trial_seed(0, f"aiw/{v}/standard", t) for v in range(1, 7) for t in range(100)}
    assert len(seeds) == 600
    assert trial_seed(0, "aiw/1/standard", 3) == trial_seed(0, "aiw/1/standard", 3)
    assert trial_seed(1, "aiw/1/standard", 3) != trial_seed(0, "aiw/1/standard", 3)


def test_replaying_upstream_responses_through_the_runner(tmp_path):
    client = get_client("responses_file", SAMPLE, model="openai/o1-mini")
    prompts = render("aiw_friends", variations=["1"], prompt_types=["thinking_v2"])
    out = tmp_path / "replay.jsonl"
    res = evaluate(client, prompts, out=out, n_trials=6, concurrency=3, extract_mode="upstream")
    assert res.n_new == 6 and res.n_resumed == 0
    assert sorted(r["trial"] for r in res.records) == list(range(6))
    assert sum(r["correct"] for r in res.records) == 2  # upstream: trials 12 and 15 were right
    assert len({r["seed"] for r in res.records}) == 6
    (fam,) = res.summary.family("aiw_friends")
    assert (fam.k, fam.n) == (2, 6)
    assert json.loads(summary_path_for(out).read_text())["prompts"][0]["upstream_id"] == 577
    # resuming with more trials than stored: clear error, finished trials kept
    with pytest.raises(BackendError, match=r"holds 6 responses.*6 of 7 trials are saved"):
        evaluate(client, prompts, out=out, n_trials=7, extract_mode="upstream", max_retries=0)
    recs = read_jsonl(out)
    assert sum(r["record"] == "response" for r in recs) == 6
    assert sum(r["record"] == "error" for r in recs) == 1 and sum(r["record"] == "run" for r in recs) == 2
    # a third call with the original options finds everything stored
    again = evaluate(client, prompts, out=out, n_trials=6, extract_mode="upstream")
    assert again.n_new == 0 and again.n_resumed == 6


def test_resume_refuses_other_sampling_options_or_prompt_texts(tmp_path):
    client = get_client("responses_file", SAMPLE, model="openai/o1-mini")
    prompts = render("aiw_friends", variations=["1"], prompt_types=["thinking_v2"])
    out = tmp_path / "r.jsonl"
    evaluate(client, prompts, out=out, n_trials=2, summary=False)
    with pytest.raises(StoreError, match="temperature, max_tokens, top_p"):
        evaluate(client, prompts, out=out, n_trials=2, temperature=0.7)
    lines = out.read_text().splitlines()
    rec = json.loads(lines[1])
    rec["prompt_sha"] = "0" * 12
    rec["trial"] = 5
    out.write_text("\n".join(lines + [json.dumps(rec)]) + "\n")
    with pytest.raises(StoreError, match="another prompt text"):
        evaluate(client, prompts, out=out, n_trials=2)


def test_results_file_with_a_torn_last_line_is_repaired_and_resumed(tmp_path):
    client = get_client("responses_file", SAMPLE, model="openai/o1-mini")
    prompts = render("aiw_friends", variations=["1"], prompt_types=["thinking_v2"])
    out = tmp_path / "r.jsonl"
    evaluate(client, prompts, out=out, n_trials=3, summary=False)
    raw = out.read_bytes()
    last = raw.rstrip(b"\n").rfind(b"\n") + 1  # start of the last record: cut it mid-way
    out.write_bytes(raw[:last] + raw[last:last + 40])
    with pytest.warns(Warning, match="incomplete"):
        res = evaluate(client, prompts, out=out, n_trials=3, summary=False)
    assert res.n_new == 1 and res.n_resumed == 2
    assert sorted(r["trial"] for r in res.records) == [0, 1, 2]
    assert all(isinstance(r, dict) for r in read_jsonl(out))  # the file is valid again


def test_malformed_files_give_clear_errors_and_are_not_modified(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"record": "response", "model": "m"}\nnot json\n{"a": 1}\n')
    with pytest.raises(DataError, match=r"bad.jsonl, line 1: response record lacks prompt_id, trial"):
        read_jsonl(bad)
    bad.write_text('{"record": "run"}\nnot json\n{"a": 1}\n')
    with pytest.raises(DataError, match=r"line 2: not valid JSON"):
        read_responses(bad)
    up = tmp_path / "up.json"
    up.write_text(json.dumps([{"model": "x", "prompt": "Alice?"}]))
    with pytest.raises(DataError, match=r"record 0: an upstream AIW response needs model, prompt, model_response"):
        read_responses(up)
    up.write_text("[{")
    with pytest.raises(DataError, match="not valid JSON"):
        read_responses(up)
    with pytest.raises(DataError, match="does not exist"):
        read_responses(tmp_path / "missing.json")


def test_rescoring_changes_only_the_scoring(tmp_path):
    recs = read_responses(SAMPLE, mode="upstream")
    again = rescore(recs, mode="strict")
    assert [r["raw_text"] for r in again] == [r["raw_text"] for r in recs]
    assert {r["scorer"] for r in again} == {"strict-v1"} and {r["scorer"] for r in recs} == {"upstream-v1"}


def test_run_option_errors(tmp_path):
    client = get_client("responses_file", SAMPLE, model="openai/o1-mini")
    ps = render("aiw_friends", variations=["1"], prompt_types=["thinking_v2"])
    for kw, msg in [({"n_trials": 0}, "n_trials"), ({"concurrency": 0}, "concurrency"),
                    ({"temperature": -1.0}, "temperature"), ({"extract_mode": "loose"}, "extraction mode"),
                    ({"requests_per_s": 0}, "requests_per_s")]:
        with pytest.raises(ConfigError, match=msg):
            evaluate(client, ps, out=tmp_path / "x.jsonl", **kw)
    with pytest.raises(ConfigError, match="no prompts"):
        evaluate(client, [], out=tmp_path / "x.jsonl")
    with pytest.raises(UnknownNameError, match="Did you mean: openai_http"):
        get_client("openai_htp")
    with pytest.raises(DataError, match="holds responses of 2 models"):
        get_client("responses_file", SAMPLE)
    with pytest.raises(ConfigError, match="base_url must start with http"):
        get_client("openai_http", "127.0.0.1:8000", "m")


def test_rate_limit_spaces_request_starts(tmp_path):
    import time

    client = get_client("responses_file", SAMPLE, model="openai/o1-mini")
    ps = render("aiw_friends", variations=["1"], prompt_types=["thinking_v2"])
    t0 = time.perf_counter()
    evaluate(client, ps, out=tmp_path / "r.jsonl", n_trials=6, concurrency=6, requests_per_s=20, summary=False)
    assert time.perf_counter() - t0 >= 5 / 20  # six starts at least 1/20 s apart


def test_a_429_with_retry_after_is_waited_out_then_retried(tmp_path):
    # a loopback HTTP server (stdlib) that throttles the first request, as hosted APIs do
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    arrivals: list[float] = []

    class Throttling(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            arrivals.append(time.monotonic())
            if len(arrivals) == 1:
                body, code, extra = b'{"error": "rate limited"}', 429, {"Retry-After": "0.6"}
            else:
                body = json.dumps({"model": "m", "choices": [{"message": {"content": "### Answer: 7"},
                                                              "finish_reason": "stop"}]}).encode()
                code, extra = 200, {}
            self.send_response(code)
            for k, v in {"Content-Type": "application/json", "Content-Length": str(len(body)), **extra}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Throttling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = get_client("openai_http", f"http://127.0.0.1:{server.server_address[1]}/v1", "m")
        ps = render("aiw", variations=["1"], prompt_types=["standard"])
        # backoff_s=30: only the server's Retry-After can make the retry come this soon
        res = evaluate(client, ps, out=tmp_path / "r.jsonl", n_trials=1, concurrency=1, backoff_s=30.0, summary=False)
    finally:
        server.shutdown()
        server.server_close()
    (rec,) = [r for r in read_jsonl(tmp_path / "r.jsonl") if r["record"] == "response"]
    assert rec["attempts"] == 2 and rec["correct"] is True and rec["parsed_answer"] == 7
    assert len(arrivals) == 2 and 0.6 <= arrivals[1] - arrivals[0] < 10.0
    assert res.n_new == 1
