"""One object per loss: its core enum, the targets it can score, the predictions it
needs, its parameters, its validation score and its starting point.

The estimator resolves the ``loss`` parameters once (``resolve_loss``) and hands the
object on: the checks, the starting point, the network and early stopping read it,
and nothing else tells the losses apart by name. A new loss is its numerics in the
core (types.hpp, losses.hpp), its binding (module.cpp and the stub) and one entry in
``LOSSES``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Callable

import numpy as np
import scipy.special
from sklearn.metrics import r2_score

from positive_mlp import _core
from positive_mlp._quantiles import (
    has_level_axis,
    mean_pinball_loss,
    quantile_levels,
    starting_steps,
)
from positive_mlp._scaling import float64


@dataclass(frozen=True)
class Domain:
    """The targets a loss can score, in the words of its messages."""

    words: str = ""  # the targets it scores ("y >= 0")
    outside: str = ""  # the targets it cannot score ("< 0")
    invalid: Callable[[np.ndarray], np.ndarray] | None = None  # mask of such targets


ANY_TARGET = Domain()
NON_NEGATIVE = Domain("y >= 0", "< 0", lambda y: y < 0)
POSITIVE = Domain("strictly positive y", "<= 0", lambda y: y <= 0)


@dataclass(frozen=True, eq=False)
class Loss:
    """A loss at its parameters (see ``resolve_loss``)."""

    core: _core.Loss  # its name is the parameter's value
    domain: Domain = ANY_TARGET
    # Deviances need predictions > 0: a bounding output with threshold >= 0.
    needs_positive_predictions: bool = False
    # Its outputs are built from a bounding g (the quantiles' staircase).
    needs_bounded_output: bool = False
    # The Tweedie power of the deviance the validation score is judged by (1 Poisson,
    # 2 Gamma); None: no deviance (the squared error, the pinball loss).
    deviance_power: float | None = None
    # MLPRegressor's own loss, which the 'auto' settings train as MLPRegressor does.
    mlp_regressor: bool = False
    # Parametrised by ``power`` (a member of the Tweedie family per power).
    takes_power: bool = False
    # Parametrised by ``quantile``: one network output per target and level.
    has_levels: bool = False
    power: float | None = None  # ``power``, for a loss that takes it
    quantile: object = None  # ``quantile`` as given, for a loss with levels

    @property
    def name(self) -> str:
        """The ``loss`` parameter's value."""
        return self.core.name

    @property
    def description(self) -> str:
        """How messages name it: "loss='gamma'", "loss='tweedie' with power=1.5"."""
        if self.takes_power:
            return f"loss={self.name!r} with power={self.power:g}"
        return f"loss={self.name!r}"

    @cached_property
    def levels(self) -> np.ndarray | None:
        """The quantile levels, parsed and checked on first use; None without."""
        return quantile_levels(self.quantile) if self.has_levels else None

    @property
    def n_levels(self) -> int:
        """Network outputs per target."""
        return 1 if self.levels is None else self.levels.size

    @property
    def level_axis(self) -> bool:
        """Whether predictions carry a last axis of levels."""
        return self.has_levels and has_level_axis(self.quantile)

    @property
    def score_name(self) -> str:
        """What the validation score is: R2, D2 or minus the pinball loss."""
        if self.has_levels:
            return "minus pinball loss"
        return "R2" if self.deviance_power is None else "D2"

    def check_parameters(self) -> None:
        """Tweedie distributions exist for powers 0 and >= 1 (and < 0, not
        offered)."""
        if self.takes_power and not (self.power == 0 or self.power >= 1):
            raise ValueError(
                f"power must be 0 or >= 1 for loss={self.name!r}, got {self.power!r}: "
                "no Tweedie distribution has a power in (0, 1), and negative powers "
                "(targets of any sign) do not suit positive data."
            )

    def check_training(self, stochastic: bool, output_constraint: str | None) -> None:
        """A loss with levels trains with the stochastic solvers, and no output
        constraint."""
        if not self.has_levels:
            return
        if not stochastic:
            raise ValueError(
                f"{self.description} needs solver='adam' or 'sgd': the pinball loss "
                "has a kink at every target, where L-BFGS-B's line searches and "
                "curvature pairs break down."
            )
        if output_constraint is not None:
            raise ValueError(
                f"{self.description} keeps its levels above output_threshold by "
                f"construction; output_constraint={output_constraint!r} has nothing "
                "to add. Leave it None."
            )

    def check_targets(self, y: np.ndarray) -> None:
        """A ValueError counting the targets outside the loss's domain."""
        if self.domain.invalid is None:
            return
        bad = self.domain.invalid(y)
        if np.any(bad):
            raise ValueError(
                f"{self.description} requires {self.domain.words}; "
                f"{int(np.sum(bad))} value(s) are {self.domain.outside}."
            )

    def check_targets_kept(
        self, y: np.ndarray, changed: np.ndarray, how: str, advice: str
    ) -> None:
        """A ValueError when ``changed`` (``y`` cast or scaled, as ``how`` says) holds
        targets the loss cannot score where ``y`` holds ones it can: targets > 0 that
        underflowed to 0, which a loss needing y > 0 would otherwise blame on ``y``
        or on the arithmetic."""
        invalid = self.domain.invalid
        if invalid is None:
            return
        lost = invalid(changed) & ~invalid(y)
        if np.any(lost):
            raise ValueError(
                f"{self.description} requires {self.domain.words}; "
                f"{int(lost.sum())} value(s) of y (the smallest "
                f"{np.min(y[lost]):.3g}) underflowed to 0 {how}. {advice}"
            )

    def score(
        self, y: np.ndarray, pred: np.ndarray, sample_weight: np.ndarray | None
    ) -> float:
        """How early stopping judges predictions (higher is better): ``y`` holds the
        targets (n_samples, n_targets), ``pred`` the network's outputs (n_samples,
        n_targets * n_levels). R2; for the deviance losses D2, the
        share of the constant model's deviance explained (the loss being minimised;
        R2 weighs the largest targets most); with levels minus the mean pinball loss
        (R2 scores means, not quantiles)."""
        if self.has_levels:
            if not np.all(np.isfinite(pred)):
                return -np.inf
            return -mean_pinball_loss(y, pred, self.levels, sample_weight)
        if self.deviance_power is not None:
            return d2_validation_score(y, pred, sample_weight, self.deviance_power)
        return r2_validation_score(y, pred, sample_weight)

    def start_above_threshold(
        self,
        y: np.ndarray,
        threshold: np.ndarray,
        sample_weight: np.ndarray | None,
    ) -> np.ndarray:
        """Each network output's starting g(z), the constant model that minimises
        the loss: the targets' mean above the threshold, or with levels the sample
        quantiles (see ``starting_steps``). ``y`` (n_samples, n_targets) and
        ``threshold`` are per target; the result is per network output."""
        if not self.has_levels:
            return weighted_mean(y, sample_weight) - threshold
        return starting_steps(y, threshold, self.levels, float64(sample_weight))


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss(_core.Loss.squared_error, mlp_regressor=True),
        Loss(
            _core.Loss.poisson,
            NON_NEGATIVE,
            needs_positive_predictions=True,
            deviance_power=1.0,
        ),
        Loss(
            _core.Loss.gamma,
            POSITIVE,
            needs_positive_predictions=True,
            deviance_power=2.0,
        ),
        # Its targets, predictions and deviance depend on the power: resolve_loss.
        Loss(_core.Loss.tweedie, takes_power=True),
        Loss(_core.Loss.quantile, needs_bounded_output=True, has_levels=True),
    )
}

