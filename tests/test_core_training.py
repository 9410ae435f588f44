"""The C++ epoch loop: batching and the optimiser updates against NumPy formulas."""

from __future__ import annotations

import numpy as np
import pytest

from positive_mlp import _core
from positive_mlp._losses import resolve_loss
from positive_mlp._network import ParameterLayout, build_network
from positive_mlp._start import glorot_uniform_params


def _setup(seed=0, n_samples=30):
    rng = np.random.RandomState(seed)
    layout = ParameterLayout((3, 6, 2))
    X = rng.normal(size=(n_samples, 3))
    y = rng.gamma(2.0, 1.0, size=(n_samples, 2))
    params = glorot_uniform_params(layout, "relu", rng, np.float64)
    network = build_network(
        layout,
        "relu",
        "softplus",
        resolve_loss("squared_error"),
        np.zeros(2),
        np.float64,
    )
    return layout, X, y, params, network


def _options(solver, batch_size, shuffle=False, seed=0, nesterov=True):
    optimizer = _core.OptimizerOptions()
    optimizer.solver = getattr(_core.Solver, solver)
    optimizer.learning_rate = 0.01
    optimizer.nesterov = nesterov
    options = _core.EpochOptions()
    options.batch_size, options.shuffle, options.seed = batch_size, shuffle, seed
    options.alpha = 0.05
    options.optimizer = optimizer
    return options


def _batch_gradients(network, params, X, y, alpha):
    grad = np.empty_like(params)
    value = network.loss_and_gradient(params, X, y, None, None, alpha, grad)
    return value, grad


def test_adam_epoch_matches_numpy_updates():
    _, X, y, params, network = _setup()
    expected = params.copy()
    m, v = np.zeros_like(params), np.zeros_like(params)
    losses = []
    for t, rows in enumerate(
        (slice(0, 8), slice(8, 16), slice(16, 24), slice(24, 30)), 1
    ):
        value, g = _batch_gradients(network, expected, X[rows], y[rows], 0.05)
        losses.append(value * (rows.stop - rows.start))
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        lr = 0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        expected -= lr * m / (np.sqrt(v) + 1e-8)

    first, second = np.zeros_like(params), np.zeros_like(params)
    trainer = _core.f64.EpochTrainer(network, 30, 8)
    result = trainer.run_epoch(
        params, first, second, 0, X, y, None, None, _options("adam", 8)
    )
    np.testing.assert_allclose(params, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(first, m, rtol=1e-12, atol=1e-16)
    assert result.step == 4
    assert result.loss == pytest.approx(sum(losses) / 30, rel=1e-12)


@pytest.mark.parametrize("nesterov", [True, False])
def test_sgd_epoch_matches_numpy_updates(nesterov):
    _, X, y, params, network = _setup(seed=1)
    expected, velocity = params.copy(), np.zeros_like(params)
    for rows in (slice(0, 10), slice(10, 20), slice(20, 30)):
        _, g = _batch_gradients(network, expected, X[rows], y[rows], 0.05)
        velocity = 0.9 * velocity - 0.01 * g
        expected += 0.9 * velocity - 0.01 * g if nesterov else velocity

    first = np.zeros_like(params)
    trainer = _core.f64.EpochTrainer(network, 30, 10)
    trainer.run_epoch(
        params,
        first,
        np.empty(0),
        0,
        X,
        y,
        None,
        None,
        _options("sgd", 10, nesterov=nesterov),
    )
    np.testing.assert_allclose(params, expected, rtol=1e-12, atol=1e-14)


def test_shuffling_is_seeded():
    results = []
    for seed in (7, 7, 8):
        _, X, y, params, network = _setup(seed=2)
        first, second = np.zeros_like(params), np.zeros_like(params)
        trainer = _core.f64.EpochTrainer(network, 30, 4)
        trainer.run_epoch(
            params,
            first,
            second,
            0,
            X,
            y,
            None,
            None,
            _options("adam", 4, shuffle=True, seed=seed),
        )
        results.append(params)
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.allclose(results[0], results[2])


def test_shuffled_epoch_visits_every_row_once():
    """One batch of all rows: shuffling changes the order, not the gradient."""
    _, X, y, params, network = _setup(seed=3)
    out = []
    for shuffle in (False, True):
        p = params.copy()
        trainer = _core.f64.EpochTrainer(network, 30, 30)
        trainer.run_epoch(
            p,
            np.zeros_like(p),
            np.zeros_like(p),
            0,
            X,
            y,
            None,
            None,
            _options("adam", 30, shuffle=shuffle, seed=11),
        )
        out.append(p)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-10, atol=1e-14)


def test_in_out_buffers_must_have_the_right_dtype_and_shape():
    _, X, y, params, network = _setup()
    trainer = _core.f64.EpochTrainer(network, 30, 8)
    with pytest.raises(TypeError):  # a converted copy would lose the update
        trainer.run_epoch(
            params.astype(np.float32),
            np.zeros_like(params),
            np.zeros_like(params),
            0,
            X,
            y,
            None,
            None,
            _options("adam", 8),
        )
    with pytest.raises(ValueError, match="second_moment"):
        trainer.run_epoch(
            params,
            np.zeros_like(params),
            np.zeros(3),
            0,
            X,
            y,
            None,
            None,
            _options("adam", 8),
        )
    with pytest.raises(ValueError, match="built for 30 rows"):
        trainer.run_epoch(
            params,
            np.zeros_like(params),
            np.zeros_like(params),
            0,
            X[:20],
            y[:20],
            None,
            None,
            _options("adam", 8),
        )
