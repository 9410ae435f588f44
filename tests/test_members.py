"""The in-model ensemble (``n_members``): the core against its members run apart,
gradients by finite differences, and the estimator's guarantees with members."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse
from reference import central_differences

from positive_mlp import PositiveMLPRegressor
from positive_mlp._losses import resolve_loss
from positive_mlp._network import ParameterLayout, build_network
from positive_mlp._start import glorot_uniform_params

SIZES = [(4, 5, 3, 2), (4, 5, 2), (4, 2), (4, 6, 5, 3, 1)]


def _member_params(layout: ParameterLayout, params: np.ndarray, m: int) -> np.ndarray:
    """Member m's parameters, packed as a one-member network's."""
    coefs, intercepts = layout.unpack(params)
    last = len(coefs) - 1
    member_coefs, member_intercepts = [], []
    for layer, ((n_in, n_out), W, b) in enumerate(zip(layout.fans, coefs, intercepts)):
        if layout.copies(layer) == 1:
            member_coefs.append(W)
            member_intercepts.append(b)
            continue
        if layer == 0:
            member_coefs.append(W[:, m * n_out : (m + 1) * n_out])
        else:
            assert layer == last
            member_coefs.append(W[m * n_in : (m + 1) * n_in])
        member_intercepts.append(b[m * n_out : (m + 1) * n_out])
    return ParameterLayout(layout.layer_sizes).pack(
        member_coefs, member_intercepts, params.dtype
    )


def _problem(sizes, members, seed=0, n_samples=11):
    rng = np.random.RandomState(seed)
    layout = ParameterLayout(sizes, members)
    X = rng.normal(size=(n_samples, sizes[0]))
    X[rng.uniform(size=X.shape) < 0.4] = 0.0
    y = rng.gamma(2.0, 1.0, size=(n_samples, sizes[-1])) + 0.6
    params = glorot_uniform_params(layout, "tanh", rng, np.float64)
    params += rng.normal(scale=0.3, size=params.shape)  # no zero output layer
    return layout, X, y, np.full(sizes[-1], 0.5), params


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("members", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_predictions_are_the_members_mean(sizes, members, sparse):
    layout, X, y, threshold, params = _problem(sizes, members)
    net = build_network(
        layout, "tanh", "softplus", resolve_loss("poisson"), threshold, np.float64
    )
    single = build_network(
        ParameterLayout(sizes),
        "tanh",
        "softplus",
        resolve_loss("poisson"),
        threshold,
        np.float64,
    )
    X_in = scipy.sparse.csr_matrix(X) if sparse else X
    each = [single.predict(_member_params(layout, params, m), X_in) for m in range(members)]
    expected = np.maximum(np.mean(each, axis=0), np.min(each, axis=0))
    np.testing.assert_allclose(net.predict(params, X_in), expected, rtol=1e-12)
    # The training objective is the mean of the members' losses.
    losses = [
        single.loss(_member_params(layout, params, m), X_in, y, None, None, 0.0)
        for m in range(members)
    ]
    assert net.loss(params, X_in, y, None, None, 0.0) == pytest.approx(
        np.mean(losses), rel=1e-12
    )


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("members", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_gradient_matches_finite_differences(sizes, members, sparse):
    layout, X, y, threshold, params = _problem(sizes, members, seed=1)
    weights = np.random.RandomState(2).uniform(0.5, 2.0, len(X))
    net = build_network(
        layout, "tanh", "softplus", resolve_loss("gamma"), threshold, np.float64
    )
    X_in = scipy.sparse.csr_matrix(X) if sparse else X

    def objective(p, grad=None):
        out = np.empty_like(p) if grad is None else grad
        return net.loss_and_gradient(p, X_in, y, weights, None, 0.2, out)

    analytic = np.empty_like(params)
    objective(params, analytic)
    numeric = central_differences(objective, params)
    assert np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric) < 1e-6
