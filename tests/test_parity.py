"""Side by side with scikit-learn's MLPRegressor: same settings, same models."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_linnerud, make_friedman1
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from positive_mlp import PositiveMLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _friedman():
    X, y = make_friedman1(n_samples=600, noise=0.5, random_state=0)
    return X, y


def _linnerud():  # three positive outputs
    X, y = load_linnerud(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize(
    "solver, data, hidden",
    [
        ("adam", _diabetes, (16, 8)),
        ("sgd", _diabetes, (16, 8)),
        ("lbfgs", _diabetes, (16, 8)),
        ("adam", _linnerud, (16, 8)),
        ("sgd", _linnerud, (16, 8)),
        # 2817 parameters: updated in several blocks, and batches of 200 rows split
        # over two threads
        ("adam", _diabetes, (64, 32)),
        ("sgd", _diabetes, (64, 32)),
    ],
)
def test_identity_output_reproduces_mlpregressor_exactly(solver, data, hidden):
    """Same initial weights (the same draws from random_state), no shuffling: the
    C++ core follows MLPRegressor's trajectory to rounding error.

    Not lbfgs with several outputs: there MLPRegressor's reported loss (a mean over
    outputs) and its gradient (a sum over outputs) disagree, so its line search
    follows another path than ours, whose loss and gradient agree."""
    X, y = data()
    settings = dict(
        hidden_layer_sizes=hidden,
        solver=solver,
        max_iter=25,
        random_state=0,
        shuffle=False,
        learning_rate_init=1e-4 if solver == "sgd" else 0.01,
    )
    ours = PositiveMLPRegressor(
        output_activation="identity", n_threads=2, **settings
    ).fit(X, y)
    theirs = MLPRegressor(**settings).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_
    if y.ndim == 1:  # for several outputs MLPRegressor reports loss / n_outputs
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)


@pytest.mark.parametrize("data", [_diabetes, _friedman])
def test_test_r2_agrees_with_mlpregressor_when_shuffling(data):
    X, y = data()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    settings = dict(
        hidden_layer_sizes=(32,), max_iter=300, random_state=0, learning_rate_init=0.01
    )
    ours = PositiveMLPRegressor(output_activation="identity", **settings)
    theirs = MLPRegressor(**settings)
    r2_ours = ours.fit(X_train, y_train).score(X_test, y_test)
    r2_theirs = theirs.fit(X_train, y_train).score(X_test, y_test)
    assert abs(r2_ours - r2_theirs) < 0.02


@pytest.mark.skipif(
    "loss" not in inspect.signature(MLPRegressor).parameters,
    reason="MLPRegressor takes loss='poisson' from scikit-learn 1.7 on",
)
@pytest.mark.parametrize(
    "data, early_stopping", [(_diabetes, True), (_friedman, False)]
)
def test_poisson_with_exp_output_is_not_worse_than_mlpregressor(data, early_stopping):
    """MLPRegressor(loss='poisson') uses an exp output, as ours does here; ours starts
    at the targets' mean and reaches at least its test R2 (within 0.02). (Without
    early stopping, both overfit the 330 training rows of diabetes.)"""
    X, y = data()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    settings = dict(
        loss="poisson",
        hidden_layer_sizes=(32,),
        max_iter=300,
        random_state=0,
        learning_rate_init=0.01,
        early_stopping=early_stopping,
    )
    ours = PositiveMLPRegressor(output_activation="exp", **settings).fit(
        X_train, y_train
    )
    theirs = MLPRegressor(**settings).fit(X_train, y_train)
    r2_ours = r2_score(y_test, ours.predict(X_test))
    r2_theirs = r2_score(y_test, theirs.predict(X_test))
    assert r2_ours > r2_theirs - 0.02


def test_plain_model_keeps_mlpregressors_stopping_defaults():
    """early_stopping='auto' and n_iter_no_change='auto' are MLPRegressor's False and
    10 for its model: both stop at the same epoch, by the training loss."""
    X, y = _friedman()
    settings = dict(
        hidden_layer_sizes=(16,), random_state=0, shuffle=False, learning_rate_init=0.01
    )
    ours = PositiveMLPRegressor(output_activation="identity", **settings).fit(X, y)
    theirs = MLPRegressor(**settings).fit(X, y)
    assert ours.validation_scores_ is None
    assert ours.n_iter_ == theirs.n_iter_ < 200  # the stopping rule fired
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9)
