"""Seeded random fuzzer for PositiveMLPRegressor.

Usage::

    python tools/fuzz.py --seconds 600 --seed 1 [--cases K] [--out failures.jsonl]
                         [--workers 2] [--timeout 60]
    python tools/fuzz.py --replay '<case json>'          # in-process, with traceback
    python tools/fuzz.py --replay-file failures.jsonl [--index I]
    python tools/fuzz.py --shrink-file failures.jsonl [--index I]   # simplify a failure

A *case* is a JSON dict drawn from ``(seed, index)``:

* ``data``: a recipe for the arrays (row, feature and output counts, dtype, memory
  order, strided views, read-only flags, pandas or list containers, column scales
  from 1e-30 to 1e30, constant columns, target kind and per-output scale from
  1e-300 to 1e150 with exact zeros, always inside the loss's domain unless the case
  is meant to be rejected), with its own data seed; in about 30% of the cases
  ``data.sparse``: X, X_val and the predict inputs as scipy.sparse (csr_matrix,
  csr_array, csc_matrix or coo_matrix; the case's X with entries dropped down to a
  density of 0.01, all-zero rows, stored values split into duplicate entries,
  explicit stored zeros, indices unsorted within rows, 64-bit indices), drawn from a
  random stream of their own so that the dense cases of a seed stay as they were;
* ``params``: estimator parameters (every solver, output activation, threshold
  form, loss, weight constraint and method, monotonic constraint, output
  constraint, target scaling, network shape, batch size, schedule, early stopping,
  warm start, thread count ...). About 13% of the cases each get
  ``loss='tweedie'`` (``power`` 0, 1, 1.0001 ... 1.9999, 2, 2.5, 3 or 5; targets
  with exact zeros and compound Poisson-Gamma ones, y > 0 from power 2 on) or
  ``loss='quantile'`` (``quantile`` one level, near 0 and 1 too, or a list of 1 to
  6; an adam or sgd solver, a bounding output, no output constraint; later fits may
  set other levels), drawn from a random stream of their own after every other
  draw, so that the other cases of a seed stay as they were;
* ``calls``: ``fit`` / ``partial_fit`` / ``predict`` calls, each with its row count,
  sample weights (often with many zeros), an explicit validation set, and
  ``set_params`` changes between calls (warm starts); about 30% of the Tweedie and
  quantile cases end with ``score(X, y, sample_weight)`` on fresh rows (weights
  often zero, sometimes all of them; a quarter of these calls get a NaN in y, y
  with twice the rows or a weight too many, and must be refused);
* ``expect_error``: set on the cases built to be invalid (bad loss/activation
  pairs, targets outside a domain, non-integer layer sizes, NaN in X, wrong
  shapes, Tweedie powers in (0, 1) or below 0, quantile levels unsorted, repeated,
  outside (0, 1) or none, quantiles with lbfgs, an identity output or an output
  constraint, score with an invalid y or weights ...); such a case must be refused
  with a ValueError or TypeError. A few
  sparse cases (``"malformed_csr"``) give one call (predict, score, fit or its
  X_val) a CSR whose arrays were broken after construction (a column index past
  the end or negative, indptr decreasing or negative, too long or short, not
  starting at 0, ending past the entries; indices and data of different
  lengths): any Python exception will do, returning or crashing will not.

Each case runs in a forked child of a supervisor process (``--supervise``; the
supervisors are started with ``subprocess`` and import the package once), so a
crash or a hang of one case is reported without disturbing the others, and no case
sees memory another case corrupted. Failures are of four kinds:

* ``crash``: the child died from a signal or exited without a result;
* ``hang``: the case ran longer than ``--timeout`` (a Python traceback of the
  moment is in the record);
* ``violation``: a property failed (below);
* ``unexpected``: an exception other than ValueError/TypeError with a message or
  TrainingDivergedError, or sklearn's "Input contains NaN/infinity" on finite
  input (a non-finite value made inside the estimator), or NumPy's read-only
  error on read-only input (the estimator wrote into the caller's arrays).

Properties checked after every call that returns (and after a TrainingDivergedError,
which promises to keep the last good weights): finite ``coefs_``, ``intercepts_``
and ``loss_``; predictions on the training X, on 1000 X and on -1000 X of the right
shape, finite, ``>= output_threshold`` for a bounding output activation and equal to
a float64 NumPy forward pass of ``coefs_`` within a rounding-error bound (rows whose
arithmetic in the network would overflow the dtype are exempt, as the README
allows); constrained layers' weights (and biases) ``>= 0``; monotone predictions
along each constrained feature; no RuntimeWarning, FutureWarning or
DeprecationWarning. Other warnings (ConvergenceWarning, UserWarning) are fine. For
loss='quantile' the forward pass builds each target's levels as the core does
(threshold + g(z_1), then + g(z_k)) and predict's shape has the level axis of a list
of levels ((n, K) or (n, T, K)); predictions also on X scaled to a quarter of the
dtype's largest value (and its negative); on every row, overflowing ones included,
each predicted quantile is finite, ``>= output_threshold_`` and a target's levels
never decrease (exactly); ``quantiles_`` is the levels asked for (and absent for
other losses); ``validation_scores_`` are never NaN or +inf; with a list of levels
``score(X, y)`` (and score calls, weighted) is minus the mean pinball loss summed
over targets and levels. With sparse inputs, also: predictions on sparse X (as
given, 1000 X, -1000 X) within twice the rounding bound of those on X densified (the
bound counts each stored entry, duplicates included); the caller's sparse arrays
unchanged by every call, even one that raises; and for ``compare_dense`` cases
(float64, about a third of them; sgd and adam only, as rounding decides L-BFGS-B's
line searches and bounds) the same calls on X densified and on X densified with each
nonzero moved by one ulp: the sparse fit's loss curve and weights no farther from
the dense fit's than 1000 times the jittered fit's (rounding alone), or than 1e-9
(curve, relative) and 1e-6 (weights, share of a layer's largest |weight|).

Two more draws come from random streams of their own, after all the others (the
other cases of a seed stay as they were):

* ``edges`` (about 10% of the cases; the list names what was drawn): the
  neighbourhoods of inputs that once gave bare errors or silent surprises. A
  quantile case's levels as a tuple, an ndarray, a 0-d array or a float32 scalar
  (``params.quantile_container``), or as a set or dict, which must be refused;
  targets of 1e-46 to 1e39 with float32 X (float64 y), 1e-320 to 1e308 with
  float64 X (``data.y_extreme``), mostly with a Poisson, Gamma or Tweedie loss;
  rows of zero weight (often all but a few) with early stopping and a held-out
  share from 0 to 0.95; explicit validation sets of 0 to 5 rows, constant y_val,
  sample_weight_val with zeros; a 1-D sparse X (fit, predict, X_val) or a sparse y
  or y_val (``sparse_fault``), which must be refused;
* ``limit`` (about 4% of the cases): ``{"address_space_mib": h}``, h from 0 to
  1024: each call of the case runs with the soft RLIMIT_AS at the address space in
  use plus h MiB, restored after the call (the property checks run without it:
  the fitted model must still satisfy every property). Under a limit, a
  MemoryError with a message (not a bare ``std::bad_alloc``) is an allowed error,
  and the core's RuntimeWarning that the system refused to start threads is no
  violation; a crash or a hang still is.

Children run with OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=1, on a simulated machine
of at least 8 cores: the package clips n_threads to the usable cores (with a
warning), so the children report 8, as tests/conftest.py's ``eight_cores`` does
(wherever the package keeps ``available_cores``), and cases that set ``n_threads``
(up to 8) get that many core threads on any machine. Random states are always
integers, so a replay repeats the case (up to thread timing).
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import math
import os
import random
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Case = dict[str, Any]
Json = dict[str, Any]

FUZZ_PATH = Path(__file__).resolve()
DEFAULT_TIMEOUT = 60.0
FAILURE_KINDS = ("crash", "hang", "violation", "unexpected")
# Work budget per case (rows x parameters x passes): keeps a case well under a second.
_WORK_BUDGET = 1.5e9
_MAX_STEPS = 20000  # mini-batch steps per case
_MAX_ROWS = 4000
_BOUNDED = ("softplus", "exp", "relu")
_UNWANTED_WARNINGS = (RuntimeWarning, FutureWarning, DeprecationWarning)
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|\b(inf|nan)\b")
_NONFINITE_MESSAGE = re.compile(r"contains (NaN|infinity)", re.IGNORECASE)
# NumPy's words when something writes into a read-only array (the caller's input)
_READONLY_MESSAGE = re.compile(r"read-only|WRITEBACKIFCOPY", re.IGNORECASE)
_SPARSE_SHARE = 0.3  # cases whose X is scipy.sparse
_SPARSE_FORMATS = {
    "csr_matrix": 4,
    "csr_array": 3,
    "csc_matrix": 1.5,
    "coo_matrix": 1.5,
}
_MALFORMED_MODES = (
    "index_past_end",
    "index_huge",
    "index_negative",
    "indptr_decreasing",
    "indptr_negative",
    "indptr_long",
    "indptr_short",
    "indptr_start",
    "indptr_end",
    "indices_short",
)
# Sparse and densified float64 fits of a compare_dense case agree within this share
# of each layer's largest |weight| (a thousandth of it for loss curves), or within
# _TWIN_FACTOR times the difference rounding alone makes (one ulp on each input).
# Not float32: there a rounding difference flips L-BFGS steps often enough that one
# jittered fit does not show how far rounding can move the training.
_TWIN_RTOL = 1e-6
_TWIN_FACTOR = 1000.0
_INVALID_MODES = (
    "hidden_float",
    "hidden_zero",
    "threshold_nan",
    "threshold_length",
    "scaling_bad",
    "nonneg_index",
    "monotonic_length",
    "monotonic_value",
    "loss_identity",
    "loss_negative_threshold",
    "relu_zero_threshold",
    "y_below",
    "gamma_zero",
    "poisson_negative",
    "x_nan",
    "x_inf",
    "weight_negative",
    "weight_length",
    "val_without_early_stopping",
    "val_lbfgs",
    "val_features",
    "partial_fit_lbfgs",
    "partial_fit_features",
    "warm_start_features",
    "predict_features",
)
# loss='tweedie' and loss='quantile' are drawn from a stream of their own, after all
# other draws (see _draw_new_loss): a case that draws neither stays the case it was.
_NEW_LOSS_SHARES = {"tweedie": 0.13, "quantile": 0.13}
_TWEEDIE_POWERS = {
    0.0: 1,
    1.0: 1,
    1.0001: 1,
    1.2: 1,
    1.5: 2,
    1.9: 1,
    1.9999: 1,
    2.0: 1,
    2.5: 1,
    3.0: 1,
    5.0: 0.7,
}
_BAD_POWERS = (0.5, -1.0, 0.999, 1e-9, -0.5)
# Levels near 0 and 1 and pairs of levels close together, with common ones.
_QUANTILE_LEVELS = {
    1e-3: 1,
    0.01: 1,
    0.05: 1.5,
    0.1: 1.5,
    0.25: 1.5,
    0.5: 2,
    0.5000001: 0.3,
    0.75: 1.5,
    0.9: 1.5,
    0.95: 1.5,
    0.99: 1,
    0.999: 1,
}
_TWEEDIE_INVALID_MODES = (
    "tweedie_power",
    "tweedie_identity",
    "tweedie_negative_threshold",
    "tweedie_relu_zero_threshold",
    "tweedie_domain",
)
_QUANTILE_INVALID_MODES = (
    "quantile_unsorted",
    "quantile_duplicate",
    "quantile_range",
    "quantile_empty",
    "quantile_lbfgs",
    "quantile_identity",
    "quantile_constraint",
)
# Invalid cases of the other draws that stay invalid, for the same reason, whatever
# loss the case gets (those about the loss, the threshold or L-BFGS do not).
_LOSS_NEUTRAL_INVALID = {
    "hidden_float",
    "hidden_zero",
    "nonneg_index",
    "monotonic_length",
    "monotonic_value",
    "monotonic_conflict",
    "scaling_bad",
    "y_below",
    "x_nan",
    "x_inf",
    "weight_negative",
    "weight_length",
    "val_without_early_stopping",
    "val_features",
    "partial_fit_features",
    "warm_start_features",
    "predict_features",
    "malformed_csr",
}
# The edge draws (_draw_edges): each one's chance in the cases it can apply to.
_EDGE_SHARES = {
    "quantile_container": 0.3,  # of the quantile cases
    "y_extreme": 0.03,
    "zero_weights_early_stopping": 0.025,  # of the cases that only fit
    "explicit_val": 0.25,  # of the cases with early_stopping=True and no L-BFGS
    "sparse_fault": 0.015,
}
# A list of levels in these containers is valid; a level, in the first two and as
# a 0-d array or a float32 scalar. Sets and dicts are refused.
_LEVEL_CONTAINERS = {"tuple": 2, "ndarray": 2, "float32": 1, "set": 1, "dict": 1}
# Targets far from 1 (log10): below and above what float32 holds (for float32 X),
# denormal and near the largest float64 (for float64 X).
_EXTREME_EXPONENTS = {
    "float32": {-46: 1, -45: 1, -40: 1, -38: 1, 37: 1, 38: 1, 38.5: 1, 39: 1},
    "float64": {-320: 1, -310: 1, -300: 1, 300: 1, 307: 1, 308: 1},
}
_SPARSE_FAULTS = ("X_1d", "predict_1d", "X_val_1d", "y", "y_val")
_LIMIT_SHARE = 0.04  # cases whose calls run under an address-space limit
# MiB of address space beyond what the process holds: none (NumPy's first array
# fails), room for the core's buffers but no second thread (128 MiB each), a few.
_HEADROOM_MIB = {0: 1, 1: 1, 4: 1, 16: 1.5, 64: 1.5, 256: 1, 1024: 1}
_SIMULATED_CORES = 8  # the cores children report (n_threads goes up to 8)
_REFUSED_THREADS = re.compile(r"refused to start \d+ thread")


# --------------------------------------------------------------------------- drawing


def _log_uniform(r: random.Random, low: float, high: float) -> float:
    return float(10 ** r.uniform(math.log10(low), math.log10(high)))


def _pick(r: random.Random, weighted: dict[Any, float]) -> Any:
    return r.choices(list(weighted), weights=list(weighted.values()))[0]


def _draw_batch_and_rows(r: random.Random) -> tuple[Any, int]:
    """batch_size setting and row count, biased to a short last mini-batch."""
    batch: Any = "auto" if r.random() < 0.35 else int(_log_uniform(r, 1, 400))
    effective = 200 if batch == "auto" else batch
    u = r.random()
    if u < 0.5 and effective > 1:
        k = r.randint(1, 5)
        n = k * effective + r.randint(1, effective - 1)
    elif u < 0.75:
        n = r.choice([1, 2, 3, 5, 7, 11, 13, r.randint(1, 40)])
    else:
        n = int(_log_uniform(r, 1, _MAX_ROWS)) | 1  # odd
    n = min(n, _MAX_ROWS)
    if batch != "auto" and r.random() < 0.08:
        batch = n + r.randint(1, 10)  # larger than the data: clipped with a warning
    return batch, n


def _draw_hidden(r: random.Random) -> list[int]:
    if r.random() < 0.05:
        return []

    def width() -> int:
        return r.randint(16, 64) if r.random() < 0.5 else int(_log_uniform(r, 1, 64))

    return [width() for _ in range(r.choice([1, 1, 2, 2, 3]))]


def _draw_threshold(r: random.Random, n_outputs: int) -> Any:
    def one() -> float:
        return _pick(
            r,
            {
                0.0: 3,
                r.choice([1e-3, 0.5, 3.0, 1e3, 0.1]): 2,
                r.choice([-1.0, -0.5, -1e3]): 1,
            },
        )

    kind = _pick(r, {"zero": 5, "scalar": 3, "array": 2})
    if kind == "zero":
        return 0.0
    return one() if kind == "scalar" else [one() for _ in range(n_outputs)]


def _thresholds(setting: Any, n_outputs: int) -> np.ndarray:
    """output_threshold as one float per output (as the generator sees it)."""
    values = np.atleast_1d(np.asarray(setting, dtype=np.float64))
    if values.size not in (1, n_outputs) or not np.all(np.isfinite(values)):
        return np.zeros(n_outputs)
    return np.broadcast_to(values, (n_outputs,)).copy()


def _power(params: Json) -> float:
    """The Tweedie power of the params (the estimator's default 1.5 if not given)."""
    return float(params.get("power", 1.5))


def _positive_predictions(params: Json) -> bool:
    """Whether the loss is a deviance (Poisson, Gamma, Tweedie with power >= 1):
    it needs a bounding output activation with thresholds >= 0 (> 0 for 'relu')."""
    loss = params["loss"]
    return loss in ("poisson", "gamma") or (loss == "tweedie" and _power(params) != 0)


def _positive_targets(params: Json) -> bool:
    """Whether the loss scores only y > 0 (Gamma, Tweedie with power >= 2)."""
    loss = params["loss"]
    return loss == "gamma" or (loss == "tweedie" and _power(params) >= 2)


def _make_valid_loss(params: Json, n_outputs: int) -> None:
    """Thresholds and output activation that suit a deviance (Poisson, Gamma,
    Tweedie with power >= 1)."""
    if not _positive_predictions(params):
        return
    if params["output_activation"] == "identity":
        params["output_activation"] = "softplus"
    threshold = [abs(t) for t in _thresholds(params["output_threshold"], n_outputs)]
    if params["output_activation"] == "relu":
        threshold = [t if t > 0 else 0.5 for t in threshold]
    setting = params["output_threshold"]
    params["output_threshold"] = (
        threshold if isinstance(setting, list) else threshold[0]
    )


def _loss_settings_valid(params: Json, n_outputs: int) -> bool:
    """The README's rule: Poisson, Gamma and Tweedie with power >= 1 need a bounding
    output activation with thresholds >= 0 (> 0 for 'relu')."""
    if not _positive_predictions(params):
        return True
    threshold = _thresholds(params["output_threshold"], n_outputs)
    activation = params["output_activation"]
    return activation in _BOUNDED and bool(
        np.all(threshold > 0 if activation == "relu" else threshold >= 0)
    )


def _draw_nonneg(r: random.Random, n_layers: int) -> Any:
    kind = _pick(r, {None: 5, "all": 1, "output": 1, "hidden": 1, "list": 2})
    if kind != "list":
        return kind
    indices = [i if r.random() < 0.5 else i - n_layers for i in range(n_layers)]
    return r.sample(indices, r.randint(1, n_layers))


def _constrained_layers(setting: Any, n_layers: int) -> list[int]:
    """The weight layers kept >= 0, as the docstring defines them."""
    if setting is None:
        return []
    if isinstance(setting, str):
        return {
            "all": list(range(n_layers)),
            "output": [n_layers - 1],
            "hidden": list(range(n_layers - 1)),
        }[setting]
    return sorted({int(i) % n_layers for i in setting})


def _draw_monotonic(r: random.Random, n_features: int) -> list[int] | None:
    if r.random() < 0.75:
        return None
    return [_pick(r, {0: 3, 1: 2, -1: 2}) for _ in range(n_features)]


def _draw_target_scaling(r: random.Random, n_outputs: int) -> Any:
    kind = _pick(
        r, {"auto": 4, "std": 1.5, "mean": 1.5, "rms": 1.5, None: 1, "array": 0.5}
    )
    if kind == "array":
        return [_log_uniform(r, 1e-3, 1e3) for _ in range(n_outputs)]
    return kind


def _draw_solver_params(r: random.Random, params: Json) -> None:
    params["solver"] = r.choice(["lbfgs", "sgd", "adam"])
    params["learning_rate_init"] = _log_uniform(r, 1e-4, 1.0)
    if params["solver"] == "sgd":
        params["learning_rate"] = r.choice(["constant", "invscaling", "adaptive"])
        params["momentum"] = r.choice([0.0, 0.5, 0.9, 1.0])
        params["nesterovs_momentum"] = r.random() < 0.7
        params["power_t"] = r.choice([0.0, 0.25, 0.5, 1.0])
    if params["solver"] == "adam" and r.random() < 0.2:
        params["beta_1"] = r.choice([0.0, 0.5, 0.99])
        params["beta_2"] = r.choice([0.0, 0.9, 0.9999])
        params["epsilon"] = r.choice([1e-12, 1e-8, 1e-2])
    if params["solver"] == "lbfgs" and r.random() < 0.15:
        params["max_fun"] = r.randint(1, 50)


def _draw_params(
    r: random.Random, batch: Any, n: int, n_features: int, n_outputs: int
) -> Json:
    hidden = _draw_hidden(r)
    params: Json = {
        "loss": _pick(r, {"squared_error": 2, "poisson": 1, "gamma": 1}),
        "hidden_layer_sizes": hidden,
        "activation": r.choice(["identity", "logistic", "tanh", "relu"]),
        "output_activation": _pick(
            r, {"softplus": 3, "exp": 2.5, "relu": 2, "identity": 2.5}
        ),
        "output_threshold": _draw_threshold(r, n_outputs),
        "nonneg_weights": _draw_nonneg(r, len(hidden) + 1),
        "nonneg_bias": r.random() < 0.25,
        "nonneg_method": r.choice(["projection", "square", "exp"]),
        "monotonic_cst": _draw_monotonic(r, n_features),
        "output_constraint": _pick(r, {None: 7, "penalty": 1.5, "lagrangian": 1.5}),
        "constraint_strength": _log_uniform(r, 1e-2, 1e2),
        "target_scaling": _draw_target_scaling(r, n_outputs),
        "n_threads": _pick(r, {None: 3.5, 1: 1.5, 2: 3, r.randint(3, 8): 2}),
        "batch_size": batch,
        "max_iter": r.randint(1, 20),
        "alpha": 0.0 if r.random() < 0.2 else _log_uniform(r, 1e-6, 1.0),
        "shuffle": r.random() < 0.8,
        "random_state": r.randrange(2**31),
        "warm_start": r.random() < 0.25,
        # True, or else the default 'auto' (on from about 300 rows: rarely here) or
        # False
        "early_stopping": r.random() < (0.25 if n >= 20 else 0.05)
        or r.choice(["auto", False]),
        "tol": r.choice([1e-4, 1e-4, 0.0, 1e-2]),
        "verbose": r.random() < 0.03,
    }
    _draw_solver_params(r, params)
    if params["early_stopping"] is True:
        params["validation_fraction"] = r.choice([0.1, 0.1, r.uniform(0.05, 0.5)])
        params["n_iter_no_change"] = r.randint(1, 10)
    if params["output_constraint"] and r.random() < 0.7:
        params["output_activation"] = "identity"
        params["loss"] = "squared_error"
    if r.random() < 0.9:
        _make_valid_loss(params, n_outputs)
    elif not _loss_settings_valid(params, n_outputs):
        params["expect_error"] = "loss_settings"
    _avoid_monotonic_conflict(r, params)
    return params


def _avoid_monotonic_conflict(r: random.Random, params: Json) -> None:
    """-1 on a feature whose first-layer weights are kept >= 0 is an error: mostly
    turn it into +1, sometimes keep it (then the case expects that error)."""
    cst = params["monotonic_cst"]
    layers = _constrained_layers(
        params["nonneg_weights"], len(params["hidden_layer_sizes"]) + 1
    )
    if cst is None or 0 not in layers or -1 not in cst:
        return
    if r.random() < 0.8:
        params["monotonic_cst"] = [abs(c) for c in cst]
    else:
        params["expect_error"] = "monotonic_conflict"


def _draw_data(
    r: random.Random, n: int, n_features: int, n_outputs: int, dtype: str
) -> Json:
    tiny, huge = (
        ((-300, -200), (100, 150)) if dtype == "float64" else ((-37, -30), (25, 33))
    )

    def y_scale() -> float:
        band = _pick(r, {(-2, 3): 6, (-8, 8): 2, tiny: 1, huge: 1})
        return round(r.uniform(*band), 2)

    columns = r.sample(range(n_features), min(n_features, r.randint(0, 4)))
    col_scales = {
        str(c): _pick(r, {round(r.uniform(-5, 5), 1): 8, 30: 1, -30: 1})
        for c in columns
    }
    if dtype == "int64":
        col_scales = {c: min(e, 5) for c, e in col_scales.items()}
    return {
        "seed": r.randrange(2**31),
        "n": n,
        "n_features": n_features,
        "n_outputs": n_outputs,
        "y_1d": r.random() < 0.85,
        "dtype": dtype,
        "y_dtype": "float64" if dtype == "float32" and r.random() < 0.1 else None,
        "order": r.choice(["C", "F"]),
        "view": _pick(r, {None: 6, "rows": 2, "cols": 2}),
        "readonly": r.random() < 0.2,
        "container": _pick(r, {"numpy": 17, "pandas": 2, "list": 1}),
        "x_log10_scale": round(_pick(r, {0.0: 5, r.uniform(-3, 3): 3}), 2),
        "x_offset": _pick(r, {0.0: 6, 3.0: 1, -100.0: 1}),
        "col_log10_scales": col_scales,
        "const_cols": r.sample(
            range(n_features), min(n_features, _pick(r, {0: 6, 1: 2, 2: 1}))
        ),
        "y_kind": r.choice(["softplus", "exp", "count", "gamma", "constant", "signed"]),
        "y_log10_scale": [y_scale() for _ in range(n_outputs)],
        "y_zero_share": _pick(r, {0.0: 5, 0.1: 2, 0.5: 1, 0.95: 1}),
        "y_anchor": _pick(r, {"threshold": 7, "zero": 3}),
        "inject": None,
    }


def _draw_weights(r: random.Random) -> Json | None:
    if r.random() < 0.65:
        return None
    return {
        "zero_share": _pick(r, {0.0: 3, 0.3: 2, 0.9: 2, 1.0: 0.3}),
        "log10_scale": _pick(r, {0.0: 6, r.uniform(-3, 3): 3, r.choice([-30, 30]): 1}),
        "integer": r.random() < 0.3,
    }


def _draw_calls(r: random.Random, params: Json, n: int) -> list[Json]:
    def fit(rows: int) -> Json:
        call: Json = {"op": "fit", "n": rows, "sample_weight": _draw_weights(r)}
        explicit = params["early_stopping"] is True and params["solver"] != "lbfgs"
        if explicit and r.random() < 0.5:
            call["val"] = {"n": r.choice([1, 2, 5, max(2, rows // 4)])}
        return call

    stochastic = params["solver"] != "lbfgs" and params["early_stopping"] is not True
    if stochastic and r.random() < 0.25:
        calls = [fit(n)] if r.random() < 0.3 else []
        return calls + [
            {
                "op": "partial_fit",
                "n": r.randint(1, n),
                "sample_weight": _draw_weights(r),
            }
            for _ in range(r.randint(2, 4))
        ]
    calls = [fit(n)]
    if params["warm_start"] or r.random() < 0.1:
        for _ in range(r.randint(1, 2)):
            call = fit(r.choice([n, max(1, n // 2), n + 1]))
            call["set_params"] = _draw_set_params(r, params)
            calls.append(call)
    return calls


def _draw_set_params(r: random.Random, params: Json) -> Json:
    choices: dict[str, Callable[[], Any]] = {
        "max_iter": lambda: r.randint(1, 10),
        "learning_rate_init": lambda: _log_uniform(r, 1e-4, 1.0),
        "nonneg_method": lambda: r.choice(["projection", "square", "exp"]),
        "n_threads": lambda: r.choice([None, 1, 2, 4]),
        "shuffle": lambda: r.random() < 0.5,
        "alpha": lambda: _log_uniform(r, 1e-6, 1.0),
        "batch_size": lambda: r.choice(["auto", 1, 7, 64]),
    }
    if params["early_stopping"] is not True:
        choices["solver"] = lambda: r.choice(["lbfgs", "sgd", "adam"])
    keys = r.sample(sorted(choices), r.randint(0, 2))
    return {key: choices[key]() for key in keys}


def _n_levels(params: Json) -> int:
    """Network outputs per target: the quantile levels of loss='quantile'."""
    if params.get("loss") != "quantile":
        return 1
    return max(1, len(np.atleast_1d(np.asarray(params.get("quantile", 0.5)))))


def _cap_work(case: Case) -> None:
    """Lower max_iter, then the row counts, so that each case stays quick."""
    params, data = case["params"], case["data"]
    outputs = data["n_outputs"] * _n_levels(params)
    sizes = [data["n_features"], *params["hidden_layer_sizes"], outputs]
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    rounds = 30 if params["solver"] == "lbfgs" and params["output_constraint"] else 1
    rows = sum(call.get("n", data["n"]) for call in case["calls"])
    batch = params["batch_size"]
    batch = 200 if batch == "auto" else max(1, batch)
    while params["max_iter"] > 1 and (
        rows * n_params * params["max_iter"] * rounds * 3 > _WORK_BUDGET
        or math.ceil(rows / batch) * params["max_iter"] > _MAX_STEPS
    ):
        params["max_iter"] = max(1, params["max_iter"] // 2)
    factor = rows * n_params * params["max_iter"] * rounds * 3 / _WORK_BUDGET
    if factor > 1:
        for call in [data, *case["calls"]]:
            if "n" in call:
                call["n"] = max(1, int(call["n"] / factor))


def draw_case(seed: int, index: int) -> Case:
    """The case number ``index`` of the campaign with this seed."""
    r = random.Random(f"positive-mlp-fuzz:{seed}:{index}")
    batch, n = _draw_batch_and_rows(r)
    n_features = _pick(
        r, {r.randint(1, 5): 5, r.randint(6, 30): 3, r.randint(31, 200): 2}
    )
    n_outputs = _pick(r, {1: 6, r.randint(2, 4): 2.5, r.randint(5, 20): 1.5})
    params = _draw_params(r, batch, n, n_features, n_outputs)
    dtype = _pick(r, {"float64": 6, "float32": 3.5, "int64": 0.5})
    case: Case = {
        "id": f"{seed}:{index}",
        "data": _draw_data(r, n, n_features, n_outputs, dtype),
        "params": params,
        "calls": _draw_calls(r, params, n),
    }
    expected = params.pop("expect_error", None)
    if expected:
        case["expect_error"] = expected
    elif r.random() < 0.12:
        _make_invalid(r, case, r.choice(_INVALID_MODES))
    # Sparse draws come from a stream of their own: the dense cases of a seed stay
    # the cases they were before sparse inputs were fuzzed.
    r_sparse = random.Random(f"positive-mlp-fuzz-sparse:{seed}:{index}")
    if r_sparse.random() < _SPARSE_SHARE:
        _make_sparse(r_sparse, case)
    _draw_new_loss(seed, index, case)
    _draw_edges(seed, index, case)
    _draw_limit(seed, index, case)
    _cap_work(case)
    return case


def _make_sparse(r: random.Random, case: Case) -> None:
    """X, X_val and the predict inputs of the case as scipy.sparse (``data.sparse``):
    the case's dense X with entries dropped (density, all-zero rows), stored values
    split into duplicate entries (halves, or v - c and c), explicit stored zeros,
    indices unsorted within rows, 64-bit indices; sometimes a malformed CSR call."""
    data = case["data"]
    data["sparse"] = {
        "format": _pick(r, _SPARSE_FORMATS),
        "index64": r.random() < 0.4,
        "density": _pick(r, {0.01: 1.5, 0.05: 1, 0.2: 2, 0.5: 2, 0.9: 1, 1.0: 1}),
        "zero_rows": _pick(r, {0.0: 6, 0.2: 2, 0.7: 1, 1.0: 0.4}),
        "explicit_zeros": _pick(r, {0.0: 5, 0.1: 2, 1.0: 0.7}),
        "duplicates": _pick(r, {0.0: 5, 0.3: 2, 1.0: 1}),
        "cancel": r.random() < 0.3,
        "unsorted": r.random() < 0.35,
        "compare_dense": data["dtype"] != "float32" and r.random() < 0.35,
    }
    data.update(container="numpy", view=None, order="C")  # dense layouts only
    if not case.get("expect_error") and r.random() < 0.1:
        _make_malformed(r, case)


def _make_malformed(r: random.Random, case: Case) -> None:
    """One call's X (or X_val) becomes a CSR with a broken structure: the call must
    raise a Python exception (any), never crash or return."""
    data, calls = case["data"], case["calls"]
    data["sparse"]["format"] = r.choice(["csr_matrix", "csr_array"])
    mode = r.choice(_MALFORMED_MODES)
    with_val = [i for i, call in enumerate(calls) if call.get("val")]
    where = _pick(r, {"predict": 5, "score": 1, "fit": 2, "val": 8 if with_val else 0})
    if where == "val" and not with_val:
        where = "predict"
    if where == "val":
        at = r.choice(with_val)
        calls[at]["val"]["malformed"] = mode
    elif where in ("predict", "score"):
        calls.append({"op": where, "n": r.randint(1, 30), "malformed": mode})
        at = len(calls) - 1
    else:
        at = r.randrange(len(calls))
        calls[at]["malformed"] = mode
    case["expect_error"] = "malformed_csr"
    case["expect_error_at"] = at


def _make_invalid(r: random.Random, case: Case, mode: str) -> None:
    """Turns a valid case into one that must be refused (``mode`` says how)."""
    params, data, calls = case["params"], case["data"], case["calls"]
    first = calls[0]
    k = data["n_outputs"]
    bounded = params["output_activation"] in _BOUNDED
    if mode == "hidden_float":
        params["hidden_layer_sizes"] = [r.randint(1, 20) + 0.5]
    elif mode == "hidden_zero":
        params["hidden_layer_sizes"] = r.choice([[0], [4, 0], [-3]])
    elif mode == "threshold_nan":
        params["output_threshold"] = r.choice([float("nan"), float("inf")])
    elif mode == "threshold_length":
        params["output_threshold"] = [0.0] * (k + 1)
    elif mode == "scaling_bad":
        params["target_scaling"] = r.choice(
            [[0.0] * k, [-1.0] * k, [1.0] * (k + 1), [float("nan")] * k]
        )
    elif mode == "nonneg_index":
        params["nonneg_weights"] = [len(params["hidden_layer_sizes"]) + 1]
        params["monotonic_cst"] = None
    elif mode == "monotonic_length":
        params["monotonic_cst"] = [1] * (data["n_features"] + 1)
    elif mode == "monotonic_value":
        params["monotonic_cst"] = [2] * data["n_features"]
    elif mode == "loss_identity":
        params.update(loss=r.choice(["poisson", "gamma"]), output_activation="identity")
    elif mode == "loss_negative_threshold":
        params.update(
            loss=r.choice(["poisson", "gamma"]),
            output_threshold=-1.0,
            output_activation=r.choice(_BOUNDED),
        )
    elif mode == "relu_zero_threshold":
        params.update(
            loss=r.choice(["poisson", "gamma"]),
            output_threshold=0.0,
            output_activation="relu",
        )
    elif mode in ("y_below", "gamma_zero", "poisson_negative"):
        data["inject"] = mode
        if mode == "y_below" and not bounded:
            params["output_activation"] = "softplus"
        if mode != "y_below":
            params.update(
                loss="gamma" if mode == "gamma_zero" else "poisson",
                output_threshold=0.0,
                output_activation="softplus",
            )
    elif mode in ("x_nan", "x_inf"):
        data["inject"] = mode
    elif mode == "weight_negative":
        first["sample_weight"] = {
            "zero_share": 0.0,
            "log10_scale": 0.0,
            "negative": True,
        }
    elif mode == "weight_length":
        first["sample_weight"] = {
            "zero_share": 0.0,
            "log10_scale": 0.0,
            "length_delta": 1,
        }
    elif mode == "val_without_early_stopping":
        params["early_stopping"] = False
        first.update(op="fit", val={"n": 5})
    elif mode == "val_lbfgs":
        params.update(early_stopping=True, solver="lbfgs")
        first.update(op="fit", val={"n": 5})
    elif mode == "val_features":
        params.update(early_stopping=True, solver=r.choice(["sgd", "adam"]))
        first.update(op="fit", val={"n": 5, "n_features": data["n_features"] + 1})
    elif mode == "partial_fit_lbfgs":
        params.update(solver="lbfgs")
        case["calls"] = [{"op": "partial_fit", "n": data["n"]}]
    elif mode == "partial_fit_features":
        params.update(solver=r.choice(["sgd", "adam"]), early_stopping=False)
        case["calls"] = [
            {"op": "partial_fit", "n": data["n"]},
            {"op": "partial_fit", "n": data["n"], "n_features": data["n_features"] + 1},
        ]
    elif mode == "warm_start_features":
        params.update(warm_start=True)
        case["calls"] = [
            {"op": "fit", "n": data["n"]},
            {"op": "fit", "n": data["n"], "n_features": data["n_features"] + 1},
        ]
    elif mode == "predict_features":
        case["calls"] = [
            {"op": "fit", "n": data["n"]},
            {"op": "predict", "n": 3, "n_features": data["n_features"] + 1},
        ]
    if mode.endswith("_features"):
        params["monotonic_cst"] = None
    if mode in ("x_nan", "x_inf") and data["dtype"] == "int64":
        data["dtype"] = "float64"  # NaN has no integer form
    if mode in ("partial_fit_features", "warm_start_features", "predict_features"):
        case["expect_error_at"] = 1  # the call that must be refused
    case["expect_error"] = mode


def _draw_new_loss(seed: int, index: int, case: Case) -> None:
    """loss='tweedie' (with ``power``) or loss='quantile' (with ``quantile``) for
    about 13% of the cases each, from a random stream of their own drawn after every
    other draw: the other cases of a seed stay exactly as they were. The case's
    settings are made to suit the loss (targets follow the loss when the arrays are
    built), or, in about one case in ten that was valid, made invalid in a way the
    loss forbids (``expect_error``)."""
    r = random.Random(f"positive-mlp-fuzz-loss:{seed}:{index}")
    u, shares = r.random(), _NEW_LOSS_SHARES
    loss = (
        "tweedie"
        if u < shares["tweedie"]
        else "quantile"
        if u < shares["tweedie"] + shares["quantile"]
        else None
    )
    expected = case.get("expect_error")
    if loss is None or (expected and expected not in _LOSS_NEUTRAL_INVALID):
        return
    invalid = not expected and r.random() < 0.1
    if loss == "tweedie":
        _make_tweedie(r, case, invalid)
    else:
        _make_quantile(r, case, invalid)
    weights = case["calls"][0].get("sample_weight")
    if invalid and weights:
        weights.update(zero_share=0.0, integer=False)  # all-zero ones: refused first
    if not case.get("expect_error") and r.random() < 0.3:
        _add_score_call(r, case)


def _add_score_call(r: random.Random, case: Case) -> None:
    """A last call score(X, y, sample_weight) on fresh rows, weights often with
    zeros (all of them sometimes); in a quarter of them an invalid y (a NaN, twice
    the rows) or a weight too many, which must be refused."""
    call: Json = {"op": "score", "n": r.choice([1, 2, 5, case["data"]["n"]])}
    if r.random() < 0.6:
        call["sample_weight"] = {
            "zero_share": _pick(r, {0.0: 3, 0.5: 2, 1.0: 1}),
            "log10_scale": _pick(r, {0.0: 3, r.uniform(-3, 3): 1}),
            "integer": r.random() < 0.3,
        }
    case["calls"].append(call)
    if r.random() < 0.25:
        mode = r.choice(["score_y_nan", "score_y_rows", "score_weight_length"])
        if mode == "score_weight_length":
            call["sample_weight"] = {
                "zero_share": 0.0,
                "log10_scale": 0.0,
                "length_delta": 1,
            }
        else:
            call["y_fault"] = "nan" if mode == "score_y_nan" else "double"
        case["expect_error"] = mode
        case["expect_error_at"] = len(case["calls"]) - 1


def _make_tweedie(r: random.Random, case: Case, invalid: bool) -> None:
    params, k = case["params"], case["data"]["n_outputs"]
    params.update(loss="tweedie", power=_pick(r, _TWEEDIE_POWERS))
    if params["power"] != 0 and params["output_activation"] == "identity":
        params["output_activation"] = r.choice(_BOUNDED)
    if r.random() < 0.4:  # targets with exact zeros and a skewed positive part
        case["data"]["y_kind"] = r.choice(["compound", "count", "gamma"])
        case["data"]["y_zero_share"] = _pick(r, {0.0: 1, 0.3: 1, 0.8: 0.5})
    _make_valid_loss(params, k)
    _draw_power_changes(r, case)
    if not invalid:
        return
    mode = r.choice(_TWEEDIE_INVALID_MODES)
    power = params["power"] = (
        r.choice(_BAD_POWERS)
        if mode == "tweedie_power"
        else _pick(r, {p: w for p, w in _TWEEDIE_POWERS.items() if p >= 1})
    )
    if mode == "tweedie_identity":
        params["output_activation"] = "identity"
    elif mode == "tweedie_negative_threshold":
        params["output_activation"] = r.choice(_BOUNDED)
        params["output_threshold"] = r.choice([-1.0, -1e-3, [-0.5] * k])
    elif mode == "tweedie_relu_zero_threshold":
        params.update(output_activation="relu", output_threshold=0.0)
    elif mode == "tweedie_domain":  # y = 0 for power >= 2, y = -1 below
        case["data"]["inject"] = "tweedie_zero" if power >= 2 else "tweedie_negative"
        params.update(
            output_threshold=0.0, output_activation=r.choice(["softplus", "exp"])
        )
    for call in case["calls"]:
        call.get("set_params", {}).pop("power", None)
    case["expect_error"] = mode


def _draw_power_changes(r: random.Random, case: Case) -> None:
    """Sometimes a later fit sets another power (>= 1 if the case's is: the settings
    suit those; targets follow the power at each call)."""
    if case["params"]["power"] == 0:
        return
    for call in case["calls"][1:]:
        if call["op"] == "fit" and r.random() < 0.2:
            powers = {p: w for p, w in _TWEEDIE_POWERS.items() if p >= 1}
            call.setdefault("set_params", {})["power"] = _pick(r, powers)


def _draw_levels(r: random.Random) -> Any:
    """A level (float), or a strictly increasing list of 1 to 6 levels."""
    if r.random() < 0.35:
        return _pick(r, {_pick(r, _QUANTILE_LEVELS): 4, round(r.uniform(0, 1), 3): 1})
    size = _pick(r, {1: 1, 2: 2, 3: 2, 4: 1, 5: 1, 6: 1})
    pool = [*sorted(_QUANTILE_LEVELS), round(r.uniform(0.001, 0.999), 3)]
    return sorted(set(r.sample(pool, size)))


def _valid_level(level: float) -> float:
    return level if 0 < level < 1 else 0.5


def _make_quantile(r: random.Random, case: Case, invalid: bool) -> None:
    params = case["params"]
    levels = _draw_levels(r)
    if isinstance(levels, float):
        levels = _valid_level(levels)
    params.update(loss="quantile", quantile=levels, output_constraint=None)
    if params["output_activation"] == "identity":
        params["output_activation"] = r.choice(_BOUNDED)
    if params["solver"] == "lbfgs":
        params["solver"] = r.choice(["adam", "sgd"])
        params.pop("max_fun", None)
    for call in case["calls"]:
        changes = call.get("set_params", {})
        if changes.get("solver") == "lbfgs":
            changes["solver"] = r.choice(["adam", "sgd"])
        if call["op"] == "fit" and call is not case["calls"][0] and r.random() < 0.15:
            other = _draw_levels(r)  # the next fit predicts other levels
            if isinstance(other, float):
                other = _valid_level(other)
            call.setdefault("set_params", {})["quantile"] = other
    if invalid:
        _make_quantile_invalid(r, case, r.choice(_QUANTILE_INVALID_MODES))


def _make_quantile_invalid(r: random.Random, case: Case, mode: str) -> None:
    params = case["params"]
    levels = params["quantile"]
    many = levels if isinstance(levels, list) and len(levels) >= 2 else [0.2, 0.7]
    if mode == "quantile_unsorted":
        params["quantile"] = many[::-1] if r.random() < 0.5 else many[1:] + many[:1]
    elif mode == "quantile_duplicate":
        at = r.randrange(len(many))
        params["quantile"] = sorted([*many, many[at]])
    elif mode == "quantile_range":
        bad = r.choice([0.0, 1.0, -0.1, 1.5, 1e-320 * -1, 1.0 + 1e-12])
        params["quantile"] = bad if r.random() < 0.3 else sorted([*many, bad])
    elif mode == "quantile_empty":
        params["quantile"] = []
    elif mode == "quantile_lbfgs":
        params["solver"] = "lbfgs"
        params["early_stopping"] = False
        for call in case["calls"]:
            call.pop("val", None)
            if call["op"] == "partial_fit":
                call["op"] = "fit"  # lbfgs has no partial_fit (another error)
    elif mode == "quantile_identity":
        params["output_activation"] = "identity"
    elif mode == "quantile_constraint":
        params["output_constraint"] = r.choice(["penalty", "lagrangian"])
    for call in case["calls"]:
        call.get("set_params", {}).pop("quantile", None)
        call.get("set_params", {}).pop("solver", None)
    case["expect_error"] = mode


def _draw_edges(seed: int, index: int, case: Case) -> None:
    """The neighbourhoods of inputs that once gave bare errors or silent surprises
    (issue 22), each from a random stream of its own (one edge's draws never shift
    another's, nor any other draw); ``case["edges"]`` lists those drawn."""
    drawers: dict[str, Callable[[random.Random, Case], bool]] = {
        "quantile_container": _edge_quantile_container,
        "y_extreme": _edge_extreme_targets,
        "zero_weights_early_stopping": _edge_zero_weights,
        "explicit_val": _edge_explicit_val,
        "sparse_fault": _edge_sparse_fault,
    }
    for name, draw in drawers.items():
        r = random.Random(f"positive-mlp-fuzz-edge-{name}:{seed}:{index}")
        if r.random() < _EDGE_SHARES[name] and draw(r, case):
            case.setdefault("edges", []).append(name)


def _edge_quantile_container(r: random.Random, case: Case) -> bool:
    """The levels of a quantile case in another container (a set or a dict: the
    case must be refused)."""
    params = case["params"]
    if params.get("loss") != "quantile" or case.get("expect_error"):
        return False
    one_level = not isinstance(params["quantile"], list)
    containers = {
        k: w for k, w in _LEVEL_CONTAINERS.items() if one_level or k != "float32"
    }
    container = params["quantile_container"] = _pick(r, containers)
    if container in ("set", "dict"):
        case["expect_error"] = f"quantile_{container}"
    return True


def _edge_extreme_targets(r: random.Random, case: Case) -> bool:
    """A few targets (or all) at 10**e, e beyond what float32 holds for float32 X
    (y then in float64), denormal or near the largest float64 for float64 X; mostly
    with a deviance (those need y > 0 or y >= 0)."""
    data, params = case["data"], case["params"]
    if case.get("expect_error") or data["dtype"] == "int64":
        return False
    data["y_extreme"] = {
        "log10": _pick(r, _EXTREME_EXPONENTS[data["dtype"]]),
        "rows": _pick(r, {1: 3, 2: 1, 5: 1, "all": 1}),
    }
    if data["dtype"] == "float32" and r.random() < 0.8:
        data["y_dtype"] = "float64"
    if params["loss"] == "squared_error" and r.random() < 0.7:
        params["loss"] = _pick(r, {"poisson": 1, "gamma": 1, "tweedie": 1})
        if params["loss"] == "tweedie":
            params["power"] = r.choice([1.5, 3.0])
        _make_valid_loss(params, data["n_outputs"])
    return True


def _edge_zero_weights(r: random.Random, case: Case) -> bool:
    """Early stopping on rows most (or all) of zero weight, a held-out share from 0
    to 0.95, often few rows."""
    params, calls = case["params"], case["calls"]
    if case.get("expect_error") or any(c["op"] == "partial_fit" for c in calls):
        return False
    params["early_stopping"] = _pick(r, {True: 3, "auto": 1})
    params["validation_fraction"] = _pick(
        r, {0.0: 1, 0.1: 2, 0.3: 1, 0.5: 1, 0.9: 1, 0.95: 0.5}
    )
    params.setdefault("n_iter_no_change", r.randint(1, 10))
    calls[0]["sample_weight"] = {
        "zero_share": _pick(r, {0.5: 1, 0.9: 2, 0.97: 1, 1.0: 0.4}),
        "log10_scale": 0.0,
        "integer": r.random() < 0.3,
    }
    if r.random() < 0.5:
        calls[0]["n"] = r.randint(1, 40)
    return True


def _edge_explicit_val(r: random.Random, case: Case) -> bool:
    """One fit's explicit validation set: 0 to 5 rows, constant y_val (warned
    about), sample_weight_val with zeros."""
    params, calls = case["params"], case["calls"]
    fits = [
        c
        for c in calls
        if c["op"] == "fit" and not (c.get("val") or {}).get("malformed")
    ]
    eligible = params["early_stopping"] is True and params["solver"] != "lbfgs"
    if case.get("expect_error") or not eligible or not fits:
        return False
    val: Json = {"n": _pick(r, {0: 1, 1: 1, 2: 2, 3: 1, 5: 1})}
    if r.random() < 0.4:
        val["constant"] = True
    if r.random() < 0.4:
        val["sample_weight"] = {
            "zero_share": _pick(r, {0.0: 1, 0.5: 2, 1.0: 1}),
            "log10_scale": 0.0,
        }
    r.choice(fits)["val"] = val
    return True


def _edge_sparse_fault(r: random.Random, case: Case) -> bool:
    """A 1-D sparse X (fit, predict or X_val), or a sparse y or y_val: refused."""
    params, calls = case["params"], case["calls"]
    if case.get("expect_error"):
        return False
    fits = [i for i, c in enumerate(calls) if c["op"] in ("fit", "partial_fit")]
    with_val = [i for i in fits if calls[i].get("val")]
    if not with_val and params["early_stopping"] is True and calls[0]["op"] == "fit":
        with_val = [0] if params["solver"] != "lbfgs" else []
    fault = _pick(
        r,
        {
            f: 0 if f in ("X_val_1d", "y_val") and not with_val else 1
            for f in _SPARSE_FAULTS
        },
    )
    if fault == "predict_1d":
        calls.append({"op": "predict", "n": r.randint(1, 30), "sparse_fault": "X_1d"})
        at = len(calls) - 1
    else:
        at = r.choice(with_val if fault in ("X_val_1d", "y_val") else fits)
        calls[at]["sparse_fault"] = fault
        if fault in ("X_val_1d", "y_val"):
            calls[at].setdefault("val", {"n": 5})
    case["expect_error"] = f"sparse_{fault}"
    case["expect_error_at"] = at
    return True


def _draw_limit(seed: int, index: int, case: Case) -> None:
    """An address-space limit for the case's calls (``limit``), in about 4% of the
    cases, half of them with 2 to 8 core threads (each needs 128 MiB), half with 8
    times the rows (up to 4000)."""
    r = random.Random(f"positive-mlp-fuzz-limit:{seed}:{index}")
    if r.random() >= _LIMIT_SHARE:
        return
    case["limit"] = {"address_space_mib": _pick(r, _HEADROOM_MIB)}
    if r.random() < 0.5:
        case["params"]["n_threads"] = r.choice([2, 4, 8])
    if r.random() < 0.5:  # arrays beyond the free heap: new mappings, which may fail
        for part in [case["data"], *case["calls"]]:
            if part is case["data"] or part["op"] in ("fit", "partial_fit"):
                part["n"] = min(_MAX_ROWS, 8 * part.get("n", case["data"]["n"]))


# ------------------------------------------------------------------ materialising data


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
        return _dense(self.X)

    def densified(self) -> CallData:
        """The same call with dense X and X_val (for the dense twin of a case)."""
        return CallData(
            _dense(self.X),
            self.y,
            self.sample_weight,
            None if self.X_val is None else _dense(self.X_val),
            self.y_val,
            self.finite,
            self.sample_weight_val,
        )


def _issparse(X: Any) -> bool:
    import scipy.sparse

    return scipy.sparse.issparse(X)


def _dense(X: Any) -> np.ndarray:
    return X.toarray() if _issparse(X) else np.asarray(X)


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
    threshold = _thresholds(params["output_threshold"], k)
    bounded = params["output_activation"] in _BOUNDED or _positive_predictions(params)
    positive = _positive_targets(params)
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
        X, finite = _sparse_input(rng_sparse, X, y, data, call.get("malformed"))
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
        result.X_val, finite_val = _sparse_input(
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
        setattr(result, name, sp.csr_array(_dense(getattr(result, name))[:, 0]))
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


# ------------------------------------------------------------------ sparse inputs


def _sparse_input(
    rng: np.random.Generator, X: np.ndarray, y: np.ndarray, data: Json, broken: Any
) -> tuple[Any, bool]:
    """(X as the recipe's scipy.sparse matrix, all inputs finite in the training
    dtype). Every non-finite entry of X stays stored (an injected NaN must reach the
    estimator); a ``broken`` call gets a malformed CSR."""
    spec = data["sparse"]
    n, p = X.shape
    keep = rng.random((n, p)) < spec["density"]
    keep[rng.random(n) < spec["zero_rows"]] = False
    if X.dtype.kind == "f":
        keep |= ~np.isfinite(X)
    rows, cols = np.nonzero(keep)
    values = X[rows, cols]
    split = rng.random(rows.size) < spec["duplicates"]
    first, second = _split_values(rng, values[split], spec["cancel"])
    values[split] = first
    zeros = int(rng.binomial(n * p, spec["explicit_zeros"])) if n * p else 0
    rows = np.concatenate([rows, rows[split], rng.integers(0, n, zeros)])
    cols = np.concatenate([cols, cols[split], rng.integers(0, p, zeros)])
    values = np.concatenate([values, second, np.zeros(zeros, X.dtype)])
    M = _sparse_matrix(rng, values, rows, cols, (n, p), spec)
    if broken:
        M = _malformed(rng, M, broken)
    if data["readonly"]:
        for name in ("data", "indices", "indptr", "row", "col"):
            if isinstance(getattr(M, name, None), np.ndarray):
                getattr(M, name).flags.writeable = False
    train = np.float32 if data["dtype"] == "float32" else np.float64
    with np.errstate(over="ignore", invalid="ignore"):
        finite = bool(
            np.isfinite(M.data.astype(train)).all()
            and np.isfinite(np.asarray(y).astype(train)).all()
        )
    return M, finite


def _split_values(
    rng: np.random.Generator, v: np.ndarray, cancel: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Two entries adding up to v (exactly for halves; for v - c and c, up to the
    rounding of v - c)."""
    if v.dtype.kind != "f":
        c = (
            np.round(v * rng.uniform(-1.0, 1.0, v.size)).astype(v.dtype)
            if cancel
            else v // 2
        )
        return v - c, c
    with np.errstate(over="ignore", invalid="ignore"):
        if cancel:
            c = (v * rng.uniform(-1.0, 1.0, v.size)).astype(v.dtype)
            return (v.astype(np.float64) - c).astype(v.dtype), c
        half = (v * 0.5).astype(v.dtype)
        return (v.astype(np.float64) - half).astype(v.dtype), half


def _sparse_matrix(
    rng: np.random.Generator,
    values: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
    spec: Json,
) -> Any:
    """The entries in the recipe's format: compressed formats built from their own
    arrays (so duplicates stay and rows keep the recipe's order), indices 64-bit if
    asked for (set after construction: scipy's constructors choose 32 bits)."""
    import scipy.sparse as sp

    fmt = spec["format"]
    major, minor = (cols, rows) if fmt.startswith("csc") else (rows, cols)
    secondary = rng.random(values.size) if spec["unsorted"] else minor
    order = np.lexsort((secondary, major))
    if fmt.startswith("coo") and spec["unsorted"]:  # COO: no order at all
        order = rng.permutation(values.size)
    values, major, minor = values[order], major[order], minor[order]
    if fmt.startswith("coo"):
        return getattr(sp, fmt)((values, (major, minor)), shape=shape)
    n_major = shape[1] if fmt.startswith("csc") else shape[0]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(major, minlength=n_major))])
    M = getattr(sp, fmt)(
        (values, minor.astype(np.int32), indptr.astype(np.int32)), shape=shape
    )
    if spec["index64"]:
        M.indices = M.indices.astype(np.int64)
        M.indptr = M.indptr.astype(np.int64)
    return M


def _malformed(rng: np.random.Generator, M: Any, mode: str) -> Any:
    """The CSR M with a broken structure, its arrays changed after construction
    (scipy's constructors would refuse most of these)."""
    n, p = M.shape
    indices, indptr, data = M.indices.copy(), M.indptr.copy(), M.data.copy()
    if mode.startswith("index") and not indices.size:  # an entry to break
        indices, data = np.zeros(1, indices.dtype), np.ones(1, data.dtype)
        indptr = np.ones_like(indptr)
        indptr[0] = 0
    entry = int(rng.integers(max(1, indices.size)))
    wide = indices.dtype == np.int64
    if mode == "index_past_end":
        indices[entry] = p
    elif mode == "index_huge":
        indices[entry] = 2**40 if wide else 2**31 - 1
    elif mode == "index_negative":
        indices[entry] = rng.choice([-1, np.iinfo(indices.dtype).min])
    elif mode == "indptr_decreasing":
        if n == 1:
            indptr[1] = -1
        else:
            row = int(rng.integers(1, n))
            indptr[row] = indptr[row + 1] + 1
    elif mode == "indptr_negative":
        indptr[int(rng.integers(1, n + 1))] = -int(rng.integers(1, 10))
    elif mode == "indptr_long":
        indptr = np.append(indptr, indptr[-1])
    elif mode == "indptr_short":
        indptr = indptr[:-1].copy()
    elif mode == "indptr_start":
        indptr += 1
    elif mode == "indptr_end":
        indptr[-1] = indices.size + int(rng.integers(1, 100))
    elif mode == "indices_short":
        indices = indices[:-1].copy() if indices.size else np.zeros(1, indices.dtype)
    M.indices, M.indptr, M.data = indices, indptr, data
    return M


# ------------------------------------------------------------------ running one case


@dataclass
class Outcome:
    """What one case did. status: ok, rejected (allowed error), expected (an invalid
    case refused), crash, hang, violation or unexpected."""

    status: str
    message: str = ""
    detail: str = ""
    seconds: float = 0.0
    compared: int = 0  # fits compared with their dense twins (compare_dense)
    refused: int = 0  # calls on which the system refused to start core threads

    @property
    def failed(self) -> bool:
        return self.status in FAILURE_KINDS


class PropertyViolation(AssertionError):
    """A property of a returned fit failed (raised only in replays)."""


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


def _monotonic_setting(case: Case) -> Any:
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
            if not _has_level_axis(est):
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


def _classify_error(exc: BaseException, case: Case, finite: bool) -> Outcome:
    from positive_mlp import TrainingDivergedError

    message = f"{type(exc).__name__}: {exc}"
    expected = case.get("expect_error")
    if isinstance(exc, TrainingDivergedError):
        return Outcome("rejected", message)
    if isinstance(exc, MemoryError) and case.get("limit"):
        return _memory_outcome(exc, case)
    allowed: tuple[type[BaseException], ...] = (ValueError, TypeError)
    if expected == "partial_fit_lbfgs":
        allowed = (ValueError, TypeError, AttributeError)
    if expected == "malformed_csr":  # scipy may refuse it first, in its own way
        allowed = (Exception,)
    if not isinstance(exc, allowed):
        return Outcome("unexpected", message)
    if not str(exc).strip():
        return Outcome("unexpected", f"{type(exc).__name__} with an empty message")
    if finite and _NONFINITE_MESSAGE.search(str(exc)):
        return Outcome(
            "unexpected", f"non-finite values made inside the estimator: {message}"
        )
    if case["data"].get("readonly") and _READONLY_MESSAGE.search(str(exc)):
        return Outcome(
            "unexpected", f"wrote into the caller's read-only input: {message}"
        )
    return Outcome("expected" if expected else "rejected", message)


def _memory_outcome(exc: MemoryError, case: Case) -> Outcome:
    """Under an address-space limit a MemoryError that says what ran out is allowed;
    the core's bare std::bad_alloc (the package is to explain it) is not."""
    message = f"MemoryError: {exc}"
    if str(exc).strip() in ("", "std::bad_alloc"):
        return Outcome("unexpected", f"a bare MemoryError under a limit: {message!r}")
    return Outcome("expected" if case.get("expect_error") else "rejected", message)


def run_case(case: Case, reraise: bool = False) -> Outcome:
    """Runs every call of the case and checks the properties after each one.

    With ``reraise`` (replays), exceptions and violations propagate with tracebacks.
    """
    from positive_mlp import PositiveMLPRegressor

    params = estimator_params(case["params"])
    params["monotonic_cst"] = _monotonic_setting(case)
    compare = (
        bool(case["data"].get("sparse", {}).get("compare_dense"))
        and case["data"]["dtype"] != "float32"
        and not _lbfgs_case(case)
    )
    compared = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = PositiveMLPRegressor(**params)
        # compare_dense: the same calls on X densified, and on X densified with its
        # nonzero entries moved by one ulp, for as long as all of them return
        twins = [PositiveMLPRegressor(**params) for _ in range(2)] if compare else []
        for index, call in enumerate(case["calls"]):
            arrays = None
            snapshot: list[np.ndarray] = []
            try:
                est.set_params(**call.get("set_params", {}))
                arrays = make_call_data(case, index, est.get_params())
                snapshot = _sparse_snapshot(arrays)
                with address_space_limit(case.get("limit")):
                    result = run_call(est, call, arrays)
            except Exception as exc:
                changed = _sparse_changed(snapshot, arrays, call)
                if changed:
                    return _violation(
                        [f"after {type(exc).__name__}: {changed}"], reraise
                    )
                outcome = _outcome_of_error(exc, est, case, index, arrays, reraise)
                outcome.compared = compared
                return _with_warnings(outcome, caught, case, reraise)
            violations = [_sparse_changed(snapshot, arrays, call)] if snapshot else []
            if _malformed_parts(call):
                violations.append(
                    f"{call['op']} accepted a malformed CSR "
                    f"({', '.join(_malformed_parts(call))})"
                )
            if any(violations):
                return _violation([v for v in violations if v], reraise)
            if _checks_score(case, call):
                violations = score_problems(est, arrays, result)
                if violations:
                    return _violation(violations, reraise)
            if call["op"] in ("predict", "score"):
                continue
            violations = check_fitted(est, case, arrays)
            if twins and not violations:
                twins = _twin_calls(twins, call, arrays)
                if twins:
                    violations = compare_with_twins(est, *twins)
                    compared += 1
            if violations:
                return _violation(violations, reraise)
    if case.get("expect_error"):
        return _violation([f"accepted invalid input ({case['expect_error']})"], reraise)
    outcome = _with_warnings(Outcome("ok"), caught, case, reraise)
    outcome.compared = compared
    return outcome


def _level_list(quantile: Any) -> bool:
    """Levels given as a list (a tuple or an ndarray of 1 or more dimensions): the
    predictions have an axis of levels; a float or a 0-d array, none."""
    return np.ndim(quantile) > 0


def _has_level_axis(est: Any) -> bool:
    """A fitted quantile model of a list of levels: its score is the package's own
    (minus the pinball loss), not scikit-learn's R2."""
    return hasattr(est, "quantiles_") and _level_list(est.quantile)


def _checks_score(case: Case, call: Json) -> bool:
    """Score calls of the Tweedie and quantile cases that must return are checked
    (the other score calls are malformed ones, which must raise)."""
    return (
        call["op"] == "score"
        and case["params"].get("loss") in _NEW_LOSS_SHARES
        and not case.get("expect_error")
    )


def _malformed_parts(call: Json) -> list[str]:
    parts = [f"X: {call['malformed']}"] if call.get("malformed") else []
    if (call.get("val") or {}).get("malformed"):
        parts.append(f"X_val: {call['val']['malformed']}")
    return parts


def _sparse_arrays(M: Any) -> list[np.ndarray]:
    return [
        getattr(M, name)
        for name in ("data", "indices", "indptr", "row", "col")
        if isinstance(getattr(M, name, None), np.ndarray)
    ]


def _sparse_snapshot(arrays: CallData) -> list[np.ndarray]:
    """Copies of the arrays of the call's sparse X and X_val."""
    return [
        a.copy()
        for M in (arrays.X, arrays.X_val)
        if _issparse(M)
        for a in _sparse_arrays(M)
    ]


def _sparse_changed(
    snapshot: list[np.ndarray], arrays: CallData | None, call: Json
) -> str:
    """What the call changed in the caller's sparse X or X_val ('' if nothing)."""
    if not snapshot or arrays is None:
        return ""
    now = [
        a for M in (arrays.X, arrays.X_val) if _issparse(M) for a in _sparse_arrays(M)
    ]
    same = len(now) == len(snapshot) and all(
        a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        for a, b in zip(now, snapshot)
    )
    return "" if same else f"{call['op']} modified the caller's sparse X or X_val"


def _lbfgs_case(case: Case) -> bool:
    """Whether a call of the case trains with L-BFGS-B. Its line search compares the
    loss at nearby points every iteration, and once progress stalls rounding decides
    those comparisons: of six 1-ulp jitters of X, five moved a fit's loss curve by
    3e-5 to 1e-4 and one by 3e-9 (41:15543). It also puts weights exactly on their
    bounds at breakpoints, where rounding decides which weights sit on a bound
    (31:15881). One jittered twin cannot show how far rounding moves such a
    training, so these cases get no dense twin."""
    params = dict(case["params"])
    for call in case["calls"]:
        params.update(call.get("set_params", {}))
        if params.get("solver", "adam") == "lbfgs":
            return True
    return False


def _twin_calls(twins: list[Any], call: Json, arrays: CallData) -> list[Any]:
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


def _outcome_of_error(
    exc: Exception,
    est: Any,
    case: Case,
    index: int,
    arrays: CallData | None,
    reraise: bool,
) -> Outcome:
    from positive_mlp import TrainingDivergedError

    outcome = _classify_error(exc, case, arrays is None or arrays.finite)
    if isinstance(exc, TrainingDivergedError) and arrays is not None:
        invalid_seen = index >= case.get("expect_error_at", 0)
        outcome = _after_divergence(est, case, arrays, outcome, invalid_seen, reraise)
    if reraise and outcome.failed:
        raise exc
    outcome.detail = outcome.detail or traceback.format_exc()
    return outcome


def _after_divergence(
    est: Any,
    case: Case,
    arrays: CallData,
    outcome: Outcome,
    invalid_seen: bool,
    reraise: bool,
) -> Outcome:
    """TrainingDivergedError keeps the last good weights: check them too."""
    if case.get("expect_error") and invalid_seen:
        message = (
            f"accepted invalid input ({case['expect_error']}), then {outcome.message}"
        )
        return _violation([message], reraise)
    if case.get("expect_error"):
        outcome.status = "expected"  # the invalid call was never reached
    if est is None or not hasattr(est, "coefs_"):
        return outcome
    violations = check_fitted(est, case, arrays)
    if violations:
        return _violation(
            [f"after {outcome.message.splitlines()[0]}:", *violations], reraise
        )
    return outcome


def _violation(messages: list[str], reraise: bool) -> Outcome:
    if reraise:
        raise PropertyViolation("\n".join(messages))
    return Outcome("violation", "; ".join(messages[:6]))


def _with_warnings(
    outcome: Outcome, caught: list[warnings.WarningMessage], case: Case, reraise: bool
) -> Outcome:
    outcome.refused = sum(bool(_REFUSED_THREADS.search(str(w.message))) for w in caught)
    bad = [w for w in caught if _unwanted(w, case)]
    if not bad or outcome.status != "ok":  # warnings on the way to an error are fine
        return outcome
    w = bad[0]
    message = (
        f"unexpected warning {w.category.__name__}: {w.message} "
        f"({Path(w.filename).name}:{w.lineno})"
    )
    return _violation([message], reraise)


def _unwanted(w: warnings.WarningMessage, case: Case) -> bool:
    """A RuntimeWarning, FutureWarning or DeprecationWarning of the package's (under
    an address-space limit, the core's word that threads were refused is fine)."""
    if not issubclass(w.category, _UNWANTED_WARNINGS):
        return False
    if Path(w.filename).name == FUZZ_PATH.name:
        return False
    return not (case.get("limit") and _REFUSED_THREADS.search(str(w.message)))


@contextlib.contextmanager
def address_space_limit(limit: Json | None) -> Iterator[None]:
    """The soft RLIMIT_AS at the address space in use plus the limit's headroom, for
    the duration of the block; then the soft limit it was (a soft limit may be
    raised back up to the hard one: the process goes on without the limit). Not
    under AddressSanitizer, which ends the process when its own mappings are refused
    (the limit would test ASan, not the package)."""
    under_asan = "libasan" in os.environ.get("LD_PRELOAD", "")
    if not limit or under_asan or not os.path.exists("/proc/self/status"):
        yield
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = _address_space_in_use() + (limit["address_space_mib"] << 20)
    for bound in (soft, hard):
        if bound != resource.RLIM_INFINITY:
            wanted = min(wanted, bound)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space_in_use() -> int:
    """VmSize of this process, in bytes."""
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize"))
    return kib << 10


# ------------------------------------------------------------------ property checks


@dataclass
class Reference:
    """A float64 forward pass of coefs_ with a bound on the rounding error."""

    pred: np.ndarray  # (n, n_outputs)
    tol: np.ndarray  # (n, n_outputs)
    exempt: np.ndarray  # (n,) rows whose arithmetic would overflow the model's dtype


_ACT: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float]] = {
    "identity": (lambda z: z, 1.0),
    "relu": (lambda z: np.maximum(z, 0.0), 1.0),
    "tanh": (np.tanh, 1.0),
    "logistic": (lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)), 0.25),
}


def _output_transform(
    name: str, z: np.ndarray, err: np.ndarray, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """g(z) and a bound on its error given |error of z| <= err."""
    if name == "exp":
        cap = np.finfo(dtype).maxexp * math.log(2.0) - 2.0  # the core's overflow guard
        raw = np.exp(np.minimum(z, cap))
        return raw, np.exp(np.minimum(z + err, cap)) * err
    if name == "softplus":
        return np.logaddexp(0.0, z), err
    if name == "relu":
        return np.maximum(z, 0.0), err
    return z, err


def reference_forward(est: Any, X: Any) -> Reference:
    """For a sparse X, the first layer's bound counts each stored entry: |X| sums
    the |values| of duplicates, and a row may hold more entries than features."""
    dtype = est.coefs_[0].dtype
    eps = float(np.finfo(dtype).eps)
    big = float(np.finfo(dtype).max) * 1e-4
    tiny = float(np.finfo(dtype).tiny)
    if _issparse(X):
        X64 = X.astype(np.float64)
        a, abs_a = X64.toarray(), abs(X64).toarray()
        entries = np.bincount(X.tocoo().row, minlength=X.shape[0])
        terms = max(X.shape[1], int(entries.max(initial=0)))
    else:
        a = np.asarray(X, dtype=np.float64)
        abs_a, terms = np.abs(a), a.shape[1]
    err = np.zeros_like(a)
    exempt = ~(abs_a <= big).all(axis=1)
    activation, lipschitz = _ACT[est.activation]
    last = len(est.coefs_) - 1
    with np.errstate(all="ignore"):
        for layer, (W, b) in enumerate(zip(est.coefs_, est.intercepts_)):
            W64, b64 = W.astype(np.float64), b.astype(np.float64)
            z = a @ W64 + b64
            magnitude = abs_a @ np.abs(W64) + np.abs(b64)
            n_terms = terms if layer == 0 else W.shape[0]
            err = err @ np.abs(W64) + 4 * eps * (n_terms + 2) * magnitude + 4 * tiny
            exempt |= ~(magnitude <= big).all(axis=1)
            if layer < last:
                a = activation(z)
                abs_a = np.abs(a)
                err = lipschitz * err + 4 * eps * abs_a
        raw, err_raw = _output_transform(est.out_activation_, z, err, dtype)
        err_raw = err_raw + 4 * tiny  # g(z) may underflow in the dtype
        levels = _fitted_levels(est)
        if levels > 1:  # each target's levels: g(z_1), then + g(z_k), in the dtype
            n, k = raw.shape
            raw = np.cumsum(raw.reshape(n, k // levels, levels), axis=2)
            err_raw = np.cumsum(err_raw.reshape(raw.shape), axis=2)
            err_raw = err_raw + 4 * eps * (levels + 1) * raw
            raw, err_raw = raw.reshape(n, k), err_raw.reshape(n, k)
        threshold = np.repeat(est.output_threshold_, levels)
        scale = np.repeat(est.target_scale_, levels)
        pred = threshold + scale * raw
        if est.out_activation_ != "exp":  # exp is guarded against overflow
            exempt |= ~(np.abs(threshold) + scale * np.abs(raw) <= big).all(axis=1)
        tol = (
            scale * (err_raw + 8 * eps * np.abs(raw))
            + 8 * eps * (np.abs(threshold) + np.abs(pred))
            + tiny
        )
    return Reference(pred, tol, exempt | ~np.isfinite(err).all(axis=1))


def _fitted_levels(est: Any) -> int:
    """The quantile levels each target of a fitted model predicts (1 if not
    loss='quantile')."""
    return int(np.size(est.quantiles_)) if hasattr(est, "quantiles_") else 1


def _expected_shape(est: Any, n: int) -> tuple[int, ...]:
    """predict's shape for n rows: (n,) or (n, targets), and for a list of quantile
    levels (n, levels) or (n, targets, levels)."""
    k = est.n_outputs_
    shape: tuple[int, ...] = (n,) if k == 1 else (n, k)
    if est.loss == "quantile" and _level_list(est.quantile):
        shape = (*shape, _fitted_levels(est))
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
    levels = _fitted_levels(est)
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
    if not _level_list(est.quantile) or arrays.y is None:
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
    if est.loss != "quantile" or not _level_list(est.quantile):
        return []
    pred = est.predict(arrays.X).reshape(-1, est.n_outputs_, _fitted_levels(est))
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
    for layer in _constrained_layers(params["nonneg_weights"], n_layers):
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
        signed = est.coefs_[0] * np.asarray(cst, dtype=np.float64)[:, None]
        if np.any(signed < 0):
            problems.append("coefs_[0] of a monotone feature has the wrong sign")
        for layer in range(1, n_layers):
            if np.any(est.coefs_[layer] < 0):
                problems.append(f"coefs_[{layer}] negative with monotonic_cst")
    return problems


def _as_input(X: np.ndarray, like: Any) -> Any:
    """X in the container the model was fitted on (DataFrame keeps feature names)."""
    if _issparse(like):
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
    k = est.n_outputs_ * _fitted_levels(est)  # network outputs
    expected_shape = _expected_shape(est, X.shape[0])
    if pred.shape != expected_shape:
        return [f"predict({label}) has shape {pred.shape}, expected {expected_shape}"]
    problems = []
    if est.loss == "quantile":  # every row: a finite input's quantiles never cross
        problems += _quantile_guarantees(est, pred, label)
    pred = pred.reshape(X.shape[0], k).astype(np.float64)
    ref = reference_forward(est, given if _issparse(given) else X)
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
    threshold = np.repeat(est.output_threshold_, _fitted_levels(est))
    if est.out_activation_ in _BOUNDED and np.any(got < threshold):
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
    if _issparse(given):
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
    if _issparse(like):
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


def check_fitted(est: Any, case: Case, arrays: CallData) -> list[str]:
    """Every property of a fitted estimator; returns the violations. Warnings raised
    here (by predict on 1000 X, or by the checks' own arithmetic) are not reported."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _check_fitted(est, case, arrays)


def _check_fitted(est: Any, case: Case, arrays: CallData) -> list[str]:
    problems = _weights_finite(est)
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
        for label, Xv, given in _extreme_inputs(X, arrays.X, dtype):
            problems += _check_predictions(est, Xv, given, label)
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


# ------------------------------------------------------------------ processes


def _child_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("PYTHONWARNINGS", None)
    return env


def _run_forked_child(
    case: Case, result_fd: int, err_path: str, timeout: float
) -> None:
    """In the forked child: run the case, write the outcome as JSON, exit."""
    with open(err_path, "wb") as err:
        os.dup2(err.fileno(), 1)
        os.dup2(err.fileno(), 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdout = sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    faulthandler.enable(file=sys.stderr, all_threads=True)
    faulthandler.dump_traceback_later(max(timeout - 2.0, 1.0), exit=False)
    start = time.perf_counter()
    try:
        outcome = run_case(case)
    except BaseException as exc:
        outcome = Outcome(
            "unexpected", f"{type(exc).__name__}: {exc}", traceback.format_exc()
        )
    outcome.seconds = time.perf_counter() - start
    payload = json.dumps(asdict(outcome)).encode()
    view = memoryview(payload)
    while view:
        view = view[os.write(result_fd, view) :]


def _tail(path: str, size: int = 3000) -> str:
    """The end of a child's stderr, without faulthandler's list of extension modules."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 50 * size))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    text = re.sub(r"\n*Extension modules:[^\n]*", "", text)
    return text[-size:]


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Reads fd to EOF; (data, True) if EOF came before the deadline."""
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), False
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)


def run_isolated(case: Case, timeout: float, workdir: str) -> Outcome:
    """Runs one case in a forked child (called in a supervisor process)."""
    err_path = os.path.join(workdir, f"case-{os.getpid()}.err")
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        try:
            _run_forked_child(case, write_fd, err_path, timeout)
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        payload, finished = _read_until(read_fd, start + timeout)
    finally:
        os.close(read_fd)
    if not finished:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    seconds = time.monotonic() - start
    if not finished:
        return Outcome(
            "hang", f"no result after {timeout:g} s", _tail(err_path), seconds
        )
    if payload and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        try:
            return Outcome(**json.loads(payload))
        except (ValueError, TypeError):
            pass
    return Outcome("crash", _describe_status(status), _tail(err_path), seconds)


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return f"killed by {signal.Signals(number).name}"
    return f"exited with status {os.WEXITSTATUS(status)} without a result"


def simulate_cores() -> None:
    """This process reports at least 8 usable cores: the package clips n_threads to
    the cores (with a warning), and the batch splits of 3 to 8 threads (where a heap
    overflow once hid) are to run as drawn on any machine. thread_budget looks
    available_cores up in its module at each call."""
    module = thread_policy_module()
    real = module.available_cores()
    module.available_cores = lambda: max(real, _SIMULATED_CORES)


def thread_policy_module() -> Any:
    """The package's module of thread_budget and available_cores: _threads (since
    the thread policy moved out of _network), or _network before."""
    import importlib

    for name in ("positive_mlp._threads", "positive_mlp._network"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "available_cores"):
            return module
    raise ImportError("no available_cores in positive_mlp._threads or _network")


def supervise(timeout: float) -> None:
    """Supervisor loop: a case JSON per stdin line, an outcome JSON per stdout line."""
    import sklearn.neural_network  # noqa: F401

    import positive_mlp  # noqa: F401 - imported once, before the forks

    simulate_cores()
    with tempfile.TemporaryDirectory(prefix="pmlp-fuzz-") as workdir:
        for line in sys.stdin:
            outcome = run_isolated(json.loads(line), timeout, workdir)
            sys.stdout.write(json.dumps(asdict(outcome)) + "\n")
            sys.stdout.flush()


class Supervisor:
    """A supervisor subprocess running one case at a time."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [sys.executable, str(FUZZ_PATH), "--supervise", "--timeout", str(timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_child_environment(),
        )
        self.job: tuple[int, Case] | None = None
        self.started = 0.0

    def submit(self, index: int, case: Case) -> None:
        assert self.proc.stdin is not None
        self.job, self.started = (index, case), time.monotonic()
        self.proc.stdin.write(json.dumps(case) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> Outcome:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.job = None
        if not line:
            return Outcome(
                "crash",
                "the supervisor process died",
                seconds=time.monotonic() - self.started,
            )
        return Outcome(**json.loads(line))

    def overdue(self) -> bool:
        return self.job is not None and (
            time.monotonic() - self.started > self.timeout + 30
        )

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def run_parallel(
    cases: Iterable[tuple[int, Case]], workers: int, timeout: float
) -> Iterator[tuple[int, Case, Outcome]]:
    """Runs cases on ``workers`` supervisors, yielding results as they come."""
    pending = iter(cases)
    pool = [Supervisor(timeout) for _ in range(max(1, workers))]
    try:
        while True:
            yield from _submit_idle(pool, pending)
            busy = {sup.proc.stdout: sup for sup in pool if sup.job is not None}
            if not busy:
                return
            ready, _, _ = select.select(list(busy), [], [], 5.0)
            for stream in ready:
                index, case = busy[stream].job  # type: ignore[misc]
                yield index, case, busy[stream].receive()
            yield from _replace_stuck(pool)
    finally:
        for sup in pool:
            sup.close()


def _submit_idle(
    pool: list[Supervisor], pending: Iterator[tuple[int, Case]]
) -> Iterator[tuple[int, Case, Outcome]]:
    """Gives the next case to each idle supervisor (a dead one counts as a crash)."""
    for position, sup in enumerate(pool):
        if sup.job is not None:
            continue
        job = next(pending, None)
        if job is None:
            return
        try:
            sup.submit(*job)
        except BrokenPipeError:
            yield (*job, Outcome("crash", "the supervisor process died"))
            sup.close()
            pool[position] = Supervisor(sup.timeout)


def _replace_stuck(pool: list[Supervisor]) -> Iterator[tuple[int, Case, Outcome]]:
    """Restarts supervisors that died or stopped answering."""
    for position, sup in enumerate(pool):
        if sup.overdue() or (sup.job is None and sup.proc.poll() is not None):
            if sup.job is not None:
                yield (*sup.job, Outcome("hang", "the supervisor stopped answering"))
            sup.close()
            pool[position] = Supervisor(sup.timeout)


# ------------------------------------------------------------------ campaigns


@dataclass
class Summary:
    seed: int
    workers: int
    seconds: float = 0.0
    counts: Counter = field(default_factory=Counter)
    rejections: Counter = field(default_factory=Counter)
    failures: list[Json] = field(default_factory=list)
    slowest: list[tuple[float, str]] = field(default_factory=list)
    sparse: int = 0  # cases with scipy.sparse inputs
    malformed: int = 0  # of which with a malformed CSR call
    compared: int = 0  # fits compared with their dense twins
    # (loss, outcome status) for loss='tweedie' and loss='quantile' cases
    new_losses: Counter = field(default_factory=Counter)
    edges: Counter = field(default_factory=Counter)  # cases by edge drawn
    limited: Counter = field(default_factory=Counter)  # statuses under a limit
    memory_errors: int = 0  # of the limited cases, MemoryErrors (allowed)
    refused: int = 0  # of the limited cases, those where threads were refused

    @property
    def cases(self) -> int:
        return sum(self.counts.values())

    def add(self, case: Case, outcome: Outcome) -> None:
        self.counts[outcome.status] += 1
        loss = case["params"].get("loss")
        if loss in _NEW_LOSS_SHARES:
            self.new_losses[loss, outcome.status] += 1
        self.edges.update(case.get("edges", []))
        if case.get("limit"):
            self.limited[outcome.status] += 1
            self.memory_errors += outcome.message.startswith("MemoryError")
            self.refused += outcome.refused > 0
        if case["data"].get("sparse"):
            self.sparse += 1
            self.malformed += case.get("expect_error") == "malformed_csr"
            self.compared += outcome.compared
        self.slowest = sorted([*self.slowest, (outcome.seconds, case["id"])])[-3:]
        if outcome.status == "rejected":
            self.rejections[signature(outcome.message)] += 1
        if outcome.failed:
            self.failures.append(
                {
                    "kind": outcome.status,
                    "message": outcome.message,
                    "detail": outcome.detail,
                    "case": case,
                }
            )


def signature(message: str) -> str:
    """A message with its numbers blanked: failures with one cause share it."""
    first = message.splitlines()[0] if message else ""
    return _NUMBER.sub("#", first)[:160]


def campaign_cases(
    seed: int, max_cases: int | None, seconds: float | None
) -> Iterator[tuple[int, Case]]:
    start = time.monotonic()
    index = 0
    while (max_cases is None or index < max_cases) and (
        seconds is None or time.monotonic() - start < seconds
    ):
        yield index, draw_case(seed, index)
        index += 1


def run_campaign(
    seed: int,
    max_cases: int | None = None,
    seconds: float | None = None,
    workers: int = 2,
    timeout: float = DEFAULT_TIMEOUT,
    on_failure: Callable[[Json], None] | None = None,
) -> Summary:
    """Draws and runs cases until ``max_cases`` or ``seconds`` is reached."""
    if max_cases is None and seconds is None:
        raise ValueError("give max_cases or seconds")
    summary = Summary(seed, workers)
    start = time.monotonic()
    for _, case, outcome in run_parallel(
        campaign_cases(seed, max_cases, seconds), workers, timeout
    ):
        before = len(summary.failures)
        summary.add(case, outcome)
        if on_failure and len(summary.failures) > before:
            on_failure(summary.failures[-1])
    summary.seconds = time.monotonic() - start
    summary.failures.sort(key=lambda f: int(f["case"]["id"].split(":")[-1]))
    return summary


def case_size(case: Case) -> int:
    data = case["data"]
    return data["n"] * data["n_features"] * data["n_outputs"] * len(case["calls"])


def _new_loss_line(summary: Summary) -> str:
    """'tweedie N cases (ok a, rejected b, ...); quantile M cases (...)'."""
    parts = []
    for loss in _NEW_LOSS_SHARES:
        statuses = {
            status: n
            for (name, status), n in summary.new_losses.items()
            if name == loss
        }
        detail = ", ".join(f"{status} {n}" for status, n in sorted(statuses.items()))
        parts.append(f"{loss} {sum(statuses.values())} cases ({detail})")
    return "new losses: " + "; ".join(parts)


def _limits_line(summary: Summary) -> str:
    """'edges: ...; address-space limits: N cases (ok a, ...), m MemoryError(s)'."""
    edges = ", ".join(f"{name} {n}" for name, n in sorted(summary.edges.items()))
    statuses = ", ".join(f"{s} {n}" for s, n in sorted(summary.limited.items()))
    return (
        f"edges: {edges or 'none'}; address-space limits: "
        f"{sum(summary.limited.values())} cases ({statuses}), "
        f"{summary.memory_errors} MemoryError(s), {summary.refused} with threads "
        "refused"
    )


def format_summary(summary: Summary, details: bool = True) -> str:
    counts = summary.counts
    lines = [
        (
            f"fuzz: {summary.cases} cases in {summary.seconds:.1f} s (seed "
            f"{summary.seed}, {summary.workers} worker(s)): {counts['ok']} ok, "
            f"{counts['rejected']} raised an allowed error, {counts['expected']} "
            "invalid "
            f"refused as expected, {len(summary.failures)} failed"
        ),
        "failures by kind: "
        + ", ".join(f"{kind} {counts[kind]}" for kind in FAILURE_KINDS),
        (
            f"sparse inputs: {summary.sparse} cases, {summary.malformed} with a "
            f"malformed CSR; {summary.compared} sparse fits compared with dense twins"
        ),
        _new_loss_line(summary),
        _limits_line(summary),
        "slowest cases: "
        + ", ".join(f"{case_id} {s:.1f} s" for s, case_id in reversed(summary.slowest)),
    ]
    if summary.rejections:
        lines.append("allowed errors on valid input:")
        lines += [f"  {n:4d} x {sig}" for sig, n in summary.rejections.most_common(8)]
    groups: dict[str, list[Json]] = {}
    for failure in summary.failures:
        groups.setdefault(
            f"[{failure['kind']}] {signature(failure['message'])}", []
        ).append(failure)
    if groups:
        lines.append(f"distinct failure messages: {len(groups)}")
    for key, members in groups.items():
        smallest = min(members, key=lambda f: case_size(f["case"]))
        lines.append(f"  {len(members):4d} x {key}")
        if details:
            lines.append(f"       smallest: {smallest['message'][:400]}")
            replay = json.dumps(smallest["case"])
            lines.append(f"       python tools/fuzz.py --replay '{replay}'")
    if details and summary.failures:
        lines.append("all failures:")
        for f in summary.failures:
            lines.append(f"  [{f['kind']}] {f['message'][:300]}")
            lines.append(f"    {json.dumps(f['case'])}")
    return "\n".join(lines)


# ------------------------------------------------------------------ shrinking


def _shrink_candidates(case: Case) -> Iterator[Case]:
    """Simpler variants of a case: fewer rows, features, outputs, layers, params."""

    def variant(edit: Callable[[Case], None]) -> Case:
        new = json.loads(json.dumps(case))
        edit(new)
        return new

    data, params = case["data"], case["params"]
    # the call an invalid case must be refused at stays (without it the case would
    # fail as "accepted invalid input" whatever the package does)
    invalid_at = case.get("expect_error_at", 0) if case.get("expect_error") else -1
    for i in range(len(case["calls"])):
        kept = i == invalid_at or _malformed_parts(case["calls"][i])
        if len(case["calls"]) > 1 and not kept:
            yield variant(lambda c, i=i: _drop_call(c, i))
        n = case["calls"][i].get("n", data["n"])
        for smaller in sorted({n // 2, n - 1, (n * 3) // 4} - {n}):
            if smaller >= 1:
                yield variant(lambda c, i=i, m=smaller: c["calls"][i].update(n=m))
        for key in ("sample_weight", "val", "set_params"):
            if case["calls"][i].get(key):
                yield variant(lambda c, i=i, k=key: c["calls"][i].pop(k))
    if case.get("limit"):
        yield variant(lambda c: c.pop("limit"))
    yield from _shrink_data(case, variant)
    defaults = {
        "loss": "squared_error",
        "output_threshold": 0.0,
        "nonneg_weights": None,
        "monotonic_cst": None,
        "output_constraint": None,
        "target_scaling": "auto",
        "n_threads": None,
        "early_stopping": False,
        "warm_start": False,
        "alpha": 0.0001,
        "verbose": False,
        "nonneg_bias": False,
        "tol": 1e-4,
    }
    for key in sorted(params):
        if key in defaults and params[key] != defaults[key]:
            yield variant(lambda c, k=key: c["params"].update({k: defaults[k]}))
        elif key not in defaults and key not in (
            "hidden_layer_sizes",
            "solver",
            "output_activation",
            "random_state",
        ):
            yield variant(lambda c, k=key: c["params"].pop(k))
    levels = params.get("quantile")
    if isinstance(levels, list) and len(levels) > 1:
        for j in range(len(levels)):
            yield variant(lambda c, j=j: c["params"]["quantile"].pop(j))
    hidden = params["hidden_layer_sizes"]
    for j in range(len(hidden)):
        yield variant(lambda c, j=j: c["params"]["hidden_layer_sizes"].pop(j))
        if isinstance(hidden[j], int) and hidden[j] > 1:
            yield variant(
                lambda c, j=j: c["params"]["hidden_layer_sizes"].__setitem__(
                    j, max(1, hidden[j] // 2)
                )
            )


def _drop_call(case: Case, i: int) -> None:
    case["calls"].pop(i)
    if case.get("expect_error_at", 0) > i:
        case["expect_error_at"] -= 1


def _shrink_sparse(
    case: Case, variant: Callable[[Callable[[Case], None]], Case]
) -> Iterator[Case]:
    """Dense inputs, then each sparse knob at its plain value."""
    spec = case["data"].get("sparse")
    if not spec:
        return
    if case.get("expect_error") != "malformed_csr":
        yield variant(lambda c: c["data"].pop("sparse"))
    plain = {
        "format": "csr_matrix",
        "index64": False,
        "density": 1.0,
        "zero_rows": 0.0,
        "explicit_zeros": 0.0,
        "duplicates": 0.0,
        "cancel": False,
        "unsorted": False,
        "compare_dense": False,
    }
    for key, value in plain.items():
        if spec.get(key) != value:
            yield variant(lambda c, k=key, v=value: c["data"]["sparse"].update({k: v}))


def _shrink_data(
    case: Case, variant: Callable[[Callable[[Case], None]], Case]
) -> Iterator[Case]:
    yield from _shrink_sparse(case, variant)
    data = case["data"]
    if data["n_outputs"] > 1:
        yield variant(lambda c: _set_outputs(c, 1))
    p = data["n_features"]
    for smaller in sorted({p // 2, p - 1} - {p}):
        if smaller >= 1:
            yield variant(lambda c, m=smaller: _set_features(c, m))
    plain = {
        "view": None,
        "readonly": False,
        "container": "numpy",
        "order": "C",
        "const_cols": [],
        "col_log10_scales": {},
        "x_offset": 0.0,
        "x_log10_scale": 0.0,
        "y_zero_share": 0.0,
        "y_dtype": None,
        "y_extreme": None,
    }
    for key, value in plain.items():
        if data.get(key) != value:
            yield variant(lambda c, k=key, v=value: c["data"].update({k: v}))


def _set_outputs(case: Case, k: int) -> None:
    data, params = case["data"], case["params"]
    data["n_outputs"] = k
    data["y_log10_scale"] = data["y_log10_scale"][:k]
    for key in ("output_threshold", "target_scaling"):
        if isinstance(params.get(key), list):
            params[key] = params[key][:k]


def _set_features(case: Case, p: int) -> None:
    data, params = case["data"], case["params"]
    data["n_features"] = p
    data["const_cols"] = [c for c in data["const_cols"] if c < p]
    data["col_log10_scales"] = {
        c: e for c, e in data["col_log10_scales"].items() if int(c) < p
    }
    if params.get("monotonic_cst") is not None:
        params["monotonic_cst"] = params["monotonic_cst"][:p]


def shrink(case: Case, timeout: float, rounds: int = 200) -> tuple[Case, Outcome]:
    """Greedy simplification keeping the failure's kind and message signature."""
    pool = Supervisor(timeout)
    try:

        def run(c: Case) -> Outcome:
            pool.submit(0, c)
            return pool.receive()

        target = run(case)
        if not target.failed:
            return case, target
        key = (target.status, signature(target.message))
        improved, tries = True, 0
        while improved and tries < rounds:
            improved = False
            for candidate in _shrink_candidates(case):
                tries += 1
                outcome = run(candidate)
                if outcome.status == "crash" and pool.proc.poll() is not None:
                    pool.close()
                    pool = Supervisor(timeout)
                if (outcome.status, signature(outcome.message)) == key:
                    case, target, improved = candidate, outcome, True
                    print(
                        f"shrunk ({tries} tries): {json.dumps(case)}", file=sys.stderr
                    )
                    break
                if tries >= rounds:
                    break
        return case, target
    finally:
        pool.close()


# ------------------------------------------------------------------ command line


def _load_cases(path: str) -> list[Case]:
    cases = []
    for line in Path(path).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            record = json.loads(line)
            cases.append(record.get("case", record))
    return cases


def _replay(cases: list[Case]) -> int:
    """Runs cases in this process: a failure raises, with its traceback."""
    for case in cases:
        print(f"replaying case {case.get('id', '?')}", file=sys.stderr)
        outcome = run_case(case, reraise=True)
        print(f"  {outcome.status}: {outcome.message[:500]}", file=sys.stderr)
        if outcome.status != "ok":  # an allowed error: where it came from
            print(outcome.detail, file=sys.stderr)
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, help="stop drawing cases after this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, help="stop after this many cases")
    parser.add_argument("--out", help="write failures here as JSON lines")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds per case before it counts as a hang",
    )
    parser.add_argument("--replay", help="run this case JSON in-process")
    parser.add_argument("--replay-file", help="run the cases of this JSON-lines file")
    parser.add_argument("--shrink-file", help="simplify a failing case of this file")
    parser.add_argument("--index", type=int, help="only this line of the file")
    parser.add_argument("--quiet", action="store_true", help="summary without cases")
    parser.add_argument("--supervise", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _selected(path: str, index: int | None) -> list[Case]:
    cases = _load_cases(path)
    return cases if index is None else [cases[index]]


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.supervise:
        supervise(args.timeout)
        return 0
    if args.replay or args.replay_file:
        simulate_cores()  # as in the supervisors
        return _replay(
            [json.loads(args.replay)]
            if args.replay
            else _selected(args.replay_file, args.index)
        )
    if args.shrink_file:
        for case in _selected(args.shrink_file, args.index):
            small, outcome = shrink(case, args.timeout)
            print(f"[{outcome.status}] {outcome.message[:300]}\n{json.dumps(small)}")
        return 0
    if args.seconds is None and args.cases is None:
        args.seconds = 60.0

    def report(failure: Json) -> None:
        print(
            f"FAIL [{failure['kind']}] case {failure['case']['id']}: "
            f"{failure['message'][:200]}",
            file=sys.stderr,
            flush=True,
        )

    summary = run_campaign(
        args.seed,
        args.cases,
        args.seconds,
        args.workers,
        args.timeout,
        on_failure=report,
    )
    if args.out:
        with open(args.out, "w") as f:
            f.writelines(json.dumps(failure) + "\n" for failure in summary.failures)
    print(format_summary(summary, details=not args.quiet))
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(main())
