"""The package's options as the fuzzer draws and reads them.

Which options exist comes from the package's tables (``positive_mlp._options`` and
``positive_mlp._losses.LOSSES``); the fuzzer adds only its draw weights and orders,
checked against those tables at import, so that a new option cannot be left out
silently. Also the rules of the settings that drawing, building data and checking
share (thresholds per output, constrained layers, the losses' needs).
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np

from positive_mlp._losses import LOSSES, POSITIVE, Loss, resolve_loss
from positive_mlp._options import (
    ACTIVATIONS,
    BOUNDED_TRANSFORMS,
    OUTPUT_CONSTRAINTS,
    OUTPUT_TRANSFORMS,
    SOLVERS,
    WEIGHT_METHODS,
)

Case = dict[str, Any]
Json = dict[str, Any]

PACKAGE_DIR = Path(__file__).resolve().parent  # the fuzzer's own files
MAX_ROWS = 4000

# Draw weights by option name, in the order the draws have always used (the order
# decides which option a random number picks: a new order would change the cases).
LOSS_WEIGHTS = {"squared_error": 2, "poisson": 1, "gamma": 1}
# loss='tweedie' and loss='quantile' are drawn from a stream of their own, after all
# other draws (see draw_losses.draw_new_loss): a case that draws neither stays the
# case it was.
NEW_LOSS_SHARES = {"tweedie": 0.13, "quantile": 0.13}
OUTPUT_TRANSFORM_WEIGHTS = {"softplus": 3, "exp": 2.5, "relu": 2, "identity": 2.5}
OUTPUT_CONSTRAINT_WEIGHTS = {None: 7, "penalty": 1.5, "lagrangian": 1.5}
SOLVER_ORDER = ("lbfgs", "sgd", "adam")  # drawn uniformly, in this order
ACTIVATION_ORDER = tuple(ACTIVATIONS)
WEIGHT_METHOD_ORDER = tuple(WEIGHT_METHODS)
# The output transforms whose g >= 0 (every prediction >= threshold), in the
# table's order, and the solvers with mini-batch epochs (partial_fit, early
# stopping with a validation set, quantile losses).
BOUNDED = tuple(name for name in OUTPUT_TRANSFORMS if name in BOUNDED_TRANSFORMS)
STOCHASTIC = tuple(name for name, solver in SOLVERS.items() if solver.stochastic)


def check_covers(weights: Any, table: Any, what: str) -> None:
    """Refuses to import when the fuzzer's names for an option kind are not the
    package's (an option without a weight, or one the package no longer has)."""
    if set(weights) != set(table):
        raise ImportError(
            f"the fuzzer draws {what} {sorted(map(str, weights))}, the package has "
            f"{sorted(map(str, table))}: give each one a weight"
        )


check_covers({**LOSS_WEIGHTS, **NEW_LOSS_SHARES}, LOSSES, "losses")
check_covers(OUTPUT_TRANSFORM_WEIGHTS, OUTPUT_TRANSFORMS, "output activations")
check_covers(OUTPUT_CONSTRAINT_WEIGHTS, OUTPUT_CONSTRAINTS, "output constraints")
check_covers(SOLVER_ORDER, SOLVERS, "solvers")


def log_uniform(r: random.Random, low: float, high: float) -> float:
    return float(10 ** r.uniform(math.log10(low), math.log10(high)))


def pick(r: random.Random, weighted: dict[Any, float]) -> Any:
    return r.choices(list(weighted), weights=list(weighted.values()))[0]


def thresholds(setting: Any, n_outputs: int) -> np.ndarray:
    """output_threshold as one float per output (as the generator sees it)."""
    values = np.atleast_1d(np.asarray(setting, dtype=np.float64))
    if values.size not in (1, n_outputs) or not np.all(np.isfinite(values)):
        return np.zeros(n_outputs)
    return np.broadcast_to(values, (n_outputs,)).copy()


def tweedie_power(params: Json) -> float:
    """The Tweedie power of the params (the estimator's default 1.5 if not given)."""
    return float(params.get("power", 1.5))


def loss_of(params: Json) -> Loss:
    """The package's loss object for the params (the estimator's default power)."""
    return resolve_loss(params["loss"], tweedie_power(params))


def positive_predictions(params: Json) -> bool:
    """Whether the loss is a deviance (Poisson, Gamma, Tweedie with power >= 1):
    it needs a bounding output activation with thresholds >= 0 (> 0 for 'relu')."""
    return loss_of(params).needs_positive_predictions


def positive_targets(params: Json) -> bool:
    """Whether the loss scores only y > 0 (Gamma, Tweedie with power >= 2)."""
    return loss_of(params).domain is POSITIVE


def make_valid_loss(params: Json, n_outputs: int) -> None:
    """Thresholds and output activation that suit a deviance (Poisson, Gamma,
    Tweedie with power >= 1)."""
    if not positive_predictions(params):
        return
    if params["output_activation"] == "identity":
        params["output_activation"] = "softplus"
    threshold = [abs(t) for t in thresholds(params["output_threshold"], n_outputs)]
    if params["output_activation"] == "relu":
        threshold = [t if t > 0 else 0.5 for t in threshold]
    setting = params["output_threshold"]
    params["output_threshold"] = (
        threshold if isinstance(setting, list) else threshold[0]
    )


def constrained_layers(setting: Any, n_layers: int) -> list[int]:
    """The weight layers kept >= 0, as the docstring defines them."""
    if setting is None:
        return []
    if isinstance(setting, str):
        return {
            "all": list(range(n_layers)),
            "output": [n_layers - 1],
            "hidden": list(range(n_layers - 1)),
        }[setting]
    return sorted({int(i) % n_layers for i in setting})


def n_levels(params: Json) -> int:
    """Network outputs per target: the quantile levels of loss='quantile'."""
    if params.get("loss") != "quantile":
        return 1
    return max(1, len(np.atleast_1d(np.asarray(params.get("quantile", 0.5)))))


def level_list(quantile: Any) -> bool:
    """Levels given as a list (a tuple or an ndarray of 1 or more dimensions): the
    predictions have an axis of levels; a float or a 0-d array, none."""
    return np.ndim(quantile) > 0
