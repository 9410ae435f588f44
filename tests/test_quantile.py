"""loss='quantile': the pinball loss and its gradient in the core, every level above
the floor and the levels never crossing for any input, held-out coverage near the
nominal levels, and the layouts and errors a user meets."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import central_differences
from sklearn.metrics import mean_pinball_loss

from positive_mlp import PositiveMLPRegressor
from positive_mlp._losses import resolve_loss
from positive_mlp._network import ParameterLayout, build_network
from positive_mlp._start import glorot_uniform_params

TRANSFORMS = ["softplus", "exp", "relu"]
LEVELS = [0.05, 0.25, 0.5, 0.75, 0.95]
quiet_convergence = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def _core_problem(transform, n_targets, levels, seed=0):
    rng = np.random.RandomState(seed)
    n_levels = len(levels)
    layout = ParameterLayout((4, 6, n_targets * n_levels))
    X = rng.normal(size=(30, 4))
    y = rng.gamma(2.0, 1.0, size=(30, n_targets))
    network = build_network(
        layout,
        "tanh",
        transform,
        resolve_loss("quantile"),
        np.full(n_targets * n_levels, 0.2),
        np.float64,
        quantile_levels=np.tile(levels, n_targets),
        outputs_per_group=n_levels,
    )
    params = glorot_uniform_params(layout, "tanh", rng, np.float64)
    return network, params, X, np.repeat(y, n_levels, axis=1)


@pytest.mark.parametrize("n_targets", [1, 2])
@pytest.mark.parametrize("levels", [[0.3], [0.1, 0.5, 0.9]], ids=str)
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_the_core_loss_is_the_pinball_loss_and_its_gradient_matches(
    transform, levels, n_targets
):
    network, params, X, Y = _core_problem(transform, n_targets, levels)
    pred = network.predict(params, X)
    expected = sum(
        mean_pinball_loss(Y[:, j], pred[:, j], alpha=np.tile(levels, n_targets)[j])
        for j in range(Y.shape[1])
    )
    assert network.loss(params, X, Y, None, None, 0.0) == pytest.approx(expected)
    grad = np.empty_like(params)
    network.loss_and_gradient(params, X, Y, None, None, 0.1, grad)
    numeric = central_differences(
        lambda p: network.loss(p, X, Y, None, None, 0.1), params
    )
    assert np.linalg.norm(grad - numeric) / np.linalg.norm(numeric) < 1e-6


def _heteroscedastic(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    return X, rng.gamma(2.0, np.exp(0.5 * X[:, 0]))


@quiet_convergence
def test_held_out_coverage_is_near_each_nominal_level():
    X, y = _heteroscedastic(4000, 0)
    X_test, y_test = _heteroscedastic(4000, 1)
    reg = PositiveMLPRegressor(
        loss="quantile", quantile=LEVELS, hidden_layer_sizes=(32,), random_state=0
    ).fit(X, y)
    pred = reg.predict(X_test)
    assert pred.shape == (4000, len(LEVELS))
    coverage = (y_test[:, None] <= pred).mean(axis=0)
    np.testing.assert_allclose(coverage, LEVELS, atol=0.03)
    np.testing.assert_array_equal(reg.quantiles_, LEVELS)


@pytest.fixture(scope="module")
def fitted_models():
    """Quantile models for each transform and dtype, fitted once."""
    X, y = _heteroscedastic(300, 2)
    models = {}
    for transform in TRANSFORMS:
        for dtype in (np.float64, np.float32):
            models[transform, dtype] = PositiveMLPRegressor(
                loss="quantile",
                quantile=[0.1, 0.5, 0.9],
                output_activation=transform,
                output_threshold=0.25,
                hidden_layer_sizes=(8, 8),
                max_iter=20,
                random_state=0,
            ).fit(X.astype(dtype), y + 0.25)
    return models, X


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@settings(max_examples=40, deadline=None)
@given(
    transform=st.sampled_from(TRANSFORMS),
    dtype=st.sampled_from([np.float64, np.float32]),
    exponent=st.integers(0, 308),
    sign=st.sampled_from([1.0, -1.0]),
)
def test_quantiles_never_cross_nor_fall_below_the_floor_for_any_input(
    fitted_models, transform, dtype, exponent, sign
):
    models, X = fitted_models
    largest = np.finfo(dtype).max
    with np.errstate(all="ignore"):
        huge = np.clip(X * sign * 10.0**exponent, -largest, largest).astype(dtype)
        for inputs in (huge, 1000 * X.astype(dtype)):
            pred = models[transform, dtype].predict(inputs)
            assert np.all(np.isfinite(pred))
            assert np.all(pred >= 0.25)
            assert np.all(np.diff(pred, axis=1) >= 0)


@quiet_convergence
def test_prediction_layouts_follow_targets_and_levels():
    X, y = _heteroscedastic(200, 3)
    two = np.c_[y, 2 * y]
    common = dict(loss="quantile", hidden_layer_sizes=(4,), max_iter=5)
    shapes = [
        (0.5, 1, (200,)),
        ([0.5], 1, (200, 1)),
        ([0.1, 0.9], 1, (200, 2)),
        (0.5, 2, (200, 2)),
        ([0.1, 0.9], 2, (200, 2, 2)),
    ]
    for quantile, n_targets, shape in shapes:
        reg = PositiveMLPRegressor(quantile=quantile, **common)
        reg.fit(X, y if n_targets == 1 else two)
        assert reg.predict(X).shape == shape, (quantile, n_targets)
        assert reg.n_outputs_ == n_targets


@quiet_convergence
def test_score_is_r2_for_one_level_and_minus_the_pinball_loss_for_several():
    X, y = _heteroscedastic(300, 4)
    one = PositiveMLPRegressor(loss="quantile", hidden_layer_sizes=(8,)).fit(X, y)
    from sklearn.metrics import r2_score

    assert one.score(X, y) == pytest.approx(r2_score(y, one.predict(X)))
    several = PositiveMLPRegressor(
        loss="quantile", quantile=[0.2, 0.8], hidden_layer_sizes=(8,)
    ).fit(X, y)
    pred = several.predict(X)
    expected = -sum(
        mean_pinball_loss(y, pred[:, k], alpha=level)
        for k, level in enumerate([0.2, 0.8])
    )
    assert several.score(X, y) == pytest.approx(expected)


@quiet_convergence
def test_a_quantile_model_survives_pickling():
    X, y = _heteroscedastic(200, 5)
    reg = PositiveMLPRegressor(
        loss="quantile", quantile=[0.1, 0.9], hidden_layer_sizes=(4,), max_iter=5
    ).fit(X, y)
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"solver": "lbfgs"}, "needs solver='adam' or 'sgd'"),
        ({"output_activation": "identity"}, "only with a bounding g"),
        ({"output_constraint": "penalty"}, "has nothing to add"),
        ({"quantile": [0.9, 0.1]}, "strictly increasing"),
        ({"quantile": [0.1, 1.0]}, r"must lie in \(0, 1\)"),
        ({"quantile": []}, "a level or a list of levels"),
    ],
)
def test_settings_that_cannot_work_are_refused(params, message):
    X, y = _heteroscedastic(20, 6)
    with pytest.raises(ValueError, match=message):
        PositiveMLPRegressor(loss="quantile", **params).fit(X, y)
