"""Data of the report and CLI tests: runs from known laws and a real results store of them."""

from __future__ import annotations

import numpy as np

from scalinglab.laws import Runs

# L(N, D) = E + A / N^alpha + B / D^beta with values in the range of the tiny-GPT demo
TRUE_ND = {"E": 1.2, "A": 25.0, "B": 400.0, "alpha": 0.3, "beta": 0.45}
SIZES = (2.0e4, 5.0e4, 1.2e5, 3.0e5, 7.0e5)
BUDGETS = (1.3e5, 2.6e5, 5.2e5, 1.0e6, 2.0e6)


def chinchilla_loss(N, D, p=TRUE_ND):
    return p["E"] + p["A"] / np.asarray(N) ** p["alpha"] + p["B"] / np.asarray(D) ** p["beta"]


def nd_runs(noise: float = 0.004, seed: int = 0, *, lrs=(3e-3, 1e-2), procedure: str | None = None,
            scale: float = 1.0) -> Runs:
    """A grid of sizes x budgets x learning rates; the second learning rate is 3% worse."""
    rng = np.random.default_rng(seed)
    N, D, lr, y = [], [], [], []
    for n in SIZES:
        for d in BUDGETS:
            for j, r in enumerate(lrs):
                N.append(n)
                D.append(d)
                lr.append(r)
                y.append(scale * chinchilla_loss(n, d) * (1 + 0.03 * j) * np.exp(noise * rng.standard_normal()))
    groups = {"lr": lr}
    if procedure is not None:
        groups["procedure"] = [procedure] * len(y)
    return Runs.from_arrays(n_params=N, n_tokens=D, target=y, groups=groups,
                            run_id=[f"{procedure or 'r'}{i}" for i in range(len(y))])


def crossing_arms(seed: int = 0) -> tuple[Runs, Runs]:
    """Two L(C) arms that cross near 3e19 FLOPs: A is better below, B above."""
    C = np.logspace(18, 21, 10)
    rng = np.random.default_rng(seed)
    ya = (2.0 + 30 * C ** -0.1) * np.exp(0.002 * rng.standard_normal(C.size))
    yb = (1.5 + 6650 * C ** -0.2) * np.exp(0.002 * rng.standard_normal(C.size))
    return (Runs.from_arrays(flops=C, target=ya, run_id=[f"a{i}" for i in range(C.size)]),
            Runs.from_arrays(flops=C, target=yb, run_id=[f"b{i}" for i in range(C.size)]))


def store_with_runs(path, *, procedures=("baseline",), seed: int = 0):
    """A real ResultsStore filled with finished GPT-like runs whose loss follows TRUE_ND."""
    from scalinglab.procedures import GPTConfig
    from scalinglab.store.schema import RunRecord, RunSpec
    from scalinglab.store.store import ResultsStore

    rng = np.random.default_rng(seed)
    store = ResultsStore(path)
    model = GPTConfig(n_layer=2, d_model=32, n_head=2, seq_len=128, vocab_size=256)
    for k, proc in enumerate(procedures):
        for i, n in enumerate(SIZES):
            for d in BUDGETS:
                for j, lr in enumerate((3e-3, 1e-2)):
                    spec = RunSpec(rung=f"toy-{i + 1}", model=GPTConfig(n_layer=2, d_model=32 * (i + 1), n_head=2,
                                                                        seq_len=128, vocab_size=256),
                                   n_data=int(d), lr=lr, variant=proc, ladder="toy")
                    loss = chinchilla_loss(n, d) * (1 - 0.04 * k) * (1 + 0.03 * j)
                    loss *= float(np.exp(0.004 * rng.standard_normal()))
                    store.put(RunRecord(run_id=spec.run_id, spec=spec, status="done",
                                        metrics={"val_loss": loss}, n_data_seen=int(d),
                                        n_params={"non_embedding": int(n)},
                                        flops={"exact": 9.0 * n * d}, wall_s=1.0,
                                        provenance={"git_commit": "0123456789abcdef", "git_dirty": False}))
    # one diverged run: excluded from the analysis, named in the provenance
    spec = RunSpec(rung="toy-9", model=model, n_data=1000, lr=1.0, variant=procedures[0], ladder="toy")
    store.put(RunRecord(run_id=spec.run_id, spec=spec, status="diverged", error="NaN loss at step 3"))
    return store
