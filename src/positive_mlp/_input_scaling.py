"""Scaling of the input features, folded into the first layer after training.

The network trains on ``(x - shift) / scale`` per feature; afterwards the first
layer is rewritten in the user's units, ``W' = W / scale`` (row-wise) and
``b' = b - (shift / scale) @ W``, so ``x @ W' + b' == ((x - shift) / scale) @ W + b``
and predict, ONNX export and every reader of ``coefs_`` see one ordinary network.
Continuing training (warm starts, ``partial_fit``) unfolds the weights with the
fitted scaling first.

Scales are powers of two: dividing by one is exact in floating point (well-scaled
data then keeps its values up to a shift), and folding moves no weight's mantissa.
Only the first ``n_features`` rows of the first layer are the features; the columns
of ``input_bins`` after them are in [0, 1] already and are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from positive_mlp._network import ParameterLayout

METHODS = ("standard", "rms")
# input_scaling='auto' scales only the features off the unit scale: a largest |value|
# above this, or below its inverse. Features already near unit scale (standardised,
# or bounded in [0, 1] as spline or one-hot columns) stay as they are: standardising
# B-spline columns (std around 0.1-0.3) doubled the deviance of the spline model on
# one of bench_quality.py's sets (carseats).
OFF_SCALE = 2.0**4


@dataclass(frozen=True)
class InputScaling:
    """Per feature, the shift subtracted and the power of two divided by."""

    shift: np.ndarray  # float64, (n_features,)
    scale: np.ndarray  # float64, (n_features,), powers of two

    @classmethod
    def identity(cls, n_features: int) -> InputScaling:
        return cls(np.zeros(n_features), np.ones(n_features))

    @property
    def is_identity(self) -> bool:
        return not np.any(self.shift) and bool(np.all(self.scale == 1.0))

    def apply(self, X, copy: bool = True):
        """The network's inputs scaled: the first ``n_features`` columns of ``X``
        (dense or CSR), in a new array (in ``X`` itself if not ``copy`` and ``X``
        is a C-contiguous array), or ``X`` itself when nothing changes."""
        if self.is_identity:
            return X
        n_features = self.shift.size
        if scipy.sparse.issparse(X) and np.any(self.shift):
            # A model fitted on dense X centres: a sparse X_val or later batch is
            # centred as dense rows too.
            X, copy = X.toarray(), False
        if scipy.sparse.issparse(X):
            scaled = X.copy()
            scaled.data /= self.scale.astype(X.dtype)[scaled.indices]
            return scaled
        scaled = np.array(X, copy=copy, order="C")
        features = scaled[:, :n_features]
        features -= self.shift.astype(X.dtype)
        features /= self.scale.astype(X.dtype)
        return scaled

    def fold(self, params: np.ndarray, layout: ParameterLayout) -> np.ndarray:
        """Weights trained on scaled inputs, rewritten for raw inputs (a copy)."""
        return self._rewrite(params, layout, folding=True)

    def unfold(self, params: np.ndarray, layout: ParameterLayout) -> np.ndarray:
        """Folded weights back in the units of the scaled inputs (a copy)."""
        return self._rewrite(params, layout, folding=False)

    def _rewrite(
        self, params: np.ndarray, layout: ParameterLayout, folding: bool
    ) -> np.ndarray:
        params = np.array(params, copy=True)
        if self.is_identity:
            return params
        coefs, intercepts = layout.unpack(params)
        n_features = self.shift.size
        rows = coefs[0][:n_features].astype(np.float64)  # every member's columns
        offset = self.shift / self.scale
        with np.errstate(over="ignore", invalid="ignore"):
            if folding:
                biases = intercepts[0] - offset @ rows
                rows /= self.scale[:, None]
            else:
                rows *= self.scale[:, None]
                biases = intercepts[0] + offset @ rows
        intercepts[0][:] = _saturated(biases, params.dtype)
        coefs[0][:n_features] = _saturated(rows, params.dtype)
        return params


def _saturated(values: np.ndarray, dtype) -> np.ndarray:
    """``values`` within the finite range of ``dtype``: the huge weights of a fit
    that diverged (kept from its last good epoch) may fold past it."""
    largest = np.finfo(dtype).max
    return np.clip(np.nan_to_num(values, nan=0.0), -largest, largest)


def fit_scaling(
    X, sample_weight: np.ndarray | None, method: str | None, off_scale_only=False
) -> InputScaling:
    """The scaling ``method`` ('standard', 'rms' or None) takes from the training
    rows ``X`` (dense or CSR; rows of zero weight already dropped).

    'standard' centres each feature at its weighted mean and divides by its
    standard deviation; 'rms' divides by its root mean square and does not centre.
    A two-valued column goes onto [0, 1] ('standard': minimum -> 0, maximum -> 1;
    'rms': divided by its largest |value|), a constant one is left alone. Scales are
    rounded to the nearest power of two and kept within the square root of the
    dtype's range, so that folded weights stay finite. ``off_scale_only`` leaves
    alone the features whose largest ``|value|`` lies within
    ``[1 / OFF_SCALE, OFF_SCALE]``.
    """
    n_features = X.shape[1]
    if method is None:
        return InputScaling.identity(n_features)
    stats = _column_statistics(X, sample_weight)
    centre = method == "standard"
    if centre:
        spread, shift = stats.std, stats.mean
        two_spread, two_shift = stats.high - stats.low, stats.low
    else:
        spread, shift = stats.rms, np.zeros(n_features)
        two_spread = np.maximum(np.abs(stats.low), np.abs(stats.high))
        two_shift = np.zeros(n_features)
    spread = np.where(stats.two_valued, two_spread, spread)
    shift = np.where(stats.two_valued, two_shift, shift)
    constant = stats.low == stats.high
    usable = ~constant & np.isfinite(spread) & (spread > 0)
    if off_scale_only:
        largest = np.maximum(np.abs(stats.low), np.abs(stats.high))
        usable &= (largest > OFF_SCALE) | (largest < 1.0 / OFF_SCALE)
    scale = np.where(usable, _power_of_two(spread, X.dtype), 1.0)
    shift = np.where(usable, shift, 0.0)
    return InputScaling(shift, scale)


def _power_of_two(spread: np.ndarray, dtype) -> np.ndarray:
    """The nearest power of two, its exponent within half the dtype's range."""
    limit = np.finfo(dtype).maxexp // 2
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.round(np.log2(spread))
    exponent = np.clip(np.nan_to_num(exponent), -limit, limit)
    return np.exp2(exponent)


