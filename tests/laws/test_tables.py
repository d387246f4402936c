"""The runs loader: formats, column mapping, units, FLOP conventions, bad input, fuzzing."""

from __future__ import annotations

import json
import math
import string
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalinglab.errors import (
    DataError,
    DataWarning,
    MissingColumnError,
    ScalingLabError,
    UnknownNameError,
)
from scalinglab.laws import Runs, load_runs

CSV = "run_id,N,D,loss,lr\na,70M,1.4B,3.1,1e-3\nb,300M,6B,2.8,1e-3\nc,1B,20B,2.6,3e-4\n"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def check_same(runs: Runs) -> None:
    np.testing.assert_allclose(runs.n_params, [7e7, 3e8, 1e9])
    np.testing.assert_allclose(runs.n_tokens, [1.4e9, 6e9, 2e10])
    np.testing.assert_allclose(runs.flops, 6 * runs.n_params * runs.n_tokens)
    np.testing.assert_allclose(runs.target, [3.1, 2.8, 2.6])
    assert list(runs.run_id) == ["a", "b", "c"]
    assert runs.flops_convention == "6ND"


# --- formats -------------------------------------------------------------------------------

def test_csv_with_human_units(tmp_path):
    runs = load_runs(write(tmp_path, "r.csv", CSV), group_by="lr")
    check_same(runs)
    assert list(runs.groups["lr"]) == ["1e-3", "1e-3", "3e-4"]


def test_tsv_is_sniffed(tmp_path):
    check_same(load_runs(write(tmp_path, "r.tsv", CSV.replace(",", "\t"))))


def test_jsonl_json_and_records(tmp_path):
    rows = [dict(zip(["run_id", "N", "D", "loss"], line.split(",")[:4])) for line in CSV.splitlines()[1:]]
    for r in rows:
        r["loss"] = float(r["loss"])
    check_same(load_runs(write(tmp_path, "r.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")))
    check_same(load_runs(write(tmp_path, "r.json", json.dumps(rows))))
    check_same(load_runs(write(tmp_path, "w.json", json.dumps({"runs": rows}))))
    check_same(load_runs(rows))
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    check_same(load_runs(write(tmp_path, "c.json", json.dumps(cols))))


def test_pandas_and_parquet(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"run_id": ["a", "b", "c"], "params": [7e7, 3e8, 1e9],
                       "tokens": [1.4e9, 6e9, 2e10], "val_loss": [3.1, 2.8, 2.6]})
    check_same(load_runs(df))
    df.to_parquet(tmp_path / "r.parquet")
    runs = load_runs(tmp_path / "r.parquet")
    check_same(runs)
    assert runs.target_name == "val_loss"
    back = runs.to_frame()
    assert list(back["run_id"]) == ["a", "b", "c"]


def test_pandas_duplicated_columns_are_an_error():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["N", "N", "loss"])
    with pytest.raises(DataError, match="duplicated column names: 'N'"):
        load_runs(df)


# --- mapping and conventions ---------------------------------------------------------------

def test_column_mapping_two_ways(tmp_path):
    text = "name,Model Size,Training FLOP,my_loss\nx,1e8,6e18,2.9\ny,1e9,6e20,2.4\n"
    p = write(tmp_path, "m.csv", text)
    a = load_runs(p, run_id="name", target="my_loss")
    b = load_runs(p, columns={"run_id": "name", "target": "my_loss", "flops": "Training FLOP"})
    for runs in (a, b):
        assert runs.flops_convention == "explicit"
        assert runs.n_tokens_derived
        np.testing.assert_allclose(runs.n_tokens, [1e10, 1e11])  # D = C / (6N)
        assert runs.target_name == "my_loss"


def test_explicit_flop_column_wins_over_6nd(tmp_path):
    p = write(tmp_path, "f.csv", "N,D,flops,loss\n1e8,1e9,1e18,3\n1e9,1e10,1e20,2.5\n")
    runs = load_runs(p)
    assert runs.flops_convention == "explicit"
    np.testing.assert_allclose(runs.flops, [1e18, 1e20])
    forced = load_runs(p, flops_convention="6ND")
    assert forced.flops_convention == "6ND"
    np.testing.assert_allclose(forced.flops, [6e17, 6e19])


