"""A wide 784-784-784-2 network: a bounded output versus training-time constraints.
================================================================================

Generated data: 2000 rows of 784 features (like the pixels of a 28 x 28 image) that
are noisy mixtures of 8 hidden factors, and 2 positive targets computed from those
factors, many of them close to zero (about a quarter of the first is below 0.05):

    y0 = softplus(2 f0 - 1.5),    y1 = 0.3 exp(f1 + 0.5 f2 - 0.5).

A network with ``hidden_layer_sizes=(784, 784)`` (1.2 million weights) is fitted on
1500 rows and scored on the other 500, with a linear output
(``output_activation='identity'``) and no constraint, with
``output_constraint='penalty'`` and ``'lagrangian'`` (default strength 1, and 100),
and with the default bounded output ``output_activation='softplus'``.

Every fit runs only 12 Adam epochs (``max_iter=12``), so that the script stays well
under a minute on 2 cores. None of the models has converged in that time (each
would raise a ConvergenceWarning, which the script silences); the comparison is
between equally short trainings.

What to look at: the share of negative predictions on training and on test rows.
The linear output predicts below zero where the targets are near zero. The penalty
and the augmented Lagrangian push the *training* predictions up (see
``constraint_violation_``, which covers training rows only) but, within these few
epochs, do not remove every violation, and promise nothing on new rows. The softplus
output cannot go below zero on any row. Test R2 and fit time show what each costs.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score

from positive_mlp import PositiveMLPRegressor

SEED = 0
N_ROWS, N_TRAIN, N_FEATURES, N_FACTORS = 2000, 1500, 784, 8
EPOCHS = 12
SETTINGS: dict = {
    "hidden_layer_sizes": (784, 784),
    "max_iter": EPOCHS,
    "random_state": SEED,
}
MODELS: dict[str, dict] = {
    "identity, no constraint": {"output_activation": "identity"},
    "identity + penalty": {
        "output_activation": "identity",
        "output_constraint": "penalty",
    },
    "identity + penalty (strength 100)": {
        "output_activation": "identity",
        "output_constraint": "penalty",
        "constraint_strength": 100.0,
    },
    "identity + lagrangian": {
        "output_activation": "identity",
        "output_constraint": "lagrangian",
    },
    "identity + lagrangian (strength 100)": {
        "output_activation": "identity",
        "output_constraint": "lagrangian",
        "constraint_strength": 100.0,
    },
    "softplus": {"output_activation": "softplus"},
}


@dataclass(frozen=True)
class Row:
    name: str
    negative_train: float
    negative_test: float
    violation: dict | None
    r2_train: float
    r2_test: float
    seconds: float


def make_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """784 noisy mixtures of 8 standard-normal factors, and 2 positive targets."""
    rng = np.random.RandomState(seed)
    factors = rng.normal(size=(N_ROWS, N_FACTORS))
    mixing = rng.normal(size=(N_FACTORS, N_FEATURES)) / np.sqrt(N_FACTORS)
    X = factors @ mixing + 0.5 * rng.normal(size=(N_ROWS, N_FEATURES))
    f0, f1, f2 = factors[:, 0], factors[:, 1], factors[:, 2]
    y = np.column_stack(
        [np.logaddexp(0.0, 2 * f0 - 1.5), 0.3 * np.exp(f1 + 0.5 * f2 - 0.5)]
    )
    return X, y


def fit_and_score(
    name: str,
    params: dict,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
) -> Row:
    model = PositiveMLPRegressor(**SETTINGS, **params)
    start = time.perf_counter()
    # 12 epochs is deliberately short (run time); every model would warn alike.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    pred_train, pred_test = model.predict(X_train), model.predict(X_test)
    return Row(
        name,
        float(np.mean(pred_train < 0)),
        float(np.mean(pred_test < 0)),
        getattr(model, "constraint_violation_", None),
        r2_score(y_train, pred_train),
        r2_score(y_test, pred_test),
        seconds,
    )


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'model':<37} {'neg train':>9} {'neg test':>8} "
        f"{'share_below':>11} {'max_violation':>13} {'R2 train':>8} "
        f"{'R2 test':>7} {'fit s':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        share, worst = (
            ("-", "-")
            if r.violation is None
            else (
                f"{r.violation['share_below']:.2%}",
                f"{r.violation['max_violation']:.4f}",
            )
        )
        print(
            f"{r.name:<37} {r.negative_train:9.2%} {r.negative_test:8.2%} "
            f"{share:>11} {worst:>13} {r.r2_train:8.3f} {r.r2_test:7.3f} "
            f"{r.seconds:6.1f}"
        )


def main() -> None:
    X, y = make_data(SEED)
    X_train, X_test = X[:N_TRAIN], X[N_TRAIN:]
    y_train, y_test = y[:N_TRAIN], y[N_TRAIN:]
    print(
        f"Data: {N_ROWS} generated rows (seed {SEED}), {N_FEATURES} features from "
        f"{N_FACTORS} factors; {N_TRAIN} training / {N_ROWS - N_TRAIN} test rows."
    )
    print(
        "Targets below 0.05: "
        + ", ".join(f"y{k} {np.mean(y[:, k] < 0.05):.0%}" for k in range(y.shape[1]))
        + "."
    )
    print(
        f"Network 784-784-784-2, adam, {EPOCHS} epochs, random_state={SEED}. "
        "'neg' = share of predictions < 0 (rows x outputs).\n"
    )
    rows = [
        fit_and_score(name, params, X_train, y_train, X_test, y_test)
        for name, params in MODELS.items()
    ]
    print_table(rows)


if __name__ == "__main__":
    main()
