"""Sparse X: every scipy.sparse layout gives the model dense X gives, in every
solver, output, loss and constraint, on any number of threads; the core reads CSR as
it is (never densified), rejects malformed structure, and fits in pipelines whose
one-hot encoders output sparse matrices."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from positive_mlp import PositiveMLPRegressor, _network
from positive_mlp._losses import resolve_loss

quiet_convergence = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def _sparse_problem(n_samples=300, n_features=25, density=0.2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    X[rng.uniform(size=X.shape) > density] = 0.0
    X[::7] = 0.0  # rows without a single nonzero
    y = np.exp(X[:, 0] - 0.5 * X[:, 1]) + 0.1
    return X, y


def _assert_same_model(a, b, rtol):
    for coef_a, coef_b in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(coef_a, coef_b, rtol=rtol, atol=rtol)


CONFIGURATIONS = [
    {},
    {"output_activation": "exp", "loss": "poisson"},
    {"output_activation": "softplus", "loss": "gamma", "output_threshold": 0.05},
    {"output_activation": "relu", "output_threshold": -0.5},
    {"output_activation": "identity", "output_constraint": "penalty"},
    {"output_activation": "identity", "output_constraint": "lagrangian"},
    {"nonneg_weights": "all", "nonneg_method": "square", "nonneg_bias": True},
    {"nonneg_weights": "hidden", "nonneg_method": "projection"},
    {"monotonic_cst": [1, -1] + [0] * 23, "activation": "tanh"},
    {"early_stopping": True, "validation_fraction": 0.2},
    {"hidden_layer_sizes": ()},  # the first layer is the output layer
]


@quiet_convergence
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("config", "solver"),
    [
        (config, solver)
        for config in CONFIGURATIONS
        for solver in ("adam", "sgd", "lbfgs")
        if not (config.get("early_stopping") and solver == "lbfgs")  # no such option
    ],
    ids=str,
)
def test_sparse_and_dense_inputs_give_the_same_model(config, solver, dtype):
    X, y = _sparse_problem()
    X = X.astype(dtype)
    # float32 rounding differences grow with every iteration (most under L-BFGS-B's
    # line searches): fewer of them keep the comparison sharp.
    max_iter = 15 if dtype == np.float64 else 5
    params = dict(
        hidden_layer_sizes=(16, 8),
        solver=solver,
        max_iter=max_iter,
        random_state=0,
        input_scaling="rms",  # 'auto' centres dense X only
    )
    params.update(config)
    dense = PositiveMLPRegressor(**params).fit(X, y)
    sparse = PositiveMLPRegressor(**params).fit(sp.csr_matrix(X), y)
    # Sums over the nonzeros round differently from BLAS's sums over every entry.
    rtol = 1e-9 if dtype == np.float64 else 2e-3
    _assert_same_model(dense, sparse, rtol)
    assert sparse.coefs_[0].dtype == dtype
    pred = sparse.predict(sp.csr_matrix(X))
    assert pred.dtype == dtype
    np.testing.assert_allclose(pred, sparse.predict(X), rtol=rtol, atol=rtol)


def _layouts(X: np.ndarray) -> dict[str, object]:
    """The same matrix in the layouts users hand over."""
    csr = sp.csr_matrix(X)
    wide = sp.csr_matrix(X)
    wide.indices, wide.indptr = (
        wide.indices.astype(np.int64),
        wide.indptr.astype(np.int64),
    )
    return {
        "csr_matrix": csr,
        "csr_array": sp.csr_array(X),
        "csc_matrix": sp.csc_matrix(X),
        "csc_array": sp.csc_array(X),
        "coo_matrix": sp.coo_matrix(X),
        "int64 indices": wide,
        "unsorted, duplicated": _with_unsorted_duplicates(X),
        "explicit zeros": _with_explicit_zeros(csr),
    }


def _with_unsorted_duplicates(X: np.ndarray) -> sp.csr_matrix:
    """Every nonzero stored as two halves, each row's columns in descending order."""
    rows, cols = np.nonzero(X)
    order = np.lexsort((-cols, rows))
    rows, cols = rows[order], cols[order]
    values = X[rows, cols] / 2
    counts = np.bincount(rows, minlength=X.shape[0])
    # Interleave each row's entries with a second copy: [a, b] -> [a, b, a, b].
    indptr = np.concatenate([[0], np.cumsum(2 * counts)])
    indices = np.empty(2 * len(cols), dtype=np.int32)
    data = np.empty(2 * len(cols))
    for i in range(X.shape[0]):
        start, stop = indptr[i] // 2, indptr[i + 1] // 2
        span = stop - start
        indices[indptr[i] : indptr[i] + span] = cols[start:stop]
        indices[indptr[i] + span : indptr[i + 1]] = cols[start:stop]
        data[indptr[i] : indptr[i] + span] = values[start:stop]
        data[indptr[i] + span : indptr[i + 1]] = values[start:stop]
    matrix = sp.csr_matrix((data, indices, indptr), shape=X.shape)
    assert not matrix.has_canonical_format
    return matrix


