"""ConformalQuantileRegressor on a case's quantile model: calibrated bands are finite,
above the floor, ordered and nested for the inputs the other checks use, scaled and
extreme ones included. The coverages are drawn from the case's seed."""

from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np
from sklearn.base import clone

from positive_mlp import ConformalQuantileRegressor

from .data import CallData
from .options import Case


def draw_coverages(case: Case) -> list[float]:
    """One to three coverages in (0.5, 0.99), from the case's seed."""
    r = random.Random(case.get("data", {}).get("seed", 0) * 7919 + 17)
    return [round(r.uniform(0.5, 0.99), 3) for _ in range(r.randint(1, 3))]


def conformal_problems(est: Any, case: Case, arrays: CallData, inputs) -> list[str]:
    """Calibrated bands of a copy of ``est`` (a few epochs), checked on ``inputs``:
    (label, X as passed) pairs. A ValueError of the fit (too few calibration rows,
    a diverged refit) is an allowed outcome, not a problem."""
    if est.loss != "quantile" or est.n_outputs_ != 1:
        return []
    model = clone(est).set_params(max_iter=min(est.max_iter, 10), warm_start=False)
    bands = ConformalQuantileRegressor(
        model, coverage=draw_coverages(case), calibration_fraction=0.5, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            bands.fit(arrays.X, np.ravel(arrays.y))
        except ValueError:
            return []
        problems = []
        for label, given in inputs:
            problems += _band_problems(bands, given, label)
    return problems


def _band_problems(bands: Any, given: Any, label: str) -> list[str]:
    _, intervals = bands.predict_interval(given)
    floor = float(np.ravel(bands.estimator_.output_threshold_)[0])
    where = f"ConformalQuantileRegressor.predict_interval({label})"
    if not np.all(np.isfinite(intervals)):
        return [f"{where}: non-finite bounds"]
    problems = []
    if np.any(intervals < floor):
        problems.append(f"{where}: a bound below the floor, min {intervals.min():.6g}")
    if np.any(intervals[:, 0] > intervals[:, 1]):
        problems.append(f"{where}: a lower bound above its upper bound")
    lower, upper = intervals[:, 0], intervals[:, 1]
    if np.any(np.diff(lower, axis=1) > 0) or np.any(np.diff(upper, axis=1) < 0):
        problems.append(f"{where}: bands not nested by coverage")
    return problems
