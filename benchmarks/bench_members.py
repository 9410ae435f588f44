"""Cost of the in-model ensemble: one network of k members (``n_members=k``)
against k separate networks, as a ``VotingRegressor`` of k one-member models (what a
user would write otherwise), and against one member.

Each fit runs exactly ``--epochs`` epochs (tol=0, no early stopping); the three fits
of a repeat run interleaved, in a rotating order, with a pause before each. Writes
``results/members.csv``: seconds per epoch (median and spread over the repeats) and
the ratios to one member and to the VotingRegressor.

    python benchmarks/bench_members.py [--repeats 3] [--epochs 20]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from _common import (
    RESULTS_DIR,
    Problem,
    RunResult,
    load_average,
    make_data,
    median,
    rotated,
    sklearn_params,
    timed,
    write_csv,
)
from sklearn.ensemble import VotingRegressor
from sklearn.exceptions import ConvergenceWarning

from positive_mlp import PositiveMLPRegressor

PROBLEMS = [
    Problem(20_000, 20, (100,), 200),  # the default network and batch
    Problem(20_000, 20, (64, 64), 256),
]
MEMBER_COUNTS = (4, 8)  # 4: n_members='auto' with Adam


def _ours(problem: Problem, epochs: int, members: int) -> PositiveMLPRegressor:
    return PositiveMLPRegressor(
        **sklearn_params(problem, epochs, seed=0),
        n_members=members,
        input_bins=None,
        early_stopping=False,
    )


def _fit(estimator, X, y, epochs: int) -> RunResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # epochs are fixed
        seconds = timed(lambda: estimator.fit(X, y))
    return RunResult(seconds, epochs, float("nan"))


def measure(problem: Problem, members: int, epochs: int, repeats: int, pause: float):
    X, y = make_data(problem.n_samples, problem.n_features)
    fitters = {
        "one member": lambda: _ours(problem, epochs, 1),
        f"{members} members": lambda: _ours(problem, epochs, members),
        f"VotingRegressor of {members}": lambda: VotingRegressor(
            [
                (str(m), _ours(problem, epochs, 1).set_params(random_state=m))
                for m in range(members)
            ]
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in fitters}
    for repeat in range(repeats):
        for name in rotated(list(fitters), repeat):
            time.sleep(pause)
            times[name].append(_fit(fitters[name](), X, y, epochs).per_epoch)
    ensemble, voting, single = (
        times[f"{members} members"],
        times[f"VotingRegressor of {members}"],
        times["one member"],
    )
    return {
        "problem": problem.describe(),
        "members": members,
        "epochs": epochs,
        "repeats": repeats,
        "one_member_s_per_epoch": median(single),
        "members_s_per_epoch": median(ensemble),
        "members_spread": f"{min(ensemble):.4f}-{max(ensemble):.4f}",
        "voting_s_per_epoch": median(voting),
        "voting_spread": f"{min(voting):.4f}-{max(voting):.4f}",
        "members_vs_one": median(ensemble) / median(single),
        "voting_vs_members": median(voting) / median(ensemble),
        "load_average": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--pause", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    rows = []
    for problem in PROBLEMS:
        for members in MEMBER_COUNTS:
            row = measure(problem, members, args.epochs, args.repeats, args.pause)
            print(
                f"{row['problem']}, {members} members: "
                f"{row['members_vs_one']:.2f}x one member's epoch, "
                f"VotingRegressor of {members} {row['voting_vs_members']:.2f}x slower "
                f"(spreads {row['members_spread']} / {row['voting_spread']} s)",
                flush=True,
            )
            rows.append(row)
    write_csv(args.out / "members.csv", rows)


if __name__ == "__main__":
    main()