def _with_explicit_zeros(csr: sp.csr_matrix) -> sp.csr_matrix:
    matrix = csr.copy()
    matrix.data[::3] = 0.0  # stored, but zero
    return matrix


@quiet_convergence
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_every_sparse_layout_gives_the_model_of_its_dense_matrix(solver):
    X, y = _sparse_problem(n_samples=120, n_features=9, seed=3)
    params = dict(
        hidden_layer_sizes=(8,),
        solver=solver,
        max_iter=10,
        random_state=0,
        input_scaling="rms",  # 'auto' centres dense X only
    )
    for name, layout in _layouts(X).items():
        dense_X = layout.toarray()
        dense = PositiveMLPRegressor(**params).fit(dense_X, y)
        sparse = PositiveMLPRegressor(**params).fit(layout, y)
        try:
            _assert_same_model(dense, sparse, rtol=1e-9)
            np.testing.assert_allclose(
                sparse.predict(layout), dense.predict(dense_X), rtol=1e-9
            )
            assert sparse.score(layout, y) == pytest.approx(dense.score(dense_X, y))
        except AssertionError as error:
            raise AssertionError(name) from error


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_core_reads_32_and_64_bit_indices(dtype):
    X, _ = _sparse_problem(n_samples=40, n_features=6)
    X = X.astype(dtype)
    layout = _network.ParameterLayout((6, 5, 1))
    network = _network.build_network(
        layout, "relu", "softplus", resolve_loss("squared_error"), np.zeros(1), dtype
    )
    params = np.random.RandomState(0).normal(size=layout.n_params).astype(dtype)
    expected = network.predict(params, X)
    narrow = sp.csr_matrix(X)
    wide = sp.csr_matrix(X)
    wide.indices = wide.indices.astype(np.int64)
    assert narrow.indices.dtype == np.int32
    for matrix in (narrow, wide):
        np.testing.assert_allclose(network.predict(params, matrix), expected, rtol=1e-6)


def _malformed(X: np.ndarray, make=sp.csr_matrix) -> dict[str, sp.csr_matrix]:
    cases = {}
    for name, mutate in {
        "index past the width": lambda m: m.indices.__setitem__(0, max(m.shape)),
        "negative index": lambda m: m.indices.__setitem__(0, -1),
        "decreasing offsets": lambda m: m.indptr.__setitem__(2, m.indptr[3] + 1),
        "offsets past the entries": lambda m: m.indptr.__setitem__(-1, m.nnz + 5),
        "offsets not starting at 0": lambda m: m.indptr.__setitem__(0, 1),
    }.items():
        matrix = make(X)
        mutate(matrix)
        cases[name] = matrix
    return cases


def test_malformed_csr_structure_is_refused_not_read():
    X, _ = _sparse_problem(n_samples=40, n_features=6, density=0.9)
    layout = _network.ParameterLayout((6, 5, 1))
    network = _network.build_network(
        layout,
        "relu",
        "softplus",
        resolve_loss("squared_error"),
        np.zeros(1),
        np.float64,
    )
    params = np.zeros(layout.n_params)
    for matrix in _malformed(X).values():
        with pytest.raises(ValueError, match="sparse X"):
            network.predict(params, matrix)
    short = sp.csr_matrix(X)
    short.indptr = short.indptr[:-1]
    with pytest.raises(ValueError, match="indptr"):
        network.predict(params, short)


@quiet_convergence
def test_malformed_csr_given_to_the_estimator_raises_a_value_error():
    X, y = _sparse_problem(n_samples=40, n_features=6, density=0.9)
    reg = PositiveMLPRegressor(hidden_layer_sizes=(4,), max_iter=3).fit(X, y)
    for matrix in _malformed(X).values():
        with pytest.raises(ValueError):
            reg.predict(matrix)
        with pytest.raises(ValueError):
            PositiveMLPRegressor(max_iter=2).fit(matrix, y)


