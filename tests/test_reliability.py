"""The reliability contract: no crash for any shape or thread count, finite fitted
parameters, finite predictions >= threshold for any finite input, and messages that
name the cause. Each test here reaches inputs that once broke the package."""

from __future__ import annotations

import contextlib
import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from interrupt import fit_with_ctrl_c_after
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from positive_mlp import PositiveMLPRegressor, TrainingDivergedError, _threads

quiet_convergence = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)

BOUNDED = ["softplus", "exp", "relu"]


def _fit_quietly(reg, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return reg.fit(X, y, **fit_params)


# --- Buffers: every batch split fits (the heap overflow of the first version) -------

# 15 features and 256 hidden units: 4353 parameters, so a batch gets one thread per
# ~30 rows (up to n_threads). Row counts and batch sizes are chosen so that the last
# batch is shorter than the others and goes to fewer threads, and so that a thread's
# share exceeds one 512-row chunk.
SHAPES = [
    (1, "auto"),
    (29, "auto"),
    (61, 31),
    (350, "auto"),
    (457, 97),
    (401, 1),
    (1500, 1300),
    (1031, 700),
]


@quiet_convergence
@pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning")  # rows dropped
@pytest.mark.parametrize("n_threads", [2, 3, 8])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_every_batch_split_gives_the_single_threaded_model(
    solver, n_threads, eight_cores
):
    rng = np.random.RandomState(0)
    for n_samples, batch_size in SHAPES:
        X = rng.normal(size=(n_samples, 15))
        y = np.exp(0.3 * X[:, 0])
        weights = rng.choice([0.0, 0.5, 2.0], size=n_samples, p=[0.3, 0.3, 0.4])
        weights[0] = 1.0  # never all zero
        models = [
            PositiveMLPRegressor(
                hidden_layer_sizes=(256,),
                solver=solver,
                max_iter=2,
                batch_size=batch_size,
                random_state=0,
                n_threads=threads,
            ).fit(X, y, sample_weight=weights)
            for threads in (1, n_threads)
        ]
        np.testing.assert_allclose(
            models[1].predict(X),
            models[0].predict(X),
            rtol=1e-6,
            err_msg=f"{n_samples} rows, {batch_size}",
        )


@quiet_convergence
def test_the_reported_crash_case_fits():
    """All defaults, 350 rows: the last batch (150 rows) went to one thread whose
    buffers held 100 rows."""
    X = np.random.RandomState(0).randn(350, 15)
    y = np.exp(0.3 * X[:, 0])
    for _ in range(5):
        reg = PositiveMLPRegressor(max_iter=5, random_state=0, n_threads=2).fit(X, y)
        assert np.all(np.isfinite(reg.predict(X)))


def test_batches_larger_than_a_chunk_reproduce_mlpregressor():
    """A thread's share of a 1300-row batch goes through its buffers in 512-row chunks;
    the summed gradient is the batch's: MLPRegressor's path to rounding error."""
    rng = np.random.RandomState(1)
    X = rng.normal(size=(2600, 6))
    y = X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=2600)
    common = dict(
        hidden_layer_sizes=(32,),
        batch_size=1300,
        max_iter=5,
        shuffle=False,
        random_state=0,
        learning_rate_init=0.01,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = PositiveMLPRegressor(
            output_activation="identity", n_threads=2, **common
        ).fit(X, y)
        theirs = MLPRegressor(**common).fit(X, y)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


# --- Predictions: finite and >= threshold for any finite input ----------------------


@quiet_convergence
@settings(max_examples=30, deadline=None)
@given(
    output_activation=st.sampled_from(BOUNDED),
    dtype=st.sampled_from([np.float64, np.float32]),
    threshold=st.sampled_from([0.0, -1.0, 2.5]),
    exponent=st.integers(0, 308),
    sign=st.sampled_from([1.0, -1.0]),
    seed=st.integers(0, 2**16),
)
def test_predictions_stay_finite_and_above_the_threshold_for_huge_inputs(
    output_activation, dtype, threshold, exponent, sign, seed
):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(60, 3)).astype(dtype)
    y = threshold + np.exp(X[:, 0])
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8, 8),
        output_activation=output_activation,
        output_threshold=threshold,
        max_iter=20,
        random_state=seed,
    ).fit(X, y)
    largest = np.finfo(dtype).max
    with np.errstate(all="ignore"):  # and scikit-learn's finiteness check sums X
        huge = np.clip(X.astype(np.float64) * sign * 10.0**exponent, -largest, largest)
        pred = reg.predict(huge.astype(dtype))
    assert pred.dtype == dtype
    assert np.all(np.isfinite(pred))
    assert np.all(pred >= threshold)


