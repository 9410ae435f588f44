"""The arrays of a call, built from the case alone (its data recipe and seed):
X, y in the loss's domain, sample weights, validation sets, their dtypes, layouts,
containers and injected faults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .options import (
    BOUNDED,
    Case,
    Json,
    positive_predictions,
    positive_targets,
    thresholds,
)
from .sparse import sparse_input


@dataclass
class CallData:
    """The arguments of one call, as the user would pass them."""

    X: Any
    y: Any = None
    sample_weight: Any = None
    X_val: Any = None
    y_val: Any = None
    finite: bool = True  # all inputs finite in the dtype the estimator trains in
    sample_weight_val: Any = None

    def X_array(self) -> np.ndarray:
        """X as a dense array (a sparse X densified, duplicates summed)."""
        return densify(self.X)

    def densified(self) -> CallData:
        """The same call with dense X and X_val (for the dense twin of a case)."""
        return CallData(
            densify(self.X),
            self.y,
            self.sample_weight,
            None if self.X_val is None else densify(self.X_val),
            self.y_val,
            self.finite,
            self.sample_weight_val,
        )


def issparse(X: Any) -> bool:
    import scipy.sparse

    return scipy.sparse.issparse(X)


def densify(X: Any) -> np.ndarray:
    return X.toarray() if issparse(X) else np.asarray(X)


def _feature_scales(data: Json, p: int) -> np.ndarray:
    scales = np.full(p, 10.0 ** data["x_log10_scale"])
    for column, exponent in data["col_log10_scales"].items():
        if int(column) < p:
            scales[int(column)] = 10.0**exponent
    return scales


def _features(
    rng: np.random.Generator, data: Json, n: int, p: int
) -> tuple[np.ndarray, np.ndarray]:
    """(X in float64, the standard normal Z it was built from)."""
    Z = rng.standard_normal((n, p))
    scales = _feature_scales(data, p)
    X = (Z + data["x_offset"]) * scales
    for column in data["const_cols"]:
        if column < p:
            X[:, column] = scales[column] * 3.0
            Z[:, column] = 0.0
    if data["inject"] in ("x_nan", "x_inf"):
        bad = np.nan if data["inject"] == "x_nan" else np.inf
        X[rng.integers(n), rng.integers(p)] = bad
    if data["dtype"] == "int64":
        X = np.round(X)
    return X, Z


def _target_base(
    rng: np.random.Generator, kind: str, Z: np.ndarray, k: int
) -> np.ndarray:
    """Non-negative targets of unit size (signed for 'signed')."""
    n, p = Z.shape
    s = Z @ rng.standard_normal((p, k)) / math.sqrt(p)
    s += 0.3 * rng.standard_normal((n, k))
    if kind == "softplus":
        return np.logaddexp(0.0, 2.0 * s)
    if kind == "exp":
        return np.exp(s)
    if kind == "count":
        return rng.poisson(np.exp(s)).astype(np.float64)
    if kind == "gamma":
        return rng.gamma(2.0, np.exp(s) / 2.0)
    if kind == "compound":  # Tweedie 1 < p < 2: Poisson many Gamma amounts
        counts = rng.poisson(np.exp(s))
        amounts = rng.gamma(2.0 * np.maximum(counts, 1), np.exp(s) / 2.0)
        return np.where(counts > 0, amounts, 0.0)
    if kind == "constant":
        return np.ones((n, k))
    return s  # 'signed'


def _y_dtype(data: Json) -> np.dtype:
    return np.dtype(
        data["y_dtype"] or ("float32" if data["dtype"] == "float32" else "float64")
    )


def _targets(
    rng: np.random.Generator, data: Json, Z: np.ndarray, params: Json
) -> np.ndarray:
    k = data["n_outputs"]
    threshold = thresholds(params["output_threshold"], k)
    bounded = params["output_activation"] in BOUNDED or positive_predictions(params)
    positive = positive_targets(params)
    base = _target_base(rng, data["y_kind"], Z, k)
    if bounded or data["y_kind"] != "signed":
        base = np.abs(base)
    zero = rng.random(base.shape) < data["y_zero_share"]
    if positive:
        zero &= threshold > 0  # y = threshold must stay > 0
    base[zero] = 0.0
    scale = 10.0 ** np.asarray(data["y_log10_scale"], dtype=np.float64)
    # 'zero': y = scale * base, far from a negative threshold (tiny targets above -1)
    anchor = (
        np.where(threshold < 0, 0.0, threshold)
        if data.get("y_anchor") == "zero"
        else threshold
    )
    y = (anchor + scale * base).astype(_y_dtype(data))
    if bounded:
        train = np.float32 if data["dtype"] == "float32" else np.float64
        y = _not_below(y, threshold, positive, train)
    if data.get("y_extreme"):
        y = _extreme_targets(y, data["y_extreme"], threshold)
    return _inject_target_error(y, data["inject"], threshold, scale)


def _extreme_targets(y: np.ndarray, spec: Json, threshold: np.ndarray) -> np.ndarray:
    """Rows of y at max(threshold, 0) + 10**log10, rounded to y's dtype (to 0 or
    inf if it holds no such number: the estimator is then to refuse y)."""
    rows = y.shape[0] if spec["rows"] == "all" else spec["rows"]
    with np.errstate(over="ignore", under="ignore"):
        value = np.maximum(threshold, 0.0) + 10.0 ** float(spec["log10"])
        y[:rows] = value.astype(y.dtype)
    return y


def _not_below(
    y: np.ndarray, threshold: np.ndarray, positive: bool, train: type = np.float64
) -> np.ndarray:
    """Undo rounding that took y below its threshold (or to 0 where the loss needs
    y > 0: Gamma, Tweedie with power >= 2). The estimator trains on y in X's dtype
    (``train``): y > 0 in float64 but 0 in float32 is lifted too."""
    floor = np.broadcast_to(threshold.astype(y.dtype), y.shape).copy()
    low = floor.astype(np.float64) < threshold
    floor[low] = np.nextafter(floor[low], np.inf)
    y = np.maximum(y, floor)
    if positive:
        smallest = max(
            float(np.nextafter(y.dtype.type(0), y.dtype.type(1))),
            float(np.nextafter(train(0), train(1))),
        )
        y = np.where(y.astype(train) > 0, y, y.dtype.type(smallest))
    return y


def _inject_target_error(
    y: np.ndarray, inject: str | None, threshold: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    if inject == "y_below":
        y[0] = threshold - np.maximum(scale, 1.0)
    elif inject in ("gamma_zero", "tweedie_zero"):
        y[0, 0] = 0.0
    elif inject in ("poisson_negative", "tweedie_negative"):
        y[0, 0] = -1.0
    return y


def _layout(a: np.ndarray, data: Json, dtype: np.dtype) -> np.ndarray:
    """a in dtype, memory order, strided view and read-only flag of the recipe."""
    a = np.asarray(a, dtype=dtype)
    if data["view"] == "rows" and a.ndim >= 1:
        wide = np.zeros((2 * a.shape[0], *a.shape[1:]), dtype=dtype)
        wide[::2] = a
        a = wide[::2]
    elif data["view"] == "cols" and a.ndim == 2:
        wide = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=dtype)
        wide[:, 1::2] = a
        a = wide[:, 1::2]
    elif data["order"] == "F":
        a = np.asfortranarray(a)
    if data["readonly"]:
        a.flags.writeable = False
    return a


def _container(X: np.ndarray, data: Json) -> Any:
    if data["container"] == "pandas":
        import pandas as pd

        return pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    if data["container"] == "list":
        return X.tolist()
    return X


def _sample_weight(rng: np.random.Generator, spec: Json | None, n: int) -> Any:
    if spec is None:
        return None
    w = (
        rng.integers(0, 4, n).astype(np.float64)
        if spec.get("integer")
        else (rng.uniform(0.1, 2.0, n))
    )
    w *= 10.0 ** spec["log10_scale"]
    w[rng.random(n) < spec["zero_share"]] = 0.0
    if spec.get("negative"):
        w[0] = -1.0
    return np.resize(w, n + spec.get("length_delta", 0))


def _arrays(
    rng: np.random.Generator, data: Json, params: Json, n: int, p: int
) -> tuple[Any, Any, bool]:
    X, Z = _features(rng, data, n, p)
    y = _targets(rng, data, Z, params)
    x_dtype = np.dtype("int64" if data["dtype"] == "int64" else data["dtype"])
    train_dtype = np.float32 if data["dtype"] == "float32" else np.float64
    with np.errstate(over="ignore", invalid="ignore"):
        finite = bool(
            np.isfinite(X.astype(train_dtype)).all()
            and np.isfinite(y.astype(train_dtype)).all()
        )
    if data["n_outputs"] == 1 and data["y_1d"]:
        y = y[:, 0]
    X = _container(_layout(X, data, x_dtype), data)
    return X, _layout(y, data, y.dtype), finite


def make_call_data(case: Case, index: int, params: Json) -> CallData:
    """The arrays of call ``index``, reproducible from the case alone."""
    data, call = case["data"], case["calls"][index]
    rng = np.random.default_rng([data["seed"], index])
    n = call.get("n", data["n"])
    p = call.get("n_features", data["n_features"])
    X, y, finite = _arrays(rng, data, params, n, p)
    weights = _sample_weight(rng, call.get("sample_weight"), n)
    if data["inject"] and weights is not None and weights.size and weights[0] == 0:
        weights[0] = 1.0  # the injected row must not be dropped as absent
    if data.get("sparse"):
        rng_sparse = np.random.default_rng([data["seed"], index, 2])
        X, finite = sparse_input(rng_sparse, X, y, data, call.get("malformed"))
    if call.get("y_fault"):  # a score call's invalid y
        y, finite = _y_fault(y, call["y_fault"]), finite and call["y_fault"] != "nan"
    result = CallData(X, y, weights, finite=finite)
    if call.get("val"):
        _add_validation_set(result, case, index, params, p)
    if call.get("sparse_fault"):
        _apply_sparse_fault(result, call["sparse_fault"], [data["seed"], index, 3])
    return result


def _add_validation_set(
    result: CallData, case: Case, index: int, params: Json, p: int
) -> None:
    """The call's explicit X_val, y_val (constant if asked) and sample_weight_val."""
    data, val = case["data"], case["calls"][index]["val"]
    rng_val = np.random.default_rng([data["seed"], index, 1])
    result.X_val, result.y_val, finite_val = _arrays(
        rng_val, data, params, val["n"], val.get("n_features", p)
    )
    if val.get("constant"):  # each target's first value on every row
        y_val = np.asarray(result.y_val)
        result.y_val = _layout(
            np.repeat(y_val[:1], len(y_val), axis=0), data, y_val.dtype
        )
    result.sample_weight_val = _sample_weight(
        rng_val, val.get("sample_weight"), val["n"]
    )
    if data.get("sparse"):
        rng_sparse = np.random.default_rng([data["seed"], index, 1, 2])
        result.X_val, finite_val = sparse_input(
            rng_sparse, result.X_val, result.y_val, data, val.get("malformed")
        )
    result.finite &= finite_val


def _apply_sparse_fault(result: CallData, fault: str, seed: list[int]) -> None:
    """A 1-D sparse X or X_val (the first column), or a sparse y or y_val (1-D, or a
    column per target) in a random scipy format."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    if fault in ("X_1d", "X_val_1d"):
        name = "X" if fault == "X_1d" else "X_val"
        setattr(result, name, sp.csr_array(densify(getattr(result, name))[:, 0]))
        return
    name = "y" if fault == "y" else "y_val"
    y = np.asarray(getattr(result, name))
    fmt = ("csr_array", "csr_matrix", "coo_array", "csc_array")[rng.integers(4)]
    one_d = fmt in ("csr_array", "coo_array") and y.ndim == 1 and rng.random() < 0.5
    setattr(result, name, getattr(sp, fmt)(y if one_d else y.reshape(len(y), -1)))


def _y_fault(y: np.ndarray, fault: str) -> np.ndarray:
    """y with a NaN ('nan') or with its rows twice ('double')."""
    if fault == "double":
        return np.concatenate([y, y])
    y = np.array(y, dtype=np.float64 if y.dtype.kind != "f" else y.dtype)
    y.flat[0] = np.nan
    return y
