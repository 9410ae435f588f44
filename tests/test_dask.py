"""Dask: grid search and cross-validation on a cluster of worker processes (joblib's
Dask backend) give the numbers the local search gives, with one core thread per
task; ``positive_mlp.dask.fit_blocks`` trains on a Dask array block by block into
the model ``partial_fit`` gives on the same blocks in memory; dask-ml's Incremental
works over ``partial_fit``; ``import positive_mlp`` imports no Dask."""

from __future__ import annotations

import os
import subprocess
import sys

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from extras import needs_extra
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    cross_val_score,
    cross_validate,
)

from positive_mlp import PositiveMLPRegressor

distributed = needs_extra("distributed", "dask")

import cloudpickle  # noqa: E402  (a dependency of distributed)
import dask.array as da  # noqa: E402
import psutil  # noqa: E402  (a dependency of distributed)

from positive_mlp.dask import fit_blocks  # noqa: E402

# The functions below that run inside the workers travel by value, so they need not
# find this module on their path (pytest's import mode decides whether they can).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

# Few epochs keep these tests fast; the models are not meant to converge.
not_converged = pytest.mark.filterwarnings(
    "ignore:Stochastic Optimizer. Maximum iterations:"
    "sklearn.exceptions.ConvergenceWarning"
)


def _problem(n_samples=1000, n_features=4, seed=0, dtype=np.float64):
    """A known positive function of X, with a little noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)).astype(dtype)
    y = np.exp(0.5 * X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.05 * rng.uniform(size=n_samples)
    return X, y.astype(dtype)


def _small_model(**params):
    return PositiveMLPRegressor(
        hidden_layer_sizes=(8,), batch_size=50, random_state=0, **params
    )


def _assert_same_model(a, b):
    """Bit for bit: the same arithmetic in the same order."""
    assert a.t_ == b.t_
    for array_a, array_b in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert array_a.dtype == array_b.dtype
        np.testing.assert_array_equal(array_a, array_b)


def _partial_fit_in_memory(model, X, y, bounds, epochs, sample_weight=None):
    """The reference: partial_fit on in-memory slices, block after block."""
    for _ in range(epochs):
        for start, stop in bounds:
            weights = None if sample_weight is None else sample_weight[start:stop]
            model.partial_fit(X[start:stop], y[start:stop], sample_weight=weights)
    return model


def _bounds(chunks):
    stops = np.cumsum(chunks)
    return list(zip(stops - np.asarray(chunks), stops))


def test_importing_positive_mlp_imports_no_dask():
    script = (
        "import sys, positive_mlp\n"
        "print(sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('dask', 'distributed', 'dask_ml')))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "[]"


# --- fit_blocks, on Dask's local scheduler ---------------------------------------


@pytest.mark.parametrize(
    ("dtype", "to_blocks"),
    [
        (np.float64, np.asarray),
        (np.float32, np.asarray),
        (np.float64, sp.csr_matrix),
    ],
    ids=["float64", "float32", "sparse"],
)
def test_fit_blocks_gives_the_model_of_partial_fit_on_the_same_blocks(dtype, to_blocks):
    X, y = _problem(dtype=dtype)
    X[X < 0] = 0  # half the entries zero: a sparse matrix of some use
    chunks = (300, 300, 300, 100)  # 1000 rows: the last block is shorter
    X_dask = da.from_array(X, chunks=(chunks, 4)).map_blocks(to_blocks, dtype=dtype)
    y_dask = da.from_array(y, chunks=250)  # split otherwise: rechunked to X's
    trained = fit_blocks(_small_model(), X_dask, y_dask, epochs=2, shuffle_blocks=False)
    expected = _partial_fit_in_memory(
        _small_model(), to_blocks(X), y, _bounds(chunks), epochs=2
    )
    _assert_same_model(trained, expected)
    assert trained.coefs_[0].dtype == dtype


def test_fit_blocks_splits_sample_weight_and_in_memory_targets_by_blocks():
    X, y = _problem()
    weights = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    X_dask = da.from_array(X, chunks=(400, 4))
    trained = fit_blocks(
        _small_model(),
        X_dask,
        y,
        sample_weight=da.from_array(weights, chunks=300),
        shuffle_blocks=False,
    )
    expected = _partial_fit_in_memory(
        _small_model(), X, y, _bounds((400, 400, 200)), epochs=1, sample_weight=weights
    )
    _assert_same_model(trained, expected)


def test_fit_blocks_trains_on_every_column_when_blocks_split_the_columns():
    X, y = _problem()
    split = fit_blocks(
        _small_model(), da.from_array(X, chunks=(500, 2)), y, shuffle_blocks=False
    )
    whole = fit_blocks(
        _small_model(), da.from_array(X, chunks=(500, 4)), y, shuffle_blocks=False
    )
    assert split.n_features_in_ == 4
    _assert_same_model(split, whole)


def test_fit_blocks_skips_empty_blocks():
    X, y = _problem()
    chunks = (400, 0, 600)
    trained = fit_blocks(
        _small_model(), da.from_array(X, chunks=(chunks, 4)), y, shuffle_blocks=False
    )
    expected = _partial_fit_in_memory(_small_model(), X, y, [(0, 400), (400, 1000)], 1)
    _assert_same_model(trained, expected)


class _BlockRecorder:
    """Records the first target of each block it is given."""

    def __init__(self):
        self.seen = []

    def partial_fit(self, X, y, sample_weight=None):
        self.seen.append(float(y[0]))
        return self


def _visits(epochs, random_state, n_blocks=6):
    y = np.arange(60.0)
    X = da.zeros((60, 2), chunks=(60 // n_blocks, 2))
    recorder = fit_blocks(
        _BlockRecorder(), X, y, epochs=epochs, random_state=random_state
    )
    block = [int(first) // (60 // n_blocks) for first in recorder.seen]
    return [block[e * n_blocks : (e + 1) * n_blocks] for e in range(epochs)]


def test_fit_blocks_shuffles_the_blocks_anew_every_epoch_from_its_seed():
    epochs = _visits(epochs=4, random_state=0)
    assert all(sorted(epoch) == list(range(6)) for epoch in epochs)
    assert len({tuple(epoch) for epoch in epochs}) > 1  # not one order repeated
    assert epochs != [list(range(6))] * 4
    assert _visits(epochs=4, random_state=0) == epochs
    assert _visits(epochs=4, random_state=1) != epochs


def test_fit_blocks_pairs_blocks_of_unknown_size_in_order():
    pandas = pytest.importorskip("pandas")
    dask_frame = needs_extra("dask.dataframe", "dask")
    X, y = _problem()
    frame = pandas.DataFrame(X, columns=list("abcd")).assign(y=y)
    parts = dask_frame.from_pandas(frame, npartitions=3)
    X_dask = parts[list("abcd")].to_dask_array()  # row counts unknown (nan)
    y_dask = parts["y"].to_dask_array()
    assert np.isnan(X_dask.shape[0])
    trained = fit_blocks(_small_model(), X_dask, y_dask, shuffle_blocks=False)
    sizes = [len(part) for part in parts.partitions]
    expected = _partial_fit_in_memory(_small_model(), X, y, _bounds(sizes), 1)
    _assert_same_model(trained, expected)


def test_fit_blocks_learns_a_known_function():
    X, y = _problem(n_samples=20_000, seed=0)
    X_test, y_test = _problem(n_samples=2000, seed=1)
    model = PositiveMLPRegressor(hidden_layer_sizes=(16,), random_state=0)
    fit_blocks(model, da.from_array(X, chunks=(3000, 4)), y, epochs=10, random_state=0)
    # 0.969; ten epochs of fit in memory: 0.967
    assert model.score(X_test, y_test) > 0.95


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"X": np.zeros((10, 2))}, TypeError, "must be a dask.array.Array"),
        ({"X": da.zeros(10, chunks=5)}, ValueError, "2-dimensional"),
        ({"y": np.zeros(9)}, ValueError, "X has 10 rows but y has 9"),
        ({"sample_weight": np.ones(11)}, ValueError, "sample_weight has 11"),
        ({"epochs": 0}, ValueError, "epochs must be an integer >= 1"),
        (
            {"estimator": PositiveMLPRegressor(solver="lbfgs")},
            ValueError,
            "needs the estimator's partial_fit: partial_fit is only available for "
            "the stochastic solvers",
        ),
    ],
)
def test_fit_blocks_refuses_what_it_cannot_train_on(arguments, error, message):
    call = {
        "estimator": _small_model(),
        "X": da.zeros((10, 2), chunks=(5, 2)),
        "y": np.ones(10),
        **arguments,
    }
    with pytest.raises(error, match=message):
        fit_blocks(**call)


def test_fit_blocks_refuses_unknown_sizes_with_unequal_block_counts():
    pandas = pytest.importorskip("pandas")
    dask_frame = needs_extra("dask.dataframe", "dask")
    frame = pandas.DataFrame({"a": np.arange(10.0), "y": np.ones(10)})
    X_dask = dask_frame.from_pandas(frame[["a"]], npartitions=2).to_dask_array()
    y_dask = dask_frame.from_pandas(frame["y"], npartitions=3).to_dask_array()
    with pytest.raises(ValueError, match="2 row blocks but y has 3"):
        fit_blocks(_small_model(), X_dask, y_dask)


# --- on a cluster of two worker processes ----------------------------------------


def _own_processes() -> set[int]:
    """This process's descendants, but multiprocessing's resource tracker: started
    with the first worker, it stays for the life of this interpreter, one per
    process whatever starts it (loky does too), and ends when this process does."""
    return {
        child.pid
        for child in psutil.Process().children(recursive=True)
        if "multiprocessing.resource_tracker" not in " ".join(child.cmdline())
    }


def _listening_ports() -> set[int]:
    return {
        connection.laddr.port
        for connection in psutil.Process().net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN
    }


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread each; afterwards no worker process left
    running, no port left open, and this process's environment as it was."""
    processes_before, ports_before = _own_processes(), _listening_ports()
    environment_before = os.environ.copy()
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster, set_as_default=False) as client:
        yield client
    # The nannies set their workers' variables (OMP_NUM_THREADS=1 and others) in
    # this process's environment, and leave them: later tests' subprocesses would
    # inherit them.
    os.environ.clear()
    os.environ.update(environment_before)
    _, alive = psutil.wait_procs(
        [psutil.Process(pid) for pid in _own_processes() - processes_before],
        timeout=5,
    )
    assert not alive, f"processes left running: {alive}"
    assert _listening_ports() <= ports_before


