"""The estimator's side of a case: JSON params as arguments, and one call
(fit, partial_fit, predict, score) on the arrays.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .data import CallData
from .options import Case, Json, level_list


def estimator_params(params: Json) -> Json:
    """JSON params as estimator arguments."""
    out = dict(params)
    if isinstance(out.get("hidden_layer_sizes"), list):
        out["hidden_layer_sizes"] = tuple(out["hidden_layer_sizes"])
    container = out.pop("quantile_container", None)
    if container:
        out["quantile"] = _in_container(out["quantile"], container)
    return out


def _in_container(levels: Any, container: str) -> Any:
    """The level (a float) or levels (a list) in another container."""
    if container == "tuple":
        return tuple(levels) if isinstance(levels, list) else (levels,)
    if container == "ndarray":  # 0-d for a level
        return np.asarray(levels, dtype=np.float64)
    if container == "float32":
        return np.float32(levels)
    values = levels if isinstance(levels, list) else [levels]
    return set(values) if container == "set" else dict.fromkeys(values, 1)


def monotonic_setting(case: Case) -> Any:
    """monotonic_cst as passed: a dict by column name for some DataFrames."""
    cst = case["params"].get("monotonic_cst")
    data = case["data"]
    if cst is None or data["container"] != "pandas" or data["seed"] % 2:
        return cst
    return {f"x{j}": c for j, c in enumerate(cst) if c != 0}


def run_call(est: Any, call: Json, arrays: CallData) -> Any:
    """The call on the estimator; returns what score returns (else None)."""
    if call["op"] == "predict":
        est.predict(arrays.X)
    elif call["op"] == "score":
        with warnings.catch_warnings():
            if not has_level_axis(est):
                # scikit-learn's R2 (RegressorMixin.score, as MLPRegressor's): its
                # sums of squares overflow float32 targets beyond 1e19 with a
                # RuntimeWarning, which is not the package's to fix
                warnings.simplefilter("ignore", RuntimeWarning)
            return est.score(arrays.X, arrays.y, sample_weight=arrays.sample_weight)
    elif call["op"] == "partial_fit":
        est.partial_fit(arrays.X, arrays.y, sample_weight=arrays.sample_weight)
    elif arrays.X_val is not None:
        est.fit(
            arrays.X,
            arrays.y,
            sample_weight=arrays.sample_weight,
            X_val=arrays.X_val,
            y_val=arrays.y_val,
            sample_weight_val=arrays.sample_weight_val,
        )
    else:
        est.fit(arrays.X, arrays.y, sample_weight=arrays.sample_weight)
    return None


def has_level_axis(est: Any) -> bool:
    """A fitted quantile model of a list of levels: its score is the package's own
    (minus the pinball loss), not scikit-learn's R2."""
    return hasattr(est, "quantiles_") and level_list(est.quantile)
