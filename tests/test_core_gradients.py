"""The C++ core against a NumPy oracle: predictions, loss values, and gradients
checked by central finite differences for every activation x transform x loss."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from reference import central_differences, forward, loss

from positive_mlp._losses import resolve_loss
from positive_mlp._network import ParameterLayout, build_network
from positive_mlp._start import glorot_uniform_params

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
TRANSFORMS = ["identity", "relu", "softplus", "exp"]
VALID_LOSSES = {  # the losses each transform keeps finite (threshold 0.5 > 0)
    "identity": ["squared_error"],
    "relu": ["squared_error", "poisson", "gamma"],
    "softplus": ["squared_error", "poisson", "gamma"],
    "exp": ["squared_error", "poisson", "gamma"],
}
CASES = [
    (activation, transform, loss_name, n_outputs)
    for activation, transform in itertools.product(ACTIVATIONS, TRANSFORMS)
    for loss_name in VALID_LOSSES[transform]
    for n_outputs in (1, 3)
]


def _problem(n_outputs: int, seed: int = 0, n_samples: int = 13):
    rng = np.random.RandomState(seed)
    layout = ParameterLayout((4, 5, 3, n_outputs))
    X = rng.normal(size=(n_samples, 4))
    y = rng.gamma(2.0, 1.0, size=(n_samples, n_outputs)) + 0.6  # valid for every loss
    threshold = np.full(n_outputs, 0.5)
    params = glorot_uniform_params(layout, "tanh", rng, np.float64)
    return layout, X, y, threshold, params


def _core_loss_and_gradient(network, params, X, y, alpha, sample_weight=None):
    grad = np.empty_like(params)
    value = network.loss_and_gradient(params, X, y, sample_weight, None, alpha, grad)
    return value, grad


@pytest.mark.parametrize("activation, transform, loss_name, n_outputs", CASES)
def test_gradient_matches_finite_differences(
    activation, transform, loss_name, n_outputs
):
    layout, X, y, threshold, params = _problem(n_outputs)
    alpha = 0.3
    network = build_network(
        layout, activation, transform, resolve_loss(loss_name), threshold, np.float64
    )

    def core_loss(p):
        return _core_loss_and_gradient(network, p, X, y, alpha)[0]

    _, analytic = _core_loss_and_gradient(network, params, X, y, alpha)
    numeric = central_differences(core_loss, params)
    error = np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric)
    assert error < 1e-6


@pytest.mark.parametrize("activation, transform, loss_name, n_outputs", CASES)
def test_predictions_and_loss_match_numpy_reference(
    activation, transform, loss_name, n_outputs
):
    layout, X, y, threshold, params = _problem(n_outputs, seed=1)
    network = build_network(
        layout, activation, transform, resolve_loss(loss_name), threshold, np.float64
    )
    expected = forward(layout, params, X, activation, transform, threshold)
    np.testing.assert_allclose(
        network.predict(params, X), expected, rtol=1e-12, atol=1e-12
    )
    weights = np.random.RandomState(2).uniform(0.0, 2.0, size=len(X))
    value, _ = _core_loss_and_gradient(network, params, X, y, 0.1, weights)
    reference = loss(
        layout, params, X, y, activation, transform, threshold, loss_name, 0.1, weights
    )
    assert value == pytest.approx(reference, rel=1e-12)
    # the objective alone, from forward passes only
    assert network.loss(params, X, y, weights, None, 0.1) == pytest.approx(
        reference, rel=1e-12
    )


# A dimension of 1 anywhere (one input, one unit, one output, one row) sends the
# product to gemv or ger instead of gemm.
@pytest.mark.parametrize(
    "sizes",
    [(1, 1), (1, 3, 1), (4, 1, 1), (4, 1, 3), (1, 1, 1, 1), (3, 5, 1), (2, 4, 2)],
)
@pytest.mark.parametrize("n_samples", [1, 2, 9])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_products_with_a_dimension_of_one(sizes, n_samples, dtype):
    rng = np.random.RandomState(4)
    layout = ParameterLayout(sizes)
    X = rng.normal(size=(n_samples, sizes[0]))
    y = rng.gamma(2.0, 1.0, size=(n_samples, sizes[-1])) + 0.6
    threshold = np.full(sizes[-1], 0.5)
    params = glorot_uniform_params(layout, "tanh", rng, np.float64)
    network = build_network(
        layout, "tanh", "softplus", resolve_loss("squared_error"), threshold, dtype
    )
    expected = forward(layout, params, X, "tanh", "softplus", threshold)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    predicted = network.predict(params.astype(dtype), X.astype(dtype))
    np.testing.assert_allclose(predicted, expected, rtol=tolerance, atol=tolerance)
    if dtype != np.float64:
        return  # finite differences need float64
    _, analytic = _core_loss_and_gradient(network, params, X, y, 0.3)
    numeric = central_differences(
        lambda p: _core_loss_and_gradient(network, p, X, y, 0.3)[0], params
    )
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_chunked_full_data_pass_equals_single_pass():
    """More rows than one chunk (512): the accumulated gradient must be the same."""
    layout, X, y, threshold, params = _problem(2, n_samples=5000)
    network = build_network(
        layout, "relu", "softplus", resolve_loss("squared_error"), threshold, np.float64
    )
    value, grad = _core_loss_and_gradient(network, params, X, y, 0.01)
    halves = [
        _core_loss_and_gradient(network, params, X[s], y[s], 0.0)
        for s in (slice(0, 2500), slice(2500, 5000))
    ]
    weights = params[: layout.n_weights]
    expected_value = np.mean([h[0] for h in halves]) + 0.005 * weights @ weights / 5000
    assert value == pytest.approx(expected_value, rel=1e-12)
    expected_grad = np.mean([h[1] for h in halves], axis=0)
    expected_grad[: layout.n_weights] += 0.01 * weights / 5000
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-14)


def test_float32_core_agrees_with_float64():
    layout, X, y, threshold, params = _problem(2, seed=3)
    net64 = build_network(
        layout, "tanh", "softplus", resolve_loss("squared_error"), threshold, np.float64
    )
    net32 = build_network(
        layout, "tanh", "softplus", resolve_loss("squared_error"), threshold, np.float32
    )
    p32 = params.astype(np.float32)
    pred32 = net32.predict(p32, X.astype(np.float32))
    assert pred32.dtype == np.float32
    np.testing.assert_allclose(pred32, net64.predict(params, X), rtol=1e-5)
    grad32 = np.empty_like(p32)
    net32.loss_and_gradient(
        p32, X.astype(np.float32), y.astype(np.float32), None, None, 0.1, grad32
    )
    _, grad64 = _core_loss_and_gradient(net64, params, X, y, 0.1)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("transform", ["softplus", "exp", "relu"])
def test_bounding_transforms_survive_extreme_pre_activations(transform):
    """No overflow to inf or nan, and the bound holds, for |z| up to 1e6."""
    layout = ParameterLayout((1, 1))
    params = np.array([1.0, 0.0])  # z = x
    network = build_network(
        layout,
        "relu",
        transform,
        resolve_loss("squared_error"),
        np.array([0.25]),
        np.float64,
    )
    z = np.array([[-1e6], [-800.0], [-40.0], [0.0], [40.0], [800.0], [1e6]])
    pred = network.predict(params, z)
    assert np.all(np.isfinite(pred)) and np.all(pred >= 0.25)
    grad = np.empty(2)
    network.loss_and_gradient(params, z, np.ones_like(z), None, None, 0.0, grad)
    assert np.all(np.isfinite(grad))


def test_shape_errors_raise_value_error():
    layout, X, y, threshold, params = _problem(1)
    network = build_network(
        layout, "relu", "softplus", resolve_loss("squared_error"), threshold, np.float64
    )
    with pytest.raises(ValueError, match="features"):
        network.predict(params, X[:, :3])
    with pytest.raises(ValueError, match="params must have shape"):
        network.predict(params[:-1], X)
    with pytest.raises(ValueError, match="rows"):
        network.loss_and_gradient(
            params, X, y[:-1], None, None, 0.0, np.empty_like(params)
        )
    with pytest.raises(ValueError, match="threshold"):
        build_network(
            layout,
            "relu",
            "softplus",
            resolve_loss("squared_error"),
            np.zeros(2),
            np.float64,
        )
