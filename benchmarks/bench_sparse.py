"""Sparse input: one-hot data in CSR, fitted and predicted by PositiveMLPRegressor
without densifying, against MLPRegressor on the same CSR and ours on the dense copy.

The data: ``--rows`` rows (200,000), ``--categorical`` columns (3) of ``--levels``
levels (1,000) drawn with Zipf-like frequencies (level k with probability
proportional to 1/k), one-hot encoded by ``OneHotEncoder`` (every level a column,
seen or not) and joined by ``scipy.sparse.hstack`` to ``--numeric`` standard-normal
columns (10): 3,010 columns, 13 nonzeros a row. The target is positive and learnable:
exp(0.5 + the sum of the row's per-level effects + a linear term in the numeric
columns + noise).

Implementations, all with hidden (100,), Adam, batch 200, alpha=1e-4, lr=1e-3,
random_state=0, max_iter=E, tol=0 and no early stop (so exactly E epochs):

* ``ours-sparse``: PositiveMLPRegressor(output_activation='identity') on the CSR
  matrix, the like-for-like model;
* ``MLPRegressor-sparse``: MLPRegressor on the same CSR matrix (its first layer's
  products run in scipy.sparse, single-threaded; the rest on numpy's BLAS);
* ``ours-dense``: ours (identity) on ``X.toarray()`` (8 bytes per cell: 4.8 GB at
  200,000 x 3,010; freed at the end);
* ``ours-softplus-sparse``: ours with its default softplus output, on the CSR matrix.

Each repeat fits every implementation once, alternated (the first rotates each
repeat), after a one-epoch warm-up, with ``--pause`` seconds of idle before each fit
(numpy's BLAS threads keep spinning after a product). Seconds per epoch = wall time /
n_iter_: median, min and max over repeats. Then ``predict`` on all rows with each
implementation's last fitted model, alternated the same way: median, min and max of
``--predict-repeats`` calls. ``epoch_vs_ours_sparse`` and ``predict_vs_ours_sparse``
divide each by ours-sparse's (> 1: ours-sparse is faster); ``train_r2`` is R^2 of
those predictions. ``final_loss`` is ``loss_`` (ours-softplus's is on its scaled
targets: not comparable).

``--memory`` instead runs one fit of ours on a random CSR matrix (``--memory-rows`` x
``--memory-cols``, ``--memory-nnz`` nonzeros a row at random columns, made directly
as CSR) with hidden (``--memory-hidden``,) and max_iter=1 in a fresh subprocess,
which reports its peak resident memory next to the sizes of X's arrays and of the
parameters: ``ru_maxrss`` (the whole process, the data's making included) and the
fit's own peak (``VmHWM`` reset after the data are made, as in bench_scaling.py).

    python benchmarks/bench_sparse.py            # results/sparse.csv
    python benchmarks/bench_sparse.py --quick    # smoke test, results/quick/
    python benchmarks/bench_sparse.py --memory   # results/sparse_memory.csv
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time
import warnings

import _common as c
import numpy as np
import scipy.sparse
from bench_scaling import memory_mb, reset_peak_memory
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import OneHotEncoder

from positive_mlp import PositiveMLPRegressor

HIDDEN = (100,)
BATCH_SIZE = 200
SEED = 0
OURS = "ours-sparse"
PEERS = ("MLPRegressor-sparse", "ours-dense")
WARM_ROWS = 2000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 20000 rows, 1 epoch, 1 repeat, 0.5 s pause (with "
        "--memory: 100000 rows unless --memory-rows)",
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--predict-repeats", type=int, default=3)
    parser.add_argument("--categorical", type=int, default=3)
    parser.add_argument("--levels", type=int, default=1000)
    parser.add_argument("--numeric", type=int, default=10)
    parser.add_argument(
        "--pause",
        type=float,
        default=2.0,
        help="seconds of idle before each timed fit or predict, so that the "
        "previous one's spinning BLAS threads go to sleep",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="instead: peak memory of one fit of ours on a random CSR matrix, "
        "in a fresh subprocess",
    )
    parser.add_argument("--memory-rows", type=int, default=None, help="(10^6)")
    parser.add_argument("--memory-cols", type=int, default=100_000)
    parser.add_argument("--memory-nnz", type=int, default=20, help="nonzeros a row")
    parser.add_argument("--memory-hidden", type=int, default=64)
    parser.add_argument("--memory-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.epochs, args.repeats = 20_000, 1, 1
        args.predict_repeats, args.pause = 1, 0.5
    if args.memory_rows is None:
        args.memory_rows = 100_000 if args.quick else 1_000_000
    return args


# --------------------------------------------------------------------------- data


def make_onehot_data(
    n_rows: int, n_categorical: int, levels: int, n_numeric: int, seed: int = SEED
) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
    """One-hot categorical columns (Zipf-like level frequencies) and standard-normal
    numeric columns as one CSR matrix, and a positive target."""
    rng = np.random.default_rng(seed)
    frequency = 1.0 / np.arange(1, levels + 1)
    codes = rng.choice(
        levels, size=(n_rows, n_categorical), p=frequency / frequency.sum()
    )
    numeric = rng.standard_normal((n_rows, n_numeric))
    effects = rng.normal(0.0, 0.3, size=(n_categorical, levels))
    weights = rng.normal(0.0, 0.2, size=n_numeric)
    eta = 0.5 + effects[np.arange(n_categorical), codes].sum(axis=1) + numeric @ weights
    y = np.exp(eta + 0.1 * rng.standard_normal(n_rows))
    encoder = OneHotEncoder(
        categories=[np.arange(levels)] * n_categorical, dtype=np.float64
    )
    onehot = encoder.fit_transform(codes)  # CSR
    X = scipy.sparse.hstack([onehot, scipy.sparse.csr_matrix(numeric)], format="csr")
    return X, y


def csr_mb(X: scipy.sparse.csr_matrix) -> float:
    """MiB of a CSR matrix's arrays: data, indices and indptr."""
    return (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20


def random_csr(
    n_rows: int, n_cols: int, nnz: int, seed: int = SEED
) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
    """``nnz`` standard-normal values a row at random columns (duplicates, rare, add
    up), made directly as CSR, and a positive target."""
    rng = np.random.default_rng(seed)
    index = np.int32 if n_cols <= np.iinfo(np.int32).max else np.int64
    entries = n_rows * nnz
    indptr_type = np.int32 if entries <= np.iinfo(np.int32).max else np.int64
    X = scipy.sparse.csr_matrix(
        (
            rng.standard_normal(entries),
            rng.integers(0, n_cols, size=entries, dtype=index),
            np.arange(0, entries + 1, nnz, dtype=indptr_type),
        ),
        shape=(n_rows, n_cols),
    )
    w = rng.standard_normal(n_cols) / np.sqrt(nnz)
    y = np.exp(0.5 * (X @ w) + 0.1 * rng.standard_normal(n_rows))
    return X, y


# ------------------------------------------------------------------------- timing


def estimators(epochs: int) -> dict[str, tuple[type, dict, bool]]:
    """Per implementation: its class, its parameters and whether it reads the CSR
    matrix (else the dense copy). Ours-sparse first."""
    problem = c.Problem(0, 0, HIDDEN, BATCH_SIZE)  # only hidden and batch are read
    params = c.sklearn_params(problem, epochs, SEED)
    ours = PositiveMLPRegressor
    return {
        OURS: (ours, {**params, "output_activation": "identity"}, True),
        "MLPRegressor-sparse": (MLPRegressor, params, True),
        "ours-dense": (ours, {**params, "output_activation": "identity"}, False),
        "ours-softplus-sparse": (
            ours,
            {**params, "output_activation": "softplus"},
            True,
        ),
    }


def fit_once(cls: type, params: dict, X, y: np.ndarray, epochs: int):
    """A fitted estimator and its RunResult."""
    estimator = cls(**{**params, "max_iter": epochs})
    return estimator, c._fit_estimator(estimator, X, y)


def time_fits(
    runs: dict[str, tuple[type, dict, bool]],
    data: dict[bool, object],
    y: np.ndarray,
    args: argparse.Namespace,
) -> tuple[dict[str, list[c.RunResult]], dict[str, object]]:
    """Alternated fits, ``repeats`` each after a warm-up; the results and the last
    fitted model of each implementation."""
    for cls, params, sparse in runs.values():
        fit_once(cls, params, data[sparse][:WARM_ROWS], y[:WARM_ROWS], 1)
    results: dict[str, list[c.RunResult]] = {name: [] for name in runs}
    models: dict[str, object] = {}
    for repeat in range(args.repeats):
        for name in c.rotated(list(runs), repeat):
            cls, params, sparse = runs[name]
            time.sleep(args.pause)
            models[name], result = fit_once(cls, params, data[sparse], y, args.epochs)
            results[name].append(result)
            print(
                f"  repeat {repeat + 1}, {name}: {result.per_epoch:.4g} s/epoch",
                flush=True,
            )
    return results, models


def time_predictions(
    runs: dict[str, tuple[type, dict, bool]],
    models: dict[str, object],
    data: dict[bool, object],
    args: argparse.Namespace,
) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
    """Alternated predict calls on all rows; the seconds and the predictions."""
    for name, model in models.items():
        model.predict(data[runs[name][2]][:1000])  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in models}
    predictions: dict[str, np.ndarray] = {}
    for repeat in range(args.predict_repeats):
        for name in c.rotated(list(models), repeat):
            X = data[runs[name][2]]
            time.sleep(args.pause)
            start = time.perf_counter()
            predictions[name] = models[name].predict(X)
            seconds[name].append(time.perf_counter() - start)
    return seconds, predictions


