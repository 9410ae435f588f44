"""The training settings of one fit call, resolved in one place from the parameters.

``resolve`` turns ``get_params()`` and the data into a frozen ``Settings``: every
'auto' rule (``early_stopping``, ``n_iter_no_change``, ``batch_size``; MLPRegressor's
model trained as MLPRegressor does) and the rows early stopping holds out are decided
here, once; so are the 'auto' rules of the model's inputs (``input_bins``,
``input_scaling``, ``n_members``) and targets (``target_scaling``). The solvers
and the estimator only read the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from positive_mlp._options import SOLVERS

if TYPE_CHECKING:
    from positive_mlp._losses import Loss

# early_stopping='auto' needs this many held-out rows: a score over fewer is too
# noisy to stop on.
_MIN_AUTO_VALIDATION_ROWS = 30
# n_iter_no_change='auto' (but for MLPRegressor's model): this many epochs, and with
# early stopping at least as many optimiser steps as 20 epochs make from 3,000 rows
# on. On small data an epoch is a few steps (450 rows are 3 batches of 200): 20 of
# them stopped on noise in the held-out score (recreation, bench_quality.py).
_MIN_PATIENCE = 20
_MIN_PATIENCE_STEPS = 300
# input_bins='auto': this many bins per feature from this many training rows on.
# On 14 real data sets (bench_quality.py) the encoding helped the larger ones (up to
# 27% lower deviance) and cost the ones of a few hundred rows (up to 16% more). On
# the sets from 4,000 rows 32 bins beat 16 (4 members: the 14 sets' geometric mean
# of ours / best other 1.000 -> 0.990, the held-out sets' 1.046 -> 1.028); 64 were
# better still (0.988, 1.025) but took the median fit past 1 s.
_AUTO_BINS = 32
_AUTO_BINS_MIN_ROWS = 4000
# ... with fewer bins where the encoded columns would pass this many values (256 MiB
# in float64; 10 million rows of 20 features would otherwise take 27 GB), and
# none below 2 bins.
_AUTO_BINS_MAX_VALUES = 2**25
# n_members='auto': members of the in-model ensemble. On the 14 data sets of
# bench_quality.py 4 members (stopping apart) took the geometric mean of ours / best
# other from 1.011 to 1.000 (8 members: 1.000, for twice the time again), and on
# the 10 held-out sets from 1.062 to 1.046; recreation lost 5%, no other set more
# than 0.5%.
_AUTO_MEMBERS = 4
# MLPRegressor's n_iter_no_change, for its model under 'auto'.
_MLP_REGRESSOR_PATIENCE = 10
# batch_size='auto': MLPRegressor's min(200, n_samples).
_AUTO_BATCH_ROWS = 200

BATCH_SIZE_CLIPPED = (
    "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped"
)


@dataclass
class Data:
    """Rows to train or validate on: X, 2-D y (one column per target, whatever the
    quantile levels), and optional sample weights."""

    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None = None
    multipliers: np.ndarray | None = None  # 'lagrangian': one per output, in-out


@dataclass(frozen=True)
class Settings:
    """The training parameters of one fit call, every 'auto' resolved: the solvers
    see these and the training record, never the estimator."""

    solver: str
    alpha: float
    learning_rate: str
    learning_rate_init: float
    power_t: float
    max_iter: int
    shuffle: bool
    tol: float
    verbose: bool
    momentum: float
    nesterovs_momentum: bool
    beta_1: float
    beta_2: float
    epsilon: float
    max_fun: int
    validation_fraction: float
    loss: Loss  # resolved from loss, power and quantile: its validation score
    lagrangian: bool  # output_constraint='lagrangian': multipliers to carry
    incremental: bool  # partial_fit: one epoch, nothing to stop early
    early_stopping: bool  # whether this call scores a validation set
    held_out_rows: int  # rows early stopping holds out of the data (0: none)
    n_iter_no_change: int | float
    batch_size: int  # rows of a batch, for the training rows
    batch_size_clipped: bool  # a stochastic solver warns that it clipped batch_size


# The parameters Settings takes as they are.
_AS_GIVEN = (
    "solver",
    "alpha",
    "learning_rate",
    "learning_rate_init",
    "power_t",
    "max_iter",
    "shuffle",
    "tol",
    "verbose",
    "momentum",
    "nesterovs_momentum",
    "beta_1",
    "beta_2",
    "epsilon",
    "max_fun",
    "validation_fraction",
)


def resolve(
    params: dict,
    data: Data,
    loss: Loss,
    validation: Data | None = None,
    incremental: bool = False,
    dropped: int = 0,
) -> Settings:
    """The settings of a fit call from ``get_params()`` and the loss resolved from
    them, for training on ``data`` (``dropped`` rows of zero weight were taken out
    of it before) with an explicit early-stopping set ``validation`` or none, in a
    ``partial_fit`` call when ``incremental``.

    Raises the estimator's error when early stopping cannot hold out enough rows.
    """
    early_stopping = _stops_early(params, data, loss, validation, incremental)
    training_rows = data.X.shape[0]
    held_out = 0
    if early_stopping and validation is None:
        held_out = _held_out_rows(training_rows, dropped, params["validation_fraction"])
        training_rows -= held_out
    batch_size = params["batch_size"]
    return Settings(
        **{name: params[name] for name in _AS_GIVEN},
        loss=loss,
        lagrangian=params["output_constraint"] == "lagrangian",
        incremental=incremental,
        early_stopping=early_stopping,
        held_out_rows=held_out,
        n_iter_no_change=_patience(params, loss, training_rows, early_stopping),
        batch_size=_batch_rows(batch_size, training_rows),
        batch_size_clipped=(
            SOLVERS[params["solver"]].stochastic
            and batch_size != "auto"
            and batch_size > training_rows
        ),
    )


def is_plain_mlp(params: dict, loss: Loss) -> bool:
    """Whether this is MLPRegressor's model (a free linear output, squared error,
    no constraint), which the 'auto' settings train as MLPRegressor does."""
    return (
        params["output_activation"] == "identity"
        and loss.mlp_regressor
        and params["output_constraint"] is None
    )


def target_scaling(params: dict, loss: Loss):
    """``target_scaling`` with 'auto' resolved: none for MLPRegressor's model,
    'std' for the others."""
    setting = params["target_scaling"]
    if isinstance(setting, str) and setting == "auto":
        return None if is_plain_mlp(params, loss) else "std"
    return setting


def input_bins(
    params: dict,
    loss: Loss,
    n_rows: int,
    n_encodable: int,
    sparse: bool,
    incremental: bool = False,
) -> int | None:
    """``input_bins`` with 'auto' resolved for a first fit on ``n_rows`` rows of
    which ``n_encodable`` features would be encoded (a ``partial_fit`` call when
    ``incremental``): none for MLPRegressor's model, sparse X, a first
    ``partial_fit`` or fewer than 4,000 rows; else 32, or as many as keep the
    encoded columns within 2**25 values (none below 2)."""
    setting = params["input_bins"]
    if not (isinstance(setting, str) and setting == "auto"):
        return setting
    if sparse or incremental or is_plain_mlp(params, loss):
        return None
    if n_rows < _AUTO_BINS_MIN_ROWS:
        return None
    affordable = _AUTO_BINS_MAX_VALUES // (n_rows * max(n_encodable, 1))
    n_bins = min(_AUTO_BINS, affordable)
    return n_bins if n_bins >= 2 else None


def input_scaling(
    params: dict, loss: Loss, sparse: bool, bias_constrained: bool = False
) -> str | None:
    """``input_scaling`` with 'auto' resolved for a first fit: none for
    MLPRegressor's model and sparse X (centring would densify it), 'rms' where the
    first layer's biases are sign-constrained (centring would move them when the
    scaling is folded into them), else 'standard'.

    Refuses 'standard' in those last two cases, naming what works instead.
    """
    setting = params["input_scaling"]
    if setting == "standard" and (sparse or bias_constrained):
        why = (
            "X is sparse: centring would make it dense"
            if sparse
            else "nonneg_bias keeps the first layer's biases >= 0, and folding the "
            "centring into them would move them"
        )
        raise ValueError(
            f"input_scaling='standard' centres each feature, but {why}. Set "
            "input_scaling='rms' (scales without centring), None, or 'auto'."
        )
    if not (isinstance(setting, str) and setting == "auto"):
        return setting
    if sparse or is_plain_mlp(params, loss):
        return None
    return "rms" if bias_constrained else "standard"


def members(
    params: dict, loss: Loss, hidden_layers: int, incremental: bool = False
) -> int:
    """``n_members`` with 'auto' resolved for a first fit (a ``partial_fit`` call
    when ``incremental``): ``_AUTO_MEMBERS`` with Adam, where they were measured;
    one member for the other solvers, MLPRegressor's model, a model without hidden
    layers (members of a convex model would agree) and a first ``partial_fit``
    (whose calls are sized for one network)."""
    setting = params["n_members"]
    if not (isinstance(setting, str) and setting == "auto"):
        return int(setting)
    one = (
        incremental
        or params["solver"] != "adam"
        or is_plain_mlp(params, loss)
        or hidden_layers == 0
    )
    return 1 if one else _AUTO_MEMBERS


def _stops_early(
    params: dict,
    data: Data,
    loss: Loss,
    validation: Data | None = None,
    incremental: bool = False,
) -> bool:
    """``early_stopping`` resolved for a call (see its description): never for
    partial_fit or L-BFGS-B; under 'auto', off for MLPRegressor's model, and on
    with an explicit validation set or enough rows to hold out."""
    if incremental or not SOLVERS[params["solver"]].stochastic:
        return False
    if params["early_stopping"] != "auto":
        return params["early_stopping"]
    if is_plain_mlp(params, loss):
        return False
    held_out = np.ceil(params["validation_fraction"] * data.X.shape[0])
    return validation is not None or held_out >= _MIN_AUTO_VALIDATION_ROWS


def _patience(
    params: dict, loss: Loss, training_rows: int, early_stopping: bool = True
) -> int | float:
    """``n_iter_no_change`` resolved (see its description) for a fit on
    ``training_rows`` rows."""
    if params["n_iter_no_change"] != "auto":
        return params["n_iter_no_change"]
    if is_plain_mlp(params, loss):
        return _MLP_REGRESSOR_PATIENCE
    if not early_stopping:
        return _MIN_PATIENCE
    training_rows = max(training_rows, 1)  # one row: the split's error comes later
    batch = _batch_rows(params["batch_size"], training_rows)
    steps_per_epoch = math.ceil(training_rows / batch)
    return max(_MIN_PATIENCE, math.ceil(_MIN_PATIENCE_STEPS / steps_per_epoch))


def _batch_rows(batch_size, n_samples: int) -> int:
    """The rows of a batch: 'auto' is min(200, n_samples), as MLPRegressor's."""
    if batch_size == "auto":
        return min(_AUTO_BATCH_ROWS, n_samples)
    return int(np.clip(batch_size, 1, n_samples))


def _held_out_rows(n_rows: int, n_dropped: int, fraction: float) -> int:
    """The rows early stopping holds out of ``n_rows`` (train_test_split's count),
    checked: at least 2 to score, and at least 1 left to train on. ``n_dropped``
    rows of zero weight were dropped before, which the message names."""
    held_out = math.ceil(fraction * n_rows)
    if held_out >= 2 and n_rows - held_out >= 1:
        return held_out
    rows = f"{n_rows} sample(s)"
    if n_dropped:
        rows += (
            f" of non-zero weight ({n_dropped} sample(s) of zero weight are dropped "
            "first, as if absent)"
        )
    if n_rows >= 3:
        advice = (
            f"Set validation_fraction in [2/{n_rows}, {n_rows - 1}/{n_rows}], pass "
            "X_val and y_val"
        )
    else:
        more = "more samples of non-zero weight" if n_dropped else "more samples"
        advice = f"Fit on {more} (at least 3), pass X_val and y_val"
    raise ValueError(
        f"early_stopping holds out validation_fraction={fraction} of the {rows}: "
        f"{held_out} to validate on and {n_rows - held_out} to train on, but it "
        f"needs at least 2 and 1. {advice}, or set early_stopping=False."
    )
