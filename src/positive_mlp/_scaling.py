"""Per-output target scales: the network trains on y / scale with thresholds
threshold / scale, and predicts threshold + scale * g(z) in the users' units.

Every step here is computed so that it cannot overflow for any finite targets and
threshold, and values that would leave a dtype's range saturate or raise a clear error.
"""

from __future__ import annotations

import numpy as np

from positive_mlp._settings import Data


def target_scale(setting, data: Data, threshold: np.ndarray) -> np.ndarray:
    """The per-output scales for ``target_scaling`` ('auto' already resolved): None
    (all 1), 'std', 'mean', 'rms', or an array of scales."""
    n_outputs = data.y.shape[1]
    if setting is None:
        return np.ones(n_outputs)
    if isinstance(setting, str):
        statistic = _scale_statistic(setting, data, threshold)
        return np.where(statistic > 0, statistic, 1.0)
    scale = np.asarray(setting, dtype=np.float64)
    if scale.shape != (n_outputs,) or not np.all(np.isfinite(scale) & (scale > 0)):
        raise ValueError(
            f"target_scaling as an array needs {n_outputs} finite value(s) > 0, "
            f"got {scale.tolist()}."
        )
    return scale


def saturated_scaled(y: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``y / scale`` in float64, saturating instead of reaching inf: scales fitted on
    the training targets can be far smaller than other targets (a validation set)."""
    largest = np.finfo(np.float64).max
    with np.errstate(over="ignore"):
        return np.clip(y.astype(np.float64) / scale, -largest, largest)


def float64(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else a.astype(np.float64, copy=False)


def to_scaled(values: np.ndarray, scale: np.ndarray, dtype, what: str) -> np.ndarray:
    """``values / scale`` in ``dtype``; a ValueError when it leaves the dtype's finite
    range (a threshold far from tiny targets, divided by their small scale)."""
    with np.errstate(over="ignore"):
        values = values / scale
    largest = np.finfo(dtype).max
    if np.all(np.abs(values) <= largest):
        return values.astype(dtype, copy=False)
    raise ValueError(
        f"{what} reaches {np.max(np.abs(values)):.3g}, beyond the largest "
        f"{np.dtype(dtype)} ({largest:.3g}): output_threshold is too far from the "
        "targets for their scale. Move output_threshold closer to the targets, or fit "
        "float64 data."
    )


def _scale_statistic(kind: str, data: Data, threshold: np.ndarray) -> np.ndarray:
    """Per output: the weighted std of y, or mean or RMS of |y - threshold|.

    Computed on y and the threshold divided by the larger of max|y| and |threshold|,
    so that no difference or square overflows (targets near 1e200, or tiny targets
    far from their threshold); the result is kept within float64's finite range.
    """
    magnitude = np.maximum(np.max(np.abs(data.y), axis=0), np.abs(threshold))
    magnitude = np.where(magnitude > 0, magnitude, 1.0).astype(np.float64)
    y, threshold = data.y / magnitude, threshold / magnitude
    unit = _unit_statistic(kind, Data(data.X, y, data.sample_weight), threshold)
    with np.errstate(over="ignore"):
        return np.minimum(magnitude * unit, np.finfo(np.float64).max)


def _unit_statistic(kind: str, data: Data, threshold: np.ndarray) -> np.ndarray:
    y = data.y.astype(np.float64)
    if kind == "std":
        mean = np.average(y, axis=0, weights=float64(data.sample_weight))
        deviation, power = y - mean, 2
    else:
        deviation, power = y - threshold, 2 if kind == "rms" else 1
    average = np.average(
        np.abs(deviation) ** power, axis=0, weights=float64(data.sample_weight)
    )
    return np.sqrt(average) if power == 2 else average


def in_user_units(
    raw: np.ndarray, threshold: np.ndarray, scale: np.ndarray, bounded: bool
) -> np.ndarray:
    """threshold + scale * raw, in raw's dtype, never rounded below the threshold."""
    with np.errstate(over="ignore"):
        exact = threshold + scale * raw.astype(np.float64, copy=False)
    # Saturate rather than overflow: the largest finite value of the dtype, never inf.
    largest = np.finfo(raw.dtype).max
    y_pred = np.clip(exact, -largest, largest).astype(raw.dtype, copy=False)
    if bounded and y_pred.dtype != np.float64:
        under = y_pred < threshold  # rounding to float32 went below: one step up
        y_pred[under] = np.nextafter(y_pred[under], np.inf)
    return y_pred