def test_clip_style_per_sample_gflops(tmp_path):
    # OpenCLIP scaling tables (Cherti et al. 2023): GFLOP per sample x samples seen
    text = ("model,params,samples_seen,gflops,imagenet1k_error\n"
            "ViT-B-32,151M,3B,4.4,0.40\nViT-L-14,428M,13B,81.1,0.25\n")
    runs = load_runs(write(tmp_path, "clip.csv", text), run_id="model", n_params="params",
                     target="imagenet1k_error")
    assert runs.flops_convention == "gflops_per_sample"
    np.testing.assert_allclose(runs.flops, [4.4e9 * 3e9, 81.1e9 * 13e9])
    np.testing.assert_allclose(runs.n_tokens, [3e9, 13e9])  # D = samples seen
    gmacs = load_runs({"GMACs": [2.2], "samples": ["3B"], "error": [0.4]})
    assert gmacs.flops_convention == "gmacs_per_sample"
    np.testing.assert_allclose(gmacs.flops, [2 * 2.2e9 * 3e9])
    named = load_runs({"a": [1.0], "b": [2.0], "err": [0.5]}, gflops_per_sample="a", samples_seen="b")
    np.testing.assert_allclose(named.flops, [2e9])


def test_lm_eval_style_rows():
    # lm-eval-harness results flattened to one row per model (see load_runs Notes)
    rows = [{"model": "pythia-70m", "n_params": "70M", "n_tokens": "300B", "acc": 0.25},
            {"model": "pythia-1b", "n_params": "1B", "n_tokens": "300B", "acc": 0.31}]
    runs = load_runs(rows, run_id="model", target="acc")
    assert list(runs.run_id) == ["pythia-70m", "pythia-1b"]
    np.testing.assert_allclose(runs.flops, [6 * 7e7 * 3e11, 6 * 1e9 * 3e11])


def test_from_arrays_roundtrip_and_fingerprint():
    a = Runs.from_arrays(n_params=[1e6, 1e7], n_tokens=[1e8, 1e9], target=[3.0, 2.5],
                         groups={"seed": [0, 1]})
    b = load_runs(a.to_dict(), group_by=("seed",))
    assert a.fingerprint == b.fingerprint
    assert a.filter(seed=1).run_id.tolist() == ["row1"]


# --- bad input: a typed error that says how to fix it -------------------------------------

@pytest.mark.parametrize("text, match", [
    ("", "empty"),
    ("  \n\n", "empty"),
    ("N,D,loss\n", "header but no rows"),
    ("N,D,loss\n1e6,1e9,abc\n", r"column 'loss' \(target\) row 1: cannot read 'abc'"),
    ("N,D,loss\n-1e6,1e9,2\n", r"non-positive or missing n_params.*-1e\+06"),
    ("N,D,loss\n1e6,0,2\n", "non-positive or missing n_tokens"),
    ("N,D,loss\n1e6,1e9,nan\n1e7,1e9,inf\n", "every target value"),
    ("run_id,N,D,loss\na,1e6,1e9,2\na,1e6,1e9,3\n", "run id 'a' appears twice"),
    ("N,D,loss\n1,2\n", "has 2 fields; the header has 3"),
    ("N,N,loss\n1,2,3\n", "duplicated column names"),
    ("N,D\n1,2\n", "no target column found"),
])
def test_bad_csv(tmp_path, text, match):
    with pytest.raises(DataError, match=match):
        load_runs(write(tmp_path, "bad.csv", text))


def test_typo_in_column_suggests_the_close_name(tmp_path):
    p = write(tmp_path, "r.csv", CSV)
    with pytest.raises(MissingColumnError, match="Did you mean: loss"):
        load_runs(p, target="los")
    with pytest.raises(MissingColumnError, match="Did you mean: lr"):
        load_runs(p, group_by=["Lr"])
    with pytest.raises(DataError, match="Did you mean: n_params"):
        load_runs(p, columns={"n_param": "N"})
    with pytest.raises(UnknownNameError, match="Did you mean: 6ND"):
        load_runs(p, flops_convention="6nd")
    with pytest.raises(MissingColumnError, match="needs column"):
        load_runs(p, flops_convention="gflops_per_sample")


@pytest.mark.parametrize("source, match", [
    (None, "cannot load runs from a NoneType"),
    (5, "cannot load runs from a int"),
    ([1, 2], "list of records"),
    ({}, "no columns"),
    ({"loss": [[1, 2], [3, 4]]}, "must be 1-D"),
    ({"loss": [1.0, 2.0], "N": [1.0]}, "different lengths"),
    ({"loss": [True]}, "boolean"),
])
def test_bad_in_memory_sources(source, match):
    with pytest.raises(DataError, match=match):
        load_runs(source)


def test_missing_and_non_text_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_runs(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a directory"):
        load_runs(tmp_path)
    (tmp_path / "b.csv").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DataError, match="not UTF-8"):
        load_runs(tmp_path / "b.csv")
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        load_runs(write(tmp_path, "b.jsonl", '{"loss": 1}\n{oops\n'))


