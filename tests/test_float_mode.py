"""Subnormal numbers are flushed to zero inside the core's loops, on every thread, and
the caller's floating-point state is left as it was."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from positive_mlp import PositiveMLPRegressor, _core
from positive_mlp._losses import resolve_loss
from positive_mlp._network import ParameterLayout, build_network
from positive_mlp._threads import single_threaded_blas

DTYPES = [np.float32, np.float64]


def _core_flushes(flush: bool):
    """Sets the core's switch for a with-block, restoring it after."""

    class Switch:
        def __enter__(self):
            self.previous = _core._set_flush_subnormals(flush)

        def __exit__(self, *exc):
            _core._set_flush_subnormals(self.previous)

    return Switch()


def _python_keeps_subnormals(dtype) -> bool:
    """NumPy's arithmetic on this thread still produces and reads subnormals."""
    tiny = np.finfo(dtype).smallest_normal
    half = np.array([tiny], dtype) / dtype(2)  # a subnormal result
    return bool(half[0] != 0 and half[0] * dtype(2) == tiny)


def _wide_network(dtype, hidden: int):
    """(2, hidden, 1), identity output: the output is hidden units x last weights."""
    layout = ParameterLayout((2, hidden, 1))
    network = build_network(
        layout, "relu", "identity", resolve_loss("squared_error"), np.zeros(1), dtype
    )
    rng = np.random.default_rng(0)
    w1 = rng.uniform(0.5, 1.0, size=(2, hidden))
    b1 = np.full(hidden, 0.5)
    tiny = np.finfo(dtype).smallest_normal
    w2 = np.full((hidden, 1), tiny / 64)  # subnormal
    params = np.concatenate([w1.ravel(), w2.ravel(), b1, [0.0]]).astype(dtype)
    return network, params


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_subnormal_weights_read_as_zero_on_every_thread(dtype, n_threads):
    # Rows x parameters large enough for the pass to use two threads; the BLAS runs
    # on the core's threads, as in every call the estimator makes.
    network, params = _wide_network(dtype, hidden=4096)
    X = np.random.default_rng(1).uniform(0.5, 1.0, size=(4096, 2)).astype(dtype)
    with single_threaded_blas():
        with _core_flushes(False):
            exact = network.predict(params, X, n_threads=n_threads)
        flushed = network.predict(params, X, n_threads=n_threads)
    assert np.all(exact > 0), "exact arithmetic keeps the subnormal products"
    assert np.all(flushed == 0)


def _epoch(dtype, params, first, second, network):
    rng = np.random.default_rng(2)
    X = rng.uniform(size=(300, 2)).astype(dtype)
    y = rng.uniform(size=(300, 1)).astype(dtype)
    options = _core.EpochOptions()
    options.batch_size, options.alpha = 50, 0.0
    precision = _core.f32 if dtype == np.float32 else _core.f64
    trainer = precision.EpochTrainer(network, 300, 50, 2)
    with single_threaded_blas():
        trainer.run_epoch(params, first, second, 0, X, y, None, None, options)


@pytest.mark.parametrize("dtype", DTYPES)
def test_training_flushes_and_leaves_the_callers_state(dtype):
    # Dead hidden units (negative weights and biases, positive inputs) get a zero
    # gradient: exact arithmetic decays their subnormal moments, flushing zeroes them.
    network, params = _wide_network(dtype, hidden=64)
    params[: 2 * 64] = -1
    params[2 * 64 + 64 : -1] = -1
    tiny = np.finfo(dtype).smallest_normal
    results = {}
    for flush in (False, True):
        state = [
            params.copy(),
            np.full_like(params, tiny / 4),
            np.full_like(params, tiny),
        ]
        with _core_flushes(flush):
            _epoch(dtype, *state, network)
        values = np.concatenate(state)
        results[flush] = np.count_nonzero((values != 0) & (np.abs(values) < tiny))
        assert _python_keeps_subnormals(dtype)
    assert results[False] > 0, "exact arithmetic keeps subnormal moments"
    assert results[True] == 0


def test_the_callers_state_survives_an_error_in_the_core():
    network, params = _wide_network(np.float64, hidden=8)
    X, y, no_weight = np.ones((5, 2)), np.ones((5, 1)), np.zeros(5)
    grad = np.empty_like(params)
    with pytest.raises(ValueError, match="sum to zero"):  # raised inside the guard
        network.loss_and_gradient(params, X, y, no_weight, None, 0.0, grad)
    assert _python_keeps_subnormals(np.float64)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_fits_without_subnormals_are_identical_either_way(solver):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 5))
    y = np.exp(X[:, 0] / 2)
    fits = []
    for flush in (True, False):
        model = PositiveMLPRegressor(
            hidden_layer_sizes=(16,), solver=solver, max_iter=20, random_state=0
        )
        with _core_flushes(flush), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 20 epochs do not converge
            fits.append(model.fit(X, y))
        assert _python_keeps_subnormals(np.float64)
    for a, b in zip(fits[0].coefs_, fits[1].coefs_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fits[0].predict(X), fits[1].predict(X))