@dataclass(frozen=True)
class _Statistics:
    """Per column, weighted and in float64."""

    mean: np.ndarray
    std: np.ndarray
    rms: np.ndarray
    low: np.ndarray
    high: np.ndarray
    two_valued: np.ndarray  # bool: exactly two distinct values

    @classmethod
    def of_unit_moments(
        cls, mean, mean_square, variance, magnitude, low, high, two_valued
    ) -> _Statistics:
        """From the moments of each column divided by its ``magnitude``."""
        return cls(
            mean * magnitude,
            np.sqrt(variance) * magnitude,
            np.sqrt(mean_square) * magnitude,
            low,
            high,
            two_valued,
        )


def _column_statistics(X, sample_weight: np.ndarray | None) -> _Statistics:
    if scipy.sparse.issparse(X):
        return _sparse_statistics(X, sample_weight)
    X = np.asarray(X, dtype=np.float64)
    low, high = X.min(axis=0), X.max(axis=0)
    # Moments of X / magnitude: no square overflows, whatever the column's size.
    magnitude = _magnitude(low, high)
    unit = X / magnitude
    weights = None if sample_weight is None else np.asarray(sample_weight, np.float64)
    mean = np.average(unit, axis=0, weights=weights)
    mean_square = np.average(unit * unit, axis=0, weights=weights)
    unit -= mean
    unit *= unit
    variance = np.average(unit, axis=0, weights=weights)
    two_valued = np.all(np.equal(X, low) | np.equal(X, high), axis=0) & (low != high)
    return _Statistics.of_unit_moments(
        mean, mean_square, variance, magnitude, low, high, two_valued
    )


def _sparse_statistics(X, sample_weight: np.ndarray | None) -> _Statistics:
    """The statistics of a CSR matrix, duplicate entries summed, never densified."""
    X = scipy.sparse.csr_matrix(X, dtype=np.float64, copy=True)
    X.sum_duplicates()
    n_rows = X.shape[0]
    low = X.min(axis=0).toarray().ravel()
    high = X.max(axis=0).toarray().ravel()
    magnitude = _magnitude(low, high)
    unit = X.copy()
    unit.data /= magnitude[unit.indices]
    weights = np.ones(n_rows) if sample_weight is None else sample_weight
    weights = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    mean = unit.T @ weights
    mean_square = unit.multiply(unit).T @ weights
    variance = np.maximum(mean_square - mean**2, 0.0)
    column = X.indices
    stored_extreme = (X.data == low[column]) | (X.data == high[column])
    off_extremes = np.bincount(column[~stored_extreme], minlength=X.shape[1])
    stored = np.bincount(column, minlength=X.shape[1])
    zeros_ok = (stored == n_rows) | (low == 0) | (high == 0)
    two_valued = (off_extremes == 0) & zeros_ok & (low != high)
    return _Statistics.of_unit_moments(
        mean, mean_square, variance, magnitude, low, high, two_valued
    )


def _magnitude(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Each column's largest |value|, 1 for all-zero columns."""
    magnitude = np.maximum(np.abs(low), np.abs(high))
    return np.where(magnitude > 0, magnitude, 1.0)
