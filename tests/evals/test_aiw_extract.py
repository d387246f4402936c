"""Answer extraction: the known traps, the three modes, and parity with upstream's own parse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scalinglab.errors import ConfigError
from scalinglab.evals import extract, read_responses, score

DATA = Path(__file__).resolve().parent / "data"


def test_leading_zeros_are_numerically_equal_in_strict_but_not_in_upstream_mode():
    s = score("### Answer: 003", 3)
    assert (s.parsed_answer, s.parse_status, s.correct) == (3, "parsed", True)
    u = score("### Answer: 003", 3, mode="upstream")
    assert (u.parsed_answer, u.correct) == ("003", False)  # upstream compared strings


def test_truncated_response_without_answer_is_unparsed():
    text = "Let's think step by step. Alice has 3 brothers and 6 sisters. Each brother has"
    s = score(text, 7)
    assert s.parse_status == "unparsed" and s.parsed_answer is None and not s.correct
    # the upstream fallback reads "has ... 3" as an answer: a known weakness of that scorer
    assert score(text, 7, mode="upstream").parsed_answer == "3"
    # reasoning opened but cut before it closed
    assert extract("<think>Alice has 6 sisters, so the answer: 7 maybe").status == "unparsed"


def test_answer_only_in_boxed():
    assert extract(r"The brother has $\boxed{7}$ sisters.").answer == 7
    assert extract(r"so we get \boxed{ 12 }").answer == 12
    assert extract(r"### Answer: $\boxed{7}$").method == "anchor"
    assert score(r"\boxed{7}", 7, mode="upstream").parse_status == "unparsed"


def test_numbers_mentioned_after_the_answer_are_ignored():
    text = ("### Answer: 7\n\nExplanation: Alice has 6 sisters and 3 brothers; a brother has "
            "the 6 sisters plus Alice, and his 2 other brothers do not count.")
    assert score(text, 7).correct
    # the last answer marker wins when the model revises itself
    assert extract("Answer: 6. Wait, Alice is a sister too.\n### Answer: 7").answer == 7
    assert extract("### Answer: 6 + 1 = 7 sisters").answer == 7
    assert extract("Answer: One brother has 7 sisters").answer == 7  # numerals before words


def test_reasoning_block_is_skipped():
    text = "<think>Maybe the answer: 6? No: Alice counts.</think>\n\n### Answer: 7"
    assert extract(text).answer == 7
    assert extract("<think>Answer: 6</think> The brother has seven sisters.").status == "unparsed"


def test_base_model_continuation_starting_a_new_problem_block():
    assert extract("7\n### Problem: Alice has 2 brothers", mode="completion").answer == 7
    e = extract(" ### Problem: Alice has 4 sisters and she also has 1 brother.", mode="completion")
    assert e.status == "unparsed"  # the model wrote no answer, only a new problem
    assert extract("seven\n###", mode="completion").answer == 7
    # a pipeline that echoes the prompt: read after the echo
    prompt = "### Problem: Alice has 3 brothers and she also has 6 sisters. How many sisters does Alice's brother have?\n### Answer: "
    echoed = prompt.replace("\n", " ") + "3  ### Problem: If you have 3 apples"
    assert extract(echoed, mode="completion", prompt=prompt).answer == 3
    assert extract(echoed, mode="completion").status == "unparsed"


@pytest.mark.parametrize("text, value", [
    ("### Answer: seven", 7), ("**Final Answer:** Seven sisters", 7), ("The answer is twenty-one.", 21),
    ("### Answer: zero", 0), ("Answer = 12", 12), ("### Answer:\n\n**7**", 7),
])
def test_number_words_and_anchor_forms(text, value):
    assert extract(text).answer == value


def test_auto_mode_and_bad_mode():
    assert extract("7 ### Problem", mode="auto", style="completion").mode == "completion"
    assert extract("### Answer: 7", mode="auto").mode == "strict"
    with pytest.raises(ConfigError, match="Did you mean: strict"):
        extract("x", mode="strickt")
    assert extract(None).status == "unparsed" and extract("").status == "unparsed"


def test_upstream_mode_reproduces_upstream_parse_and_correctness():
    raw = json.loads((DATA / "upstream_sample.json").read_text())
    for rec in raw:
        s = score(rec["model_response"], rec["right_answer"], mode="upstream")
        assert s.parsed_answer == rec["parsed_answer"]
        assert s.correct == rec["correct"]


def test_upstream_records_map_to_scalinglab_prompts_and_rescore():
    recs = read_responses(DATA / "upstream_sample.json", mode="upstream")
    assert [r["upstream_correct"] for r in recs] == [r["correct"] for r in recs]
    friends = [r for r in recs if r["prompt_id"] == "aiw_friends/1/thinking_v2"]
    assert len(friends) == 6 and friends[0]["upstream_id"] == 577 and friends[0]["right_answer"] == 7
    assert [r["trial"] for r in friends] == list(range(6))
    base = [r for r in recs if r["prompt_id"] == "aiw/1/completion"]
    assert len(base) == 3 and base[0]["upstream_id"] == 87
    strict = read_responses(DATA / "upstream_sample.json", mode="auto")
    assert [r["parsed_answer"] for r in strict if r["prompt_id"] == "aiw/1/completion"] == [3, 1, 12]
    assert sum(r["correct"] for r in strict) == 2
