"""The piecewise-linear encoding of the inputs (``input_bins``, ``_encoding.py``):
the columns' shape and bounds, the 'auto' rule, the guarantees with the encoding on
(floors, monotone features, finite predictions far outside the edges), and its life
across partial_fit, warm starts, pickles, float32 and sparse input."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from positive_mlp import PositiveMLPRegressor
from positive_mlp._encoding import (
    encodable_features,
    encode,
    encoded_monotonic_cst,
    fit_bins,
)

METHODS = ["projection", "square", "exp"]


def _wavy(n_rows: int, seed: int = 0):
    """A feature with a bent response, a plain one and a binary one."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_rows, 3))
    X[:, 2] = rng.randint(0, 2, n_rows)
    y = np.exp(np.sin(2 * X[:, 0]) + 0.3 * X[:, 1]) + 0.1 * rng.gamma(1.0, size=n_rows)
    return X, y


def _quiet_fit(reg, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of short fits
        return reg.fit(*args, **kwargs)


# -- the encoding ----------------------------------------------------------------


def test_columns_are_bounded_and_rise_with_their_feature():
    X, _ = _wavy(500)
    bins = fit_bins(X, 8)
    assert bins.n_features == 3
    assert set(bins.source.tolist()) == {0, 1}  # the binary feature is not encoded
    assert bins.n_inputs == 3 + 16
    grid = np.repeat(np.linspace(-10, 10, 401)[:, None], 3, axis=1)
    encoded = encode(grid, bins)
    assert encoded.shape == (401, 19)
    np.testing.assert_array_equal(encoded[:, :3], grid)  # raw features first
    columns = encoded[:, 3:]
    assert columns.min() == 0.0 and columns.max() == 1.0
    assert np.all(np.diff(columns, axis=0) >= 0)
    # Inside the edges, the columns of a feature add up to its distance from the
    # first edge in bin widths: piecewise linear in x.
    edges = bins.edges()[0]
    assert edges.size == 9
    x = np.array([[edges[0] + 0.5 * (edges[1] - edges[0]), 0.0, 0.0]])
    first = encode(x, bins)[0, 3:11]
    np.testing.assert_allclose(first, [0.5] + [0.0] * 7)


def test_few_distinct_values_and_one_row_give_no_columns():
    X = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    bins = fit_bins(X, 16)
    assert bins.source.size == 0
    assert encode(X, bins) is X
    assert fit_bins(np.array([[3.0, 4.0]]), 4).source.size == 0


def test_monotone_constraints_follow_their_feature():
    X, _ = _wavy(200)
    bins = fit_bins(X, 4)
    cst = np.array([1, -1, 0], dtype=np.int8)
    expanded = encoded_monotonic_cst(cst, bins)
    np.testing.assert_array_equal(expanded, [1, -1, 0] + [1] * 4 + [-1] * 4)


# -- 'auto' and the estimator ------------------------------------------------------


def test_auto_encodes_from_4000_rows_for_bounded_models_only():
    X, y = _wavy(4000)
    kwargs = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    encoded = _quiet_fit(PositiveMLPRegressor(**kwargs), X, y)
    assert encoded.coefs_[0].shape[0] == 3 + 2 * 32
    assert [edges.size for edges in encoded.bin_edges_] == [33, 33, 0]
    small = _quiet_fit(PositiveMLPRegressor(**kwargs), X[:3999], y[:3999])
    assert small.coefs_[0].shape[0] == 3
    plain = PositiveMLPRegressor(output_activation="identity", **kwargs)
    assert _quiet_fit(plain, X, y).coefs_[0].shape == (3, 4)
    sparse = _quiet_fit(PositiveMLPRegressor(**kwargs), sp.csr_matrix(X), y)
    assert sparse.coefs_[0].shape[0] == 3
    assert all(edges.size == 0 for edges in sparse.bin_edges_)
    streamed = PositiveMLPRegressor(hidden_layer_sizes=(4,), random_state=0)
    streamed.partial_fit(X, y)  # a first partial_fit: no encoding under 'auto'
    assert streamed.coefs_[0].shape == (3, 4)


def test_auto_counts_only_the_columns_it_would_encode():
    """One-hot columns are never encoded: 2 numeric features beside 400 one-hot
    ones take 32 bins (as the 2**25-value cap counts 2 columns, not 402)."""
    X, y = _wavy(5000)
    levels = np.random.RandomState(1).randint(0, 400, len(X))
    X = np.hstack([X[:, :2], np.eye(400)[levels]])
    assert encodable_features(X) == 2
    reg = PositiveMLPRegressor(hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    sizes = [edges.size for edges in _quiet_fit(reg, X, y).bin_edges_]
    assert sizes == [33, 33] + [0] * 400


def test_an_explicit_count_with_sparse_input_is_refused():
    X, y = _wavy(100)
    with pytest.raises(ValueError, match="input_bins=8 encodes dense features"):
        PositiveMLPRegressor(input_bins=8).fit(sp.csr_matrix(X), y)


@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, "many"])
def test_invalid_counts_are_refused_by_parameter_validation(bad):
    X, y = _wavy(50)
    with pytest.raises(ValueError, match="input_bins"):
        PositiveMLPRegressor(input_bins=bad).fit(X, y)


