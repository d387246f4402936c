"""AIW tasks as data: golden upstream texts, computed answers, versions, user families, bad files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from scalinglab.errors import ConfigError, UnknownNameError
from scalinglab.evals import get_family, get_prompt_type, list_families, list_prompt_types, render, task
from scalinglab.evals._expr import count, evaluate, names, number_word

HERE = Path(__file__).resolve().parent


def _claimed():
    for fam in list_families():
        f = get_family(fam)
        for v in f.variations:
            for pt, uid in v.upstream.items():
                yield f, v, pt, uid


def test_every_claimed_upstream_id_renders_exactly_that_text_with_that_answer(upstream_prompts):
    n = 0
    for f, v, pt, uid in _claimed():
        p = f.render(v, pt)
        up = upstream_prompts[uid]
        assert p.upstream_id == uid
        assert p.text == up["prompt"], f"{p.prompt_id} differs from upstream id {uid}"
        assert float(up["right_answer"]) == p.right_answer, f"{p.prompt_id}: answer vs upstream {uid}"
        assert not up["prompt"].startswith("DO NOT USE")
        n += 1
    assert n == 123  # (family, variation, prompt type) triples that reproduce an upstream prompt


def test_every_rendered_prompt_that_exists_upstream_carries_its_id(upstream_prompts):
    by_text = {}
    for uid, r in sorted(upstream_prompts.items()):
        if isinstance(r["prompt"], str):
            by_text.setdefault(r["prompt"], []).append(uid)
    for fam in list_families():
        for p in render(fam, prompt_types=list_prompt_types()):
            ids = by_text.get(p.text)
            if ids:
                assert p.upstream_id in ids, f"{p.prompt_id} is upstream id(s) {ids} but claims {p.upstream_id}"
            else:
                assert p.upstream_id is None


def test_the_paper_reference_prompts_are_all_reproduced():
    # AIW variations 1-4 x STANDARD/THINKING/RESTRICTED (upstream README, Fig. 1 data collection)
    ids = {p.upstream_id: p.prompt_id for p in render("aiw")}
    for uid in (55, 56, 63, 69, 57, 58, 64, 70, 53, 54, 65, 71, 205, 206, 187, 188, 457, 458, 87, 88, 89, 90):
        assert uid in ids, uid
    assert ids[55] == "aiw/1/standard" and ids[54] == "aiw/2/restricted" and ids[458] == "aiw/6/thinking_v2"
    assert ids[87] == "aiw/1/completion"


def test_upstream_ids_are_unique():
    seen = {}
    for f, v, pt, uid in _claimed():
        assert uid not in seen, f"id {uid} claimed by {seen.get(uid)} and {f.name}/{v.name}/{pt}"
        seen[uid] = f"{f.name}/{v.name}/{pt}"


def test_aiw_original_variations_numbers_order_and_answers():
    f = get_family("aiw")
    answers = [f.answer_for(str(i)) for i in range(1, 7)]
    assert answers == [7, 3, 5, 2, 4, 6]
    assert f.problem("1") == "Alice has 3 brothers and she also has 6 sisters. How many sisters does Alice's brother have?"
    assert f.problem("2").startswith("Alice has 2 sisters and she also has 4 brothers.")
    assert f.problem("3").startswith("Alice has 4 sisters and she also has 1 brother.")  # singular
    assert f.problem("4").startswith("Alice has 4 brothers and she also has 1 sister.")
    assert f.problem("6").startswith("Alice has 5 sisters and she also has 3 brothers.")


@pytest.mark.parametrize("family, formula_check", [
    ("aiw_light_family", lambda v: v["N"]),
    ("aiw_light_siblings", lambda v: v["N"] + v["M"]),
    ("aiw_light_total_girls", lambda v: v["M"] + 1),
    ("aiw_ext", lambda v: v["B"] + 1),
    ("aiw_ext_bob", lambda v: v["S"] + 1),
    ("aiw_friends", lambda v: v["F"] + 1),
])
def test_answers_follow_the_issue_formulas(family, formula_check):
    f = get_family(family)
    for v in f.variations:
        assert f.answer_for(v) == formula_check(v.variables)


def test_controls_are_declared_and_share_the_variation_answers():
    f = get_family("aiw")
    assert set(f.controls) == {"aiw_light_family", "aiw_light_siblings", "aiw_light_total_girls"}
    for c in f.controls:
        cf = get_family(c)
        assert cf.kind == "control"
        for v in cf.variations:  # controls are built to share each AIW variation's answer
            assert cf.answer_for(v) == f.answer_for(v.name)


def test_prompt_types_have_the_exact_upstream_wording():
    assert get_prompt_type("standard").template == (
        '{problem} Solve this problem and provide the final answer in following form: "### Answer: ".')
    assert get_prompt_type("thinking_v2").template == (
        "{problem} Before providing answer to this problem, think carefully step by step and double "
        'check the path to the correct solution for any mistakes. Provide then the final answer in '
        'following form: "### Answer: ".')
    assert get_prompt_type("completion").template == "### Problem: {problem}\n### Answer: "
    assert get_prompt_type("completion").style == "completion"
    assert set(list_prompt_types()) >= {"standard", "thinking", "thinking_v2", "restricted",
                                        "format_only", "plain", "completion"}


def test_every_family_renders_every_prompt_type():
    for fam in list_families():
        f = get_family(fam)
        for pt in list_prompt_types():
            for p in render(f, prompt_types=[pt]):
                assert p.prompt_id == f"{fam}/{p.variation}/{pt}"
                assert isinstance(p.right_answer, int) and p.right_answer > 0
                assert "{" not in p.text and "}" not in p.text
                assert len(p.sha) == 12 and p.task_version == f"{f.version}.1"


def test_rendered_prompts_match_the_golden_hashes_or_the_version_was_bumped():
    spec = importlib.util.spec_from_file_location("hashes", HERE / "tools" / "update_prompt_hashes.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    golden = json.loads((HERE / "golden" / "aiw_prompt_hashes.json").read_text())
    now = mod.fingerprints()
    for kind in ("families", "prompt_types"):
        for name, fp in now[kind].items():
            old = golden[kind].get(name)
            assert old is not None, f"new {kind[:-1]} {name!r}: run tests/evals/tools/update_prompt_hashes.py"
            if fp["sha256"] != old["sha256"]:
                assert fp["version"] != old["version"], (
                    f"{name!r} renders different prompts/answers but its version is still "
                    f"{fp['version']}: bump `version` in its YAML, then run "
                    "tests/evals/tools/update_prompt_hashes.py")
                pytest.fail(f"{name!r} version bumped: regenerate the golden hashes "
                            "(tests/evals/tools/update_prompt_hashes.py)")


def test_user_family_inherits_with_include_and_overrides(tmp_path, isolated_tasks):
    base = task.TASK_DIR / "aiw.yaml"
    (tmp_path / "my_light.yaml").write_text(
        f"include: {base}\nfamily: my_light\nversion: 1\ncontrols: []\n"
        "question: \"How many brothers does Alice's sister have?\"\nanswer: N\n"
        "prompt_types: [thinking_v2]\n"
        "variations:\n  \"9\": {vars: {N: 5, M: 2}, template: sisters_first}\n")
    added = isolated_tasks.add_task_path(tmp_path)
    assert added == ["my_light"]
    (p,) = render("my_light")
    assert p.text.startswith("Alice has 2 sisters and she also has 5 brothers. How many brothers "
                             "does Alice's sister have? Before providing answer")
    assert p.right_answer == 5 and p.upstream_id is None and p.prompt_id == "my_light/9/thinking_v2"


def test_user_family_with_a_relative_base_and_its_own_template(tmp_path, isolated_tasks):
    (tmp_path / "_base.yaml").write_text(
        "templates:\n  t: \"Bob has {k} and {l}.\"\nderived:\n  k: count(K, 'cat')\n  l: count(L, 'dog')\n")
    (tmp_path / "pets.yaml").write_text(
        "include: _base.yaml\nfamily: pets\nversion: 3\nquestion: \"How many pets does Bob have?\"\n"
        "answer: K + L\ndefault_template: t\n"
        "variations:\n  a: {vars: {K: 1, L: 0}}\n  b: {vars: {K: 2, L: 3}}\n")
    isolated_tasks.add_task_path(tmp_path)
    ps = render("pets", prompt_types=["plain"])
    assert [p.text for p in ps] == ["Bob has 1 cat and no dogs. How many pets does Bob have?",
                                    "Bob has 2 cats and 3 dogs. How many pets does Bob have?"]
    assert [p.right_answer for p in ps] == [1, 5] and ps[0].task_version == "3.1"


def _family_file(tmp_path, **over):
    body = {"family": "bad", "version": 1, "templates": {"t": "Alice has {N} brothers."},
            "default_template": "t", "question": "Q?", "answer": "N + 1",
            "variations": {"1": {"vars": {"N": 2}}}}
    body.update(over)
    path = tmp_path / "bad.yaml"
    import yaml

    path.write_text(yaml.safe_dump(body))
    return path


def test_answer_formula_with_a_missing_variable_is_a_clear_error(tmp_path, isolated_tasks):
    path = _family_file(tmp_path, answer="NN + 1")
    with pytest.raises(ConfigError, match=r"'NN'.*not defined.*Did you mean: N\?.*Defined variables: N"):
        isolated_tasks.add_task_path(path)


def test_formulas_cannot_run_code(tmp_path, isolated_tasks):
    path = _family_file(tmp_path, answer="__import__('os').getpid()")
    with pytest.raises(ConfigError, match="unknown function '__import__'|not allowed"):
        isolated_tasks.add_task_path(path)
    with pytest.raises(ConfigError, match="Attribute is not allowed"):
        evaluate("N.real", {"N": 1})
    with pytest.raises(ConfigError, match="cannot parse"):
        evaluate("N +", {"N": 1})


def test_bad_family_files_name_the_problem(tmp_path, isolated_tasks):
    with pytest.raises(ConfigError, match="unknown key 'questoin'.*Did you mean: question"):
        isolated_tasks.add_task_path(_family_file(tmp_path, questoin="x"))
    with pytest.raises(ConfigError, match=r"placeholder \{M\} is not a variable"):
        isolated_tasks.add_task_path(_family_file(tmp_path, templates={"t": "Alice has {M} sisters."}))
    with pytest.raises(ConfigError, match="unknown template 'u'"):
        isolated_tasks.add_task_path(_family_file(tmp_path, variations={"1": {"vars": {"N": 2}, "template": "u"}}))
    with pytest.raises(ConfigError, match="unknown prompt type 'thinking2'.*Did you mean: thinking"):
        isolated_tasks.add_task_path(_family_file(tmp_path, prompt_types=["thinking2"]))
    with pytest.raises(ConfigError, match="must give an integer"):
        isolated_tasks.add_task_path(_family_file(tmp_path, answer="'seven'"))
    with pytest.raises(ConfigError, match="missing required key 'answer'"):
        path = tmp_path / "noanswer.yaml"
        path.write_text("family: x\nversion: 1\nvariations: {'1': {text: hi}}\n")
        isolated_tasks.add_task_path(path)
    assert "bad" not in list_families()  # nothing half-registered


def test_unknown_names_suggest_close_ones():
    with pytest.raises(UnknownNameError, match="Did you mean: aiw_friends"):
        get_family("aiw_frends")
    with pytest.raises(UnknownNameError, match="Did you mean: thinking_v2"):
        get_prompt_type("thinkingv2")
    with pytest.raises(UnknownNameError, match="no variation '9'.*Available: 1, 2, 3, 4, 5, 6"):
        get_family("aiw").variation("9")
    with pytest.raises(UnknownNameError, match="unknown prompt type"):
        render("aiw", prompt_types=["standrd"])


def test_expression_helpers():
    assert count(0, "sister") == "no sisters" and count(1, "sister") == "1 sister"
    assert count(3, "male friend") == "3 male friends" and number_word(4) == "four"
    assert evaluate("NN + FN + K - 2 * (S + B + 1)", {"NN": 6, "FN": 5, "K": 2, "S": 1, "B": 1}) == 7
    assert evaluate("'a' if N == 1 else 'b'", {"N": 1}) == "a"
    assert names("count(N, 'x') + M") == {"N", "M"}
    with pytest.raises(ConfigError, match="division by zero"):
        evaluate("N // 0", {"N": 1})
