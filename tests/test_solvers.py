"""The solvers' module on its own: the two drivers run on a core network with
resolved settings (no estimator), the training record they keep, and L-BFGS-B's
bounds. Through the estimator, test_training_controls checks the same behaviour
against MLPRegressor's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from positive_mlp import PositiveMLPRegressor
from positive_mlp._losses import resolve_loss
from positive_mlp._network import ParameterLayout, build_network
from positive_mlp._options import SOLVERS, WEIGHT_METHODS
from positive_mlp._settings import Data, resolve
from positive_mlp._solvers import (
    DRIVERS,
    SCHEDULES,
    OptimizerState,
    Training,
    TrainingRecord,
    fit_lbfgs,
    fit_stochastic,
    lbfgs_bounds,
    scheduled_rate,
    train,
)

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


def _problem(n_rows: int = 400, seed: int = 0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_rows, 3))
    y = np.exp(0.5 * X[:, :1]) + 0.1 * rng.uniform(size=(n_rows, 1))
    return Data(X, y)


def _run(solver: str, data: Data, **params):
    """A fit of a 3-8-1 softplus network by the driver of ``solver``, with the
    settings ``resolve`` gives for ``params``: the record and the parameters."""
    params = PositiveMLPRegressor(solver=solver, random_state=0, **params).get_params()
    loss = resolve_loss(params["loss"], params["power"], params["quantile"])
    settings = resolve(params, data, loss)
    layout = ParameterLayout((3, 8, 1))
    network = build_network(layout, "relu", "softplus", loss, np.zeros(1), np.float64)
    rng = np.random.RandomState(0)
    start = rng.uniform(-0.5, 0.5, size=layout.n_params)
    params_out = start.copy()
    record = TrainingRecord.fresh(settings.early_stopping)
    train(settings, record, Training(network, params_out, data, rng=rng))
    return record, start, params_out, network


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_each_driver_lowers_the_loss_and_keeps_its_record(solver):
    data = _problem()
    record, start, params, _ = _run(solver, data, max_iter=30, early_stopping=False)
    assert not np.array_equal(params, start)
    assert 1 <= record.n_iter <= 30
    assert len(record.loss_curve) == record.n_iter
    assert record.loss_curve[-1] < record.loss_curve[0]
    assert record.loss == record.loss_curve[-1]
    assert record.validation_scores is None
    if solver == "lbfgs":
        assert record.optimizer_state is None
    else:
        assert record.t == record.n_iter * len(data.y)
        assert isinstance(record.optimizer_state, OptimizerState)
        assert record.optimizer_state.fits(solver, params)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_early_stopping_keeps_the_best_validation_epoch(solver):
    """The settings decide that early stopping runs; the driver holds out the
    resolved rows, scores each epoch and ends on the best epoch's parameters."""
    data = _problem(n_rows=500)
    record, _, params, network = _run(
        solver, data, max_iter=40, early_stopping=True, n_iter_no_change=5
    )
    scores = record.validation_scores
    assert len(scores) == record.n_iter
    assert record.best_validation_score == max(scores)
    assert record.best_loss is None
    assert np.all(np.isfinite(network.predict(params, data.X, 1)))


def test_a_record_survives_its_plain_form():
    data = _problem()
    record, *_ = _run("adam", data, max_iter=3, early_stopping=False)
    again = TrainingRecord.from_plain(record.as_plain())
    assert again.loss_curve == record.loss_curve
    assert again.t == record.t
    state, copy = record.optimizer_state, again.optimizer_state
    np.testing.assert_array_equal(copy.first_moment, state.first_moment)
    np.testing.assert_array_equal(copy.second_moment, state.second_moment)
    assert (copy.step, copy.learning_rate) == (state.step, state.learning_rate)


def test_following_early_stopping_switches_what_judges_progress():
    record = TrainingRecord.fresh(tracks_validation=False)
    record.no_improvement_count = 4
    record.follow(tracks_validation=True)
    assert record.validation_scores == [] and record.best_loss is None
    assert record.no_improvement_count == 0
    record.follow(tracks_validation=True)  # already: nothing changes
    assert record.validation_scores == []


@pytest.mark.parametrize("method", sorted(WEIGHT_METHODS))
def test_lbfgs_bounds_only_for_projected_parameters(method):
    signs = np.array([1, 0, -1, 1])
    bounds = lbfgs_bounds(signs, method)
    if WEIGHT_METHODS[method].reparametrises:
        assert bounds is None  # the free parameters are unconstrained
        return
    np.testing.assert_array_equal(bounds.lb, [0.0, -np.inf, -np.inf, 0.0])
    np.testing.assert_array_equal(bounds.ub, [np.inf, np.inf, 0.0, np.inf])
    assert lbfgs_bounds(None, method) is None


def test_every_solver_has_its_driver():
    assert set(DRIVERS) == set(SOLVERS)
    for name, solver in SOLVERS.items():
        stochastic_driver = DRIVERS[name] is fit_stochastic
        assert stochastic_driver == solver.stochastic
        assert stochastic_driver or DRIVERS[name] is fit_lbfgs


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_schedules_span_max_iter_and_hold_their_last_rate(schedule):
    data = _problem()
    params = PositiveMLPRegressor(
        learning_rate=schedule, learning_rate_init=0.01, max_iter=40
    ).get_params()
    settings = resolve(params, data, resolve_loss("squared_error"))
    rates = np.array([scheduled_rate(settings, epoch) for epoch in range(45)])
    assert np.all((rates > 0) & (rates <= 0.01))
    assert np.all(rates[40:] == rates[39])  # past max_iter: the last rate stays
    peaks = np.flatnonzero((rates[1:39] > rates[:38]) & (rates[1:39] > rates[2:40]))
    if schedule == "cosine":
        assert np.all(np.diff(rates[:40]) < 0)
        assert rates[0] > 0.0099 and rates[39] < 0.0001
    else:  # four cycles, each longer than the one before
        assert 3 <= peaks.size <= 4
        assert np.all(np.diff(np.diff(np.r_[0, peaks + 1])) > 0)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_schedules_act_on_adam_and_sgd_and_continue_over_partial_fit(solver, schedule):
    data = _problem()
    kwargs = dict(learning_rate=schedule, solver=solver, max_iter=12, random_state=0)
    reg = PositiveMLPRegressor(early_stopping=False, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(data.X, data.y[:, 0])
    loss = resolve_loss("squared_error")
    settings = resolve(reg.get_params(), data, loss)
    assert reg._record.optimizer_state.learning_rate == scheduled_rate(settings, 11)
    stream = PositiveMLPRegressor(**kwargs)
    for call in range(3):
        stream.partial_fit(data.X, data.y[:, 0])
        expected = scheduled_rate(settings, call)
        assert stream._record.optimizer_state.learning_rate == expected
