"""Prediction speed: rows per second of PositiveMLPRegressor.predict against
MLPRegressor.predict and a PyTorch forward pass (under ``torch.no_grad``).

Networks (64, 64) and (256, 256) on 20 features, trained briefly on a small sample
(the weights' values do not change the work), then timed on 1, 10, 100, 1000 and
10^5 rows (inputs below 10^4 rows as the mean of repeated calls, as a service
predicting one request at a time would): median wall time of several alternated
repeats, rows/s, GFLOP/s (2 x rows x sum(fan_in x fan_out)) and each peer's time
divided by ours. The PyTorch model is a
copy of the fitted MLPRegressor, and their predictions are checked to agree.
Implementations as in bench_fit.py: ``ours`` (identity output), ``ours-softplus``,
``MLPRegressor``, ``PyTorch`` and, with ``--single-thread-peers``, the peers on one
thread. Our predict runs its BLAS single-threaded, as its fit does.

    python benchmarks/bench_predict.py           # results/predict.csv
    python benchmarks/bench_predict.py --quick   # smoke test, results/quick/
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial

import _common as c
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from threadpoolctl import threadpool_limits

from positive_mlp import PositiveMLPRegressor

N_FEATURES = 20
NETWORKS = [(64, 64), (256, 256)]
OURS = "ours"

Predictor = Callable[[np.ndarray], np.ndarray]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 10^4 and 10^5 rows, 2 repeats"
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1, 10, 100, 1000, 10**5]
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=c.n_cores())
    parser.add_argument(
        "--single-thread-peers",
        action="store_true",
        help="also time MLPRegressor and PyTorch on one thread",
    )
    parser.add_argument(
        "--pause", type=float, default=0.2, help="seconds of idle between timed calls"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats, args.pause = [10**4, 10**5], 2, 0.1
    return args


def fitted_models(hidden: tuple[int, ...]) -> dict[str, object]:
    """Ours (identity and softplus output) and MLPRegressor, fitted for 2 epochs."""
    X, y = c.make_data(2000, N_FEATURES, seed=1)
    common = dict(hidden_layer_sizes=hidden, max_iter=2, random_state=0)
    models = {
        OURS: PositiveMLPRegressor(output_activation="identity", **common),
        "ours-softplus": PositiveMLPRegressor(**common, **c.SINGLE_NETWORK),
        "MLPRegressor": MLPRegressor(**common),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for model in models.values():
            model.fit(X, y)
    return models


def torch_predictor(model, threads: int) -> Predictor:
    import torch

    def predict(X: np.ndarray) -> np.ndarray:
        c.set_torch_threads(threads)
        with torch.no_grad():
            return model(torch.from_numpy(X)).numpy().ravel()

    return predict


def single_threaded(predict: Predictor) -> Predictor:
    def predict_on_one_thread(X: np.ndarray) -> np.ndarray:
        with threadpool_limits(limits=1, user_api="blas"):
            return predict(X)

    return predict_on_one_thread


def predictors(
    hidden: tuple[int, ...], args: argparse.Namespace, use_torch: bool
) -> dict[str, Predictor]:
    """The implementations' predict functions for one network, ours first."""
    models = fitted_models(hidden)
    runs: dict[str, Predictor] = {name: m.predict for name, m in models.items()}
    if args.single_thread_peers:
        runs["MLPRegressor-1t"] = single_threaded(models["MLPRegressor"].predict)
    if use_torch:
        sk = models["MLPRegressor"]
        twin = c.torch_from_coefs(sk.coefs_, sk.intercepts_)
        runs["PyTorch"] = torch_predictor(twin, args.torch_threads)
        if args.single_thread_peers:
            runs["PyTorch-1t"] = torch_predictor(twin, 1)
        probe = c.make_data(1000, N_FEATURES, seed=2)[0]
        gap = np.max(np.abs(runs["PyTorch"](probe) - sk.predict(probe)))
        print(f"  PyTorch copy of MLPRegressor {hidden}: max |difference| {gap:.2e}")
    return runs


def time_predictions(
    runs: dict[str, Predictor], X: np.ndarray, repeats: int, pause: float
) -> dict[str, list[float]]:
    """Seconds of each implementation's predict on X: alternated, after a warm-up."""
    for predict in runs.values():
        predict(X[:1000])
    # Small inputs (a request served one row at a time): the mean over many calls,
    # at least 100,000 rows' worth, so that waking the machine does not dominate.
    calls = min(1000, max(1, 100_000 // len(X)))
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(repeats):
        for name in c.rotated(list(runs), repeat):
            time.sleep(pause)
            # Untimed calls first: after an idle pause, this VM's first calls are 2-5x
            # slower for every implementation (caches and cores waking up), which
            # would time the machine rather than the code.
            _call_repeatedly(runs[name], X, calls)
            total = c.timed(partial(_call_repeatedly, runs[name], X, calls))
            seconds[name].append(total / calls)
    return seconds


def _call_repeatedly(predict: Predictor, X: np.ndarray, calls: int) -> None:
    for _ in range(calls):
        predict(X)


def summarise(
    hidden: tuple[int, ...],
    n_rows: int,
    seconds: dict[str, list[float]],
    threads: dict[str, str],
    repeats: int,
) -> list[dict]:
    flops = c.predict_flops(n_rows, (N_FEATURES, *hidden, 1))
    ours = c.median(seconds[OURS])
    records = []
    for impl, times in seconds.items():
        t = c.median(times)
        records.append(
            {
                "n_rows": n_rows,
                "n_features": N_FEATURES,
                "hidden": "x".join(map(str, hidden)),
                "impl": impl,
                "threads": threads[impl],
                "repeats": repeats,
                "seconds": t,
                "seconds_min": min(times),
                "seconds_max": max(times),
                "rows_per_s": n_rows / t,
                "gflops": flops / t / 1e9,
                "time_vs_ours": t / ours,
                **c.paired_ratio_range(times, seconds[OURS]),
                "load_avg_1min": c.load_average(),
            }
        )
    return records


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_threads = c.setup_threads(args.no_torch, args.torch_threads)
    use_torch, threads = run_threads.use_torch, run_threads.labels
    c.print_run_header(run_threads)
    print(
        f"{args.repeats} repeats, {args.pause} s pause between calls; seconds is the "
        "median; time_vs_ours = seconds divided by ours' (> 1: ours is faster)\n"
    )

    records: list[dict] = []
    for hidden in NETWORKS:
        runs = predictors(hidden, args, use_torch)
        for n_rows in args.sizes:
            X = c.make_data(n_rows, N_FEATURES, seed=3)[0]
            seconds = time_predictions(runs, X, args.repeats, args.pause)
            rows = summarise(hidden, n_rows, seconds, threads, args.repeats)
            records += rows
            print(f"[{n_rows} rows, {N_FEATURES} features, hidden {hidden}]")
            print(
                c.format_table(
                    rows,
                    [
                        "impl",
                        "threads",
                        "seconds",
                        "rows_per_s",
                        "gflops",
                        "time_vs_ours",
                    ],
                )
                + "\n"
            )
            sys.stdout.flush()
            del X

    out = c.RESULTS_DIR / ("quick" if args.quick else "")
    c.write_csv(out / "predict.csv", records)
    print(f"wrote {out / 'predict.csv'}")


if __name__ == "__main__":
    main()
