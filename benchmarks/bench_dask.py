"""Grid search here and on a Dask cluster: wall time, and the same numbers.

One GridSearchCV over PositiveMLPRegressor (6 candidates x 3 folds = 18 fits, then
the refit on all rows), run three ways on the same data:

* ``local n_jobs=1``: one fit after another in this process;
* ``local n_jobs=2``: joblib's default backend (loky worker processes);
* ``dask 2x1``: joblib's Dask backend on a ``distributed.LocalCluster`` of 2 worker
  processes with 1 thread each, started once before the timed searches
  (``cluster_start_s``: its start-up, and a first task that imports the package in
  each worker).

Every search must give the test scores of the first to 1e-12 (the script stops
otherwise; ``max_score_difference`` is the largest difference seen): this process
runs the core on all its cores, the workers on one thread each, and a batch shared
out between threads sums in another order (differences of about 1e-16).

Each mode runs once untimed first (which starts loky's workers), then
``--repeats`` times: ``search_s`` is the median wall time (``search_s_min`` the
fastest); the modes alternate (the starting one rotates each repeat). ``speedup`` =
local n_jobs=1's time / this mode's. The 1-minute load average is recorded: other
processes on the machine slow the parallel modes most.

    python benchmarks/bench_dask.py           # results/dask_grid.csv
    python benchmarks/bench_dask.py --quick   # smoke test, results/quick/
"""

from __future__ import annotations

import argparse
import warnings

import _common as c
import joblib
import numpy as np
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold

from positive_mlp import PositiveMLPRegressor

GRID = {"hidden_layer_sizes": [(32,), (64,), (64, 64)], "alpha": [1e-4, 1e-2]}
MODES = ["local n_jobs=1", "local n_jobs=2", "dask 2x1"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 1000 rows, 1 repeat"
    )
    parser.add_argument("--n-samples", type=int, default=5000)
    parser.add_argument("--n-features", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.repeats = 1000, 1
    return args


def search(X: np.ndarray, y: np.ndarray, epochs: int, mode: str, client) -> tuple:
    """Wall time and test scores of one grid search in ``mode``."""
    model = PositiveMLPRegressor(max_iter=epochs, tol=0.0, random_state=0)
    cv = KFold(3, shuffle=True, random_state=0)
    n_jobs = 1 if mode == "local n_jobs=1" else 2
    grid = GridSearchCV(model, GRID, cv=cv, n_jobs=n_jobs)
    if mode == "dask 2x1":
        with client.as_current(), joblib.parallel_config(backend="dask"):
            seconds = c.timed(lambda: grid.fit(X, y))
    else:
        seconds = c.timed(lambda: grid.fit(X, y))
    return seconds, grid.cv_results_["mean_test_score"]


def _import_package() -> None:
    import positive_mlp  # noqa: F401


def start_cluster() -> tuple[LocalCluster, Client, float]:
    cluster, client = None, None

    def start():
        nonlocal cluster, client
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster, set_as_default=False)
        client.run(_import_package)

    seconds = c.timed(start)
    return cluster, client, seconds


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    X, y = c.make_data(args.n_samples, args.n_features)
    warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: all epochs run
    cluster, client, start_seconds = start_cluster()
    times = {mode: [] for mode in MODES}
    differences: dict[str, float] = {}
    reference = None
    try:
        for repeat in range(-1, args.repeats):  # -1: the untimed warm-up
            for mode in c.rotated(MODES, repeat):
                seconds, scores = search(X, y, args.epochs, mode, client)
                if reference is None:
                    reference = scores
                differences[mode] = max(
                    differences.get(mode, 0.0), float(np.max(abs(scores - reference)))
                )
                if differences[mode] > 1e-12:
                    raise SystemExit(f"{mode} gave other scores: {scores}")
                if repeat >= 0:
                    times[mode].append(seconds)
    finally:
        client.close()
        cluster.close()
    base = c.median(times["local n_jobs=1"])
    rows = [
        {
            "mode": mode,
            "n_samples": args.n_samples,
            "n_features": args.n_features,
            "epochs": args.epochs,
            "fits": 6 * 3 + 1,
            "search_s": c.median(times[mode]),
            "search_s_min": min(times[mode]),
            "speedup": base / c.median(times[mode]),
            "cluster_start_s": start_seconds if mode == "dask 2x1" else float("nan"),
            "max_score_difference": differences[mode],
            "cores": c.n_cores(),
            "load_average": c.load_average(),
        }
        for mode in MODES
    ]
    columns = ["mode", "search_s", "search_s_min", "speedup", "cluster_start_s"]
    print(c.format_table(rows, [*columns, "load_average"]))
    folder = c.RESULTS_DIR / "quick" if args.quick else c.RESULTS_DIR
    c.write_csv(folder / "dask_grid.csv", rows)


if __name__ == "__main__":
    main()
