"""Non-negative weights on iris: every weight stays >= 0, and what that costs.
===========================================================================

The iris flowers (``load_iris``, 150 rows, 4 standardised measurements) are fitted as
a 3-output regression of the one-hot classes (setosa, versicolor, virginica) by a
4-unit network with ``nonneg_weights='all'``, for each ``nonneg_method``
('projection', 'square', 'exp') and for the solvers 'adam' and 'lbfgs', next to the
same network without constraints. It runs offline in a few seconds.

What to look at in the table:

* ``min W0`` / ``min W1`` (the smallest weight of each layer) are never negative for
  the constrained rows. 'projection' clips weights to exactly 0 (``zeros`` counts
  them); 'square' and 'exp' reparametrise (weight = p**2 / (4u) or exp(p / u), u
  the layer's 1 / sqrt(fan_in)), so their weights only get close to 0.
* The training MSE of the constrained rows is much worse than the unconstrained one.
  That is not the optimiser failing: with non-negative weights and non-decreasing
  activations, every output is a non-decreasing function of every input. The
  setosa indicator falls as the petals grow, and versicolor sits in the middle, so
  neither can be fitted (see the per-class MSE; 0.222 is the error of a constant).
* The second block feeds each feature and its negative (8 inputs), so the network
  may pick a direction per feature. That can recover setosa (whether it does
  depends on the local optimum each method and solver reach); versicolor, a bump in
  the middle, stays poorly fitted: a bump is a difference of hidden units, which
  needs a negative weight in the output layer.

'adam' runs with ``learning_rate_init=0.01`` and ``tol=1e-6``: iris is a single
mini-batch per epoch, and with the defaults (0.001 and 1e-4) the constrained models,
which start from the constant model, stop on the tolerance before they are done
(training MSE 0.16, 0.18 and 0.20 for projection, square and exp after 366-483
epochs, against 0.16-0.17 here). ``iters`` shows how many epochs (adam) or
iterations (lbfgs) each fit used here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from positive_mlp import PositiveMLPRegressor

SEED = 0
MAX_ITER = 3000
SOLVER_SETTINGS: dict[str, dict] = {
    "adam": {"learning_rate_init": 0.01, "tol": 1e-6},
    "lbfgs": {},
}
METHODS: list[str | None] = [None, "projection", "square", "exp"]


@dataclass(frozen=True)
class Row:
    features: str
    solver: str
    method: str
    mse: float
    mse_per_class: np.ndarray
    min_weight: list[float]
    zeros: list[int]
    sizes: list[int]
    n_iter: int


def fit_one(
    X: np.ndarray, Y: np.ndarray, features: str, solver: str, method: str | None
) -> Row:
    constraint = (
        {} if method is None else {"nonneg_weights": "all", "nonneg_method": method}
    )
    model = PositiveMLPRegressor(
        hidden_layer_sizes=(4,),
        solver=solver,
        max_iter=MAX_ITER,
        random_state=SEED,
        **SOLVER_SETTINGS[solver],
        **constraint,
    )
    # A few fits use all MAX_ITER epochs; the 'iters' column shows which, so the
    # warning would only repeat what the table says.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, Y)
    squared = (model.predict(X) - Y) ** 2
    return Row(
        features,
        solver,
        method or "none (unconstrained)",
        float(squared.mean()),
        squared.mean(axis=0),
        [float(W.min()) for W in model.coefs_],
        [int(np.sum(W == 0)) for W in model.coefs_],
        [W.size for W in model.coefs_],
        model.n_iter_,
    )


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'features':<9} {'solver':<6} {'nonneg_method':<21} {'MSE':>6}  "
        f"{'MSE set/ver/vir':<17} {'min W0':>9} {'min W1':>9} "
        f"{'zeros W0':>8} {'zeros W1':>8} {'iters':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        per_class = "/".join(f"{v:.3f}" for v in r.mse_per_class)
        zeros = [f"{z}/{n}" for z, n in zip(r.zeros, r.sizes)]
        print(
            f"{r.features:<9} {r.solver:<6} {r.method:<21} {r.mse:6.3f}  "
            f"{per_class:<17} {r.min_weight[0]:9.2g} {r.min_weight[1]:9.2g} "
            f"{zeros[0]:>8} {zeros[1]:>8} {r.n_iter:5d}"
        )


def main() -> None:
    iris = load_iris()
    X = StandardScaler().fit_transform(iris.data)
    Y = np.eye(3)[iris.target]
    inputs = {"x": X, "x and -x": np.hstack([X, -X])}
    rows = [
        fit_one(inputs[features], Y, features, solver, method)
        for features in inputs
        for solver in SOLVER_SETTINGS
        for method in METHODS
    ]

    print(
        "Iris (150 rows, 4 standardised features) as a 3-output regression of the "
        "one-hot classes."
    )
    print(
        f"Network: hidden_layer_sizes=(4,), random_state={SEED}, "
        f"max_iter={MAX_ITER}; adam: {SOLVER_SETTINGS['adam']}."
    )
    print("Constrained rows: nonneg_weights='all'. MSE is on the training rows.\n")
    print_table(rows)
    constrained = [r for r in rows if r.method in METHODS]
    lowest = min(min(r.min_weight) for r in constrained)
    print(
        f"\nSmallest weight over all constrained models: {lowest:.3g} "
        f"({'all >= 0' if lowest >= 0 else 'NEGATIVE WEIGHT FOUND'})."
    )


if __name__ == "__main__":
    main()