# The network predict builds: it computes no loss.
PREDICTION_ONLY = LOSSES["squared_error"]


def tweedie_member(power: float) -> Loss:
    """The loss whose targets and predictions a Tweedie power admits: power 0 is
    the squared error, 1 <= power < 2 scores y >= 0 as Poisson does, power >= 2
    needs y > 0 as Gamma does."""
    if power == 0:
        return LOSSES["squared_error"]
    return LOSSES["poisson"] if power < 2 else LOSSES["gamma"]


def resolve_loss(name: str, power: float = 1.5, quantile=0.5) -> Loss:
    """The loss ``name`` at the estimator's ``power`` and ``quantile`` (each read
    only by the loss that takes it). Checks nothing: ``check_parameters`` checks the
    power, and the levels are parsed and checked on first use."""
    entry = LOSSES[name]
    if entry.takes_power:
        member = tweedie_member(power)
        return replace(
            entry,
            domain=member.domain,
            needs_positive_predictions=member.needs_positive_predictions,
            deviance_power=None if power == 0 else power,
            power=power,
        )
    if entry.has_levels:
        return replace(entry, quantile=quantile)
    return entry


def is_mlp_regressor_loss(name) -> bool:
    """Whether the ``loss`` parameter names MLPRegressor's loss (False for a name
    that is no loss, as before parameter validation)."""
    entry = LOSSES.get(name) if isinstance(name, str) else None
    return entry is not None and entry.mlp_regressor