@pytest.mark.parametrize("target_scaling", ["rms", "mean", "std"])
def test_tiny_targets_far_from_the_threshold(target_scaling):
    """Scales once overflowed to inf here (every prediction NaN); now they are finite,
    and the loss of precision is warned about."""
    X = np.arange(6.0).reshape(3, 2)
    y = np.array([1e-300, 2e-300, 3e-300])
    reg = PositiveMLPRegressor(
        output_threshold=-1,
        output_activation="relu",
        target_scaling=target_scaling,
        max_iter=5,
    )
    with pytest.warns(UserWarning, match="so far from the targets"):
        _fit_quietly(reg, X, y)
    assert np.all(np.isfinite(reg.target_scale_))
    pred = reg.predict(X)
    assert np.all(np.isfinite(pred)) and np.all(pred >= -1)


def test_exp_output_on_unscaled_float32_inputs_never_predicts_inf():
    rng = np.random.RandomState(0)
    X = (rng.rand(200, 3) * 1e5).astype(np.float32)
    y = np.exp(X[:, 0] / 1e5).astype(np.float32)
    for scale in (1, 10, 1000):
        reg = PositiveMLPRegressor(output_activation="exp", max_iter=20, random_state=0)
        try:
            _fit_quietly(reg, X, y)
        except TrainingDivergedError as error:
            assert "Scale X" in str(error)
            continue
        pred = reg.predict(X * scale)
        assert np.all(np.isfinite(pred)) and np.all(pred >= 0)


# --- A fit that returns leaves finite parameters -------------------------------------


def _finite_model(reg) -> bool:
    return all(np.all(np.isfinite(a)) for a in reg.coefs_ + reg.intercepts_)


@pytest.mark.parametrize("nonneg_method", ["exp", "projection", "square"])
def test_the_last_update_is_checked(nonneg_method):
    """sgd on unscaled inputs with constrained weights: one epoch can send weights to
    1e307 after the loss was measured. Either the fit says so, or its model is
    finite and predicts finite values."""
    rng = np.random.RandomState(0)
    X = rng.rand(40, 5) * 1e5
    y = rng.rand(40, 20)
    reg = PositiveMLPRegressor(
        solver="sgd",
        nonneg_method=nonneg_method,
        monotonic_cst=[1] * 5,
        max_iter=1,
        random_state=0,
        learning_rate_init=0.1,
    )
    with contextlib.suppress(TrainingDivergedError):
        _fit_quietly(reg, X, y)
    assert _finite_model(reg)
    assert np.all(np.isfinite(reg.predict(X)))


def test_overflow_at_the_start_blames_the_data_not_the_learning_rate():
    rng = np.random.RandomState(0)
    X = rng.rand(50, 3) * 1e300
    y = rng.rand(50) * 1e300
    reg = PositiveMLPRegressor(output_activation="identity", max_iter=3, random_state=0)
    with pytest.raises(TrainingDivergedError) as error:
        _fit_quietly(reg, X, y)
    message = str(error.value)
    assert "before the first update" in message and "Scale X" in message
    assert "learning_rate_init" not in message


def test_early_stopping_on_extreme_data_raises_a_divergence_not_a_nan_error():
    """Its validation predictions once reached scikit-learn's 'Input contains NaN'."""
    rng = np.random.RandomState(0)
    X = rng.rand(100, 3) * 1e300
    y = rng.rand(100) * 1e150
    reg = PositiveMLPRegressor(
        early_stopping=True,
        target_scaling=None,
        input_scaling=None,  # scaled X (by 2**512) trains, to a loss of 4e298
        max_iter=5,
        random_state=0,
    )
    with pytest.raises(TrainingDivergedError, match="Scale X"):
        _fit_quietly(reg, X, y)
    assert _finite_model(reg)


def test_validation_score_is_finite_for_huge_targets():
    from positive_mlp._losses import r2_validation_score as validation_score

    y = np.array([[1e300], [2e300], [3e300]])
    assert validation_score(y, y * 1.01, None) == pytest.approx(
        1 - 3 * 1e-4 * 14 / 6, rel=1e-3
    )
    assert validation_score(y, np.array([[np.inf], [1.0], [1.0]]), None) == -np.inf


# --- Messages --------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [(5.5,), [3, 2.0], (True,)])
def test_non_integer_hidden_sizes_are_rejected(sizes):
    X, y = np.random.RandomState(0).rand(10, 2), np.ones(10)
    with pytest.raises(ValueError, match="whole numbers"):
        PositiveMLPRegressor(hidden_layer_sizes=sizes).fit(X, y)


