"""Checks of thresholds, targets and validation sets, with messages in scikit-learn's
style."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.utils.sparsefuncs import csc_median_axis_0, min_max_axis

from positive_mlp._losses import Loss
from positive_mlp._options import BOUNDED_TRANSFORMS, OUTPUT_TRANSFORMS, SOLVERS


def threshold_per_output(output_threshold, n_outputs: int) -> np.ndarray:
    """``output_threshold`` as one finite float per output."""
    threshold = np.asarray(output_threshold, dtype=np.float64)
    if threshold.ndim == 0:
        threshold = np.full(n_outputs, float(threshold))
    elif threshold.ndim != 1 or threshold.shape[0] != n_outputs:
        raise ValueError(
            "output_threshold must be a float or have one value per output: y has "
            f"{n_outputs} output(s), output_threshold has shape {threshold.shape}."
        )
    if not np.all(np.isfinite(threshold)):
        raise ValueError(f"output_threshold must be finite, got {threshold.tolist()}.")
    return threshold


def _one_of(options) -> str:
    """'a', 'b' or 'c', in the tables' order."""
    quoted = [repr(name) for name in OUTPUT_TRANSFORMS if name in options]
    return (
        ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]
    )


def check_loss_settings(
    loss: Loss, output_activation: str, threshold: np.ndarray
) -> None:
    """Rejects a loss's parameters, and a loss that the output transform cannot keep
    finite."""
    loss.check_parameters()
    name = loss.description
    if loss.needs_bounded_output and output_activation not in BOUNDED_TRANSFORMS:
        raise ValueError(
            f"{name} builds each target's levels as threshold + g(z_1), then each "
            "next level as the one before plus g(z_k), which keeps them above the "
            "threshold and uncrossed only with a bounding g; "
            f"output_activation={output_activation!r} is not one. Use "
            f"{_one_of(BOUNDED_TRANSFORMS)}."
        )
    if not loss.needs_positive_predictions:
        return
    if output_activation not in BOUNDED_TRANSFORMS:
        raise ValueError(
            f"{name} needs strictly positive predictions, which "
            f"output_activation={output_activation!r} cannot guarantee; use "
            f"{_one_of(BOUNDED_TRANSFORMS)}."
        )
    if np.any(threshold < 0):
        raise ValueError(
            f"{name} needs strictly positive predictions, so output_threshold "
            f"must be >= 0, got {threshold.tolist()}."
        )
    if OUTPUT_TRANSFORMS[output_activation].reaches_zero and np.any(threshold <= 0):
        raise ValueError(
            f"{name} with output_activation={output_activation!r} needs "
            f"output_threshold > 0: {output_activation!r} reaches its threshold "
            "exactly, where the deviance is infinite."
        )