@quiet_convergence
def test_malformed_sparse_input_is_refused_before_anything_reads_it():
    """Row selection (zero weights), the early-stopping split, the X_val checks and
    format conversions all run scipy code that trusts the index arrays."""
    X, y = _sparse_problem(n_samples=40, n_features=6, density=0.9)
    weights = np.r_[np.zeros(5), np.ones(35)]
    good = sp.csr_matrix(X)
    malformed_csc = _malformed(X, sp.csc_matrix)
    for name, matrix in _malformed(X).items():
        calls = {
            "zero weights": lambda m=matrix: PositiveMLPRegressor(max_iter=2).fit(
                m, y, sample_weight=weights
            ),
            "early stopping": lambda m=matrix: PositiveMLPRegressor(
                max_iter=2, early_stopping=True
            ).fit(m, y),
            "X with X_val": lambda m=matrix: PositiveMLPRegressor(
                max_iter=2, early_stopping=True
            ).fit(m, y, X_val=good, y_val=y),
            "X_val": lambda m=matrix: PositiveMLPRegressor(
                max_iter=2, early_stopping=True
            ).fit(good, y, X_val=m, y_val=y),
            "CSC": lambda name=name: PositiveMLPRegressor(max_iter=2).fit(
                malformed_csc[name], y
            ),
        }
        for call_name, call in calls.items():
            try:
                with pytest.raises(ValueError, match="malformed sparse"):
                    call()
            except BaseException as error:
                raise AssertionError(f"{name}, {call_name}") from error


def test_a_divergence_message_leaves_the_callers_matrix_as_it_was():
    """Its largest |X| is read from the stored entries, not through abs(X), which
    sums duplicate entries in place (and fails on read-only arrays)."""
    from positive_mlp._solvers import _largest

    matrix = _with_unsorted_duplicates(np.diag([1.0, -5.0, 2.0]))
    before = (matrix.data.copy(), matrix.indices.copy(), matrix.indptr.copy())
    for array in (matrix.data, matrix.indices, matrix.indptr):
        array.flags.writeable = False
    assert _largest(matrix) == 2.5
    for array, saved in zip((matrix.data, matrix.indices, matrix.indptr), before):
        np.testing.assert_array_equal(array, saved)


@quiet_convergence
@pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning")
@pytest.mark.parametrize("n_threads", [2, 3, 8])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_sparse_batches_on_several_threads_give_the_single_threaded_model(
    solver, n_threads, eight_cores
):
    """Shuffled sparse batches are read through the shuffled order, split over threads,
    and through chunks of 512 rows: the batch splits that once broke the dense path."""
    rng = np.random.RandomState(0)
    for n_samples, batch_size in [(61, 31), (350, "auto"), (1031, 700), (1500, 1300)]:
        X, y = _sparse_problem(n_samples, 40, density=0.1, seed=n_samples)
        weights = rng.choice([0.0, 0.5, 2.0], size=n_samples, p=[0.3, 0.3, 0.4])
        weights[0] = 1.0
        models = [
            PositiveMLPRegressor(
                hidden_layer_sizes=(256,),
                solver=solver,
                max_iter=2,
                batch_size=batch_size,
                random_state=0,
                n_threads=threads,
            ).fit(sp.csr_matrix(X), y, sample_weight=weights)
            for threads in (1, n_threads)
        ]
        np.testing.assert_allclose(
            models[1].predict(X), models[0].predict(X), rtol=1e-6
        )


@quiet_convergence
def test_partial_fit_and_validation_sets_take_sparse_and_dense_mixed():
    X, y = _sparse_problem(n_samples=200)
    X_val, y_val = _sparse_problem(n_samples=60, seed=1)
    params = dict(
        hidden_layer_sizes=(8,),
        random_state=0,
        early_stopping=True,
        input_scaling="rms",  # 'auto' centres dense X only
    )
    dense = PositiveMLPRegressor(**params).fit(X, y, X_val=X_val, y_val=y_val)
    mixed = PositiveMLPRegressor(**params).fit(
        sp.csr_matrix(X), y, X_val=X_val, y_val=y_val
    )
    all_sparse = PositiveMLPRegressor(**params).fit(
        X, y, X_val=sp.csc_matrix(X_val), y_val=y_val
    )
    for model in (mixed, all_sparse):
        np.testing.assert_allclose(
            model.validation_scores_, dense.validation_scores_, rtol=1e-9
        )
    online = PositiveMLPRegressor(**{**params, "early_stopping": False})
    reference = PositiveMLPRegressor(**{**params, "early_stopping": False})
    for start in range(0, 200, 50):
        online.partial_fit(sp.csr_matrix(X[start : start + 50]), y[start : start + 50])
        reference.partial_fit(X[start : start + 50], y[start : start + 50])
    _assert_same_model(online, reference, rtol=1e-9)


