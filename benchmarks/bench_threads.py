"""Where two threads pay on a mini-batch step: ours with ``n_threads=1`` against its
default (``n_threads=None``: two threads on this 2-core machine when the step's work,
rows x parameters, gives each thread at least the core's threshold).

The grid spans that work from below the threshold (where both runs use one thread and
the ratio shows the noise) to well above it, on small networks, where a step lasts
tens of microseconds and the threads' two meetings per step weigh most. The runs
alternate, each after a pause, each fitting exactly ``--epochs`` epochs of the model
MLPRegressor trains (identity output, no bins, members or early stopping). Writes
``results/threads.csv``: seconds per epoch (medians) and one thread's time over the
default's, with its range over the repeats.

    python benchmarks/bench_threads.py [--repeats 5] [--epochs 20]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from _common import (
    RESULTS_DIR,
    Problem,
    load_average,
    make_data,
    median,
    paired_ratio_range,
    rotated,
    sklearn_params,
    timed,
    write_csv,
)
from sklearn.exceptions import ConvergenceWarning

from positive_mlp import PositiveMLPRegressor

PROBLEMS = [  # (features, hidden, batch): work from about 2^14 to 2^19
    Problem(20_000, 10, (32,), 64),
    Problem(20_000, 10, (32,), 200),
    Problem(20_000, 10, (32,), 500),
    Problem(20_000, 20, (100,), 16),
    Problem(20_000, 20, (100,), 64),
    Problem(20_000, 20, (64, 64), 8),
    Problem(20_000, 20, (64, 64), 32),
    Problem(20_000, 20, (64, 64), 64),
]
SETTINGS = {"one thread": 1, "default": None}


def n_params(problem: Problem) -> int:
    sizes = (problem.n_features, *problem.hidden, 1)
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def _fit(problem: Problem, X, y, epochs: int, n_threads: int | None) -> float:
    estimator = PositiveMLPRegressor(
        **sklearn_params(problem, epochs, seed=0),
        output_activation="identity",
        n_threads=n_threads,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # epochs are fixed
        return timed(lambda: estimator.fit(X, y)) / epochs


def measure(problem: Problem, epochs: int, repeats: int, pause: float) -> dict:
    X, y = make_data(problem.n_samples, problem.n_features)
    times: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for repeat in range(repeats):
        for name in rotated(list(SETTINGS), repeat):
            time.sleep(pause)
            times[name].append(_fit(problem, X, y, epochs, SETTINGS[name]))
    one, default = times["one thread"], times["default"]
    spread = paired_ratio_range(one, default)
    return {
        "problem": problem.describe(),
        "work": problem.batch_size * n_params(problem),
        "epochs": epochs,
        "repeats": repeats,
        "one_thread_s_per_epoch": median(one),
        "default_s_per_epoch": median(default),
        "one_thread_vs_default": median(one) / median(default),
        "ratio_low": spread["time_vs_ours_low"],
        "ratio_high": spread["time_vs_ours_high"],
        "load_average": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    rows = []
    for problem in PROBLEMS:
        row = measure(problem, args.epochs, args.repeats, args.pause)
        print(
            f"{row['problem']} (work {row['work']}): one thread / default "
            f"{row['one_thread_vs_default']:.2f} "
            f"({row['ratio_low']:.2f}-{row['ratio_high']:.2f})",
            flush=True,
        )
        rows.append(row)
    write_csv(args.out / "threads.csv", rows)


if __name__ == "__main__":
    main()