def check_sparse_structure(X, name: str = "X") -> None:
    """A ValueError for a scipy.sparse matrix whose index arrays point outside it.

    Runs before anything reads ``X``: scipy's own conversions and row selections
    trust these arrays, and a malformed matrix (say, indices edited by hand) would
    make them read or write out of bounds. Checks CSR, CSC and BSR offsets and
    indices and COO coordinates; changes nothing (scipy's ``check_format`` can
    rewrite the index arrays' dtype in place). A sparse array that is not 2-D is
    left to scikit-learn's validation, whose message says how to reshape it.
    """
    if not sp.issparse(X) or X.ndim != 2:
        return
    n_rows, n_cols = X.shape
    problems = []
    if X.format in ("csr", "csc", "bsr"):
        blocks = X.blocksize if X.format == "bsr" else (1, 1)
        outer, inner = (n_cols, n_rows) if X.format == "csc" else (n_rows, n_cols)
        if X.format == "csc":
            blocks = blocks[::-1]
        indptr, indices = np.asarray(X.indptr), np.asarray(X.indices)
        n_outer, n_inner = -(-outer // blocks[0]), -(-inner // blocks[1])
        if indptr.ndim != 1 or indptr.size != n_outer + 1:
            problems.append(f"indptr has {indptr.size} entries, not {n_outer + 1}")
        elif indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            problems.append("indptr does not rise from 0")
        elif indptr[-1] > min(indices.size, np.asarray(X.data).shape[0]):
            problems.append("indptr points past the stored entries")
        else:
            used = indices[: indptr[-1]]
            if used.size and (used.min() < 0 or used.max() >= n_inner):
                problems.append("an index lies outside the matrix")
    elif X.format == "coo":
        for coords, size in ((X.row, n_rows), (X.col, n_cols)):
            if coords.size and (coords.min() < 0 or coords.max() >= size):
                problems.append("a coordinate lies outside the matrix")
    if problems:
        raise ValueError(
            f"{name} is a malformed sparse {X.format.upper()} matrix: "
            f"{'; '.join(problems)}."
        )


def check_dense_targets(y, name: str = "y") -> None:
    """A TypeError for sparse targets, in scikit-learn's words (``validate_data``
    with ``multi_output=True`` lets a sparse ``y`` through)."""
    if sp.issparse(y):
        raise TypeError(
            f"Sparse data was passed for {name}, but dense data is required. Use "
            "'.toarray()' to convert to a dense numpy array."
        )


def check_training_settings(
    loss: Loss, solver: str, output_constraint: str | None
) -> None:
    """Rejects a solver or output constraint the loss cannot train with."""
    loss.check_training(SOLVERS[solver].stochastic, output_constraint)


def check_targets(
    y: np.ndarray,
    loss: Loss,
    output_activation: str,
    threshold: np.ndarray,
) -> None:
    """Rejects targets that the model cannot represent or the loss cannot score.

    ``y`` has shape (n_samples, n_outputs).
    """
    loss.check_targets(y)
    if output_activation in BOUNDED_TRANSFORMS:
        below = y < threshold
        if np.any(below):
            per_output = below.sum(axis=0).tolist()
            raise ValueError(
                f"y has {int(below.sum())} value(s) below output_threshold (per "
                "output: "
                f"{per_output}); with output_activation={output_activation!r} every "
                "prediction is >= output_threshold, so the model cannot represent "
                "them. Lower output_threshold or use output_activation='identity'."
                + _centred_targets_hint(y, below)
            )


def _centred_targets_hint(y: np.ndarray, below: np.ndarray) -> str:
    """Advice for targets that look centred on 0 (a transformer such as
    StandardScaler in TransformedTargetRegressor moved them below the floor)."""
    centred = np.abs(y.mean(axis=0)) <= 0.1 * y.std(axis=0)
    if not np.any(centred & below.any(axis=0)):
        return ""
    return (
        " These targets look centred on 0: if a transformer moved them (such as "
        "TransformedTargetRegressor(transformer=StandardScaler())), it moved them "
        "below the floor. Fit on the original targets instead (target_scaling, on by "
        "default, scales each output and keeps the floor), or use a transformer "
        "that keeps y >= output_threshold."
    )


def targets_in_dtype(y: np.ndarray, dtype, loss: Loss) -> np.ndarray:
    """``y`` cast to the training dtype (X's), C-contiguous; a ValueError where the
    cast overflows to inf or underflows targets the loss needs > 0 to 0 (float32
    X with targets beyond 3.4e38 or below 1.4e-45)."""
    with np.errstate(over="ignore"):
        cast = np.ascontiguousarray(y, dtype=dtype)
    if cast.dtype == y.dtype:
        return cast
    limits = np.finfo(dtype)
    overflowed = ~np.isfinite(cast)
    if np.any(overflowed):
        raise ValueError(
            f"y has {int(overflowed.sum())} value(s) beyond the largest {cast.dtype} "
            f"({limits.max:.3g}), which became inf when y was cast to X's dtype "
            f"({cast.dtype}). Fit float64 X (X.astype(np.float64)), or divide y by "
            "a constant."
        )
    loss.check_targets_kept(
        y,
        cast,
        f"when y was cast to X's dtype ({cast.dtype}, whose smallest positive "
        f"value is {limits.smallest_subnormal:.3g})",
        "Fit float64 X (X.astype(np.float64)), or multiply y by a constant.",
    )
    return cast


# Targets whose spread is below this many units in the last place of their distance to
# the threshold cannot be told apart by a network that predicts threshold + g(z).
_MIN_RESOLVABLE_ULPS = 1000


def warn_if_threshold_too_far(y: np.ndarray, threshold: np.ndarray) -> None:
    """Warns when the threshold is so far from the targets that the dtype of ``y``
    cannot resolve their variation (predictions are ``threshold + g(z)``, with ``g(z)``
    about the distance).

    ``y`` has shape (n_samples, n_outputs); computed on values divided by the larger of
    max|y| and |threshold|, so that nothing overflows.
    """
    magnitude = np.maximum(np.max(np.abs(y), axis=0), np.abs(threshold))
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    unit_y, unit_threshold = y / magnitude, threshold / magnitude
    spread = np.ptp(unit_y, axis=0)
    distance = np.max(np.abs(unit_y - unit_threshold), axis=0)
    resolution = _MIN_RESOLVABLE_ULPS * np.finfo(y.dtype).eps * distance
    swamped = np.flatnonzero((spread > 0) & (spread < resolution))
    if swamped.size == 0:
        return
    j = int(swamped[0])
    warnings.warn(
        f"output_threshold={threshold[j]:.6g} is so far from the targets of output {j} "
        f"(they span {spread[j] * magnitude[j]:.3g}, at a distance up to "
        f"{distance[j] * magnitude[j]:.3g} from it) that {y.dtype} cannot resolve "
        "their variation: the predictions will barely vary. Move output_threshold "
        "closer to the targets (for example to 0, or just below min(y)).",
        UserWarning,
    )


def check_validation_targets(
    y_val: np.ndarray, sample_weight_val: np.ndarray | None, loss: Loss
) -> None:
    """An explicit validation set must score the model: at least 2 rows (of
    non-zero weight), as the share held out of the training data needs, and a
    warning when R2 or D2 cannot judge it (every output of ``y_val`` constant)."""
    y_val = y_val.reshape(y_val.shape[0], -1)
    if sample_weight_val is not None:
        y_val = y_val[sample_weight_val > 0]
    weighted = "" if sample_weight_val is None else " of non-zero weight"
    if y_val.shape[0] < 2:
        raise ValueError(
            f"X_val has {y_val.shape[0]} row(s){weighted}; early stopping needs at "
            "least 2 to score the model (as in the share it holds out of the "
            "training data). Pass more rows in X_val and y_val, or leave them out "
            "to hold out validation_fraction of the training data."
        )
    if loss.has_levels or np.any(np.ptp(y_val, axis=0) > 0):
        return
    warnings.warn(
        f"y_val is constant{weighted} (every output), so its {loss.score_name} is "
        "undefined: "
        "no prediction but an exact one scores better than another, so early "
        "stopping cannot judge the model and keeps the first epoch's weights. "
        "Pass a y_val that "
        "varies, or leave X_val and y_val out to hold out validation_fraction of "
        "the training data.",
        UserWarning,
    )


# A column of X_val counts as off the training data's scale when its median lies
# beyond [min - 10 w, max + 10 w] of the training column, w being the larger of its
# range (max - min) and its largest |value|. Held-out rows of the same data sit
# inside the training range, their median all the more; X_val that skipped a scaler
# is off by orders of magnitude. The |value| term keeps columns far from 0 with a
# small spread (a year; two training rows) from warning on ordinary rows, and judges
# constant columns; an all-zero training column is not judged.
_OFF_SCALE_WIDTHS = 10


def _column_min_max(X) -> tuple[np.ndarray, np.ndarray]:
    if sp.issparse(X):
        return min_max_axis(X, axis=0)
    return X.min(axis=0), X.max(axis=0)


def _column_medians(X) -> np.ndarray:
    if sp.issparse(X):
        return csc_median_axis_0(X.tocsc())
    return np.median(X, axis=0)


def warn_if_validation_off_scale(X, X_val) -> None:
    """Warns when columns of ``X_val`` sit far outside the range of the same columns
    of ``X``: the sign of a validation set that skipped the preprocessing of X (a
    Pipeline passes ``fit(X_val=...)`` to its last step untransformed unless told
    otherwise).

    ``X`` (finite) and ``X_val``: 2-D, the same number of columns, dense or scipy
    sparse.
    """
    if X.shape[0] == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):  # values near 1e308: inf
        low, high = (np.asarray(a, dtype=np.float64) for a in _column_min_max(X))
        median = np.asarray(_column_medians(X_val), dtype=np.float64)
        width = np.maximum(high - low, np.maximum(np.abs(low), np.abs(high)))
        margin = _OFF_SCALE_WIDTHS * width
        off = (width > 0) & ((median < low - margin) | (median > high + margin))
    columns = np.flatnonzero(off)
    if columns.size == 0:
        return
    j = int(columns[0])
    warnings.warn(
        f"X_val has {columns.size} of {off.size} column(s) whose median lies far "
        f"outside the training data's range (beyond it by more than "
        f"{_OFF_SCALE_WIDTHS} times the larger of its width and largest |value|; "
        f"the first: column {j}, median {median[j]:.3g}, training range "
        f"[{low[j]:.3g}, {high[j]:.3g}]). X_val probably skipped the preprocessing "
        "that X went through: in a Pipeline, fit(X_val=...) reaches the model "
        "untransformed unless the Pipeline is built with transform_input=['X_val'] "
        "(with metadata routing enabled; see PositiveMLPRegressor.fit).",
        UserWarning,
    )