def weighted_mean(y: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    """Each column's weighted mean, in float64 (float32 sums of large weights or
    targets overflow) and on y divided by its largest |value|, so that no sum
    overflows (two targets near 1e308)."""
    y = y.astype(np.float64)
    magnitude = np.max(np.abs(y), axis=0)
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    unit = np.average(y / magnitude, axis=0, weights=float64(sample_weight))
    return magnitude * unit


def r2_validation_score(
    y: np.ndarray, pred: np.ndarray, sample_weight: np.ndarray | None
) -> float:
    """R2 of ``pred``, computed on each output divided by its largest |value|.

    R2 is scale-free per output; the division keeps its sums of squares finite for
    targets near 1e300. Non-finite predictions score -inf.
    """
    if not np.all(np.isfinite(pred)):
        return -np.inf
    magnitude = np.maximum(np.max(np.abs(y), axis=0), np.max(np.abs(pred), axis=0))
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    with np.errstate(all="ignore"):  # targets nearly constant: a ratio can overflow
        per_output = r2_score(
            y / magnitude,
            pred / magnitude,
            sample_weight=sample_weight,
            multioutput="raw_values",
        )
    exact = _exactly_predicted(y, pred, sample_weight)
    per_output = np.where(_constant_targets(y, sample_weight), exact, per_output)
    score = float(np.mean(per_output))
    return score if np.isfinite(score) else -np.inf


def _constant_targets(y: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    """The outputs whose weighted rows all hold one target. Their R2 or D2 is 1 if
    predicted exactly, else 0, as r2_score scores them: computed, the weighted mean of
    equal values can round a unit away from them and leave a null deviance at
    rounding level, which turned predictions a rounding apart into scores of 0 and
    -1e18 (fuzz case 141:4744, early stopping on such a validation set)."""
    rows = _weighted_rows(y, sample_weight)
    return np.all(rows == rows[:1], axis=0)


def _exactly_predicted(
    y: np.ndarray, pred: np.ndarray, sample_weight: np.ndarray | None
) -> np.ndarray:
    """1.0 for each output predicted exactly on every weighted row, else 0.0."""
    same = _weighted_rows(y, sample_weight) == _weighted_rows(pred, sample_weight)
    return np.all(same, axis=0).astype(np.float64)


def _weighted_rows(values: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    """The rows (n, outputs) of nonzero weight."""
    values = values.reshape(len(values), -1)
    return values if sample_weight is None else values[np.asarray(sample_weight) > 0]


def d2_validation_score(
    y: np.ndarray, pred: np.ndarray, sample_weight: np.ndarray | None, power: float
) -> float:
    """D2 of ``pred`` for the Tweedie deviance of ``power`` (>= 1), the mean over
    outputs of ``1 - deviance / deviance of the weighted mean``.

    Each output is divided by its largest value first: the deviances scale as
    ``c ** (2 - power)``, so the ratio is the same, and their sums stay finite for
    targets near 1e300. Non-finite predictions, or predictions of 0 where the
    target is not, score -inf.
    """
    if not np.all(np.isfinite(pred)):
        return -np.inf
    magnitude = np.maximum(np.max(np.abs(y), axis=0), np.max(np.abs(pred), axis=0))
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    y, pred = y / magnitude, pred / magnitude
    weights = np.ones(len(y)) if sample_weight is None else sample_weight
    mean = np.average(y, axis=0, weights=weights)
    with np.errstate(all="ignore"):
        deviance = weights @ _unit_deviance(y, pred, power)
        null = weights @ _unit_deviance(y, mean, power)
        explained = np.where(
            _constant_targets(y, sample_weight),
            _exactly_predicted(y, pred, sample_weight),
            1 - deviance / null,
        )
    score = float(np.mean(explained))
    return score if np.isfinite(score) else -np.inf


def _unit_deviance(y: np.ndarray, mu: np.ndarray, power: float) -> np.ndarray:
    """The Tweedie unit deviance of ``mu`` for ``y`` (power >= 1, mu > 0).

    The validation metric, kept apart from the core's training loss as
    scikit-learn keeps ``mean_tweedie_deviance`` apart from its ``_loss`` module:
    it scores held-out predictions once per epoch on rows rescaled to at most 1,
    where the core's loss must take any scale, and moving it into the core would
    change the last bits of ``validation_scores_`` and so the epoch some fits
    stop at."""
    if power == 1:
        return 2 * (scipy.special.xlogy(y, y / mu) - y + mu)
    if power == 2:
        return 2 * (np.log(mu / y) + y / mu - 1)
    return 2 * (
        np.maximum(y, 0) ** (2 - power) / ((1 - power) * (2 - power))
        - y * mu ** (1 - power) / (1 - power)
        + mu ** (2 - power) / (2 - power)
    )
