"""One table per option kind: each option's name, its core enum and its properties.

Parameter validation (``_parameter_constraints``), the checks of loss settings, the
starting bias and the construction of the C++ network all read these tables, so a new
option is one entry here plus its numerics in the core. The losses have a module of
their own, ``_losses``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from positive_mlp import _core


def _inverse_softplus(value: np.ndarray) -> np.ndarray:
    # log(exp(v) - 1) = v + log(1 - exp(-v)), stable for large and small v.
    return value + np.log(-np.expm1(-value))


@dataclass(frozen=True)
class OutputTransform:
    """g in prediction = threshold + g(z)."""

    core: _core.OutputTransform
    bounded: bool  # g >= 0: every prediction >= threshold
    reaches_zero: bool  # g(z) = 0 for finite z: a deviance there is infinite
    inverse: Callable[[np.ndarray], np.ndarray]  # z with g(z) = value > 0


OUTPUT_TRANSFORMS: dict[str, OutputTransform] = {
    "softplus": OutputTransform(
        _core.OutputTransform.softplus, True, False, _inverse_softplus
    ),
    "exp": OutputTransform(_core.OutputTransform.exp, True, False, np.log),
    "relu": OutputTransform(_core.OutputTransform.relu, True, True, np.asarray),
    "identity": OutputTransform(
        _core.OutputTransform.identity, False, False, np.asarray
    ),
}
BOUNDED_TRANSFORMS = frozenset(n for n, g in OUTPUT_TRANSFORMS.items() if g.bounded)


ACTIVATIONS: dict[str, _core.Activation] = {
    "identity": _core.Activation.identity,
    "logistic": _core.Activation.logistic,
    "tanh": _core.Activation.tanh,
    "relu": _core.Activation.relu,
}


@dataclass(frozen=True)
class Solver:
    core: _core.Solver | None  # None: not run by the core's epoch loop
    stochastic: bool  # mini-batch epochs: partial_fit, early stopping, schedules


SOLVERS: dict[str, Solver] = {
    "adam": Solver(_core.Solver.adam, stochastic=True),
    "sgd": Solver(_core.Solver.sgd, stochastic=True),
    "lbfgs": Solver(None, stochastic=False),
}


@dataclass(frozen=True)
class WeightMethod:
    """How sign-constrained weights stay on their half-line."""

    core: _core.WeightMethod
    # The optimiser works on a free p and the weight is a function of it (else the
    # weights themselves are projected, and L-BFGS-B gets bounds).
    reparametrises: bool


WEIGHT_METHODS: dict[str, WeightMethod] = {
    "projection": WeightMethod(_core.WeightMethod.projection, reparametrises=False),
    "square": WeightMethod(_core.WeightMethod.square, reparametrises=True),
    "exp": WeightMethod(_core.WeightMethod.exp, reparametrises=True),
}

OUTPUT_CONSTRAINTS: dict[str | None, _core.OutputConstraint] = {
    None: _core.OutputConstraint.none,
    "penalty": _core.OutputConstraint.penalty,
    "lagrangian": _core.OutputConstraint.lagrangian,
}


def names(table: dict) -> set[str]:
    """The option names a parameter accepts (for ``StrOptions``)."""
    return {name for name in table if name is not None}
