"""The properties of a fitted model (see the package docstring): finite
weights, signs, predictions against the forward pass on scaled and extreme inputs,
quantile guarantees and scores, monotonicity.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from .conformal import conformal_problems
from .data import CallData, issparse
from .forward import fitted_levels, reference_forward
from .options import BOUNDED, Case, constrained_layers, level_list


def _expected_shape(est: Any, n: int) -> tuple[int, ...]:
    """predict's shape for n rows: (n,) or (n, targets), and for a list of quantile
    levels (n, levels) or (n, targets, levels)."""
    k = est.n_outputs_
    shape: tuple[int, ...] = (n,) if k == 1 else (n, k)
    if est.loss == "quantile" and level_list(est.quantile):
        shape = (*shape, fitted_levels(est))
    return shape


def _quantile_attributes(est: Any) -> list[str]:
    """quantiles_: the levels asked for with loss='quantile', absent otherwise."""
    if est.loss != "quantile":
        if hasattr(est, "quantiles_"):
            return [f"quantiles_ = {est.quantiles_!r} with loss={est.loss!r}"]
        return []
    asked = np.atleast_1d(np.asarray(est.quantile, dtype=np.float64))
    got = getattr(est, "quantiles_", None)
    if got is None or not np.array_equal(np.asarray(got), asked):
        return [f"quantiles_ = {got!r}, asked for quantile={est.quantile!r}"]
    return []


def _quantile_guarantees(est: Any, pred: np.ndarray, label: str) -> list[str]:
    """For every row of a finite input, exactly: each predicted quantile finite and
    >= its target's output_threshold_, and a target's levels non-decreasing."""
    levels = fitted_levels(est)
    n = pred.shape[0]
    q = pred.reshape(n, est.n_outputs_, levels)
    problems = []
    if not np.all(np.isfinite(q)):
        problems.append(
            f"predict({label}): {np.sum(~np.isfinite(q))} non-finite level(s)"
        )
    threshold = np.asarray(est.output_threshold_)[None, :, None]
    with np.errstate(invalid="ignore"):
        below = q < threshold
    if below.any():
        row, target, level = np.argwhere(below)[0]
        problems.append(
            f"predict({label}): {below.sum()} quantile(s) below output_threshold_, "
            f"e.g. {q[row, target, level]!r} < {threshold[0, target, 0]!r} (target "
            f"{target}, level {est.quantiles_[level]:g})"
        )
    with np.errstate(invalid="ignore"):
        crossed = np.diff(q, axis=2) < 0
    if crossed.any():
        row, target, level = np.argwhere(crossed)[0]
        problems.append(
            f"predict({label}): levels cross on {crossed.any(axis=(1, 2)).sum()} "
            f"row(s), e.g. target {target}: level {est.quantiles_[level]:g} -> "
            f"{q[row, target, level]!r}, level {est.quantiles_[level + 1]:g} -> "
            f"{q[row, target, level + 1]!r}"
        )
    return problems


def _quantile_scores(est: Any, arrays: CallData) -> list[str]:
    """A quantile model's validation scores (minus the pinball loss) are never NaN
    or +inf (-inf stands for non-finite or overflowing predictions); with a list of
    levels, score(X, y) is minus the mean pinball loss summed over targets and
    levels (see score_problems)."""
    problems = []
    scores = np.asarray(getattr(est, "validation_scores_", None) or [], dtype=float)
    if not np.all((scores < np.inf) & ~np.isnan(scores)):
        problems.append(f"validation_scores_ NaN or +inf: {scores[:5].tolist()}")
    if not level_list(est.quantile) or arrays.y is None:
        return problems
    unweighted = CallData(arrays.X, arrays.y)
    return problems + score_problems(est, unweighted, est.score(arrays.X, arrays.y))


def score_problems(est: Any, arrays: CallData, score: Any) -> list[str]:
    """score(X, y, sample_weight) of the call: a float; for a list of quantile
    levels minus the weighted mean pinball loss summed over targets and levels
    (scikit-learn's mean_pinball_loss as the reference; -inf where that sum, or a
    row's sum over the outputs, overflows). Otherwise score is scikit-learn's R2,
    NaN for a single row."""
    from sklearn.metrics import mean_pinball_loss

    if not isinstance(score, float):
        return [f"score(X, y) = {score!r}, not a float"]
    if est.loss != "quantile" or not level_list(est.quantile):
        return []
    pred = est.predict(arrays.X).reshape(-1, est.n_outputs_, fitted_levels(est))
    y = np.asarray(arrays.y, dtype=np.float64).reshape(pred.shape[0], -1)
    with np.errstate(all="ignore"):
        want = -sum(
            mean_pinball_loss(
                y[:, t],
                pred[:, t, k].astype(np.float64),
                alpha=level,
                sample_weight=arrays.sample_weight,
            )
            for t in range(est.n_outputs_)
            for k, level in enumerate(est.quantiles_)
        )
    # -inf when saturated predictions (1.8e308) make the summed loss overflow: the
    # loss summed over a row's T x K outputs can overflow though the sum of the
    # outputs' means does not
    close = np.isfinite(score) and abs(score - want) <= 1e-9 * abs(want) + 1e-300
    largest = float(np.finfo(np.float64).max)
    overflows = score == -np.inf and abs(want) * pred[0].size >= largest
    if not (close or overflows or score == want):
        return [
            f"score(X, y) = {score!r}, minus the summed mean pinball loss is {want!r}"
        ]
    return []


def _weights_finite(est: Any) -> list[str]:
    problems = []
    for name in ("coefs_", "intercepts_"):
        for layer, values in enumerate(getattr(est, name)):
            if not np.all(np.isfinite(values)):
                problems.append(
                    f"{name}[{layer}] has {np.sum(~np.isfinite(values))} "
                    "non-finite value(s)"
                )
    for name in ("target_scale_", "output_threshold_"):
        values = np.asarray(getattr(est, name))
        if not np.all(np.isfinite(values)) or (
            name == "target_scale_" and np.any(values <= 0)
        ):
            problems.append(f"{name} = {values.tolist()[:5]}")
    loss = getattr(est, "loss_", None)
    if loss is not None and not np.isfinite(loss):
        problems.append(f"loss_ = {loss}")
    return problems


def _signs(est: Any, case: Case) -> list[str]:
    """Weights of constrained layers >= 0; monotone features' first-layer signs."""
    params = est.get_params()
    n_layers = len(est.coefs_)
    problems = []
    for layer in constrained_layers(params["nonneg_weights"], n_layers):
        if np.any(est.coefs_[layer] < 0):
            problems.append(
                f"coefs_[{layer}] has negative weights (min "
                f"{est.coefs_[layer].min():.3g}) with nonneg_weights="
                f"{params['nonneg_weights']!r}"
            )
        if params["nonneg_bias"] and np.any(est.intercepts_[layer] < 0):
            problems.append(
                f"intercepts_[{layer}] has negative biases with nonneg_bias"
            )
    cst = case["params"].get("monotonic_cst")
    if cst is not None and any(cst):
        signs = np.asarray(cst, dtype=np.float64)
        # An encoded column (input_bins) carries its feature's constraint.
        for feature, edges in enumerate(getattr(est, "bin_edges_", [])):
            signs = np.append(signs, np.full(max(edges.size - 1, 0), cst[feature]))
        signed = est.coefs_[0] * signs[:, None]
        if np.any(signed < 0):
            problems.append("coefs_[0] of a monotone feature has the wrong sign")
        for layer in range(1, n_layers):
            if np.any(est.coefs_[layer] < 0):
                problems.append(f"coefs_[{layer}] negative with monotonic_cst")
    return problems


def _as_input(X: np.ndarray, like: Any) -> Any:
    """X in the container the model was fitted on (DataFrame keeps feature names)."""
    if issparse(like):
        import scipy.sparse as sp

        return sp.csr_matrix(X)
    if hasattr(like, "columns"):
        import pandas as pd

        return pd.DataFrame(X, columns=like.columns)
    return X


def _check_predictions(est: Any, X: np.ndarray, given: Any, label: str) -> list[str]:
    """predict(given) (X as the user passes it) against the reference forward pass;
    for a sparse given, also against predict(X) (X densified)."""
    pred = est.predict(given)
    k = est.n_outputs_ * fitted_levels(est)  # network outputs
    expected_shape = _expected_shape(est, X.shape[0])
    if pred.shape != expected_shape:
        return [f"predict({label}) has shape {pred.shape}, expected {expected_shape}"]
    problems = []
    if est.loss == "quantile":  # every row: a finite input's quantiles never cross
        problems += _quantile_guarantees(est, pred, label)
    pred = pred.reshape(X.shape[0], k).astype(np.float64)
    ref = reference_forward(est, given if issparse(given) else X)
    rows = ~ref.exempt
    if not rows.any():
        return problems
    got, want, tol = pred[rows], ref.pred[rows], ref.tol[rows]
    if not np.all(np.isfinite(got)):
        bad = ~np.isfinite(got)
        problems.append(
            f"predict({label}): {bad.sum()} non-finite value(s), e.g. "
            f"{got[bad][0]} where the float64 forward pass gives "
            f"{want[bad][0]:.6g}"
        )
    threshold = np.repeat(est.output_threshold_, fitted_levels(est))
    if est.out_activation_ in BOUNDED and np.any(got < threshold):
        below = got < threshold
        problems.append(
            f"predict({label}): {below.sum()} value(s) below "
            f"output_threshold, min {got.min():.6g}"
        )
    largest = float(np.finfo(est.coefs_[0].dtype).max)
    # beyond the dtype even by the rounding bound: saturated (or inf) is right; a
    # value within the bound of the dtype's largest may land on either side of it
    with np.errstate(invalid="ignore"):
        beyond = ~(np.abs(want) - tol < largest)
    if np.any(beyond & np.isfinite(got) & (np.abs(got) < largest * (1 - 1e-6))):
        problems.append(
            f"predict({label}): a value beyond the dtype's range "
            "(float64 forward pass) is neither saturated nor inf"
        )
    with np.errstate(invalid="ignore"):
        off = ~beyond & np.isfinite(got) & (np.abs(got - want) > tol)
    if off.any():
        i = np.argmax(np.where(off, np.abs(got - want) / tol, 0).ravel())
        problems.append(
            f"predict({label}) differs from the float64 forward pass on "
            f"{off.sum()} value(s), e.g. {got.ravel()[i]:.9g} vs "
            f"{want.ravel()[i]:.9g} (bound {tol.ravel()[i]:.3g})"
        )
    if issparse(given):
        dense = est.predict(X).reshape(X.shape[0], k).astype(np.float64)[rows]
        problems += _sparse_vs_dense(got, dense, 2 * tol, ~beyond, label)
    return problems


def _sparse_vs_dense(
    got: np.ndarray, dense: np.ndarray, tol: np.ndarray, inside: np.ndarray, label: str
) -> list[str]:
    """Predictions on sparse X and on X densified: both within the reference's
    rounding bound of the float64 forward pass, so within twice it of each other."""
    with np.errstate(invalid="ignore"):
        off = inside & ~(np.abs(got - dense) <= tol) & ~(got == dense)
    if not off.any():
        return []
    i = np.argmax(off.ravel())
    return [
        f"predict(sparse {label}) differs from predict(densified) on "
        f"{off.sum()} value(s), e.g. {got.ravel()[i]:.9g} vs "
        f"{dense.ravel()[i]:.9g} (bound {tol.ravel()[i]:.3g})"
    ]


def _scaled_inputs(
    X: np.ndarray, like: Any, dtype: np.dtype
) -> Iterator[tuple[str, np.ndarray, Any]]:
    """(label, X as an array, X as passed to predict): X as given, 1000 X, -1000 X."""
    yield "X", X, like
    limit = float(np.finfo(dtype).max) if dtype.kind == "f" else 1e300
    if issparse(like):
        yield from _scaled_sparse(like, limit)
        return
    for factor in (1000.0, -1000.0):
        scaled = X.astype(np.float64) * factor
        if np.all(np.abs(scaled) < limit):
            scaled = scaled.astype(X.dtype if X.dtype.kind == "f" else np.float64)
            yield f"{factor:g} * X", scaled, _as_input(scaled, like)


def _scaled_sparse(like: Any, limit: float) -> Iterator[tuple[str, np.ndarray, Any]]:
    """1000 X and -1000 X for a sparse X: its stored values scaled, its structure
    (format, order, duplicates, index width) kept."""
    values = like.data.astype(np.float64)
    for factor in (1000.0, -1000.0):
        scaled = values * factor
        if np.all(np.abs(scaled) < limit):
            dtype = like.dtype if like.dtype.kind == "f" else np.float64
            M = like.copy()
            M.data = scaled.astype(dtype)
            for name in ("indices", "indptr"):
                if hasattr(like, name):
                    setattr(M, name, getattr(like, name).copy())
            yield f"{factor:g} * X", M.toarray(), M


def _monotone(est: Any, X: np.ndarray, like: Any, case: Case) -> list[str]:
    """Predictions along a grid of each constrained feature, for a few rows."""
    cst = case["params"].get("monotonic_cst")
    if cst is None or not any(cst):
        return []
    rows = X[
        np.random.default_rng(0).choice(X.shape[0], min(3, X.shape[0]), replace=False)
    ]
    problems = []
    for feature, sign in enumerate(cst):
        if sign == 0:
            continue
        low, high = float(X[:, feature].min()), float(X[:, feature].max())
        span = max(high - low, abs(low), 1.0)
        grid = np.linspace(low - span, high + span, 17)
        G = np.repeat(rows, grid.size, axis=0).astype(
            X.dtype if X.dtype.kind == "f" else np.float64
        )
        G[:, feature] = np.tile(grid, rows.shape[0])
        pred = est.predict(_as_input(G, like)).reshape(rows.shape[0], grid.size, -1)
        ref = reference_forward(est, G)
        tol = ref.tol.reshape(pred.shape) + 1e-9 * np.abs(pred)
        step = sign * np.diff(pred.astype(np.float64), axis=1)
        slack = tol[:, 1:] + tol[:, :-1]
        ok_rows = ~ref.exempt.reshape(rows.shape[0], grid.size).any(axis=1)
        bad = (step < -slack) & ok_rows[:, None, None]
        if bad.any():
            problems.append(
                f"prediction not monotone ({sign:+d}) in feature "
                f"{feature}: a step of {-step[bad].max():.3g} the "
                "wrong way"
            )
    return problems


def float_state_problems() -> list[str]:
    """The caller's floating-point state after a call into the core: NumPy's arithmetic
    must still make and read subnormal numbers (the core flushes them only inside its
    own loops)."""
    problems = []
    for dtype in (np.float32, np.float64):
        tiny = np.finfo(dtype).smallest_normal
        half = np.array([tiny], dtype) / dtype(2)
        if not (half[0] != 0 and half[0] * dtype(2) == tiny):
            problems.append(
                f"the caller's {dtype.__name__} arithmetic flushes subnormals"
            )
    return problems


def check_fitted(est: Any, case: Case, arrays: CallData) -> list[str]:
    """Every property of a fitted estimator; returns the violations. Warnings raised
    here (by predict on 1000 X, or by the checks' own arithmetic) are not reported."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _check_fitted(est, case, arrays)


def _check_fitted(est: Any, case: Case, arrays: CallData) -> list[str]:
    problems = float_state_problems() + _weights_finite(est)
    if problems:
        return problems
    problems += _signs(est, case)
    if est.loss == "quantile" or hasattr(est, "quantiles_"):
        quantile_problems = _quantile_attributes(est)
        if quantile_problems:
            return problems + quantile_problems
        problems += _quantile_scores(est, arrays)
    X = arrays.X_array()
    dtype = est.coefs_[0].dtype
    for label, Xv, given in _scaled_inputs(X, arrays.X, dtype):
        problems += _check_predictions(est, Xv, given, label)
    if est.loss == "quantile":  # "for any input": up to the dtype's largest values
        extreme = list(_extreme_inputs(X, arrays.X, dtype))
        for label, Xv, given in extreme:
            problems += _check_predictions(est, Xv, given, label)
        inputs = [(label, given) for label, _, given in extreme]
        problems += conformal_problems(est, case, arrays, [("X", arrays.X), *inputs])
    problems += _monotone(est, X, arrays.X, case)
    return problems


def _extreme_inputs(
    X: np.ndarray, like: Any, dtype: np.dtype
) -> Iterator[tuple[str, np.ndarray, Any]]:
    """X scaled so that its largest |value| is a quarter of the dtype's largest, and
    its negative: the network's arithmetic overflows, and those rows are computed
    again in extended precision."""
    X64 = X.astype(np.float64)
    biggest = float(np.abs(X64).max(initial=0.0))
    if not 0 < biggest < np.inf:
        return
    largest = float(np.finfo(dtype if dtype.kind == "f" else np.float64).max)
    for sign in (1.0, -1.0):
        with np.errstate(over="ignore"):
            scaled = (X64 / biggest * (sign * 0.25 * largest)).astype(dtype)
        if np.all(np.isfinite(scaled)):
            yield (
                f"{sign * 0.25:g} * largest * X / max|X|",
                scaled,
                _as_input(scaled, like),
            )
