"""Messages that say what to fix, and no silent surprises: each test here reaches an
input that once gave a bare Python error, a misleading message or a quiet surprise
(issue 22, parts 2 and 3)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from extras import needs_extra
from sklearn.compose import TransformedTargetRegressor
from sklearn.preprocessing import StandardScaler

from positive_mlp import PositiveMLPRegressor

quiet_convergence = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)

SMALL = dict(hidden_layer_sizes=(4,), max_iter=5, random_state=0)


def _data(n_samples=100, n_features=3):
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(n_samples, n_features))
    return X, X.sum(axis=1) + 1


# --- Sparse layouts -----------------------------------------------------------------


@quiet_convergence
def test_one_dimensional_sparse_input_says_to_reshape():
    X, y = _data()
    one_d = sp.csr_array(np.ones(3))
    if one_d.ndim != 1:
        pytest.skip("SciPy < 1.14 makes a 1-D array a sparse row: no 1-D sparse input")
    with pytest.raises(ValueError, match=r"(?s)Expected 2D input.*Reshape"):
        PositiveMLPRegressor(**SMALL).fit(one_d, np.ones(3))
    reg = PositiveMLPRegressor(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match=r"(?s)Expected 2D input.*Reshape"):
        reg.predict(one_d)


@pytest.mark.parametrize("layout", [sp.csr_array, sp.csr_matrix, sp.coo_array])
def test_sparse_targets_say_to_densify(layout):
    X, y = _data()
    with pytest.raises(TypeError, match=r"Sparse data was passed for y,.*toarray"):
        PositiveMLPRegressor(**SMALL).fit(X, layout(y[:, None]))
    reg = PositiveMLPRegressor(early_stopping=True, **SMALL)
    with pytest.raises(TypeError, match=r"Sparse data was passed for y_val.*toarray"):
        reg.fit(X, y, X_val=X[:10], y_val=layout(y[:10, None]))


def test_one_dimensional_sparse_targets_say_to_densify():
    X, y = _data()
    with pytest.raises(TypeError, match="Sparse data was passed for y"):
        PositiveMLPRegressor(**SMALL).fit(X, sp.csr_array(y))


# --- partial_fit: what helps -------------------------------------------------------


@quiet_convergence
@pytest.mark.parametrize("warm_start", [False, True])
def test_partial_fit_with_other_levels_says_to_keep_them_or_call_fit(warm_start):
    X, y = _data()
    reg = PositiveMLPRegressor(loss="quantile", quantile=[0.1, 0.9], **SMALL)
    reg.fit(X, y).set_params(quantile=[0.1, 0.5, 0.9], warm_start=warm_start)
    with pytest.raises(ValueError, match="partial_fit cannot continue") as error:
        reg.partial_fit(X, y)
    message = str(error.value)
    assert "3 level(s) per output, the fitted model has 2 ([0.1, 0.9])" in message
    assert "call fit to start afresh" in message
    assert "Set warm_start=False to" not in message  # the advice for fit
    reg.set_params(warm_start=False).fit(X, y).partial_fit(X, y)  # as it says
    assert reg.predict(X).shape == (100, 3)


@quiet_convergence
def test_partial_fit_with_other_outputs_says_to_keep_them_or_call_fit():
    X, y = _data()
    reg = PositiveMLPRegressor(**SMALL).partial_fit(X, y)
    with pytest.raises(ValueError, match=r"y has 2 output.*fitted model 1.*call fit"):
        reg.partial_fit(X, np.c_[y, y])


# --- Quantile levels ----------------------------------------------------------------


@pytest.mark.parametrize("quantile", [{0.1, 0.9}, {0.1: 1}, "0.5", 1.5, True])
def test_quantile_containers_other_than_lists_are_refused(quantile):
    X, y = _data()
    reg = PositiveMLPRegressor(loss="quantile", quantile=quantile, **SMALL)
    with pytest.raises(ValueError, match=r"'quantile' parameter.*must be a float"):
        reg.fit(X, y)


@quiet_convergence
def test_quantile_containers_are_refused_where_parameters_are_not_validated():
    X, y = _data()
    reg = PositiveMLPRegressor(loss="quantile", **SMALL).fit(X, y)
    reg.set_params(quantile={0.5})  # partial_fit after fit skips the constraints
    with pytest.raises(TypeError, match=r"quantile must be a float in \(0, 1\), or a"):
        reg.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"quantile must be a float in \(0, 1\), or a"):
        reg.set_params(quantile=["a"]).partial_fit(X, y)


@quiet_convergence
@pytest.mark.parametrize(
    ("quantile", "shape"),
    [
        (0.5, (100,)),
        (np.array(0.5), (100,)),
        (np.float32(0.5), (100,)),
        ([0.5], (100, 1)),
        ((0.5,), (100, 1)),
        (np.array([0.5]), (100, 1)),
    ],
)
def test_a_zero_dimensional_quantile_is_a_float(quantile, shape):
    X, y = _data()
    reg = PositiveMLPRegressor(loss="quantile", quantile=quantile, **SMALL)
    assert reg.fit(X, y).predict(X).shape == shape


# --- Targets changed by a cast or by target scaling ---------------------------------


def test_a_target_that_float32_rounds_to_zero_is_named():
    X, y = _data()
    y[0] = 1e-46
    reg = PositiveMLPRegressor(loss="gamma", **SMALL)
    with pytest.raises(ValueError, match=r"underflowed to 0 when y was cast.*float32"):
        reg.fit(X.astype(np.float32), y)


def test_a_target_beyond_float32_is_named():
    X, y = _data()
    y[0] = 1e300
    with pytest.raises(ValueError, match=r"beyond the largest float32.*float64 X"):
        PositiveMLPRegressor(**SMALL).fit(X.astype(np.float32), y)


@quiet_convergence
@pytest.mark.parametrize(("loss", "power"), [("tweedie", 3.0), ("gamma", 2.0)])
def test_targets_that_underflow_in_target_scaling_are_named(loss, power):
    X = np.random.RandomState(0).uniform(size=(80, 2))
    y = np.logspace(-300, 300, 80)
    reg = PositiveMLPRegressor(loss=loss, power=power, **SMALL)
    with pytest.raises(ValueError, match=r"underflowed to 0 after target scaling"):
        reg.fit(X, y)
    reg.set_params(target_scaling=None).fit(X, y)  # as the message says
    assert np.all(np.isfinite(reg.predict(X)))


# --- Early stopping: the held-out share and X_val ----------------------------------


def test_early_stopping_names_the_rows_of_zero_weight_it_dropped():
    X, y = _data()
    weights = np.zeros(100)
    weights[5] = 1.0
    reg = PositiveMLPRegressor(early_stopping=True, **SMALL)
    with pytest.raises(
        ValueError, match=r"1 sample\(s\) of non-zero weight \(99 sample"
    ):
        reg.fit(X, y, sample_weight=weights)


@pytest.mark.parametrize(
    ("n_rows", "fraction", "advice"),
    [
        (1, 0.1, "more samples"),
        (2, 0.5, "more samples"),
        (10, 0.1, r"validation_fraction in \[2/10, 9/10\]"),
        (10, 0.95, r"validation_fraction in \[2/10, 9/10\]"),
        (100, 0.0, r"validation_fraction in \[2/100, 99/100\]"),
    ],
)
def test_a_held_out_share_too_small_to_use_says_what_helps(n_rows, fraction, advice):
    X, y = _data(n_rows)
    reg = PositiveMLPRegressor(
        early_stopping=True, validation_fraction=fraction, **SMALL
    )
    with pytest.raises(ValueError, match=rf"early_stopping holds out.*{advice}"):
        reg.fit(X, y)


@quiet_convergence
@pytest.mark.parametrize("fraction", [0.2, 0.9])
def test_the_edges_of_the_advised_share_fit(fraction):
    X, y = _data(10)
    PositiveMLPRegressor(
        early_stopping=True, validation_fraction=fraction, **SMALL
    ).fit(X, y)


@pytest.mark.parametrize("n_rows", [1, 2])
def test_an_explicit_validation_set_needs_two_rows(n_rows):
    X, y = _data()
    reg = PositiveMLPRegressor(early_stopping=True, **SMALL)
    weights = np.r_[1.0, np.zeros(n_rows - 1)]  # one row of non-zero weight
    with pytest.raises(ValueError, match=r"X_val has 1 row\(s\).*at least 2"):
        reg.fit(X, y, X_val=X[:n_rows], y_val=y[:n_rows], sample_weight_val=weights)


@quiet_convergence
@pytest.mark.parametrize(
    ("loss", "score"), [("squared_error", "R2"), ("poisson", "D2"), ("gamma", "D2")]
)
def test_a_constant_y_val_is_warned(loss, score):
    X, y = _data()
    reg = PositiveMLPRegressor(loss=loss, early_stopping=True, **SMALL)
    with pytest.warns(UserWarning, match=rf"y_val is constant.*its {score}.*varies"):
        reg.fit(X, y, X_val=X[:10], y_val=np.full((10, 1), 2.0))


@quiet_convergence
def test_a_varying_or_quantile_y_val_is_not_warned():
    X, y = _data()
    reg = PositiveMLPRegressor(early_stopping=True, **SMALL)
    reg.fit(X, y, X_val=X[:10], y_val=y[:10])  # filterwarnings=error: no warning
    two = np.c_[np.full(10, 2.0), y[:10]]  # one output varies: R2 still judges
    reg.fit(X, np.c_[y, y], X_val=X[:10], y_val=two)
    reg.set_params(loss="quantile").fit(X, y, X_val=X[:10], y_val=np.full(10, 2.0))


# --- Dask ---------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", ["known", "unknown"])
def test_fit_blocks_on_no_rows_is_an_error(sizes):
    da = needs_extra("dask.array", "dask")
    from positive_mlp.dask import fit_blocks

    X, y = _data()
    X_dask, y_dask = da.from_array(X, chunks=30), da.from_array(y, chunks=30)
    if sizes == "known":
        X_dask, y_dask = X_dask[:0], y_dask[:0]
    else:  # a filter: the row counts are known only once computed
        X_dask, y_dask = X_dask[X_dask[:, 0] > 2], y_dask[X_dask[:, 0] > 2]
    reg = PositiveMLPRegressor(**SMALL)
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        fit_blocks(reg, X_dask, y_dask)
    assert not hasattr(reg, "coefs_")


def test_targets_a_transformer_centred_name_the_transformer_and_the_remedies():
    X, y = _data()
    model = TransformedTargetRegressor(
        regressor=PositiveMLPRegressor(**SMALL), transformer=StandardScaler()
    )
    with pytest.raises(
        ValueError,
        match=r"(?s)below output_threshold.*transformer.*"
        r"target_scaling.*keeps the floor",
    ):
        model.fit(X, y)
    # Targets merely below the floor, not centred, keep the short message.
    with pytest.raises(ValueError, match="below output_threshold") as caught:
        PositiveMLPRegressor(**SMALL).fit(X, y - 1.5)  # a few below 0
    assert "transformer" not in str(caught.value)