def test_the_encoding_learns_a_bent_response_the_raw_features_miss():
    X, y = _wavy(3000)
    kwargs = dict(random_state=0, max_iter=100)
    raw = _quiet_fit(PositiveMLPRegressor(input_bins=None, **kwargs), X, y)
    binned = _quiet_fit(PositiveMLPRegressor(input_bins=16, **kwargs), X, y)
    X_test, y_test = _wavy(2000, seed=1)
    unexplained = 1 - binned.score(X_test, y_test), 1 - raw.score(X_test, y_test)
    assert unexplained[0] < 0.7 * unexplained[1]


def test_edges_are_kept_by_partial_fit_warm_start_and_pickles():
    X, y = _wavy(600)
    reg = PositiveMLPRegressor(input_bins=6, hidden_layer_sizes=(5,), random_state=0)
    reg.partial_fit(X[:300], y[:300])
    edges = [e.copy() for e in reg.bin_edges_]
    reg.partial_fit(X[300:] * 3, y[300:])
    for before, after in zip(edges, reg.bin_edges_):
        np.testing.assert_array_equal(before, after)
    warm = PositiveMLPRegressor(
        input_bins=6, warm_start=True, max_iter=3, random_state=0
    )
    _quiet_fit(warm, X, y)
    edges = [e.copy() for e in warm.bin_edges_]
    _quiet_fit(warm, X * 2, y)
    for before, after in zip(edges, warm.bin_edges_):
        np.testing.assert_array_equal(before, after)
    loaded = pickle.loads(pickle.dumps(warm))
    np.testing.assert_array_equal(loaded.predict(X), warm.predict(X))


def test_float32_and_sparse_predict_match_dense_float64():
    X, y = _wavy(400)
    reg = _quiet_fit(
        PositiveMLPRegressor(input_bins=5, max_iter=20, random_state=0), X, y
    )
    np.testing.assert_array_equal(reg.predict(sp.csr_matrix(X)), reg.predict(X))
    reg32 = _quiet_fit(
        PositiveMLPRegressor(input_bins=5, max_iter=20, random_state=0),
        X.astype(np.float32),
        y,
    )
    pred = reg32.predict(X.astype(np.float32))
    assert pred.dtype == np.float32 and np.all(np.isfinite(pred))


# -- the guarantees with the encoding on -----------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    method=st.sampled_from(METHODS),
    output_activation=st.sampled_from(["softplus", "exp", "relu"]),
    n_bins=st.integers(2, 20),
    n_rows=st.integers(5, 300),
    seed=st.integers(0, 2**16),
)
def test_monotone_features_stay_monotone_with_the_encoding(
    method, output_activation, n_bins, n_rows, seed
):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_rows, 3)) * rng.choice([1e-3, 1.0, 30.0])
    y = np.maximum(2.0 + np.sin(X[:, 0]) - X[:, 1] + 0.1 * rng.normal(size=n_rows), 0.1)
    cst = [1, -1, 0]
    reg = _quiet_fit(
        PositiveMLPRegressor(
            hidden_layer_sizes=(8, 4),
            output_activation=output_activation,
            output_threshold=0.05 if output_activation == "relu" else 0.0,
            monotonic_cst=cst,
            nonneg_method=method,
            input_bins=n_bins,
            max_iter=15,
            learning_rate_init=0.05,
            random_state=seed,
        ),
        X,
        y,
    )
    scale = np.abs(X).max()
    base = rng.uniform(-2, 2, size=(200, 3)) * scale
    for feature, sign in enumerate(cst):
        if sign == 0:
            continue
        low, high = base.copy(), base.copy()
        high[:, feature] += rng.uniform(0, 2, size=200) * scale
        difference = sign * (reg.predict(high) - reg.predict(low))
        assert difference.min() >= -1e-9 * np.abs(reg.predict(low)).max()


@settings(max_examples=30, deadline=None)
@given(
    threshold=st.sampled_from([0.0, 0.5, 7.0]),
    dtype=st.sampled_from([np.float64, np.float32]),
    magnitude=st.sampled_from([1e-30, 1.0, 1e6, 1e30]),
    seed=st.integers(0, 2**16),
)
def test_predictions_stay_finite_and_floored_for_any_finite_input(
    threshold, dtype, magnitude, seed
):
    X, y = _wavy(200, seed)
    reg = _quiet_fit(
        PositiveMLPRegressor(
            input_bins=4, output_threshold=threshold, max_iter=10, random_state=seed
        ),
        X.astype(dtype),
        y + threshold,
    )
    rng = np.random.RandomState(seed)
    big = np.finfo(dtype).max
    probes = rng.normal(size=(50, 3)) * magnitude
    probes = np.vstack([probes, [[big, -big, 1.0]], [[-big, big, 0.0]]]).astype(dtype)
    pred = reg.predict(probes)
    assert np.all(np.isfinite(pred))
    assert np.all(pred >= dtype(threshold))