def summarise(
    X: scipy.sparse.csr_matrix,
    y: np.ndarray,
    runs: dict[str, tuple[type, dict, bool]],
    results: dict[str, list[c.RunResult]],
    seconds: dict[str, list[float]],
    predictions: dict[str, np.ndarray],
    labels: dict[str, str],
    args: argparse.Namespace,
) -> list[dict]:
    """One CSV record per implementation."""
    ours_epoch = c.median(r.per_epoch for r in results[OURS])
    ours_predict = c.median(seconds[OURS])
    records = []
    for impl, runs_of_impl in results.items():
        sparse = runs[impl][2]
        per_epoch = [r.per_epoch for r in runs_of_impl]
        records.append(
            {
                "impl": impl,
                "input": "csr" if sparse else "dense",
                "output_activation": runs[impl][1].get("output_activation", "identity"),
                "threads": labels[impl],
                "n_rows": X.shape[0],
                "n_features": X.shape[1],
                "nnz_per_row": X.nnz / X.shape[0],
                "categorical": args.categorical,
                "levels": args.levels,
                "numeric": args.numeric,
                "hidden": "x".join(map(str, HIDDEN)),
                "batch_size": BATCH_SIZE,
                "epochs": runs_of_impl[0].n_iter,
                "repeats": args.repeats,
                "s_per_epoch": c.median(per_epoch),
                "s_per_epoch_min": min(per_epoch),
                "s_per_epoch_max": max(per_epoch),
                "epoch_vs_ours_sparse": c.median(per_epoch) / ours_epoch,
                "predict_repeats": args.predict_repeats,
                "predict_s": c.median(seconds[impl]),
                "predict_s_min": min(seconds[impl]),
                "predict_s_max": max(seconds[impl]),
                "predict_vs_ours_sparse": c.median(seconds[impl]) / ours_predict,
                "final_loss": c.median(r.loss for r in runs_of_impl),
                "train_r2": r2_score(y, predictions[impl]),
                "x_mb": csr_mb(X) if sparse else X.shape[0] * X.shape[1] * 8 / 2**20,
                "load_avg_1min": c.load_average(),
            }
        )
    return records


