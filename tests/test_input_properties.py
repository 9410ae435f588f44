"""Property-based tests of the input contract (issue 22): Hypothesis draws the
neighbourhoods of inputs that once gave bare Python errors or silent surprises
(sparse layouts, quantile level containers, tiny and huge targets with float32,
zero-weight rows with early stopping, explicit validation sets of a few rows).

The contract for each: either the call works (predictions of the right shape,
finite and ``>= output_threshold``), or it raises a ValueError or TypeError whose
message is the package's or scikit-learn's, not a bare one from Python or NumPy;
never another exception, and no RuntimeWarning on the way.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from positive_mlp import PositiveMLPRegressor

# Messages of Python and NumPy that name no parameter and say nothing to fix.
BARE_MESSAGES = (
    "not enough values to unpack",
    "too many values to unpack",
    "setting an array element",
    "truth value of an array",
    "float() argument",
    "could not convert",
    "unhashable type",
    "object is not subscriptable",
    "object is not iterable",
    "has no len()",
    "index out of bounds",
    "out of bounds for axis",
    "'NoneType' object",
    "must be real number",
    "operands could not be broadcast",
    "cannot reshape array",
    "test_size=",  # train_test_split's, about parameters the user never set
)

# Warnings that mean something went wrong inside (the user's inputs are finite).
BAD_WARNINGS = (RuntimeWarning, FutureWarning, DeprecationWarning)

FEW = settings(max_examples=25, deadline=None)

SPARSE_LAYOUTS = [sp.csr_array, sp.csr_matrix, sp.coo_array, sp.csc_array]


def _model(**params) -> PositiveMLPRegressor:
    base = dict(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    return PositiveMLPRegressor(**{**base, **params})


def _data(n_samples: int = 40, n_features: int = 2, dtype=np.float64):
    rng = np.random.RandomState(n_samples)
    X = rng.uniform(size=(n_samples, n_features)).astype(dtype)
    return X, X.sum(axis=1, dtype=np.float64) + 0.5


def _holds_contract(call, expected_shape=None, threshold: float = 0.0):
    """Runs ``call`` (which returns a fitted model and the X to predict on, or
    raises); returns the warnings, or raises AssertionError where the contract
    fails. Exceptions other than ValueError and TypeError propagate."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model, X = call()
            pred = model.predict(X)
        except (ValueError, TypeError) as error:
            message = str(error)
            assert message.strip(), f"{type(error).__name__} with no message"
            bare = [text for text in BARE_MESSAGES if text in message]
            assert not bare, f"bare message: {type(error).__name__}: {message}"
            pred = None
    bad = [w for w in caught if issubclass(w.category, BAD_WARNINGS)]
    assert not bad, f"{bad[0].category.__name__}: {bad[0].message}"
    if pred is not None:
        assert np.all(np.isfinite(pred))
        assert np.all(pred >= threshold)
        if expected_shape is not None:
            assert pred.shape == expected_shape
    return pred is not None, [str(w.message) for w in caught]


# --- Sparse layouts -----------------------------------------------------------------


@FEW
@given(
    layout=st.sampled_from(SPARSE_LAYOUTS),
    where=st.sampled_from(["X", "X_predict", "X_val", "y", "y_val"]),
    one_d=st.booleans(),
)
def test_sparse_layouts(layout, where, one_d):
    # SciPy < 1.14 makes a 1-D array a sparse row: no 1-D sparse input there.
    assume(not one_d or sp.csr_array(np.ones(3)).ndim == 1)
    X, y = _data()

    def sparse(a: np.ndarray):
        return sp.csr_array(a.ravel()) if one_d else layout(a.reshape(len(a), -1))

    def call():
        reg = _model(early_stopping=where in ("X_val", "y_val"))
        if where == "X":
            X_in = sparse(X[:, 0])
            return reg.fit(X_in, y[: X_in.shape[0]]), X_in
        if where == "X_predict":
            return reg.fit(X, y), sparse(X[:, 0]) if one_d else layout(X)
        if where == "y":
            return reg.fit(X, sparse(y)), X
        X_val, y_val = X[:10], y[:10]
        if where == "X_val":
            X_val = sparse(X_val[:, 0]) if one_d else layout(X_val)
        else:
            y_val = sparse(y_val)
        return reg.fit(X, y, X_val=X_val, y_val=y_val), X

    worked, _ = _holds_contract(call)
    # Sparse targets and 1-D sparse inputs are refused; 2-D sparse inputs work
    # (a one-column X in fit: it is then predicted on as it is).
    assert worked == (where not in ("y", "y_val") and not one_d)


# --- Quantile level containers ------------------------------------------------------