def test_nan_targets_are_excluded_with_a_counting_warning(tmp_path):
    text = "run_id,N,D,loss\na,1e6,1e9,3.0\nb,2e6,,nan\nc,4e6,4e9,\nd,8e6,8e9,2.5\n"
    with pytest.warns(DataWarning, match=r"excluded 2 of 4 runs.*b, c"):
        runs = load_runs(write(tmp_path, "n.csv", text))
    assert list(runs.run_id) == ["a", "d"]
    assert list(runs.excluded["run_id"]) == ["b", "c"]   # kept, with the reason
    assert all("diverged" in r for r in runs.excluded["reason"])


def test_no_warning_when_nothing_is_excluded(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_runs(write(tmp_path, "r.csv", CSV))


# --- fuzz: any table gives a valid Runs or a ScalingLabError with a message ----------------

_logical = st.sampled_from(["N", "D", "C", "loss", "flops", "run_id", "params", "tokens", "lr",
                            "gflops", "samples_seen", "Model Size"])
_names = st.one_of(_logical, _logical, _logical, st.text(
    alphabet=string.ascii_letters + " _;,\t\"'", min_size=0, max_size=6))
_good = st.floats(1e-3, 1e13, allow_nan=False) | st.sampled_from(["70M", "3B", "1.4e12", "2.5k"])
_weird = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10**6, 10**12),
    st.sampled_from(["nan", "inf", "-5", "", " ", "abc", "1,000", "1e999", "0", "-0", "None",
                     "true", '"', "a,b", "\n"]),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
)
_cells = st.one_of(_good, _good, _good, _good, _weird)


def _assert_valid(runs: Runs) -> None:
    assert len(runs) >= 1
    assert np.isfinite(runs.target).all()
    for v in (runs.n_params, runs.n_tokens, runs.flops):
        if v is not None:
            assert v.shape == runs.target.shape
            assert np.isfinite(v).all() and (v > 0).all()
    assert len(set(runs.run_id)) == len(runs)


def _load_or_typed_error(source, **kw):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            runs = load_runs(source, **kw)
    except ScalingLabError as exc:
        assert str(exc).strip(), "an error must carry a message"
        return None
    _assert_valid(runs)
    return runs


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.lists(_names, min_size=0, max_size=5, unique=True) | st.lists(_names, max_size=5),
       data=st.data(), fmt=st.sampled_from(["csv", "jsonl", "json", "dict", "records"]))
def test_fuzz_loader_never_leaks_a_raw_traceback(tmp_path, header, data, fmt):
    # mostly rectangular tables of plausible values with a loss column, sometimes ragged or junk
    if data.draw(st.booleans()) and "loss" not in header:
        header = ["loss", *header]
    width = st.just(len(header)) | st.integers(0, 6)
    rows = data.draw(st.lists(width.flatmap(lambda w: st.lists(_cells, min_size=w, max_size=w)),
                              min_size=0, max_size=5))

    def cell_text(v):
        if v is None:
            return ""
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        return str(v)

    if fmt == "csv":
        text = ",".join(header) + "\n" + "\n".join(",".join(cell_text(c) for c in r) for r in rows)
        _load_or_typed_error(write(tmp_path, "f.csv", text))
    elif fmt in ("jsonl", "json", "records"):
        records = [dict(zip(header, r)) for r in rows]
        if fmt == "records":
            _load_or_typed_error(records)
        else:
            ok = [{k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in r.items()}
                  for r in records]
            text = ("\n".join(json.dumps(r) for r in ok) if fmt == "jsonl" else json.dumps(ok))
            _load_or_typed_error(write(tmp_path, f"f.{fmt}", text))
    else:
        n = len(rows)
        cols = {h: [r[i] if i < len(r) else None for r in rows] for i, h in enumerate(header)}
        if cols:
            cols[next(iter(cols))] = cols[next(iter(cols))][: max(n - (len(header) % 2), 0)]
        _load_or_typed_error(cols)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 6), data=st.data())
def test_fuzz_valid_tables_round_trip(n, data):
    """Positive, finite N and D always load; the C they give is 6ND for every row."""
    pos = st.floats(1.0, 1e13, allow_nan=False)
    N = data.draw(st.lists(pos, min_size=n, max_size=n))
    D = data.draw(st.lists(pos, min_size=n, max_size=n))
    loss = data.draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False) | st.just(float("nan")),
                              min_size=n, max_size=n))
    runs = _load_or_typed_error({"N": N, "D": D, "loss": loss})
    if all(math.isnan(x) for x in loss):
        assert runs is None
    else:
        keep = [i for i, x in enumerate(loss) if not math.isnan(x)]
        np.testing.assert_allclose(runs.flops, [6 * N[i] * D[i] for i in keep], rtol=1e-12)


# --- lm-evaluation-harness result files -------------------------------------------------------

