"""``scalinglab design`` and ``scalinglab sweep run --until`` through the real CLI (toy trainer)."""

from __future__ import annotations

import pytest
import yaml

from scalinglab._optional import has
from scalinglab.sweep import plan_sweep
from scalinglab.sweep.loop import read_log

pytestmark = pytest.mark.skipif(not has("typer"), reason="needs typer (scalinglab[cli])")

SPACE = {"name": "toyloop", "ladder": "gpt-tiny", "rungs": ["gpt-tiny-1", "gpt-tiny-2", "gpt-tiny-3", "gpt-tiny-4"],
         "n_tokens": [16384, 32768, 65536, 131072], "lr": [1.5e-3, 3e-3, 6e-3], "seeds": [0],
         "schedule": {"kind": "branched", "cooldown_frac": 0.2}, "trainer": "scalinglab.sweep._toy:train",
         "variant": "toy", "eval": {"eval_tokens": 4096}, "extra": {"toy_steps": 1, "toy_noise": 0.003}}
RULE = "width at 5e12 on gpt-tiny-4 < 30%"
# a target inside the toy space (gpt-tiny-3 at 65k tokens): beyond the data a width would count only once
# calibrated, which the toy space is too small for (tests/sweep/test_closed_loop.py)
RULE_IN = "width at 6.9256e10 on gpt-tiny-3 < 30%"


def cli(*args: str) -> int:
    from scalinglab.cli.main import main

    return main([str(a) for a in args])


@pytest.fixture
def space_yaml(tmp_path):
    p = tmp_path / "loop.yaml"
    p.write_text(yaml.safe_dump(SPACE))
    return p


def test_design_proposes_without_training(space_yaml, tmp_path, capsys):
    store = tmp_path / "s"
    assert cli("design", space_yaml, "--until", RULE, "--store", store, "--n-boot", "40") == 0
    out = capsys.readouterr().out
    assert "next (initial): gpt-tiny-1 D=16.4k,32.8k,65.5k" in out and "FLOPs" in out
    assert read_log(store, "toyloop") == [] and not (store / "runs").exists()


def test_sweep_run_until_runs_the_loop_and_the_log_reads_back(space_yaml, tmp_path, capsys):
    store = tmp_path / "s"
    full = plan_sweep(SPACE, check_data=False).cost().flops
    assert cli("sweep", "run", space_yaml, "--until", RULE_IN, "--budget", f"{full:g}", "--store", store,
               "--backend", "inline", "--no-progress") == 0
    cap = capsys.readouterr()
    assert "closed loop 'toyloop': reached" in cap.out and "round 1: decide initial" in cap.err
    assert cli("design", "--log", "--store", store) == 0
    log = capsys.readouterr().out
    assert "closed loop 'toyloop'" in log and "round 1 initial" in log and "stop: the 95% interval" in log
    # the stop was checked with 1000 refits (the default) before it was claimed
    assert "with 200 bootstrap refits" in log and "with 1000: confirmed" in log
    assert "(confirmed with 1000 bootstrap refits; 200 gave width" in log
    # the default budget is the whole sweep's cost; the same command again resumes (nothing left to do)
    assert cli("sweep", "run", space_yaml, "--until", RULE_IN, "--store", store, "--backend", "inline",
               "--no-progress") == 0
    assert "reached" in capsys.readouterr().out


def test_bad_rule_and_missing_arguments_exit_2(space_yaml, tmp_path, capsys):
    assert cli("design", space_yaml, "--until", "width at 5e12 < two%", "--store", tmp_path / "s") == 2
    assert "cannot read the stop rule" in capsys.readouterr().err
    assert cli("design", space_yaml, "--store", tmp_path / "s") == 2
    assert "needs a sweep FILE and --until" in capsys.readouterr().err
    assert cli("design", "--log", "--store", tmp_path / "empty") == 2
    assert "no closed-loop log" in capsys.readouterr().err
    assert cli("design", space_yaml, "--until", RULE, "--store", tmp_path / "s", "--confirm-boot", "-1") == 2
    assert "confirm_boot must be a number of bootstrap refits" in capsys.readouterr().err


def test_sweep_run_until_takes_the_loop_options_design_takes(space_yaml, tmp_path, capsys):
    store = tmp_path / "s"
    assert cli("sweep", "run", space_yaml, "--until", RULE_IN, "--store", store, "--backend", "inline",
               "--no-progress", "--name", "mine", "--n-boot", "40", "--confirm-boot", "0", "--lr-points", "2",
               "--per-round", "2", "--no-lr-transfer") == 0
    assert "closed loop 'mine': reached" in capsys.readouterr().out
    events = read_log(store, "mine")
    (start,) = [e for e in events if e["event"] == "start"]
    assert start["lr_points"] == 2 and start["lr_transfer"] is False
    assert not [e for e in events if e["event"] == "confirm"]            # --confirm-boot 0: no confirmation
    (stop,) = [e for e in events if e["event"] == "stop"]
    assert stop["reached"] and stop["n_boot"] == 40
    # the loop's name keeps it apart: the same store's default loop is another one
    assert read_log(store, "toyloop") == []


def test_sweep_run_help_says_which_options_need_until(capsys, monkeypatch):
    import re

    monkeypatch.setenv("COLUMNS", "200")
    for cmd, needs_until in ((("sweep", "run"), True), (("design",), False)):
        assert cli(*cmd, "--help") == 0
        # rich wraps and frames the help: read it as one line of words
        text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", capsys.readouterr().out).split())
        for opt in ("--lr-transfer", "--name", "--n-boot", "--confirm-boot", "--lr-points"):
            m = re.search(re.escape(opt) + r" (?:--no-lr-transfer )?(?:<\w+> )?(With --until: )?[A-Za-z]", text)
            assert m is not None and bool(m.group(1)) == needs_until, (cmd, opt)
