"""A float64 NumPy forward pass of a fitted model, with a bound on its rounding
error: what predict is checked against (properties)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from positive_mlp._members import combine_members, fitted_members, member_networks
from positive_mlp._options import ACTIVATIONS, OUTPUT_TRANSFORMS

from .data import issparse
from .options import check_covers


@dataclass
class Reference:
    """A float64 forward pass of coefs_ with a bound on the rounding error."""

    pred: np.ndarray  # (n, n_outputs)
    tol: np.ndarray  # (n, n_outputs)
    exempt: np.ndarray  # (n,) rows whose arithmetic would overflow the model's dtype


# The hidden activations: (function, Lipschitz constant), one per name of the
# package's table.
_ACT: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float]] = {
    "identity": (lambda z: z, 1.0),
    "relu": (lambda z: np.maximum(z, 0.0), 1.0),
    "tanh": (np.tanh, 1.0),
    "logistic": (lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)), 0.25),
}

Transform = Callable[[np.ndarray, np.ndarray, np.dtype], tuple[np.ndarray, np.ndarray]]


def _exp(
    z: np.ndarray, err: np.ndarray, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    cap = np.finfo(dtype).maxexp * math.log(2.0) - 2.0  # the core's overflow guard
    raw = np.exp(np.minimum(z, cap))
    return raw, np.exp(np.minimum(z + err, cap)) * err


# The output transforms g: (z, |error of z| bound, the model's dtype) -> g(z) and a
# bound on its error; one per name of the package's table.
_OUTPUT: dict[str, Transform] = {
    "softplus": lambda z, err, dtype: (np.logaddexp(0.0, z), err),
    "exp": _exp,
    "relu": lambda z, err, dtype: (np.maximum(z, 0.0), err),
    "identity": lambda z, err, dtype: (z, err),
}
check_covers(_ACT, ACTIVATIONS, "a forward pass of activations")
check_covers(_OUTPUT, OUTPUT_TRANSFORMS, "a forward pass of output activations")


def _output_transform(
    name: str, z: np.ndarray, err: np.ndarray, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """g(z) and a bound on its error given |error of z| <= err."""
    return _OUTPUT[name](z, err, dtype)


def reference_forward(est: Any, X: Any) -> Reference:
    """For a sparse X, the first layer's bound counts each stored entry: |X| sums
    the |values| of duplicates, and a row may hold more entries than features. A
    model of several members (``n_members_``) predicts max(mean, min) of its
    members' predictions, each computed as a model of one member."""
    dtype = est.coefs_[0].dtype
    eps = float(np.finfo(dtype).eps)
    big = float(np.finfo(dtype).max) * 1e-4
    tiny = float(np.finfo(dtype).tiny)
    if issparse(X):
        X64 = X.astype(np.float64)
        a, abs_a = X64.toarray(), abs(X64).toarray()
        entries = np.bincount(X.tocoo().row, minlength=X.shape[0])
        terms = max(X.shape[1], int(entries.max(initial=0)))
    else:
        a = np.asarray(X, dtype=np.float64)
        abs_a, terms = np.abs(a), a.shape[1]
    err = np.zeros_like(a)
    exempt = ~(abs_a <= big).all(axis=1)
    a, abs_a, err = _with_encoding(est, a, abs_a, err, eps)
    terms = max(terms, a.shape[1])
    networks = member_networks(est.coefs_, est.intercepts_, fitted_members(est))
    with np.errstate(all="ignore"):
        raws, err_raws = [], []
        for coefs, intercepts in networks:
            raw, err_raw, overflows = _member_raw(
                est, coefs, intercepts, (a, abs_a, err, terms), dtype
            )
            raws.append(raw)
            err_raws.append(err_raw)
            exempt |= overflows
        raw, err_raw = _combined(raws, err_raws, eps)
        levels = fitted_levels(est)
        threshold = np.repeat(est.output_threshold_, levels)
        scale = np.repeat(est.target_scale_, levels)
        pred = threshold + scale * raw
        if est.out_activation_ != "exp":  # exp is guarded against overflow
            largest_raw = np.max(np.abs(raws), axis=0)
            exempt |= ~(np.abs(threshold) + scale * largest_raw <= big).all(axis=1)
        tol = (
            scale * (err_raw + 8 * eps * np.abs(raw))
            + 8 * eps * (np.abs(threshold) + np.abs(pred))
            + tiny
        )
    return Reference(pred, tol, exempt)


