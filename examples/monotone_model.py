"""A monotone demand model next to an unconstrained one, on few rows.
==================================================================

Generated data with a known monotone effect: demand falls with ``price`` (1 to 10),
rises with ``advertising`` (0 to 5) and follows a seasonal cycle in ``season``
(0 to 1, no monotone effect), plus Gaussian noise (sd 3):

    demand = 40 exp(-0.25 price) (1 + 0.4 log(1 + advertising))
             + 5 sin(2 pi season) + 10 + noise

Only 60 rows are used for training (2000 for testing), so an unconstrained network
fitted by L-BFGS wiggles. The same network, ``hidden_layer_sizes=(32, 32)``, is
fitted with and without ``monotonic_cst=[-1, 1, 0]``, for 3 random seeds.

How violations are counted: for 200 test rows, one feature is swept over a grid of
41 values across its range with the others held fixed; each of the 40 steps where
the prediction moves the wrong way (up with price, down with advertising) counts.
``steps`` is the share of such steps, ``rows`` the share of rows with at least one,
``worst`` the largest wrong-way move (demand units).

What to look at: the monotone model has no violation at all (guaranteed by its
sign-constrained weights), while the unconstrained one moves the wrong way on most
rows; and the monotone model's test R2, against the noisy demand and against the
true mean, is higher: the constraint is right, so it removes only wrong fits. The
last lines show one test row's demand curve over price for both models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from positive_mlp import PositiveMLPRegressor

SEED = 0
N_TRAIN, N_TEST, N_SWEPT, GRID_POINTS = 60, 2000, 200, 41
FEATURES = ("price", "advertising", "season")
LOW, HIGH = np.array([1.0, 0.0, 0.0]), np.array([10.0, 5.0, 1.0])
MONOTONIC_CST = [-1, 1, 0]
SETTINGS: dict = {"hidden_layer_sizes": (32, 32), "solver": "lbfgs", "max_iter": 2000}
MODEL_SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Violations:
    steps: float
    rows: float
    worst: float


def true_demand(X: np.ndarray) -> np.ndarray:
    price, advertising, season = X.T
    return (
        40 * np.exp(-0.25 * price) * (1 + 0.4 * np.log1p(advertising))
        + 5 * np.sin(2 * np.pi * season)
        + 10
    )


def make_data(n_rows: int, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    X = LOW + (HIGH - LOW) * rng.uniform(size=(n_rows, 3))
    return X, true_demand(X) + rng.normal(0.0, 3.0, n_rows)


def sweep(model: RegressorMixin, X: np.ndarray, feature: int) -> np.ndarray:
    """Predictions of shape (len(X), GRID_POINTS) with one feature on a grid."""
    grid = np.linspace(LOW[feature], HIGH[feature], GRID_POINTS)
    X_grid = np.repeat(X, GRID_POINTS, axis=0)
    X_grid[:, feature] = np.tile(grid, len(X))
    return model.predict(X_grid).reshape(len(X), GRID_POINTS)


def violations(
    model: RegressorMixin, X: np.ndarray, feature: int, direction: int
) -> Violations:
    wrong_way = -direction * np.diff(sweep(model, X, feature), axis=1)
    bad = wrong_way > 0
    return Violations(
        float(bad.mean()),
        float(bad.any(axis=1).mean()),
        float(max(wrong_way.max(), 0.0)),
    )


def make_model(monotonic_cst: list[int] | None, seed: int) -> Pipeline:
    return make_pipeline(
        StandardScaler(),
        PositiveMLPRegressor(
            monotonic_cst=monotonic_cst, random_state=seed, **SETTINGS
        ),
    )


def main() -> None:
    rng = np.random.RandomState(SEED)
    X_train, y_train = make_data(N_TRAIN, rng)
    X_test, y_test = make_data(N_TEST, rng)
    X_swept = X_test[:N_SWEPT]

    print(
        f"Demand data (seed {SEED}): {N_TRAIN} training rows, {N_TEST} test rows; "
        f"features {FEATURES}. Network: {SETTINGS}."
    )
    print(
        f"Violations on {N_SWEPT} test rows x {GRID_POINTS - 1} grid steps per "
        "feature; R2 on the noisy test demand and on its true mean.\n"
    )
    header = (
        f"{'model':<12} {'seed':>4} {'R2 test':>7} {'R2 mean':>7}   "
        f"{'price: steps  rows  worst':<27} {'advertising: steps  rows  worst'}"
    )
    print(header)
    print("-" * len(header))
    fitted: dict[str, Pipeline] = {}
    for name, cst in (("free", None), ("monotone", MONOTONIC_CST)):
        for seed in MODEL_SEEDS:
            model = make_model(cst, seed).fit(X_train, y_train)
            fitted.setdefault(name, model)
            pred = model.predict(X_test)
            cells = []
            for feature in (0, 1):
                v = violations(model, X_swept, feature, MONOTONIC_CST[feature])
                cells.append(f"{v.steps:12.1%} {v.rows:5.0%} {v.worst:6.2f}")
            print(
                f"{name:<12} {seed:4d} {r2_score(y_test, pred):7.3f} "
                f"{r2_score(true_demand(X_test), pred):7.3f}   {cells[0]:<27} "
                f"{cells[1]:>18}"
            )

    row = X_test[:1]
    prices = np.linspace(LOW[0], HIGH[0], GRID_POINTS)[::5]
    X_curve = np.repeat(row, len(prices), axis=0)
    X_curve[:, 0] = prices
    curve_rows = {"true mean": true_demand(X_curve)}
    for name, model in fitted.items():
        curve_rows[f"{name} (seed {MODEL_SEEDS[0]})"] = model.predict(X_curve)
    print(
        f"\nDemand over price for test row 0 (advertising {row[0, 1]:.2f}, "
        f"season {row[0, 2]:.2f}):"
    )
    print(f"{'price':<17}" + "".join(f"{p:7.2f}" for p in prices))
    for name, values in curve_rows.items():
        print(f"{name:<17}" + "".join(f"{v:7.2f}" for v in values))


if __name__ == "__main__":
    main()
