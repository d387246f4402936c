"""Helpers shared by the CLI tests: run ``scalinglab`` in-process and check one-line errors."""

from __future__ import annotations

from scalinglab.cli.main import main


def run_cli(capsys, *args):
    """Run ``scalinglab ARGS`` in-process; return ``(exit code, stdout, stderr)``."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *needles):
    """Exit code 2, exactly one ``error: ...`` line (warnings aside) containing every needle, no traceback."""
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])
