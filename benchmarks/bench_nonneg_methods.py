"""How fast each ``nonneg_method`` learns, at the learning rates users set.

'square' and 'exp' make Adam step in a free parameter ``p`` instead of the weight;
how far a step moves the weight depends on the map's slope. This compares the three
methods (``nonneg_weights`` as given per data set, everything else at its defaults
but the learning rate) on:

* ``check``: scikit-learn's ``check_regressors_train`` data (200 rows, 10 features,
  one informative; targets scaled and shifted >= 1, ``alpha=0.01`` as the check
  sets it), training R2 after ``--epochs`` epochs (50 and 200); one batch per epoch,
  so these are also the numbers of Adam steps: the hardest case for a slow map;
* three data sets of ``bench_quality.py`` with the loss each calls for: held-out
  deviance (``1 - R2`` for the squared error), mean over 3 train/test splits (75/25).

Run: ``python benchmarks/bench_nonneg_methods.py`` (about 2 minutes on 2 cores;
needs the ``bench`` extra for the data sets). Prints two tables and writes them to
``results/nonneg_methods.md``, which the documentation's user guide includes.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import RESULTS_DIR
from _quality_data import DATASETS, load_xy, preprocessor
from sklearn.metrics import mean_gamma_deviance, mean_poisson_deviance, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import scale
from sklearn.utils.estimator_checks import _regression_dataset

from positive_mlp import PositiveMLPRegressor

METHODS = ("projection", "square", "exp")
# data set -> which layers are constrained
REAL_DATA = {
    "house_prices": {"nonneg_weights": "output"},
    "biochemists": {"nonneg_weights": "all"},
    "diabetes": {"nonneg_weights": "hidden"},
}


def check_scores(rates, epochs) -> list[str]:
    """The Markdown table of training R2 on the check's data."""
    X, y = _regression_dataset()
    y = scale(y)
    y = y - y.min() + 1.0
    lines = [
        "scikit-learn's regression check data (`nonneg_weights='all'`): training R2",
        "",
        "| method | learning_rate_init | "
        + " | ".join(f"{e} epochs" for e in epochs)
        + " |",
        "|---|---|" + "---|" * len(epochs),
    ]
    for method in METHODS:
        for rate in rates:
            scores = [
                PositiveMLPRegressor(
                    nonneg_weights="all",
                    nonneg_method=method,
                    alpha=0.01,
                    learning_rate_init=rate,
                    max_iter=e,
                    random_state=0,
                )
                .fit(X, y)
                .score(X, y)
                for e in epochs
            ]
            lines.append(
                f"| {method} | {rate:g} | "
                + " | ".join(f"{s:.3f}" for s in scores)
                + " |"
            )
            print(lines[-1])
    return lines


def held_out_error(name: str, y_true: np.ndarray, pred: np.ndarray) -> float:
    loss = DATASETS[name].loss
    if loss == "gamma":
        return mean_gamma_deviance(y_true, pred)
    if loss == "poisson":
        return mean_poisson_deviance(y_true, pred)
    return 1.0 - r2_score(y_true, pred)


def real_data_errors(rates, splits: int) -> list[str]:
    """The Markdown table of held-out errors on three real data sets."""
    lines = [
        "Real data: held-out deviance (1 - R2 for the squared error), mean of "
        f"{splits} splits",
        "",
        "| data set | constrained layers | learning_rate_init | "
        + " | ".join(METHODS)
        + " |",
        "|---|---|---|" + "---|" * len(METHODS),
    ]
    for name, constraint in REAL_DATA.items():
        dataset = DATASETS[name]
        X, y = load_xy(dataset, 20_000)
        loss = {"loss": dataset.loss}
        if dataset.loss == "tweedie":
            loss["power"] = dataset.power
        for rate in rates:
            errors = []
            for method in METHODS:
                per_split = []
                for seed in range(splits):
                    X_tr, X_te, y_tr, y_te = train_test_split(
                        X, y, test_size=0.25, random_state=seed
                    )
                    model = make_pipeline(
                        preprocessor(X),
                        PositiveMLPRegressor(
                            nonneg_method=method,
                            learning_rate_init=rate,
                            random_state=seed,
                            **loss,
                            **constraint,
                        ),
                    ).fit(X_tr, y_tr)
                    per_split.append(held_out_error(name, y_te, model.predict(X_te)))
                errors.append(np.mean(per_split))
            label = constraint["nonneg_weights"]
            lines.append(
                f"| {name} | {label} | {rate:g} | "
                + " | ".join(f"{e:.4f}" for e in errors)
                + " |"
            )
            print(lines[-1])
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[1e-3, 1e-2, 1e-1])
    parser.add_argument("--epochs", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--splits", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # ConvergenceWarning at 50 epochs is expected
    lines = [*check_scores(args.rates, args.epochs), ""]
    lines += real_data_errors([r for r in args.rates if r <= 1e-2], args.splits)
    (RESULTS_DIR / "nonneg_methods.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
