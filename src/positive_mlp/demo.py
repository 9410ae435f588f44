"""MLPRegressor and PositiveMLPRegressor side by side on a non-negative target.

Run ``python -m positive_mlp.demo [--seed N]``. It works offline and takes a few
seconds: the data set ships with scikit-learn.

The data are the Wisconsin breast-cancer measurements (``load_breast_cancer``), used
here as a regression problem: predict a tumour's *worst concavity*, a measurement
that is never negative, is exactly 0 for 13 of the 569 tumours and is skewed to the
right, from the 27 other measurements (the three concavity columns are left out).
Both models get the same settings, otherwise their own defaults (ours stop early on
a held-out tenth), and the same standardised features; the table
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
    """One fitted model's scores on the test rows.

    Parameters
    ----------
    model : str
        The model's name, as the table shows it.

    r2 : float
        R2 of the test predictions.

    mae : float
        Mean absolute error of the test predictions.

    n_below_zero : int
        Number of test predictions below 0.

    n_test : int
        Number of test rows.

    lowest : float
        The lowest test prediction.

    See Also
    --------
    evaluate : Fit models and return one Result each.
    format_table : Lay Results out as a table.

    Examples
    --------
    >>> from positive_mlp.demo import Result
    >>> result = Result("model", r2=0.9, mae=0.5, n_below_zero=0, n_test=143,
    ...                 lowest=0.2)
    >>> result.n_below_zero / result.n_test
    0.0
    """

    model: str
    r2: float
    mae: float
    n_below_zero: int
    n_test: int
    lowest: float


def load_concavity() -> tuple[np.ndarray, np.ndarray, str]:
    """Load the breast-cancer 'worst concavity' problem: X, y and a description.

    The data ship with scikit-learn (no download).

    Returns
    -------
    X : ndarray of shape (569, 27)
        The measurements other than the three concavity columns.

    y : ndarray of shape (569,)
        The worst concavity times 10: never negative, 13 values exactly 0.

    description : str
        A few lines on the data, the target and the features, for printing.

    See Also
    --------
    sklearn.datasets.load_breast_cancer : The source of the data.

    Examples
    --------
    >>> from positive_mlp.demo import load_concavity
    >>> X, y, description = load_concavity()
    >>> X.shape
    (569, 27)
    >>> int((y == 0).sum()), bool(y.min() >= 0)
    (13, True)
    >>> print(description.splitlines()[0])
    Data: the Wisconsin breast-cancer table bundled with scikit-learn
    """
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
    """Fit a copy of each model after a StandardScaler; score it on the test rows.

    Parameters
    ----------
    models : mapping of str to estimator
        The models by name; they are cloned, not changed.

    X_train : ndarray of shape (n_train, n_features)
        Training data.

    X_test : ndarray of shape (n_test, n_features)
        Test data.

    y_train : ndarray of shape (n_train,)
        Training targets.

    y_test : ndarray of shape (n_test,)
        Test targets.

    Returns
    -------
    results : list of Result
        One per model, in the order of ``models``.

    See Also
    --------
    format_table : Lay the results out as a table.

    Examples
    --------
    >>> from sklearn.model_selection import train_test_split
    >>> from positive_mlp import PositiveMLPRegressor
    >>> from positive_mlp.demo import evaluate, load_concavity
    >>> X, y, _ = load_concavity()
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> small = PositiveMLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs",
    ...                              max_iter=1000, random_state=0)
    >>> [result] = evaluate({"small": small}, X_train, X_test, y_train, y_test)
    >>> result.model, result.n_test, result.n_below_zero
    ('small', 143, 0)
    """
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
    """Lay results out as an aligned text table, one row per model.

    Parameters
    ----------
    results : sequence of Result
        The rows of the table.

    Returns
    -------
    table : str
        A header line and one line per result: test R2, MAE, the test predictions
        below 0 and the lowest prediction.

    See Also
    --------
    evaluate : Compute the results.

    Examples
    --------
    >>> from positive_mlp.demo import Result, format_table
    >>> print(format_table([Result("ours", 0.876, 0.548, 0, 143, 0.196)]))
    model  test R2      MAE    below 0   lowest
    ours     0.876    0.548      0/143    0.196
    """
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
    """Write the shared settings and the seed as keyword arguments.

    Parameters
    ----------
    settings : mapping of str to object
        Parameter names and values shared by the models.

    seed : int
        The ``random_state``, written last.

    Returns
    -------
    text : str
        ``name=value`` pairs separated by commas, values as ``repr`` gives them.

    See Also
    --------
    describe_own_defaults : The parameters only PositiveMLPRegressor has.

    Examples
    --------
    >>> from positive_mlp.demo import describe_settings
    >>> describe_settings({"solver": "adam", "max_iter": 3000}, seed=0)
    "solver='adam', max_iter=3000, random_state=0"
    """
    return ", ".join(
        f"{key}={value!r}" for key, value in {**settings, "random_state": seed}.items()
    )


def describe_own_defaults() -> str:
    """Describe PositiveMLPRegressor's own parameters and defaults.

    These are the parameters MLPRegressor lacks or sets otherwise by default. The
    bound itself (``output_activation``, ``output_threshold``) comes first, then the
    others in alphabetical order, all at their defaults (``early_stopping`` and
    ``n_iter_no_change`` are 'auto': on, with a patience of 20, for a bounded model
    of about 300 rows or more).

    Returns
    -------
    text : str
        A sentence listing ``name=default`` pairs, wrapped at 88 characters.

    See Also
    --------
    describe_settings : The settings both models share.

    Examples
    --------
    >>> from positive_mlp.demo import describe_own_defaults
    >>> print(describe_own_defaults())
    PositiveMLPRegressor's own parameters and defaults, kept:
    output_activation='softplus', output_threshold=0.0, ..., early_stopping='auto', ...
    """
    params = PositiveMLPRegressor().get_params()
    theirs = MLPRegressor().get_params()
    order = ["output_activation", "output_threshold"]  # the bound itself first
    order += sorted(
        key
        for key in params
        if (key not in theirs or params[key] != theirs[key]) and key not in order
    )
    return textwrap.fill(
        "PositiveMLPRegressor's own parameters and defaults, kept: "
        + ", ".join(f"{key}={params[key]!r}" for key in order)
        + ".",
        width=88,
        subsequent_indent="  ",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Fit both models and print the data, the settings and the table of scores.

    The entry point of ``python -m positive_mlp.demo``; it takes a second or two.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Command-line arguments (``["--seed", "3"]``); None reads ``sys.argv``.

    See Also
    --------
    evaluate : The fits and scores.
    format_table : The table printed last.

    Examples
    --------
    >>> from positive_mlp.demo import main
    >>> main(["--seed", "0"])
    Data: the Wisconsin breast-cancer table bundled with scikit-learn
    ...
    Both models: hidden_layer_sizes=(16,), solver='adam', max_iter=3000,
    random_state=0.
    ...
    model                 test R2      MAE    below 0   lowest
    MLPRegressor            ...
    PositiveMLPRegressor    ...      0/143    ...
    """
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
