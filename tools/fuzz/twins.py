"""compare_dense cases: the same calls on X densified and on X jittered by one
ulp, and how far the sparse fit may be from the dense one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .calls import run_call
from .data import CallData
from .options import Case, Json

# Sparse and densified float64 fits of a compare_dense case agree within this share
# of each layer's largest |weight| (a thousandth of it for loss curves), or within
# _TWIN_FACTOR times the difference rounding alone makes (one ulp on each input).
# Not float32: there a rounding difference flips L-BFGS steps often enough that one
# jittered fit does not show how far rounding can move the training.
_TWIN_RTOL = 1e-6

_TWIN_FACTOR = 1000.0


def lbfgs_case(case: Case) -> bool:
    """Whether a call of the case trains with L-BFGS-B. Its line search compares the
    loss at nearby points every iteration, and once progress stalls rounding decides
    those comparisons: of six 1-ulp jitters of X, five moved a fit's loss curve by
    3e-5 to 1e-4 and one by 3e-9 (41:15543). It also puts weights exactly on their
    bounds at breakpoints, where rounding decides which weights sit on a bound
    (31:15881). One jittered twin cannot show how far rounding moves such a
    training, so these cases get no dense twin."""
    return _any_call(case, lambda params: params.get("solver", "adam") == "lbfgs")


def adam_without_second_moment(case: Case) -> bool:
    """Whether a call of the case trains with Adam at beta_2=0. Each step then divides
    by the current gradient's magnitude alone, so where a gradient comes near zero,
    rounding decides a step of any size: the sparse and dense fits of 141:3044 had
    the same loss for two epochs, 0.6% apart at the third, then nothing in common,
    while the jittered twin stayed within 6e-12. These cases get no dense twin."""
    return _any_call(
        case,
        lambda params: (
            params.get("solver", "adam") == "adam" and params.get("beta_2") == 0.0
        ),
    )


def _any_call(case: Case, trains_so: Callable[[Json], bool]) -> bool:
    """Whether the parameters of any call of the case (the case's, updated by each
    call's set_params in turn) satisfy ``trains_so``."""
    params = dict(case["params"])
    for call in case["calls"]:
        params.update(call.get("set_params", {}))
        if trains_so(params):
            return True
    return False


def twin_calls(twins: list[Any], call: Json, arrays: CallData) -> list[Any]:
    """The call on the dense twin (X densified) and on the jittered twin (X densified,
    each nonzero moved by one ulp): the twins, or [] once a call of either raised
    (then there is nothing left to compare)."""
    dense = arrays.densified()
    jittered = CallData(
        _jittered(dense.X),
        dense.y,
        dense.sample_weight,
        None if dense.X_val is None else _jittered(dense.X_val),
        dense.y_val,
        sample_weight_val=dense.sample_weight_val,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            for twin, inputs in zip(twins, (dense, jittered)):
                twin.set_params(**call.get("set_params", {}))
                run_call(twin, call, inputs)
        except Exception:
            return []
    return twins


def _jittered(X: np.ndarray) -> np.ndarray:
    """X (as floats) with each finite nonzero entry moved one ulp up or down."""
    X = np.asarray(X, dtype=X.dtype if X.dtype.kind == "f" else np.float64)
    up = np.random.default_rng(X.shape).random(X.shape) < 0.5
    with np.errstate(over="ignore"):
        moved = np.where(up, np.nextafter(X, np.inf), np.nextafter(X, -np.inf))
    keep = (X == 0) | ~np.isfinite(moved)
    return np.where(keep, X, moved)


def _weight_distance(a: Any, b: Any) -> float:
    """The largest difference of two models' weights or biases, as a share of the
    largest |value| of its layer (either model)."""
    worst = 0.0
    for W, c, W2, c2 in zip(a.coefs_, a.intercepts_, b.coefs_, b.intercepts_):
        parts = [x.astype(np.float64) for x in (W, c, W2, c2)]
        scale = max(float(np.abs(x).max(initial=0.0)) for x in parts)
        with np.errstate(invalid="ignore", over="ignore"):
            diff = max(
                float(np.abs(parts[0] - parts[2]).max(initial=0.0)),
                float(np.abs(parts[1] - parts[3]).max(initial=0.0)),
            )
        if diff > 0:
            worst = max(worst, diff / scale if scale > 0 else math.inf)
    return worst


def _curve_distance(a: Any, b: Any) -> float:
    """The largest relative difference of two models' loss curves (common epochs)."""
    ca = np.asarray(getattr(a, "loss_curve_", [a.loss_]), dtype=np.float64)
    cb = np.asarray(getattr(b, "loss_curve_", [b.loss_]), dtype=np.float64)
    m = min(ca.size, cb.size)
    ca, cb = ca[:m], cb[:m]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        d = np.abs(ca - cb) / np.maximum(np.abs(ca), np.abs(cb))
    d = np.where(ca == cb, 0.0, d)
    return float(np.nan_to_num(d, nan=math.inf).max(initial=0.0))


def compare_with_twins(est: Any, dense: Any, jittered: Any) -> list[str]:
    """A model fitted on sparse X equals the one fitted on X densified up to rounding:
    its loss curve and (when both ran as many epochs) its weights are no farther from
    the dense twin's than _TWIN_FACTOR times the jittered twin's (how far rounding
    alone moves this training), or than the dtype's floor."""
    rtol = _TWIN_RTOL
    problems = []
    curve, curve_base = _curve_distance(est, dense), _curve_distance(jittered, dense)
    if not curve <= max(rtol * 1e-3, _TWIN_FACTOR * curve_base):
        problems.append(
            f"the loss curve of the fit on sparse X differs from the fit on X "
            f"densified by {curve:.3g} (relative; rounding alone: {curve_base:.3g})"
        )
    if est.n_iter_ == dense.n_iter_:
        weights = _weight_distance(est, dense)
        weights_base = _weight_distance(jittered, dense)
        if not weights <= max(rtol, _TWIN_FACTOR * weights_base):
            problems.append(
                f"the weights fitted on sparse X differ from the fit on X densified "
                f"by {weights:.3g} of a layer's largest |weight| (rounding alone: "
                f"{weights_base:.3g}; rtol {rtol:g})"
            )
    return problems