def _core_threads() -> tuple[int, int]:
    """This process's id and the threads a default model's core would use."""
    return os.getpid(), PositiveMLPRegressor()._thread_count()


def test_tasks_run_in_the_workers_with_one_core_thread_each(client):
    worker_pids = set(client.run(os.getpid).values())
    with client.as_current(), joblib.parallel_config(backend="dask"):
        reports = joblib.Parallel(n_jobs=-1)(
            joblib.delayed(_core_threads)() for _ in range(8)
        )
    pids = {pid for pid, _ in reports}
    assert pids <= worker_pids and os.getpid() not in pids
    # The nannies start the workers with OMP_NUM_THREADS=1 (distributed's
    # nanny.pre-spawn-environ), which n_threads=None follows.
    assert {threads for _, threads in reports} == {1}


GRID = {"hidden_layer_sizes": [(4,), (8,)], "alpha": [1e-4, 1e-1]}
CV = KFold(3, shuffle=True, random_state=0)


def _search_model():
    return PositiveMLPRegressor(max_iter=15, random_state=0, n_threads=1)


# Exact equality holds because each fit does the same arithmetic in the same order
# in a worker as here: the same seeds, and one core thread in both places (a batch
# split between threads, as 4 members' batches of 200 rows are on 2 cores, changes
# only the order of a sum: equal to rounding, not bit for bit).
@not_converged
def test_grid_search_on_the_cluster_equals_the_local_search(client):
    X, y = _problem(n_samples=240)
    local = GridSearchCV(_search_model(), GRID, cv=CV, n_jobs=1).fit(X, y)
    with client.as_current(), joblib.parallel_config(backend="dask"):
        remote = GridSearchCV(_search_model(), GRID, cv=CV, n_jobs=-1).fit(X, y)
    for key in local.cv_results_:
        if key.startswith(("split", "mean_test", "std_test", "rank_", "param")):
            np.testing.assert_array_equal(
                remote.cv_results_[key], local.cv_results_[key]
            )
    assert len(set(local.cv_results_["mean_test_score"])) == 4  # the grid matters
    assert remote.best_params_ == local.best_params_
    assert remote.best_score_ == local.best_score_