@quiet_convergence
@pytest.mark.parametrize("output_activation", ["softplus", "exp", "relu"])
def test_sparse_rows_with_huge_values_predict_finite_values_above_the_threshold(
    output_activation,
):
    X, y = _sparse_problem(n_samples=100, n_features=5, density=0.5)
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8, 8),
        output_activation=output_activation,
        output_threshold=1.5,
        max_iter=20,
        random_state=0,
    ).fit(sp.csr_matrix(X), y + 1.5)
    for scale in (1e150, -1e200, 1e300, -1e307):
        with np.errstate(all="ignore"):
            pred = reg.predict(sp.csr_matrix(X * scale))
        assert np.all(np.isfinite(pred)) and np.all(pred >= 1.5)


def test_a_wide_sparse_fit_never_densifies_x():
    """500,000 columns: dense, X alone would take 8 GB. The fit's and predict's peak
    memory above what the process held before them must stay far below that (a fresh
    process, whose peak-memory counter is reset after the data are made)."""
    script = textwrap.dedent(
        """
        import warnings
        import numpy as np, scipy.sparse as sp
        from positive_mlp import PositiveMLPRegressor

        def resident_mib(field):
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) // 1024

        rng = np.random.default_rng(0)
        n, d, per_row = 2000, 500_000, 20
        indices = rng.integers(0, d, size=n * per_row)
        indptr = np.arange(0, n * per_row + 1, per_row)
        X = sp.csr_matrix((rng.normal(size=n * per_row), indices, indptr), shape=(n, d))
        y = np.exp(rng.normal(size=n))
        warnings.simplefilter("ignore")
        with open("/proc/self/clear_refs", "w") as counter:
            counter.write("5")  # the peak restarts from the current resident memory
        before = resident_mib("VmRSS")
        reg = PositiveMLPRegressor(hidden_layer_sizes=(4,), max_iter=2).fit(X, y)
        reg.predict(X)
        print(resident_mib("VmHWM") - before)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    growth_mib = int(run.stdout.split()[-1])
    # The parameters and their optimiser state and copies take ~150 MiB (more under
    # AddressSanitizer's allocator); a dense copy of X alone 7,600 MiB.
    assert growth_mib < 1000, f"the fit needed {growth_mib} MiB"


def _categorical_frame(n_samples: int, seed: int = 0):
    pandas = pytest.importorskip("pandas")
    rng = np.random.RandomState(seed)
    levels = rng.zipf(1.3, size=n_samples) % 300
    effect = rng.normal(scale=0.5, size=300)
    numeric = rng.normal(size=(n_samples, 3)) * [1.0, 100.0, 0.01]
    y = np.exp(effect[levels] + 0.5 * numeric[:, 0] + 0.005 * numeric[:, 1])
    frame = pandas.DataFrame(numeric, columns=["a", "b", "c"])
    frame["level"] = levels.astype(str)
    return frame, y


@quiet_convergence
def test_a_one_hot_pipeline_feeds_sparse_input_through_a_grid_search():
    frame, y = _categorical_frame(1500)
    encode = ColumnTransformer(
        [
            ("level", OneHotEncoder(handle_unknown="ignore"), ["level"]),
            ("numbers", StandardScaler(), ["a", "b", "c"]),
        ]
    )
    assert sp.issparse(encode.fit_transform(frame))  # what the model receives
    pipeline = Pipeline(
        [
            ("encode", encode),
            ("model", PositiveMLPRegressor(random_state=0, max_iter=60)),
        ]
    )
    search = GridSearchCV(
        pipeline, {"model__hidden_layer_sizes": [(16,), (32,)]}, cv=3
    ).fit(frame, y)
    assert search.best_score_ > 0.5
    assert np.all(search.predict(frame) >= 0.0)


def test_sparse_input_is_declared_in_the_tags():
    from sklearn.utils import get_tags

    assert get_tags(PositiveMLPRegressor()).input_tags.sparse