def test_a_threshold_that_swamps_the_targets_is_warned():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = 1 + 99 * rng.rand(200)
    with pytest.warns(UserWarning, match="so far from the targets of output 0"):
        _fit_quietly(PositiveMLPRegressor(output_threshold=-1e16, max_iter=3), X, y)


def test_a_near_threshold_warns_nothing():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PositiveMLPRegressor(output_threshold=-1e3, max_iter=3).fit(X, 1 + rng.rand(50))
        PositiveMLPRegressor(max_iter=3).fit(X, np.full(50, 5.0))  # constant targets
    assert not [w for w in caught if "so far from the targets" in str(w.message)]


# --- Under sharing ------------------------------------------------------------------


@quiet_convergence
@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
def test_concurrent_fits_in_threads_equal_sequential_ones(solver):
    """The BLAS thread limit is process-wide; fits in several Python threads once
    lifted it under each other (lbfgs models differed)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(3000, 10))
    y = np.exp(0.5 * X[:, 0])

    def fit(seed):
        return (
            PositiveMLPRegressor(
                hidden_layer_sizes=(64, 64),
                solver=solver,
                max_iter=15,
                random_state=seed,
            )
            .fit(X, y)
            .predict(X)
        )

    sequential = [fit(seed) for seed in range(4)]
    concurrent = [None] * 4

    def run(seed):
        concurrent[seed] = fit(seed)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(concurrent, sequential):
        np.testing.assert_array_equal(a, b)


def test_the_thread_budget_is_read_before_another_fit_limits_the_blas(monkeypatch):
    """A fit in another Python thread that limits the BLAS to one thread while this
    one reads the BLAS's threads must not halve this fit's budget (CI: a concurrent
    fit ran on one thread and differed in rounding from the same fit alone)."""
    state = {"now": 2}
    blas = _threads._ThreadSetting(
        get=lambda: _read_while_another_fit_starts(state),
        set=lambda n: state.__setitem__("now", n),
    )
    monkeypatch.setattr(_threads, "_blas_libraries", lambda: (blas,))
    state["leave"] = threading.Event()
    try:
        budget = _threads.blas_threads()
    finally:
        state["leave"].set()
        state["other"].join()
    assert budget == 2
    assert state["now"] == 2  # the other fit restored it


def _read_while_another_fit_starts(state: dict) -> int:
    """The BLAS's threads, read while another Python thread enters the package's
    BLAS limit (which sets them to 1 until it leaves)."""
    if "other" in state:  # the other fit's own reads
        return state["now"]

    def other_fit():
        with _threads.single_threaded_blas():
            state["leave"].wait()

    state["other"] = threading.Thread(target=other_fit)
    state["other"].start()
    state["other"].join(timeout=0.2)  # it waits for the lock while this read runs
    return state["now"]


@pytest.mark.parametrize("n_threads", [1, 2])
def test_ctrl_c_stops_inside_one_huge_batch(n_threads):
    """One 60,000-row batch per epoch on a (512, 512) network takes seconds; the core
    polls Ctrl-C between 512-row chunks, so fit returns within a fraction of a second
    (0.4 s, as test_estimator's: a chunk's work took 0.21 s on a loaded machine)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60_000, 20))
    y = 1.0 + np.abs(X[:, 0])
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(512, 512),
        batch_size=60_000,
        max_iter=100,
        early_stopping=False,  # the whole data set in one batch
        input_bins=None,  # the interrupt is to reach the C++ loop, not the encoding
        random_state=0,
        n_threads=n_threads,
    )
    delay = fit_with_ctrl_c_after(reg, X, y)
    assert delay < 0.4, f"fit took {delay:.2f} s to stop after the interrupt"
    assert reg.n_iter_ == 0
    assert _finite_model(reg)


def test_default_threads_stay_within_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.setattr(_threads.os, "sched_getaffinity", lambda pid: {0})
    _threads.available_cores.cache_clear()
    assert _threads.available_cores() == 1
    reg = PositiveMLPRegressor()
    assert reg._thread_count() == 1
    with pytest.warns(UserWarning, match="n_threads=3 is more than the 1 core"):
        assert PositiveMLPRegressor(n_threads=3)._thread_count() == 1
    _threads.available_cores.cache_clear()  # the real affinity for the next tests


@pytest.mark.parametrize(
    "content, expected",
    [("150000 100000", 1.5), ("max 100000", None), ("50000 100000", 0.5)],
)
def test_a_container_cpu_quota_is_read(tmp_path, content, expected):
    (tmp_path / "cpu.max").write_text(content + "\n")
    assert _threads._cgroup_cpu_quota(str(tmp_path)) == expected


def test_a_cgroup_v1_quota_is_read(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("200000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert _threads._cgroup_cpu_quota(str(tmp_path)) == 2.0