def _member_raw(
    est: Any,
    coefs: list[np.ndarray],
    intercepts: list[np.ndarray],
    inputs: tuple[np.ndarray, np.ndarray, np.ndarray, int],
    dtype: np.dtype,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One network's g(z) (each target's levels summed), a bound on its error, and
    the rows whose arithmetic would overflow the dtype (or whose bound is not
    finite)."""
    a, abs_a, err, terms = inputs
    eps = float(np.finfo(dtype).eps)
    big = float(np.finfo(dtype).max) * 1e-4
    tiny = float(np.finfo(dtype).tiny)
    activation, lipschitz = _ACT[est.activation]
    exempt = np.zeros(a.shape[0], dtype=bool)
    last = len(coefs) - 1
    for layer, (W, b) in enumerate(zip(coefs, intercepts)):
        W64, b64 = W.astype(np.float64), b.astype(np.float64)
        z = a @ W64 + b64
        magnitude = abs_a @ np.abs(W64) + np.abs(b64)
        n_terms = terms if layer == 0 else W.shape[0]
        err = err @ np.abs(W64) + 4 * eps * (n_terms + 2) * magnitude + 4 * tiny
        err = err + _flushed(abs_a, np.abs(W64), n_terms, tiny)
        exempt |= ~(magnitude <= big).all(axis=1)
        if layer < last:
            a = activation(z)
            abs_a = np.abs(a)
            err = lipschitz * err + 4 * eps * abs_a
    raw, err_raw = _output_transform(est.out_activation_, z, err, dtype)
    err_raw = err_raw + 4 * tiny  # g(z) may underflow in the dtype
    levels = fitted_levels(est)
    if levels > 1:  # each target's levels: g(z_1), then + g(z_k), in the dtype
        n, k = raw.shape
        raw = np.cumsum(raw.reshape(n, k // levels, levels), axis=2)
        err_raw = np.cumsum(err_raw.reshape(raw.shape), axis=2)
        err_raw = err_raw + 4 * eps * (levels + 1) * raw
        raw, err_raw = raw.reshape(n, k), err_raw.reshape(n, k)
    return raw, err_raw, exempt | ~np.isfinite(err).all(axis=1)


def _flushed(abs_a: np.ndarray, abs_W: np.ndarray, n_terms: int, tiny: float):
    """What the core's flushing of subnormals (float_mode.hpp) can move a layer's
    z by, beyond rounding: a subnormal weight read as zero drops its whole term,
    which huge inputs make large (|W| < tiny times |a|); a subnormal input or
    activation drops at most tiny |W|; a subnormal product or bias, at most tiny."""
    subnormal_W = np.where(abs_W < tiny, abs_W, 0.0)
    return abs_a @ subnormal_W + tiny * abs_W.sum(axis=0) + (n_terms + 2) * tiny


def _combined(
    raws: list[np.ndarray], err_raws: list[np.ndarray], eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """The model's g(z) from its members': max(mean, min), with a bound on its
    error. The exact mean is at least the exact min, so the computed max(mean, min)
    is within the larger of the two's errors of the exact mean; the mean of M
    values in the dtype adds (M + 1) roundings of the largest |value|."""
    if len(raws) == 1:
        return raws[0], err_raws[0]
    stacked = np.stack(raws)
    largest = np.max(np.abs(stacked), axis=0)
    err = np.max(np.stack(err_raws), axis=0) + 4 * eps * (len(raws) + 1) * largest
    return combine_members(stacked), err


def _with_encoding(
    est: Any, a: np.ndarray, abs_a: np.ndarray, err: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inputs followed by their piecewise-linear encoding, from the public
    ``bin_edges_``: clip((x - left) / width, 0, 1) per bin. The model computes it in
    its dtype, each value within ``4 eps (|x| + |left|) / width`` (and within 1:
    both sides of the clip are in [0, 1])."""
    columns, errors = [], []
    for feature, edges in enumerate(getattr(est, "bin_edges_", [])):
        if edges.size == 0:
            continue
        left, width = edges[:-1], np.diff(edges)
        x = a[:, feature : feature + 1]
        with np.errstate(all="ignore"):
            columns.append(np.clip((x - left) / width, 0.0, 1.0))
            bound = 4 * eps * (np.abs(x) + np.abs(left)) / width + 4 * eps
        errors.append(np.minimum(np.nan_to_num(bound, nan=1.0), 1.0))
    if not columns:
        return a, abs_a, err
    encoded = np.hstack(columns)
    return (
        np.hstack([a, encoded]),
        np.hstack([abs_a, encoded]),
        np.hstack([err, np.hstack(errors)]),
    )


def fitted_levels(est: Any) -> int:
    """The quantile levels each target of a fitted model predicts (1 if not
    loss='quantile')."""
    return int(np.size(est.quantiles_)) if hasattr(est, "quantiles_") else 1