def ratio_summary(records: list[dict]) -> str:
    """The peers' times divided by ours-sparse's, per epoch and for predict."""
    by_impl = {r["impl"]: r for r in records}
    lines = [
        {
            "ratio": f"{peer} / {OURS}",
            "per_epoch": by_impl[peer]["epoch_vs_ours_sparse"],
            "predict": by_impl[peer]["predict_vs_ours_sparse"],
        }
        for peer in PEERS
    ]
    return (
        f"Summary: time divided by {OURS}'s (> 1 means {OURS} is faster)\n"
        + c.format_table(lines, ["ratio", "per_epoch", "predict"])
    )


def run_benchmark(args: argparse.Namespace) -> None:
    run_threads = c.setup_threads(no_torch=True, torch_threads=0)
    ours, mlp = run_threads.labels["ours"], run_threads.labels["MLPRegressor"]
    labels = {
        OURS: ours,
        "MLPRegressor-sparse": f"{mlp},sparse=1",
        "ours-dense": ours,
        "ours-softplus-sparse": ours,
    }
    c.print_run_header(run_threads)
    print("MLPRegressor's sparse products (scipy.sparse) run on one thread")
    start = time.perf_counter()
    X, y = make_onehot_data(args.rows, args.categorical, args.levels, args.numeric)
    X_dense = X.toarray()
    print(
        f"data: {X.shape[0]} x {X.shape[1]}, {X.nnz / X.shape[0]:g} nonzeros a row "
        f"(CSR {csr_mb(X):.1f} MiB, dense {X_dense.nbytes / 2**20:.0f} MiB), "
        f"y in [{y.min():.3g}, {y.max():.3g}], made in "
        f"{time.perf_counter() - start:.1f} s"
    )
    print(
        f"hidden {HIDDEN}, batch {BATCH_SIZE}, Adam; {args.epochs} epochs per fit, "
        f"{args.repeats} repeats, {args.predict_repeats} predict repeats, "
        f"{args.pause} s pause before each; medians, min-max in the CSV\n"
    )
    data = {True: X, False: X_dense}
    runs = estimators(args.epochs)
    results, models = time_fits(runs, data, y, args)
    seconds, predictions = time_predictions(runs, models, data, args)
    gap = np.max(np.abs(predictions[OURS] - predictions["ours-dense"]))
    print(
        f"\nmax |ours-sparse - ours-dense| prediction: {gap:.2e} "
        f"(same start and shuffling; sums in another order)\n"
    )
    del data, X_dense
    gc.collect()

    records = summarise(X, y, runs, results, seconds, predictions, labels, args)
    print(
        c.format_table(
            records,
            [
                "impl",
                "threads",
                "s_per_epoch",
                "s_per_epoch_min",
                "s_per_epoch_max",
                "epoch_vs_ours_sparse",
                "predict_s",
                "predict_vs_ours_sparse",
                "final_loss",
                "train_r2",
            ],
        )
        + "\n"
    )
    print(ratio_summary(records))
    out = c.RESULTS_DIR / ("quick" if args.quick else "")
    c.write_csv(out / "sparse.csv", records)
    print(f"\nwrote {out / 'sparse.csv'}")


