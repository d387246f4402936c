"""``scalinglab datasets list|show|register|build|audit``: the dataset registry and recipes.

Thin wrappers over :mod:`scalinglab.datasets`; progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from ..datasets import (
    Manifest,
    data_dir,
    get_dataset,
    get_world,
    list_datasets,
    load_recipe,
    register_dataset,
    run_recipe,
)
from ..datasets.imagetext import is_world
from ..datasets.manifest import count_tokens
from ..datasets.registry import BUILTIN
from ..datasets.shapeworld import manifest
from ..errors import DataError

app = typer.Typer(name="datasets", help="Built-in and registered datasets, recipes and their audits.",
                  no_args_is_help=True)


def _say(quiet: bool):
    return None if quiet else (lambda m: print(f"datasets: {m}", file=sys.stderr, flush=True))


@app.command("list")
def list_cmd() -> None:
    """List built-in datasets and those built or registered (built-ins not yet built say so)."""

    root = data_dir()
    worlds = set(list_datasets(modality="image-text"))
    for name in list_datasets():
        if name in worlds:
            try:
                w = get_world(name)
                print(f"{name}  (image-text, generated on the fly; hash {w.hash[:12]}: {w.description})")
            except Exception as exc:     # a damaged entry must not hide the others
                print(f"{name}  (unreadable world registration: {exc})")
            continue
        m = root / name / "manifest.json"
        if m.exists():

            try:
                print(Manifest.load(m).summary())
            except Exception as exc:     # a damaged entry must not hide the others
                print(f"{name}  (unreadable manifest: {exc})")
        else:
            spec = BUILTIN.get(name)
            print(f"{name}  (built-in, not built yet: {spec.description})")


@app.command("show")
def show_cmd(name: str = typer.Argument(..., help="Dataset name.", show_default=False),
             as_json: bool = typer.Option(False, "--json", help="Print the whole manifest as JSON."),
             tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="Also count tokens under this BPE "
                                                                               "tokenizer JSON (recorded in the manifest)."),
             verify: bool = typer.Option(False, "--verify", help="Re-hash every shard."),
             quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr.")) -> None:
    """Show a dataset's manifest (building a built-in on first use)."""

    if is_world(name):
        w = get_world(name)
        if as_json:
            print(json.dumps({**manifest(w.config), "manifest_hash": w.hash}, indent=1, sort_keys=True))
            return
        print(f"{name}: image-text shape world, generated on the fly (nothing stored)")
        print(f"hash:        {w.hash}")
        print(f"description: {w.description}")
        print(f"world:       {json.dumps(w.config.to_dict(), sort_keys=True)}")
        return

    ds = get_dataset(name, progress=_say(quiet))
    if verify:
        ds.verify()
    m = ds.manifest
    if tokenizer:
        m = count_tokens(m, ds.path, tokenizer)
        m.save(ds.path / "manifest.json")
    if as_json:
        print(json.dumps(m.to_dict(), indent=1, sort_keys=True))
        return
    print(m.summary())
    print(f"hash:        {m.hash}")
    print(f"path:        {ds.path}")
    if m.description:
        print(f"description: {m.description}")
    for s in m.sources:
        print(f"source:      {json.dumps(s, sort_keys=True)[:400]}")
    if m.recipe:
        print(f"recipe:      {json.dumps(m.recipe, sort_keys=True)[:400]}")
    for s in m.shards:
        print(f"shard:       {s.path}  {s.sha256[:16]}  {s.n_documents:,} docs  {s.n_bytes:,} bytes")


@app.command("register")
def register_cmd(name: str = typer.Argument(..., help="Name to register under.", show_default=False),
                 source: str = typer.Argument(..., help="A folder, .jsonl, .parquet or saved HF dataset "
                                                        "(add '#field' to name the text field).",
                                              show_default=False),
                 licence: str = typer.Option("unknown", "--licence", help="Licence to record."),
                 exclude: list[str] = typer.Option([], "--exclude", help="Glob of folder files to leave out "
                                                                        "(repeatable)."),
                 overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset of that name."),
                 quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr.")) -> None:
    """Register your own text as a dataset (copied into the data folder with a manifest)."""

    ds = register_dataset(name, source, licence=licence, exclude=tuple(exclude), overwrite=overwrite,
                          progress=_say(quiet))
    print(ds.manifest.summary())


@app.command("build")
def build_cmd(recipe: str = typer.Argument(..., help="A recipe YAML file.", show_default=False),
              overwrite: bool = typer.Option(False, "--overwrite", help="Replace the output dataset."),
              check: bool = typer.Option(False, "--check", help="Only check the recipe; run nothing."),
              quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr.")) -> None:
    """Run a recipe: filter, deduplicate and mix datasets into a new one, and print its audit."""

    rec = load_recipe(recipe)
    if check:
        print(f"{recipe}: ok ({len(rec.steps)} steps, inputs {', '.join(rec.inputs)}, output {rec.name!r})")
        return
    ds = run_recipe(rec, overwrite=overwrite, progress=_say(quiet))
    print(ds.audit.as_text())
    print(ds.manifest.summary())


@app.command("audit")
def audit_cmd(name: str = typer.Argument(..., help="A dataset built by a recipe.", show_default=False),
              as_json: bool = typer.Option(False, "--json", help="Print the audit as JSON."),
              examples: bool = typer.Option(True, "--examples/--no-examples", help="Show removed examples.")) -> None:
    """Show what each step of the recipe that built a dataset removed, and why."""

    ds = get_dataset(name, build=False)
    if ds.audit is None:
        raise DataError(f"dataset {name!r} was not built by a recipe, so it has no audit; "
                        "`scalinglab datasets show` gives its manifest")
    print(json.dumps(ds.audit.to_dict(), indent=1) if as_json else ds.audit.as_text(examples=examples))


def register(root: typer.Typer) -> None:
    """Mount ``datasets`` on the root app."""
    root.add_typer(app, name="datasets")
