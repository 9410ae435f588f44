"""The settings of a fit call (``_settings.resolve``): every 'auto' rule at its
boundaries, the rows early stopping holds out, the batch rule, partial_fit and
explicit validation sets. Through fit, test_training_controls checks that training
follows these settings."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

from positive_mlp import PositiveMLPRegressor
from positive_mlp._losses import resolve_loss
from positive_mlp._settings import (
    Data,
    Settings,
    input_bins,
    is_plain_mlp,
    resolve,
    target_scaling,
)

# MLPRegressor's model: a free linear output with the squared error.
PLAIN = {"output_activation": "identity"}


def _rows(n: int) -> Data:
    return Data(np.zeros((n, 2)), np.ones((n, 1)))


def _resolve(n_rows: int, validation: int | None = None, **kwargs) -> Settings:
    """The settings of a fit on ``n_rows`` rows, with an explicit validation set of
    ``validation`` rows or none; the estimator's parameters from ``kwargs``, but for
    those ``resolve`` takes (``incremental``, ``dropped``)."""
    options = {
        key: kwargs.pop(key) for key in ("incremental", "dropped") if key in kwargs
    }
    params = PositiveMLPRegressor(**kwargs).get_params()
    loss = resolve_loss(params["loss"], params["power"], params["quantile"])
    held = None if validation is None else _rows(validation)
    return resolve(params, _rows(n_rows), loss, held, **options)


# --- early_stopping='auto' -----------------------------------------------------------


@pytest.mark.parametrize(
    "n_rows, fraction, stops_early",
    [
        (290, 0.1, False),  # 29 rows would be held out: too few to judge by
        (291, 0.1, True),  # ceil(29.1) = 30 rows, as train_test_split counts them
        (300, 0.1, True),
        (145, 0.2, False),
        (146, 0.2, True),
    ],
)
def test_auto_early_stopping_needs_30_held_out_rows(n_rows, fraction, stops_early):
    settings = _resolve(n_rows, validation_fraction=fraction)
    assert settings.early_stopping == stops_early
    expected = math.ceil(fraction * n_rows) if stops_early else 0
    assert settings.held_out_rows == expected


@pytest.mark.parametrize(
    "params, stops_early",
    [
        ({}, True),
        ({"loss": "poisson", "output_activation": "exp"}, True),
        (PLAIN, False),  # MLPRegressor's model: trained as MLPRegressor does
        ({**PLAIN, "early_stopping": True}, True),
        ({**PLAIN, "output_constraint": "penalty"}, True),  # not MLPRegressor's
        # Tweedie's power 0 is the squared error, but not loss='squared_error'
        ({**PLAIN, "loss": "tweedie", "power": 0.0}, True),
        ({"early_stopping": False}, False),
        ({"solver": "sgd"}, True),
        ({"solver": "lbfgs"}, False),  # L-BFGS-B never stops early
        ({"solver": "lbfgs", "early_stopping": True}, False),
    ],
)
def test_auto_early_stopping_by_model_and_solver(params, stops_early):
    assert _resolve(10_000, **params).early_stopping == stops_early


def test_explicit_early_stopping_ignores_the_row_count():
    assert _resolve(20, early_stopping=True).early_stopping
    assert not _resolve(10_000, early_stopping=False).early_stopping


def test_an_explicit_validation_set_turns_auto_early_stopping_on_holding_out_none():
    settings = _resolve(20, validation=5)
    assert settings.early_stopping
    assert settings.held_out_rows == 0
    assert settings.batch_size == 20  # every row trains
    # MLPRegressor's model keeps it off ('auto'): the estimator refuses X_val there
    assert not _resolve(20, validation=5, **PLAIN).early_stopping


# --- partial_fit ---------------------------------------------------------------------


@pytest.mark.parametrize("early_stopping", ["auto", True])
def test_partial_fit_never_stops_early(early_stopping):
    settings = _resolve(10_000, early_stopping=early_stopping, incremental=True)
    assert settings.incremental
    assert not settings.early_stopping
    assert settings.held_out_rows == 0
    assert settings.n_iter_no_change == 20  # the training loss decides
    assert settings.batch_size == 200
    assert not _resolve(10_000).incremental


# --- the rows held out ---------------------------------------------------------------


def test_the_held_out_rows_leave_the_rows_batches_and_patience_count():
    # 1,000 rows: 100 held out, 900 to train on in 5 batches of 200, whose 60 epochs
    # make 300 steps
    settings = _resolve(1000, early_stopping=True)
    assert settings.held_out_rows == 100
    assert settings.batch_size == 200
    assert settings.n_iter_no_change == 60
    # 205 rows: 21 held out, one batch of the 184 left
    settings = _resolve(205, early_stopping=True)
    assert (settings.held_out_rows, settings.batch_size) == (21, 184)


def test_too_few_rows_to_hold_out_is_an_error_naming_the_dropped_rows():
    with pytest.raises(ValueError, match=r"of the 2 sample\(s\) of non-zero weight "):
        _resolve(2, early_stopping=True, dropped=3)
    with pytest.raises(ValueError, match=r"of the 2 sample\(s\): 1 to validate on"):
        _resolve(2, early_stopping=True)
    # none held out, nothing to check
    assert not _resolve(2, early_stopping=False).early_stopping


# --- n_iter_no_change='auto' ---------------------------------------------------------


@pytest.mark.parametrize(
    "params, rows, patience",
    [
        ({}, 3000, 20),  # 15 batches of 200: 20 epochs are 300 steps
        ({}, 3001, 20),  # 16 batches: 19 epochs would do, but never fewer than 20
        ({}, 2800, 22),  # 14 batches: 21 epochs are 294 steps, 22 are 308
        ({}, 2000, 30),  # 10 batches
        ({}, 450, 100),  # 3 batches
        ({}, 200, 300),  # one batch of 200
        ({}, 100, 300),  # one batch of 100
        ({"batch_size": 32}, 450, 20),  # 15 batches
        ({"batch_size": 1000}, 450, 300),  # clipped to one batch of 450
        ({"n_iter_no_change": 7}, 450, 7),
        ({"n_iter_no_change": np.inf}, 450, np.inf),
        ({**PLAIN, "early_stopping": True}, 450, 10),  # MLPRegressor's 10
    ],
)
def test_auto_patience_with_early_stopping_counts_steps(params, rows, patience):
    # an explicit validation set: every row trains
    settings = _resolve(rows, validation=50, **params)
    assert settings.early_stopping
    assert settings.n_iter_no_change == patience


@pytest.mark.parametrize(
    "params, patience",
    [
        ({"early_stopping": False}, 20),  # the training loss is not a noisy score
        ({"solver": "lbfgs"}, 20),
        (PLAIN, 10),
        ({**PLAIN, "n_iter_no_change": 3}, 3),
    ],
)
def test_auto_patience_without_early_stopping_is_in_epochs(params, patience):
    settings = _resolve(450, **params)
    assert not settings.early_stopping
    assert settings.n_iter_no_change == patience


# --- batch_size ----------------------------------------------------------------------


@pytest.mark.parametrize("rows, batch", [(1, 1), (199, 199), (200, 200), (201, 200)])
def test_auto_batch_size_is_at_most_200_rows(rows, batch):
    settings = _resolve(rows, early_stopping=False)
    assert settings.batch_size == batch
    assert not settings.batch_size_clipped


@pytest.mark.parametrize(
    "rows, params, batch, clipped",
    [
        (50, {}, 50, False),
        (49, {}, 49, True),
        # 55 rows hold out 6: the 49 left to train on are fewer than a batch
        (55, {"early_stopping": True}, 49, True),
        (49, {"solver": "sgd"}, 49, True),
        (49, {"solver": "lbfgs"}, 49, False),  # no batches: nothing to warn about
    ],
)
def test_a_batch_size_above_the_training_rows_is_clipped(rows, params, batch, clipped):
    settings = _resolve(rows, batch_size=50, **params)
    assert settings.batch_size == batch
    assert settings.batch_size_clipped == clipped


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_clipped_batch_size_is_warned_as_mlpregressor_warns():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(20, 2)), rng.uniform(1, 2, size=20)
    params = {"hidden_layer_sizes": (3,), "max_iter": 2, "batch_size": 50}
    with pytest.warns(UserWarning, match="Got `batch_size` less than 1 or larger"):
        PositiveMLPRegressor(**params).fit(X, y)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Got `batch_size`")
        PositiveMLPRegressor(**params, solver="lbfgs").fit(X, y)


# --- what the settings carry ---------------------------------------------------------


def test_settings_are_frozen_and_carry_the_parameters_they_take():
    params = PositiveMLPRegressor(
        alpha=0.5, output_constraint="lagrangian", output_activation="identity"
    ).get_params()
    loss = resolve_loss("squared_error")
    settings = resolve(params, _rows(10), loss)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.alpha = 1.0
    derived = {
        "loss",
        "lagrangian",
        "incremental",
        "early_stopping",
        "held_out_rows",
        "n_iter_no_change",
        "batch_size",
        "batch_size_clipped",
    }
    for field in dataclasses.fields(Settings):
        if field.name not in derived:
            assert getattr(settings, field.name) == params[field.name], field.name
    assert settings.loss is loss
    assert settings.lagrangian


@pytest.mark.parametrize(
    "params, plain, scaling",
    [
        ({}, False, "std"),
        (PLAIN, True, None),
        ({**PLAIN, "loss": "poisson"}, False, "std"),
        ({**PLAIN, "output_constraint": "lagrangian"}, False, "std"),
        ({**PLAIN, "target_scaling": "rms"}, True, "rms"),
        ({"target_scaling": None}, False, None),
    ],
)
def test_mlpregressor_model_and_auto_target_scaling(params, plain, scaling):
    params = PositiveMLPRegressor(**params).get_params()
    loss = resolve_loss(params["loss"], params["power"], params["quantile"])
    assert is_plain_mlp(params, loss) == plain
    assert target_scaling(params, loss) == scaling


@pytest.mark.parametrize(
    "rows, features, params, sparse, bins",
    [
        (3999, 10, {}, False, None),  # below 4,000 rows: none
        (4000, 10, {}, False, 32),
        (4000, 10, PLAIN, False, None),  # MLPRegressor's model stays as it is
        (4000, 10, {}, True, None),  # sparse X stays sparse
        (50_000, 20, {}, False, 32),  # 32,000,000 values: within 2**25
        (100_000, 20, {}, False, 16),  # 32 bins would pass 2**25 values
        (100_000, 40, {}, False, 8),
        (1_000_000, 20, {}, False, None),  # fewer than 2 bins: none
        (10, 3, {"input_bins": 5}, False, 5),  # a count is taken as it is
        (10**7, 3, {"input_bins": None}, False, None),
        (100, 3, {"input_bins": 5}, True, 5),  # refused by the estimator, not here
    ],
)
def test_auto_input_bins(rows, features, params, sparse, bins):
    values = PositiveMLPRegressor(**params).get_params()
    loss = resolve_loss(values["loss"], values["power"], values["quantile"])
    assert input_bins(values, loss, rows, features, sparse) == bins
    # A stream's first batch: 'auto' encodes nothing; a count is taken as it is.
    streamed = input_bins(values, loss, rows, features, sparse, incremental=True)
    assert streamed == (None if params.get("input_bins", "auto") == "auto" else bins)
