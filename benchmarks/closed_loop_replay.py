"""The closed loop replayed on a real, fully trained gpt-tiny ladder: what would it have decided?

The simulated worlds of ``benchmarks/closed_loop.py`` know their law exactly; the real ladder
does not follow Chinchilla's form at its longest budgets (docs/datasets.md, "The 4.2M-token
question"). This script runs ``run_loop`` against a store of the ``full`` sweep (gpt-tiny-1..5 x
131k-4.2M tokens x the full sweep's learning-rate grids, branched WSD, stdlib), "training" each
run it asks for by looking up the stored result (``scalinglab.sweep._replay:train``: exact, a
cooldown branch of a longer trunk being the same computation as a run of that length). The
loop's space is the shipped ``loop`` sweep's (budgets up to 2.1M tokens, learning-rate grids that
are the full sweep's), so that every run it can ask for was trained; the targets lie at
4.2M tokens, outside the space, where the store holds the tuned truth. ``--loop-long`` adds the
target's budget to the space on the rungs smaller than the target's (all in the full store).

For each target and asked width it reports the decisions, the width after every round, the FLOPs
spent, and whether the stored tuned loss at the target lies inside the final interval; and the
same for the demo's fixed grid (seed 0 of the same store) as the baseline. One ladder, one seed:
each line is one draw, deterministic given the store, not a distribution.

Usage::

    scalinglab sweep run full --store FULL      # 102 runs, about 32 min on 2 cores
    .venv/bin/python benchmarks/closed_loop_replay.py FULL [--width 8 10 12] [--json out.json]

Results: docs/sweeps.md ("Replayed on the real ladder").
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

TARGETS = (("gpt-tiny-5", 4194304), ("gpt-tiny-4", 4194304))


def sweep_dict(name: str, store: str, dataset: str | None = None, long_to: tuple[int, str] | None = None) -> dict:
    from scalinglab.config import load_mapping
    from scalinglab.sweep.plan import sweep_path

    d = dict(load_mapping(sweep_path(name)))
    full = dict(load_mapping(sweep_path("full")))
    other = {k: v for k, v in dict(d["lr"]).items() if list(v) != list(dict(full["lr"]).get(k, []))}
    if other:       # a run the loop could ask for would be missing from the full store
        sys.exit(f"the {name!r} sweep's learning-rate grids differ from the full sweep's for {sorted(other)}: "
                 "the replay needs every run the space allows to exist in the full store")
    d.update({"trainer": "scalinglab.sweep._replay:train", "variant": d.get("variant", "demo"),
              "trainer_options": {}, "extra": {"replay_store": str(Path(store).resolve())}})
    if dataset is not None:
        d["dataset"] = dataset
    if long_to is not None:     # the target's budget on the rungs smaller than the target's (closed_loop.py --loop-long)
        here = str(Path(__file__).resolve().parent)      # a sibling script, imported from anywhere
        if here not in sys.path:
            sys.path.insert(0, here)
        from closed_loop import long_space

        d["n_tokens"] = long_space(d["rungs"], d["n_tokens"], *long_to)
    return d


def truth(store: str, rung: str, n_tokens: int, dataset: str | None = None) -> tuple[float, float]:
    """The stored tuned loss (best learning rate) of ``rung`` at ``n_tokens``, and that rate."""
    from scalinglab.store import ResultsStore

    with ResultsStore(store, readonly=True) as st:
        recs = [r for r in st.records(status=("done",), ladder="gpt-tiny")
                if r.spec.rung == rung and r.spec.n_data == n_tokens and r.spec.seed == 0
                and (dataset is None or r.spec.dataset == dataset)]
    if not recs:
        sys.exit(f"{store} has no finished {rung} run at {n_tokens} tokens: train the `full` sweep there")
    best = min(recs, key=lambda r: r.metrics["val_loss"])
    return float(best.metrics["val_loss"]), float(best.spec.lr)


def target(rung: str, n_tokens: int) -> tuple[float, dict]:
    from scalinglab.ladders import get_ladder

    lad = get_ladder("gpt-tiny")
    r = lad[rung]
    c = float(lad.procedure_spec.flops_per_unit(r.model)) * n_tokens
    return c, {"n_params": float(r.n_params), "n_tokens": float(n_tokens)}


def grid(store: str, x: dict, root: Path, n_boot: int, level: float, dataset: str | None = None) -> dict:
    from scalinglab.laws import best_per_size, fit
    from scalinglab.laws.design import target_state
    from scalinglab.store import ResultsStore
    from scalinglab.sweep import plan_sweep, run_sweep

    plan = plan_sweep(sweep_dict("demo", store, dataset), check_data=False)
    g = root / "grid"
    run_sweep(plan, backend="inline", store=g, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ResultsStore(g, readonly=True) as st:
            runs = st.to_runs()
        f = fit("chinchilla", best_per_size(runs, tuned="lr"), n_boot=n_boot, seed=0)
    s = target_state(f, x, level=level)
    return {"flops": plan.cost().flops, "mean": s.mean, "low": s.low, "high": s.high, "width": s.width,
            "interval": s.interval}


def loop(store: str, rung: str, c_star: float, width: float, budget: float, root: Path, *, n_boot: int,
         per_round: int, level: float, dataset: str | None = None, confirm_boot: int = 1000,
         long_to: tuple[int, str] | None = None) -> dict:
    from scalinglab.sweep.loop import read_log, run_loop

    until = f"width at {c_star:.6g} on {rung} < {width:g}%"
    if not math.isclose(level, 0.95):
        until += f" at {100 * level:g}%"
    t0 = time.perf_counter()
    rep = run_loop(sweep_dict("loop", store, dataset, long_to), until=until, budget_flops=budget, store=root, backend="inline",
                   n_boot=n_boot, seed=0, per_round=per_round, confirm_boot=confirm_boot)
    log = read_log(root, rep.name)
    rounds = []
    for e in log:
        if e["event"] == "decision":
            if not rounds or rounds[-1]["round"] != e["round"]:
                rounds.append({"round": e["round"], "decisions": []})
            rounds[-1]["decisions"].append(e["key"])
        elif e["event"] == "state" and e["round"] > 0 and e["states"][""] is not None:
            st = e["states"][""]
            rounds[-1].update(spent=e["spent_flops"], mean=st["mean"], low=st["low"], high=st["high"],
                              width=st["width"])
    s = rep.states[""]
    confirms = [{"spent": e["spent_flops"], "cheap": e["cheap"], "precise": e["precise"], "confirmed": e["confirmed"]}
                for e in log if e["event"] == "confirm"]
    return {"until": until, "reached": rep.reached, "reason": rep.reason, "spent": rep.spent_flops, "confirms": confirms,
            "rounds": rounds, "mean": s.mean, "low": s.low, "high": s.high, "width": s.width,
            "seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", help="a store of the `full` sweep (scalinglab sweep run full --store ...)")
    ap.add_argument("--width", type=float, nargs="+", default=[8.0, 10.0, 12.0], help="asked widths, percent")
    ap.add_argument("--budget", type=float, default=2.5e13, help="training FLOPs the loop may spend")
    ap.add_argument("--per-round", type=int, default=2, help="decisions per round (the real run's --workers 2)")
    ap.add_argument("--n-boot", type=int, default=200, help="bootstrap refits per round (the loop's planning)")
    ap.add_argument("--confirm-boot", type=int, default=1000,
                    help="refits that confirm the loop's stop and give both sides' reported widths (<= --n-boot: none)")
    ap.add_argument("--level", type=float, default=0.95)
    ap.add_argument("--dataset", default=None, help="the dataset the store's runs trained on (default: the sweeps', stdlib)")
    ap.add_argument("--loop-long", action="store_true",
                    help="the loop's space also holds the target's budget on the rungs smaller than the target's")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from scalinglab.units import format_quantity

    out = {"args": vars(args), "targets": []}
    with tempfile.TemporaryDirectory(prefix="replay_") as tmp:
        for i, (rung, n_tok) in enumerate(TARGETS):
            c_star, x = target(rung, n_tok)
            y, lr = truth(args.store, rung, n_tok, args.dataset)
            g = grid(args.store, x, Path(tmp) / f"g{i}", max(args.n_boot, args.confirm_boot), args.level, args.dataset)
            inside = g["low"] <= y <= g["high"]
            print(f"\ntarget {rung} at {format_quantity(n_tok)} tokens, C* = {c_star:.4g} FLOPs: stored tuned loss "
                  f"{y:.4f} (lr {lr:g})")
            print(f"  fixed demo grid, {g['flops']:.3g} FLOPs: {g['mean']:.4f} [{g['low']:.4f}, {g['high']:.4f}] "
                  f"width {100 * g['width']:.2f}% ({g['interval']}); truth {'inside' if inside else 'OUTSIDE'}")
            rec = {"rung": rung, "n_tokens": n_tok, "c_star": c_star, "truth": y, "truth_lr": lr,
                   "grid": dict(g, covers=inside), "loops": []}
            for w in args.width:
                r = loop(args.store, rung, c_star, w, args.budget, Path(tmp) / f"l{i}-{w:g}", n_boot=args.n_boot,
                         per_round=args.per_round, level=args.level, dataset=args.dataset,
                         confirm_boot=args.confirm_boot, long_to=(n_tok, rung) if args.loop_long else None)
                r["covers"] = r["low"] <= y <= r["high"]
                rec["loops"].append(r)
                print(f"  loop asked < {w:g}%: {'reached' if r['reached'] else 'NOT reached'} after "
                      f"{len(r['rounds'])} rounds, {r['spent']:.3g} FLOPs ({r['spent'] / g['flops']:.2f}x the grid's): "
                      f"{r['mean']:.4f} [{r['low']:.4f}, {r['high']:.4f}] width {100 * r['width']:.2f}%; truth "
                      f"{'inside' if r['covers'] else 'OUTSIDE'}  [{r['seconds']:.0f}s]")
                for rd in r["rounds"]:
                    wtxt = f"{100 * rd['width']:.2f}%" if "width" in rd else "-"
                    print(f"     r{rd['round']}: {'; '.join(rd['decisions'])} -> {rd.get('spent', 0):.3g} FLOPs, {wtxt}")
                for c in r["confirms"]:
                    print(f"     stop check at {c['spent']:.3g} FLOPs: {c['cheap']} ({args.n_boot} refits), {c['precise']} "
                          f"({args.confirm_boot}): {'confirmed' if c['confirmed'] else 'not confirmed, went on'}")
            out["targets"].append(rec)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float))
    return out


if __name__ == "__main__":
    main()
