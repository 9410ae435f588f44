"""loss='quantile': the levels, and how their outputs are laid out.

The network has one output per target and level, the levels of a target side by side
(output ``t * n_levels + k`` is target t at level k). The core builds each target's
levels as a rising staircase, ``threshold + g(z_1)``, then each next level the one
before plus ``g(z_k)``, so that with a bounding output every level is
``>= threshold`` and the levels never cross, for any input. y keeps one column per
target: the core reads target t for each of its levels (output ``j`` reads column
``j // n_levels``), so y is never repeated per level.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

# The smallest starting step between levels, as a share of the targets' spread.
_SMALLEST_STEP = 0.05


_LEVELS = "a float in (0, 1), or a list, tuple or array of them"


def quantile_levels(quantile) -> np.ndarray:
    """The levels of ``quantile`` (a level in (0, 1) or a list of them), checked.

    The parameter constraints refuse other containers first; this check also holds
    where they do not run (a partial_fit after fit, skipped parameter validation)."""
    if not isinstance(quantile, (Real, list, tuple, np.ndarray)):
        raise TypeError(f"quantile must be {_LEVELS}, got {quantile!r}.")
    try:
        levels = np.atleast_1d(np.asarray(quantile, dtype=np.float64))
    except (TypeError, ValueError) as error:
        raise ValueError(f"quantile must be {_LEVELS}, got {quantile!r}.") from error
    if levels.ndim != 1 or levels.size == 0:
        raise ValueError(
            f"quantile must be a level or a list of levels, got {quantile!r}."
        )
    if not np.all((levels > 0) & (levels < 1)):
        raise ValueError(f"quantile levels must lie in (0, 1), got {levels.tolist()}.")
    if np.any(np.diff(levels) <= 0):
        raise ValueError(
            f"quantile levels must be strictly increasing, got {levels.tolist()}."
        )
    return levels


def has_level_axis(quantile) -> bool:
    """A list of levels (even of one) gives predictions a last axis of levels; a
    float, or a 0-d array, does not."""
    return np.ndim(quantile) > 0


def per_output(values: np.ndarray, n_levels: int) -> np.ndarray:
    """Per-target values (thresholds, scales, margins) repeated for each target's
    levels: one per network output."""
    if n_levels == 1:  # every loss but 'quantile': nothing to repeat (one-row predict)
        return values
    return np.repeat(values, n_levels, axis=-1)


def levels_per_output(levels: np.ndarray, n_targets: int) -> np.ndarray:
    return np.tile(levels, n_targets)


def weighted_quantiles(
    y: np.ndarray, levels: np.ndarray, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """Each column's quantiles at ``levels`` (levels, columns), by the inverted CDF:
    the smallest value whose share of the weight, with the values below it, reaches
    the level. Without weights, numpy's ``method='inverted_cdf'``; numpy takes
    weights only from 2.0 on, so this counts them itself."""
    weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight)
    order = np.argsort(y, axis=0, kind="stable")
    cumulative = np.cumsum(weights[order], axis=0)  # (rows, columns)
    quantiles = np.empty((len(levels), y.shape[1]))
    for j in range(y.shape[1]):
        reach = np.asarray(levels) * cumulative[-1, j]
        first = np.searchsorted(cumulative[:, j], reach, side="left")
        # Level 0: the least value of weight > 0, past rows of weight 0.
        first = np.maximum(first, np.searchsorted(cumulative[:, j], 0, side="right"))
        quantiles[:, j] = y[order[np.minimum(first, len(y) - 1), j], j]
    return quantiles


def starting_steps(
    y: np.ndarray,
    threshold: np.ndarray,
    levels: np.ndarray,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Each network output's starting g(z): the targets' quantile at the first level
    above the threshold, then the gaps between consecutive levels' quantiles, so that
    training starts from the constant model at the sample quantiles. ``y`` holds the
    targets (n_samples, n_targets) and ``threshold`` one value per target. Weighted
    quantiles of the inverted CDF: a weight of 2 counts as a repeated row."""
    y = y.astype(np.float64)
    quantiles = weighted_quantiles(y, levels, sample_weight).T  # (targets, levels)
    steps = np.diff(quantiles, axis=1, prepend=threshold[:, None])
    # Steps of 0 (levels sharing a value, as zero-inflated targets give) would start
    # where softplus and exp have no slope: start them at a share of the spread.
    # The spread on y / max|y|: squares of targets beyond 1e154 overflow.
    magnitude = np.max(np.abs(y), axis=0)
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    spread = magnitude * np.std(y / magnitude, axis=0)
    smallest = _SMALLEST_STEP * np.maximum(spread, np.finfo(float).tiny)
    return np.maximum(steps, smallest[:, None]).ravel()


def mean_pinball_loss(
    y: np.ndarray,
    pred: np.ndarray,
    levels: np.ndarray,
    sample_weight: np.ndarray | None = None,
) -> float:
    """The pinball loss averaged over samples, summed over the network's outputs:
    ``y`` holds the targets (n_samples, n_targets), ``pred`` the outputs (n_samples,
    n_targets * n_levels), target t's levels side by side, ``levels`` (n_levels,)."""
    n_levels = levels.size
    by_target = pred.reshape(pred.shape[0], -1, n_levels)
    residual = (y[:, :, None] - by_target).reshape(pred.shape)
    level = levels_per_output(levels, y.shape[1])
    loss = np.where(residual >= 0, level * residual, (level - 1) * residual)
    return float(np.average(loss.sum(axis=1), weights=sample_weight))


def shaped_predictions(
    pred: np.ndarray, n_targets: int, n_levels: int, level_axis: bool
) -> np.ndarray:
    """Predictions (n_samples, n_outputs) as the user sees them: (n_samples,),
    (n_samples, n_targets), (n_samples, n_levels) or (n_samples, n_targets, n_levels):
    a target axis with several targets, a level axis when a list of levels was given."""
    pred = pred.reshape(pred.shape[0], n_targets, n_levels)
    if not level_axis:
        pred = pred[:, :, 0]
        return pred[:, 0] if n_targets == 1 else pred
    return pred[:, 0, :] if n_targets == 1 else pred
