"""The C++ epoch loop: batching and the optimiser updates against NumPy formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@settings(max_examples=60, deadline=None)
@given(
    n_features=st.integers(1, 6),
    width=st.integers(1, 40),
    dtype=st.sampled_from([np.float32, np.float64]),
    solver=st.sampled_from(["adam", "sgd", "sgd-plain"]),
    step=st.integers(0, 60),
    seed=st.integers(0, 2**16),
)
def test_one_update_is_exact_ieee_arithmetic(
    n_features, width, dtype, solver, step, seed
):
    """One step's update equals the rule evaluated in NumPy in the same precision, to
    the bit, at every parameter count: the core's update loops may use any vector
    instruction set the CPU has, never an arithmetic that rounds differently."""
    rng = np.random.RandomState(seed)
    layout = ParameterLayout((n_features, width, 1))
    X = rng.normal(size=(9, n_features)).astype(dtype)
    y = rng.gamma(2.0, 1.0, size=(9, 1)).astype(dtype)
    params = glorot_uniform_params(layout, "relu", rng, dtype)
    network = build_network(
        layout, "relu", "softplus", resolve_loss("squared_error"), np.zeros(1), dtype
    )
    grad = np.empty_like(params)
    network.loss_and_gradient(params, X, y, None, None, 0.05, grad)
    first = (rng.normal(size=params.size) * 1e-2).astype(dtype)
    second = (rng.random_sample(params.size) * 1e-4).astype(dtype)
    options = _options(solver.split("-")[0], 9, nesterov=solver == "sgd")
    one, b1, b2 = dtype(1), dtype(0.9), dtype(0.999)
    if solver == "adam":
        t = step + 1
        lr = dtype(0.01 * (np.sqrt(1.0 - 0.999**t) / (1.0 - 0.9**t)))
        m = b1 * first + (one - b1) * grad
        v = b2 * second + (one - b2) * grad * grad
        expected = params - lr * m / (np.sqrt(v) + dtype(1e-8))
    else:
        mu, lr = dtype(0.9), dtype(0.01)
        m = mu * first - lr * grad
        expected = params + (mu * m - lr * grad if solver == "sgd" else m)

    core = _core.f32 if dtype == np.float32 else _core.f64
    core.EpochTrainer(network, 9, 9).run_epoch(
        params, first, second, step, X, y, None, None, options
    )
    np.testing.assert_array_equal(first, m)
    if solver == "adam":
        np.testing.assert_array_equal(second, v)
    np.testing.assert_array_equal(params, expected)
