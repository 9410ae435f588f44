"""A fingerprint of what the estimator computes, for refactorings that must change
nothing: one SHA-256 per configuration over the fitted weights, the predictions and
the training record (loss curve, validation scores, iteration counts, scales).

Run it before and after a change and compare the output (it is deterministic: one
core thread, fixed seeds)::

    python tools/behaviour_hash.py > before.txt
    ... change ...
    python tools/behaviour_hash.py | diff before.txt -
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import scipy.sparse as sp

from positive_mlp import PositiveMLPRegressor

# Every loss, output, solver, weight constraint and method, output constraint, target
# scaling and early-stopping path at least once.
CONFIGURATIONS: list[dict] = [
    {},
    {"output_activation": "identity"},
    {"output_activation": "exp", "loss": "poisson"},
    {"output_activation": "relu", "output_threshold": 0.005},
    {"loss": "gamma", "solver": "lbfgs"},
    {"loss": "gamma", "solver": "sgd", "learning_rate": "adaptive"},
    {"loss": "tweedie", "power": 1.5, "output_activation": "exp"},
    {"loss": "tweedie", "power": 3.0, "solver": "lbfgs"},
    {"loss": "tweedie", "power": 0.0},
    {"loss": "quantile"},
    {"loss": "quantile", "quantile": [0.1, 0.5, 0.9]},
    {"nonneg_weights": "all"},
    {"nonneg_weights": "output", "nonneg_method": "square", "solver": "lbfgs"},
    {"nonneg_weights": "hidden", "nonneg_method": "exp", "nonneg_bias": True},
    {"monotonic_cst": [1, 0, -1, 0]},
    {"output_constraint": "penalty", "output_activation": "identity"},
    {"output_constraint": "lagrangian", "output_activation": "identity"},
    {"target_scaling": "std"},
    {"target_scaling": None, "loss": "poisson"},
    {"early_stopping": True, "validation_fraction": 0.2},
    {"early_stopping": False, "n_iter_no_change": 3, "tol": 1e-2},
    {"solver": "sgd", "momentum": 0.5, "nesterovs_momentum": False},
    {"alpha": 0.1, "batch_size": 17, "shuffle": False},
    {"activation": "tanh", "hidden_layer_sizes": (7, 5)},
    {"activation": "logistic", "hidden_layer_sizes": ()},
]

RECORD = (
    "loss_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "n_iter_",
    "t_",
    "target_scale_",
    "output_threshold_",
    "constraint_violation_",
    "quantiles_",
)


def _data(seed: int, n: int, n_outputs: int):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    mean = np.exp(0.5 * X[:, :1] - 0.3 * X[:, 2:3] ** 2)
    y = rng.gamma(2.0, mean / 2.0, size=(n, n_outputs)) + 0.01
    return X, y if n_outputs > 1 else y[:, 0]


def _update(digest, value) -> None:
    if value is None or isinstance(value, dict):
        digest.update(repr(value).encode())
        return
    array = np.asarray(value)
    digest.update(str((array.dtype, array.shape)).encode())
    digest.update(np.ascontiguousarray(array).tobytes())


def fingerprint(params: dict, dtype=np.float64, sparse: bool = False) -> str:
    """The SHA-256 of one configuration's fit, partial_fit and predictions."""
    X, y = _data(0, 300, 2 if "monotonic_cst" not in params else 1)
    X = X.astype(dtype)
    weights = np.random.RandomState(1).choice([0.0, 0.5, 2.0], size=len(y))
    settings = {
        "hidden_layer_sizes": (8,),
        "max_iter": 15,
        "random_state": 0,
        "n_threads": 1,
        **params,
    }
    reg = PositiveMLPRegressor(**settings)
    X_fit = sp.csr_matrix(X) if sparse else X
    digest = hashlib.sha256()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X_fit, y, sample_weight=weights)
        for value in (*reg.coefs_, *reg.intercepts_, reg.predict(X_fit)):
            _update(digest, value)
        for name in RECORD:
            _update(digest, getattr(reg, name, None))
        if hasattr(reg, "partial_fit"):
            reg.partial_fit(X_fit[:100], y[:100])
            _update(digest, reg.predict(X_fit))
            _update(digest, reg.loss_curve_)
    return digest.hexdigest()


def main() -> None:
    total = hashlib.sha256()
    for params in CONFIGURATIONS:
        for dtype, sparse in (
            (np.float64, False),
            (np.float32, False),
            (np.float64, True),
        ):
            line = f"{params} {np.dtype(dtype).name}{' sparse' if sparse else ''}"
            value = fingerprint(params, dtype, sparse)
            total.update(value.encode())
            print(f"{value[:16]}  {line}")
    print(f"{total.hexdigest()[:16]}  all")


if __name__ == "__main__":
    main()
