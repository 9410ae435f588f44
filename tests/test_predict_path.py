"""predict's short path: the packed weights coefs_ are views of, and scikit-learn's
validation skipped only where it would return X unchanged."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from positive_mlp import PositiveMLPRegressor


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    return X, np.exp(0.5 * X[:, 0])


def _fit(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PositiveMLPRegressor(
            hidden_layer_sizes=(8,), max_iter=20, random_state=0, **params
        ).fit(X, y)


def test_predict_reads_coefs_changed_in_place_or_replaced(data):
    X, y = data
    reg = _fit(X, y)
    before = reg.predict(X[:5])
    original = reg.intercepts_[-1].copy()
    reg.intercepts_[-1] += 1.0  # softplus output: every prediction rises
    assert np.all(reg.predict(X[:5]) > before)
    reg.intercepts_[-1][...] = original  # (x + 1) - 1 need not be x
    np.testing.assert_array_equal(reg.predict(X[:5]), before)
    reg.coefs_ = [np.zeros_like(c) for c in reg.coefs_]  # replaced, not views
    constant = reg.predict(X[:5])
    np.testing.assert_allclose(constant, constant[0])


def test_pickled_models_predict_the_same_and_share_one_vector_again(data):
    X, y = data
    reg = _fit(X, y)
    loaded = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    loaded.coefs_[0][:] = 0.0  # still read by predict after unpickling
    assert not np.array_equal(loaded.predict(X), reg.predict(X))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_short_path_gives_what_validation_gives(data, dtype):
    X, y = data
    reg = _fit(X.astype(dtype), y)
    for rows in (1, 10, 512, 513):
        fast = reg.predict(np.ascontiguousarray(X[:rows], dtype=dtype))
        slow = reg.predict(X[:rows].astype(dtype).tolist())  # a list: validated
        np.testing.assert_array_equal(fast, slow)
        assert fast.dtype == dtype


def test_bad_input_still_gets_scikit_learns_errors(data):
    X, y = data
    reg = _fit(X, y)
    bad = X[:2].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        reg.predict(bad)
    with pytest.raises(ValueError, match="X has 3 features, but PositiveMLPRegressor"):
        reg.predict(X[:2, :3])
    named = _fit(pd.DataFrame(X, columns=list("abcd")), y)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        named.predict(X[:1])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_shortcut_passes_finite_rows_whose_sum_overflows_and_stops_nan():
    """Finite entries whose sum overflows are checked one by one (and warn nothing);
    a NaN anywhere in a large array still gets scikit-learn's error."""
    X = np.random.RandomState(0).normal(size=(2000, 3))
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(4,), max_iter=300, random_state=0
    ).fit(X, np.exp(X[:, 0]))
    huge = np.full((1000, 3), np.finfo(np.float64).max / 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.all(np.isfinite(reg.predict(huge)))
    X_nan = X.copy()
    X_nan[1500, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        reg.predict(X_nan)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_predict_follows_settings_changed_after_fit():
    """The network built at fit serves predict only while the settings it was built
    from hold; set_params(activation=...) after fit predicts as MLPRegressor would."""
    X = np.random.RandomState(1).normal(size=(200, 3))
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(5,), max_iter=300, random_state=0
    ).fit(X, np.exp(X[:, 0]))
    relu = reg.predict(X)
    state = dict(vars(reg))
    tanh = reg.set_params(activation="tanh").predict(X)
    assert not np.allclose(relu, tanh)
    assert vars(reg).keys() == state.keys()  # predict stored nothing
    np.testing.assert_array_equal(reg.set_params(activation="relu").predict(X), relu)
