"""Per-output target scaling: outputs of very different size, in the users' units."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from positive_mlp import PositiveMLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def simulated_parameters(n_sets: int, rng: np.random.RandomState):
    """Data sets of 200 rows x 2 columns, flattened, and the 3 positive parameters
    behind each: a gamma shape and scale (around 1) and a small fraction (around
    0.04) that links the second column to the first."""
    shape = rng.uniform(0.5, 1.5, n_sets)
    scale = rng.uniform(0.5, 1.5, n_sets)
    fraction = rng.uniform(0.02, 0.06, n_sets)
    first = rng.gamma(shape[:, None], scale[:, None], size=(n_sets, 200))
    second = fraction[:, None] * first + 0.05 * rng.normal(size=(n_sets, 200))
    X = np.stack([np.sort(first, axis=1), np.sort(second, axis=1)], axis=2)
    return X.reshape(n_sets, -1), np.column_stack([shape, scale, fraction])


@pytest.fixture(scope="module")
def parameter_data():
    rng = np.random.RandomState(0)
    return simulated_parameters(1500, rng), simulated_parameters(300, rng)


def _rmse(model, train, test):
    pred = make_pipeline(StandardScaler(), model).fit(*train).predict(test[0])
    return pred, np.sqrt(np.mean((pred - test[1]) ** 2, axis=0))


def test_the_small_parameter_counts_once_outputs_are_scaled(parameter_data):
    train, test = parameter_data
    settings = dict(
        hidden_layer_sizes=(64,), solver="sgd", max_iter=300, random_state=0
    )
    pred, scaled = _rmse(PositiveMLPRegressor(**settings), train, test)
    _, unscaled = _rmse(
        PositiveMLPRegressor(target_scaling=None, **settings), train, test
    )
    assert np.all(pred > 0)
    assert scaled[2] < 0.5 * unscaled[2]  # the small parameter
    assert scaled[2] < 0.5 * test[1][:, 2].std()  # and it is actually learned
    assert np.all(scaled[:2] <= 1.05 * unscaled[:2])  # at no cost to the others
    theirs, their_rmse = _rmse(MLPRegressor(**settings), train, test)
    assert np.sum(theirs[:, 2] < 0) > 30 and their_rmse[2] > 5 * scaled[2]


def _data(n_samples=200, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, 3))
    y = np.column_stack([1000.0 + 5 * X[:, 0], 0.01 * np.exp(X[:, 1])])
    return X, y


def test_scales_are_measured_per_output_and_predictions_are_in_user_units():
    X, y = _data()
    for kind, expected in [
        ("std", y.std(axis=0)),
        ("mean", y.mean(axis=0)),
        ("rms", np.sqrt(np.mean(y**2, axis=0))),
    ]:
        reg = PositiveMLPRegressor(
            hidden_layer_sizes=(8,), max_iter=30, target_scaling=kind, random_state=0
        ).fit(X, y)
        np.testing.assert_allclose(reg.target_scale_, expected, rtol=1e-10)
        assert np.all(np.abs(reg.predict(X).mean(axis=0) / y.mean(axis=0) - 1) < 0.05)
    fixed = PositiveMLPRegressor(
        hidden_layer_sizes=(8,), max_iter=5, target_scaling=[2.0, 0.5]
    ).fit(X, y)
    np.testing.assert_array_equal(fixed.target_scale_, [2.0, 0.5])


def test_scaling_keeps_every_threshold():
    X, y = _data()
    threshold = [980.0, 0.0001]
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,), max_iter=30, output_threshold=threshold, random_state=0
    ).fit(X, y)
    assert np.all(reg.predict(1e5 * X) >= threshold)


def test_the_plain_linear_output_is_not_scaled_by_default():
    X, y = _data()
    reg = PositiveMLPRegressor(output_activation="identity", max_iter=5).fit(X, y)
    np.testing.assert_array_equal(reg.target_scale_, [1.0, 1.0])
    scaled = PositiveMLPRegressor(
        output_activation="identity", target_scaling="std", max_iter=5
    ).fit(X, y)
    assert np.all(scaled.target_scale_ != 1.0)


def test_scales_are_fixed_by_the_first_partial_fit_and_kept_by_warm_starts():
    X, y = _data()
    reg = PositiveMLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    reg.partial_fit(X[:100], y[:100])
    first = reg.target_scale_.copy()
    reg.partial_fit(X[100:], y[100:] * 3)
    np.testing.assert_array_equal(reg.target_scale_, first)
    warm = PositiveMLPRegressor(hidden_layer_sizes=(8,), max_iter=5, warm_start=True)
    warm.fit(X, y)
    first = warm.target_scale_.copy()
    warm.fit(X, 2 * y)
    np.testing.assert_array_equal(warm.target_scale_, first)


def test_sample_weight_enters_the_scale():
    X, y = _data()
    weights = np.where(X[:, 0] > 0, 5.0, 1.0)
    reg = PositiveMLPRegressor(hidden_layer_sizes=(4,), max_iter=5)
    reg.fit(X, y, sample_weight=weights)
    mean = np.average(y, axis=0, weights=weights)
    expected = np.sqrt(np.average((y - mean) ** 2, axis=0, weights=weights))
    np.testing.assert_allclose(reg.target_scale_, expected, rtol=1e-10)


@pytest.mark.parametrize("scales", [[1.0, 0.0], [1.0], [np.inf, 1.0]])
def test_invalid_scales_are_rejected(scales):
    X, y = _data()
    with pytest.raises(ValueError, match="target_scaling as an array"):
        PositiveMLPRegressor(target_scaling=scales).fit(X, y)


@pytest.mark.parametrize("size", [1e-200, 1e200])
def test_targets_of_extreme_size_are_scaled_without_overflow(size):
    X, y = _data()
    reg = PositiveMLPRegressor(
        loss="poisson",
        output_activation="exp",
        solver="lbfgs",
        max_iter=20,
        random_state=0,
    ).fit(X, y[:, 1] * size)
    assert np.all(np.isfinite(reg.target_scale_)) and np.all(reg.target_scale_ > 0)
    pred = reg.predict(X)
    assert np.all(np.isfinite(pred)) and np.all(pred > 0)
    assert r2_score(y[:, 1], pred / size) > 0.5  # (r2 of raw 1e200s would overflow)