def _lm_eval_file(path, model, acc, *, old_style=False):
    key = "acc" if old_style else "acc,none"
    doc = {"results": {"hellaswag": {"alias": "hellaswag", key: acc,
                                     ("acc_stderr" if old_style else "acc_stderr,none"): 0.004}},
           "config": {"model": "hf", "model_args": f"pretrained={model},dtype=float32"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def test_load_lm_eval_results(tmp_path):
    _lm_eval_file(tmp_path / "p70m" / "results_2024.json", "EleutherAI/pythia-70m", 0.27)
    _lm_eval_file(tmp_path / "p1b" / "results_2024.json", "EleutherAI/pythia-1b", 0.38, old_style=True)
    from scalinglab.laws import load_lm_eval

    models = {"EleutherAI/pythia-70m": {"n_params": "70M", "n_tokens": "300B", "family": "pythia"},
              "EleutherAI/pythia-1b": {"n_params": "1B", "n_tokens": "300B", "family": "pythia"}}
    runs = load_lm_eval(tmp_path, task="hellaswag", models=models)
    assert sorted(runs.run_id) == ["EleutherAI/pythia-1b", "EleutherAI/pythia-70m"]
    by_id = dict(zip(runs.run_id, runs.target))
    assert by_id["EleutherAI/pythia-70m"] == pytest.approx(0.73)      # error = 1 - accuracy
    assert runs.flops_convention == "6ND" and runs.target_name == "hellaswag/acc,none error"
    assert set(runs.groups) == {"task", "metric_stderr", "family"}
    assert list(runs.groups["metric_stderr"]) == [0.004, 0.004]
    acc = load_lm_eval(tmp_path, task="hellaswag", models=models, target="metric")
    assert sorted(acc.target) == pytest.approx([0.27, 0.38])
    with pytest.raises(DataError, match="no task 'hellaswg'. Did you mean: hellaswag"):
        load_lm_eval(tmp_path, task="hellaswg", models=models)
    with pytest.raises(DataError, match="no metric 'acc_norm,none'.*Metrics: acc"):
        load_lm_eval(tmp_path, task="hellaswag", models=models, metric="acc_norm,none")
    with pytest.raises(DataError, match="not in models="):
        load_lm_eval(tmp_path, task="hellaswag", models={"EleutherAI/pythia-70m": models["EleutherAI/pythia-70m"]})
    with pytest.raises(DataError, match="does not exist"):
        load_lm_eval(tmp_path / "p70m" / "nothing", task="hellaswag", models=models)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no results"):
        load_lm_eval(tmp_path / "empty", task="hellaswag", models=models)
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(DataError, match="not a JSON lm-eval result file"):
        load_lm_eval(tmp_path / "bad.json", task="hellaswag", models=models)


def test_concat_stacks_tables_and_refuses_mismatches():
    a = Runs.from_arrays(n_params=[1e8, 2e8], n_tokens=[2e9, 4e9], target=[3.0, 2.9], run_id=["x", "y"],
                         groups={"lr": [1e-3, 2e-3]})
    b = Runs.from_arrays(n_params=[4e8], n_tokens=[8e9], target=[2.7], run_id=["z"], groups={"lr": [1e-3]})
    both = Runs.concat([a, b])
    assert len(both) == 3 and list(both.run_id) == ["x", "y", "z"]
    np.testing.assert_allclose(both.flops, 6 * both.n_params * both.n_tokens)
    np.testing.assert_allclose(both.target, [3.0, 2.9, 2.7])
    assert list(both.groups["lr"]) == [1e-3, 2e-3, 1e-3] and both.flops_convention == "6ND"
    assert both.subset(np.array([False, False, True])).fingerprint == b.fingerprint
    keyed = Runs.concat([a, a], keys=["fit", "test"])
    assert list(keyed.run_id) == ["fit/x", "fit/y", "test/x", "test/y"]
    with pytest.raises(DataError, match="occur in more than one table; pass keys="):
        Runs.concat([a, a])
    with pytest.raises(DataError, match="group columns"):
        Runs.concat([a, Runs.from_arrays(n_params=[4e8], n_tokens=[8e9], target=[2.7], run_id=["w"])])
    with pytest.raises(DataError, match="table 0 has 'n_params' and table 1 does not"):
        Runs.concat([Runs.from_arrays(n_params=[1e8], n_tokens=[2e9], flops=[1.2e18], target=[3.0]),
                     Runs.from_arrays(flops=[1e19], target=[2.5], run_id=["q"])])
    with pytest.raises(DataError, match="one key per table"):
        Runs.concat([a, b], keys=["only"])
    with pytest.raises(DataError, match="non-empty list of Runs"):
        Runs.concat([])