@not_converged
def test_cross_validation_on_the_cluster_equals_local_and_pickles_back(client):
    X, y = _problem(n_samples=240)
    local_scores = cross_val_score(_search_model(), X, y, cv=CV)
    local = cross_validate(_search_model(), X, y, cv=CV, return_estimator=True)
    with client.as_current(), joblib.parallel_config(backend="dask"):
        remote_scores = cross_val_score(_search_model(), X, y, cv=CV, n_jobs=-1)
        remote = cross_validate(
            _search_model(), X, y, cv=CV, n_jobs=-1, return_estimator=True
        )
    np.testing.assert_array_equal(remote_scores, local_scores)
    np.testing.assert_array_equal(remote["test_score"], local["test_score"])
    # Fitted in a worker, pickled back: the same model, and it predicts here.
    for came_back, fitted_here in zip(remote["estimator"], local["estimator"]):
        _assert_same_model(came_back, fitted_here)
        np.testing.assert_array_equal(came_back.predict(X), fitted_here.predict(X))


def _computed_in_a_worker(block: np.ndarray) -> np.ndarray:
    distributed.get_worker()  # raises ValueError outside a worker
    return block


def test_fit_blocks_computes_the_blocks_on_the_current_client(client):
    X, y = _problem()
    X_dask = da.from_array(X, chunks=(300, 4)).map_blocks(
        _computed_in_a_worker, meta=np.empty((0, 0))
    )
    with client.as_current():
        trained = fit_blocks(
            _small_model(),
            X_dask,
            da.from_array(y, chunks=300),
            epochs=2,
            random_state=0,
        )
    expected = fit_blocks(
        _small_model(), da.from_array(X, chunks=(300, 4)), y, epochs=2, random_state=0
    )
    _assert_same_model(trained, expected)


def test_dask_ml_incremental_gives_the_model_of_partial_fit(client):
    wrappers = needs_extra("dask_ml.wrappers", "dask")
    X, y = _problem(dtype=np.float32)
    chunks = (300, 300, 300, 100)
    incremental = wrappers.Incremental(_small_model(), shuffle_blocks=False)
    with client.as_current():
        for _ in range(2):  # each call: one pass over the blocks, on the workers
            incremental.partial_fit(
                da.from_array(X, chunks=(chunks, 4)), da.from_array(y, chunks=chunks)
            )
        predictions = incremental.predict(da.from_array(X, chunks=(chunks, 4)))
        predictions = predictions.compute()
    expected = _partial_fit_in_memory(_small_model(), X, y, _bounds(chunks), 2)
    _assert_same_model(incremental.estimator_, expected)
    np.testing.assert_array_equal(predictions, expected.predict(X))
