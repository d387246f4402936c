"""``scalinglab datasets list|show|register|pool|build|audit``: the dataset registry and recipes.

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
from ..datasets.imagesets import get_image_text
from ..datasets.imagetext import is_shard_dataset, is_world
from ..datasets.manifest import count_tokens
from ..datasets.pool import NOISE_KINDS, PoolConfig, build_pool
from ..datasets.registry import BUILTIN
from ..datasets.shapeworld import manifest
from ..errors import ConfigError, DataError, suggest

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
        if name in worlds and not is_shard_dataset(name):
            try:
                w = get_world(name)
                print(f"{name}  (image-text, generated on the fly; hash {w.hash[:12]}: {w.description})")
            except Exception as exc:     # a damaged entry must not hide the others
                print(f"{name}  (unreadable world registration: {exc})")
            continue
        if is_shard_dataset(name):
            try:
                print(get_image_text(name).summary())
            except Exception as exc:     # a damaged entry must not hide the others
                print(f"{name}  (unreadable image-text manifest: {exc})")
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

    if is_shard_dataset(name):
        it = get_image_text(name)
        if as_json:
            print(json.dumps(dict(it.manifest), indent=1, sort_keys=True))
            return
        print(it.summary())
        print(f"hash:        {it.hash}")
        print(f"path:        {it.path}")
        m = it.manifest
        if m.get("recipe"):
            print(f"recipe:      {json.dumps(m['recipe'], sort_keys=True)[:400]}")
        if m.get("rates"):
            print(f"noise rates: {json.dumps(m['rates'], sort_keys=True)}")
        for sh in m.get("shards", ()):
            print(f"shard:       {sh.get('path')}  {str(sh.get('sha256', ''))[:16]}  {int(sh.get('samples', 0)):,} samples")
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


@app.command("pool")
def pool_cmd(name: str = typer.Argument(..., help="Name of the image-text dataset to write.", show_default=False),
             samples: int = typer.Option(4096, "--samples", help="Samples in the pool."),
             seed: int = typer.Option(0, "--seed", help="Generator seed (same seed, same pool and hash)."),
             rate: list[str] = typer.Option([], "--rate", help="KIND=RATE, a noise kind's share of the pool "
                                                              f"(repeatable; kinds: {', '.join(NOISE_KINDS)})."),
             overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset of that name."),
             quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr.")) -> None:
    """Generate a noisy image-text pool of the shape world (misaligned, partial, wrong-attribute,
    boilerplate captions, duplicates, concept shift; each sample labelled) as WebDataset shards."""

    rates: dict[str, float] = {}
    for item in rate:
        kind, sep, value = item.partition("=")
        if not sep or kind not in NOISE_KINDS:
            raise ConfigError(f"--rate {item!r}: expected KIND=RATE with KIND one of {', '.join(NOISE_KINDS)}"
                              f".{suggest(kind, NOISE_KINDS)}")
        try:
            rates[kind] = float(value)
        except ValueError:
            raise ConfigError(f"--rate {item!r}: the rate must be a number in [0, 1]") from None
    ds = build_pool(PoolConfig(n_samples=samples, seed=seed, **rates), name, overwrite=overwrite,
                    progress=_say(quiet))
    print(ds.summary())


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

    ds = get_image_text(name) if is_shard_dataset(name) else get_dataset(name, build=False)
    if ds.audit is None:
        raise DataError(f"dataset {name!r} was not built by a recipe, so it has no audit; "
                        "`scalinglab datasets show` gives its manifest")
    print(json.dumps(ds.audit.to_dict(), indent=1) if as_json else ds.audit.as_text(examples=examples))


def register(root: typer.Typer) -> None:
    """Mount ``datasets`` on the root app."""
    root.add_typer(app, name="datasets")
