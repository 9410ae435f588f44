"""MLPRegressor and PositiveMLPRegressor side by side on a non-negative target.

Run ``python -m positive_mlp.demo [--seed N]``. It works offline and takes a few
seconds: the data set ships with scikit-learn.

The data are the Wisconsin breast-cancer measurements (``load_breast_cancer``), used
here as a regression problem: predict a tumour's *worst concavity*, a measurement
that is never negative, is exactly 0 for 13 of the 569 tumours and is skewed to the
right, from the 27 other measurements (the three concavity columns are left out).
Both models get the same settings and the same standardised features; the table
shows their test R2, their mean absolute error, how many test predictions fall
below zero and the lowest prediction.

The target is multiplied by 10, a change of unit only. On the raw scale (median
0.23) the squared error is tiny, and MLPRegressor, which stops once its training
loss improves by less than the absolute ``tol=1e-4`` for ten epochs, stops long
before it fits (test R2 about 0.2 with seed 0), which would make the comparison
unfair to it. On this scale both models train until they converge.

The helpers :func:`evaluate`, :func:`format_table` and :func:`describe_settings` are
reused by ``examples/compare_with_mlpregressor.py``.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from positive_mlp import PositiveMLPRegressor

TARGET = "worst concavity"
TARGET_SCALE = 10.0
# Shared by both models. With these, both converge within max_iter for every seed we
# tried (0-49), so no ConvergenceWarning is expected or silenced.
SETTINGS: dict = {"hidden_layer_sizes": (16,), "solver": "adam", "max_iter": 3000}


@dataclass(frozen=True)
class Result:
    """One fitted model's scores on the test rows."""

    model: str
    r2: float
    mae: float
    n_below_zero: int
    n_test: int
    lowest: float


def load_concavity() -> tuple[np.ndarray, np.ndarray, str]:
    """X, y and a description of the breast-cancer 'worst concavity' problem."""
    data = load_breast_cancer()
    names = list(data.feature_names)
    features = [i for i, name in enumerate(names) if "concavity" not in name]
    X = data.data[:, features]
    y = TARGET_SCALE * data.data[:, names.index(TARGET)]
    description = (
        "Data: the Wisconsin breast-cancer table bundled with scikit-learn\n"
        f"  (load_breast_cancer, no download), {X.shape[0]} tumours.\n"
        f"Target: '{TARGET}' x {TARGET_SCALE:g}, never negative, right-skewed: "
        f"{int(np.sum(y == 0))} exactly 0,\n"
        f"  median {np.median(y):.2f}, max {y.max():.2f}.\n"
        f"Features: the other {X.shape[1]} measurements (the three concavity "
        "columns left out),\n  standardised in a Pipeline."
    )
    return X, y, description


def evaluate(
    models: Mapping[str, BaseEstimator],
    X_train: np.ndarray,
    X_test: np.ndarray,
    y_train: np.ndarray,
    y_test: np.ndarray,
) -> list[Result]:
    """Fits a copy of each model after a StandardScaler; scores it on the test rows."""
    results = []
    for name, model in models.items():
        pipeline = make_pipeline(StandardScaler(), clone(model)).fit(X_train, y_train)
        y_pred = pipeline.predict(X_test)
        results.append(
            Result(
                model=name,
                r2=float(r2_score(y_test, y_pred)),
                mae=float(mean_absolute_error(y_test, y_pred)),
                n_below_zero=int(np.sum(y_pred < 0)),
                n_test=len(y_pred),
                lowest=float(np.min(y_pred)),
            )
        )
    return results


def format_table(results: Sequence[Result]) -> str:
    """The results as an aligned text table, one row per model."""
    width = max(len("model"), *(len(r.model) for r in results))
    lines = [
        f"{'model':<{width}}  {'test R2':>7}  {'MAE':>7}  {'below 0':>9}  {'lowest':>7}"
    ]
    for r in results:
        below = f"{r.n_below_zero}/{r.n_test}"
        lines.append(
            f"{r.model:<{width}}  {r.r2:>7.3f}  {r.mae:>7.3f}  {below:>9}  "
            f"{r.lowest:>7.3f}"
        )
    return "\n".join(lines)


def describe_settings(settings: Mapping[str, object], seed: int) -> str:
    """The shared settings as keyword arguments, e.g. ``solver='adam', ...``."""
    return ", ".join(
        f"{key}={value!r}" for key, value in {**settings, "random_state": seed}.items()
    )


def describe_own_defaults() -> str:
    """PositiveMLPRegressor's parameters that MLPRegressor lacks, at their defaults."""
    params = PositiveMLPRegressor().get_params()
    theirs = MLPRegressor().get_params()
    order = ["output_activation", "output_threshold"]  # the bound itself first
    order += sorted(key for key in params if key not in theirs and key not in order)
    return textwrap.fill(
        "PositiveMLPRegressor's own parameters keep their defaults: "
        + ", ".join(f"{key}={params[key]!r}" for key in order)
        + ".",
        width=88,
        subsequent_indent="  ",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Fits both models and prints the data, the settings and the table of scores."""
    parser = argparse.ArgumentParser(
        prog="python -m positive_mlp.demo",
        description="Compare MLPRegressor and PositiveMLPRegressor on a data set "
        "bundled with scikit-learn.",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the train/test split and of both models (default: 0)",
    )
    args = parser.parse_args(argv)

    X, y, description = load_concavity()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=args.seed
    )
    models = {
        "MLPRegressor": MLPRegressor(random_state=args.seed, **SETTINGS),
        "PositiveMLPRegressor": PositiveMLPRegressor(
            random_state=args.seed, **SETTINGS
        ),
    }
    results = evaluate(models, X_train, X_test, y_train, y_test)

    print(description)
    print(
        f"Split: {len(y_train)} training / {len(y_test)} test rows (seed {args.seed})."
    )
    print(f"Both models: {describe_settings(SETTINGS, args.seed)}.")
    print(describe_own_defaults())
    print()
    print(format_table(results))


if __name__ == "__main__":
    main()
