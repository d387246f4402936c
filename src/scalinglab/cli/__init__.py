"""The ``scalinglab`` command line (a thin typer layer: parse, call the public API, print)."""