LEVEL = st.floats(min_value=0.01, max_value=0.99)
ANY_FLOAT = st.one_of(LEVEL, st.floats(allow_nan=True, allow_infinity=True))
LEVEL_LISTS = st.lists(LEVEL, min_size=1, max_size=4, unique=True).map(sorted)
QUANTILES = st.one_of(
    ANY_FLOAT,
    st.integers(-2, 2),
    st.booleans(),
    LEVEL.map(np.array),  # 0-d
    LEVEL.map(np.float32),
    LEVEL_LISTS,
    LEVEL_LISTS.map(tuple),
    LEVEL_LISTS.map(np.array),
    LEVEL_LISTS.map(lambda levels: np.array([levels])),  # 2-D
    st.lists(ANY_FLOAT, max_size=3),  # unsorted, out of range, empty
    LEVEL_LISTS.map(set),
    LEVEL_LISTS.map(frozenset),
    LEVEL_LISTS.map(lambda levels: dict.fromkeys(levels, 1)),
    st.just("0.5"),
    st.just(None),
)


def _valid_levels(quantile) -> bool:
    if not isinstance(quantile, (float, int, np.floating, list, tuple, np.ndarray)):
        return False
    if isinstance(quantile, bool):
        return False
    levels = np.atleast_1d(np.asarray(quantile, dtype=np.float64))
    return (
        levels.ndim == 1
        and levels.size > 0
        and bool(np.all((levels > 0) & (levels < 1)))
        and bool(np.all(np.diff(levels) > 0))
    )


@FEW
@given(quantile=QUANTILES, partial=st.booleans())
def test_quantile_level_containers(quantile, partial):
    X, y = _data()
    shape = (len(X),) if np.ndim(quantile) == 0 else (len(X), np.size(quantile))

    def call():
        reg = _model(loss="quantile")
        if partial:  # parameters set after fit are not validated by partial_fit
            reg.fit(X, y).set_params(quantile=quantile)
            return reg.partial_fit(X, y), X
        return reg.set_params(quantile=quantile).fit(X, y), X

    worked, _ = _holds_contract(call, shape)
    if not partial:  # a partial_fit with other levels is refused (call fit)
        assert worked == _valid_levels(quantile)


# --- Tiny and huge targets, float32 -------------------------------------------------


@FEW
@given(
    loss=st.sampled_from(
        [
            ("squared_error", 1.5),
            ("poisson", 1.5),
            ("gamma", 1.5),
            ("tweedie", 1.5),
            ("tweedie", 3.0),
            ("quantile", 1.5),
        ]
    ),
    dtype=st.sampled_from([np.float32, np.float64]),
    exponents=st.lists(st.floats(-330, 308), min_size=1, max_size=4),
    target_scaling=st.sampled_from(["auto", None]),
)
def test_tiny_and_huge_targets(loss, dtype, exponents, target_scaling):
    X, y = _data(dtype=dtype)
    y[: len(exponents)] = 10.0 ** np.array(exponents)
    name, power = loss

    def call():
        reg = _model(loss=name, power=power, target_scaling=target_scaling)
        return reg.fit(X, y), X

    _holds_contract(call, (len(X),))


# --- Zero-weight rows with early stopping -------------------------------------------


@FEW
@given(
    n_samples=st.integers(1, 40),
    n_nonzero=st.integers(0, 40),
    validation_fraction=st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.9]),
    early_stopping=st.sampled_from([True, "auto"]),
)
def test_zero_weight_rows_with_early_stopping(
    n_samples, n_nonzero, validation_fraction, early_stopping
):
    X, y = _data(n_samples)
    weights = np.zeros(n_samples)
    weights[: min(n_nonzero, n_samples)] = 1.0

    def call():
        reg = _model(
            early_stopping=early_stopping, validation_fraction=validation_fraction
        )
        return reg.fit(X, y, sample_weight=weights), X

    _holds_contract(call, (n_samples,))


# --- Explicit validation sets -------------------------------------------------------


@FEW
@given(
    n_val=st.sampled_from([0, 1, 2, 3, 5]),
    constant=st.booleans(),
    zero_weights=st.integers(0, 5),
    loss=st.sampled_from(["squared_error", "poisson", "quantile"]),
)
def test_explicit_validation_sets(n_val, constant, zero_weights, loss):
    X, y = _data()
    X_val, y_val = X[:n_val], (np.full(n_val, 2.0) if constant else y[:n_val])
    weights = np.ones(n_val)
    weights[: min(zero_weights, n_val)] = 0.0

    def call():
        reg = _model(loss=loss, early_stopping=True)
        return (
            reg.fit(X, y, X_val=X_val, y_val=y_val, sample_weight_val=weights),
            X,
        )

    worked, messages = _holds_contract(call, (len(X),))
    n_scored = int(np.sum(weights > 0))
    assert worked == (n_scored >= 2)
    if worked and constant and loss != "quantile":
        assert any("y_val is constant" in m for m in messages)