# ------------------------------------------------------------------------- memory


def memory_worker(spec: dict) -> dict:
    """In the subprocess: makes the CSR data, fits ours once, reports memory."""
    start = time.perf_counter()
    X, y = random_csr(spec["rows"], spec["cols"], spec["nnz"])
    made = time.perf_counter() - start
    problem = c.Problem(X.shape[0], X.shape[1], (spec["hidden"],), BATCH_SIZE)
    params = {**c.sklearn_params(problem, 1, SEED), "output_activation": "identity"}
    with warnings.catch_warnings():  # lazy imports and one-off set-up: not the fit's
        warnings.simplefilter("ignore", ConvergenceWarning)
        PositiveMLPRegressor(**params).fit(X[:256], y[:256])
    gc.collect()
    reset_peak_memory()
    before = memory_mb()
    _, result = fit_once(PositiveMLPRegressor, params, X, y, 1)
    after = memory_mb()
    n_params = sum(
        (a + 1) * b for a, b in zip(problem.layer_sizes[:-1], problem.layer_sizes[1:])
    )
    return {
        "n_rows": X.shape[0],
        "n_features": X.shape[1],
        "nnz": X.nnz,
        "hidden": spec["hidden"],
        "x_mb": csr_mb(X),
        "y_mb": y.nbytes / 2**20,
        "dense_x_mb": X.shape[0] * X.shape[1] * 8 / 2**20,
        "n_params": n_params,
        "params_mb": 8 * n_params / 2**20,
        "index_mb": 8 * X.shape[0] / 2**20,
        "data_made_s": made,
        "fit_s": result.seconds,
        "rss_before_mb": before["rss"],
        "fit_peak_mb": after["peak"],
        "fit_extra_mb": after["peak"] - before["rss"],
        "child_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_memory(args: argparse.Namespace) -> None:
    spec = {
        "rows": args.memory_rows,
        "cols": args.memory_cols,
        "nnz": args.memory_nnz,
        "hidden": args.memory_hidden,
    }
    print(
        f"cores: {c.n_cores()}, load average (1 min): {c.load_average():.2f}\n"
        f"one fit of ours (hidden ({args.memory_hidden},), batch {BATCH_SIZE}, Adam, "
        f"max_iter=1, identity output) on a random CSR matrix in a fresh process; "
        "sizes in MiB\n"
    )
    record = {
        **c.run_in_fresh_process(__file__, "--memory-worker", spec),
        "load_avg_1min": c.load_average(),
    }
    print(
        f"X: {record['n_rows']} x {record['n_features']}, {record['nnz']} nonzeros: "
        f"CSR arrays (data + indices + indptr) {record['x_mb']:.1f} MiB (dense: "
        f"{record['dense_x_mb']:.0f} MiB); y {record['y_mb']:.1f} MiB; parameters "
        f"{record['n_params']} = {record['params_mb']:.1f} MiB (Adam keeps two "
        "moments and a gradient of the same size)\n"
        f"child's peak RSS (ru_maxrss, data making included): "
        f"{record['child_maxrss_mb']:.0f} MiB\n"
        f"fit: {record['fit_s']:.2f} s; RSS before {record['rss_before_mb']:.0f} "
        f"MiB, peak during the fit (VmHWM, reset after the data) "
        f"{record['fit_peak_mb']:.0f} MiB: the fit adds "
        f"{record['fit_extra_mb']:.1f} MiB (shuffled row order alone: "
        f"{record['index_mb']:.1f} MiB)"
    )
    out = c.RESULTS_DIR / ("quick" if args.quick else "")
    c.write_csv(out / "sparse_memory.csv", [record])
    print(f"\nwrote {out / 'sparse_memory.csv'}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.memory_worker:
        print(json.dumps(memory_worker(json.loads(args.memory_worker))))
    elif args.memory:
        run_memory(args)
    else:
        run_benchmark(args)


if __name__ == "__main__":
    main()
