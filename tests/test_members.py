"""The in-model ensemble (``n_members``): the core against its members run apart,
gradients by finite differences, and the estimator's guarantees with members."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import scipy.sparse
from reference import central_differences
from sklearn.metrics import r2_score

from positive_mlp import PositiveMLPRegressor
from positive_mlp._losses import resolve_loss
from positive_mlp._members import member_networks, member_positions
from positive_mlp._network import ParameterLayout, build_network
from positive_mlp._settings import Data, resolve
from positive_mlp._solvers import MembersApart, TrainingRecord, _record_members_progress
from positive_mlp._start import glorot_uniform_params

SIZES = [(4, 5, 3, 2), (4, 5, 2), (4, 2), (4, 6, 5, 3, 1)]


def _member_params(layout: ParameterLayout, params: np.ndarray, m: int) -> np.ndarray:
    """Member m's parameters, packed as a one-member network's."""
    coefs, intercepts = member_networks(*layout.unpack(params), layout.members)[m]
    return ParameterLayout(layout.layer_sizes).pack(coefs, intercepts, params.dtype)


def _problem(sizes, members, seed=0, n_samples=11):
    rng = np.random.RandomState(seed)
    layout = ParameterLayout(sizes, members)
    X = rng.normal(size=(n_samples, sizes[0]))
    X[rng.uniform(size=X.shape) < 0.4] = 0.0
    y = rng.gamma(2.0, 1.0, size=(n_samples, sizes[-1])) + 0.6
    params = glorot_uniform_params(layout, "tanh", rng, np.float64)
    params += rng.normal(scale=0.3, size=params.shape)  # no zero output layer
    return layout, X, y, np.full(sizes[-1], 0.5), params


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("members", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_predictions_are_the_members_mean(sizes, members, sparse):
    layout, X, y, threshold, params = _problem(sizes, members)
    net = build_network(
        layout, "tanh", "softplus", resolve_loss("poisson"), threshold, np.float64
    )
    single = build_network(
        ParameterLayout(sizes),
        "tanh",
        "softplus",
        resolve_loss("poisson"),
        threshold,
        np.float64,
    )
    X_in = scipy.sparse.csr_matrix(X) if sparse else X
    each = [
        single.predict(_member_params(layout, params, m), X_in) for m in range(members)
    ]
    expected = np.maximum(np.mean(each, axis=0), np.min(each, axis=0))
    np.testing.assert_allclose(net.predict(params, X_in), expected, rtol=1e-12)
    # The training objective is the mean of the members' objectives, L2 included.
    losses = [
        single.loss(_member_params(layout, params, m), X_in, y, None, None, 0.3)
        for m in range(members)
    ]
    assert net.loss(params, X_in, y, None, None, 0.3) == pytest.approx(
        np.mean(losses), rel=1e-12
    )


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("members", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_gradient_matches_finite_differences(sizes, members, sparse):
    layout, X, y, threshold, params = _problem(sizes, members, seed=1)
    weights = np.random.RandomState(2).uniform(0.5, 2.0, len(X))
    net = build_network(
        layout, "tanh", "softplus", resolve_loss("gamma"), threshold, np.float64
    )
    X_in = scipy.sparse.csr_matrix(X) if sparse else X

    def objective(p, grad=None):
        out = np.empty_like(p) if grad is None else grad
        return net.loss_and_gradient(p, X_in, y, weights, None, 0.2, out)

    analytic = np.empty_like(params)
    objective(params, analytic)
    numeric = central_differences(objective, params)
    assert np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric) < 1e-6


def _data(n=200, d=4, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, d))
    y = np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1]) + rng.gamma(1.0, 0.3, size=n)
    return X, y


def _fit(X, y, **params):
    defaults = dict(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
    return PositiveMLPRegressor(**{**defaults, **params}).fit(X, y)


pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.parametrize("hidden", [(), (8,), (8, 6)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fitted_shapes_and_floor(hidden, dtype):
    X, y = _data()
    reg = _fit(
        X.astype(dtype),
        y,
        hidden_layer_sizes=hidden,
        n_members=3,
        output_threshold=0.25,
        output_activation="relu",
    )
    assert reg.n_members_ == 3
    layout = ParameterLayout((4, *hidden, 1), 3)
    assert [c.shape for c in reg.coefs_] == layout.shapes
    assert [b.shape[0] for b in reg.intercepts_] == layout.bias_sizes
    assert reg.coefs_[0].dtype == dtype
    far = np.random.RandomState(1).normal(scale=1e3, size=(500, 4)).astype(dtype)
    pred = reg.predict(far)
    assert np.all(np.isfinite(pred)) and np.all(pred >= 0.25)


def test_members_differ_and_their_mean_predicts():
    X, y = _data()
    reg = _fit(X, y, n_members=4, hidden_layer_sizes=(8,), max_iter=50)
    layout = ParameterLayout((4, 8, 1), 4)
    params = layout.pack(reg.coefs_, reg.intercepts_, np.float64)
    single = PositiveMLPRegressor(hidden_layer_sizes=(8,), n_members=1, max_iter=1)
    single.fit(X[:20], y[:20])
    each = []
    for m in range(4):
        coefs, intercepts = ParameterLayout((4, 8, 1)).unpack(
            _member_params(layout, params, m)
        )
        single.coefs_, single.intercepts_ = coefs, intercepts
        single.target_scale_ = reg.target_scale_
        single.bin_edges_, single._input_bins = reg.bin_edges_, reg._input_bins
        each.append(single.predict(X))
    assert min(np.abs(each[0] - e).max() for e in each[1:]) > 1e-3  # not clones
    np.testing.assert_allclose(reg.predict(X), np.mean(each, axis=0), rtol=1e-10)


def test_quantile_levels_stay_uncrossed_and_floored():
    X, y = _data(300)
    reg = _fit(
        X,
        y,
        loss="quantile",
        quantile=[0.1, 0.5, 0.9],
        n_members=5,
        output_threshold=0.1,
        max_iter=40,
    )
    pred = reg.predict(np.random.RandomState(3).normal(scale=50, size=(400, 4)))
    assert np.all(pred >= 0.1)
    assert np.all(np.diff(pred, axis=1) >= 0)


@pytest.mark.parametrize("method", ["projection", "square", "exp"])
def test_monotone_and_nonneg_hold_for_every_member(method):
    X, y = _data(300)
    reg = _fit(
        X,
        y,
        n_members=3,
        monotonic_cst=[1, -1, 0, 0],
        nonneg_method=method,
        hidden_layer_sizes=(6, 5),
        max_iter=20,
    )
    assert np.all(reg.coefs_[0][0] >= 0) and np.all(reg.coefs_[0][1] <= 0)
    assert all(np.all(c >= 0) for c in reg.coefs_[1:])
    grid = np.tile(np.random.RandomState(4).normal(size=(1, 4)), (50, 1))
    grid[:, 0] = np.linspace(-5, 5, 50)
    assert np.all(np.diff(reg.predict(grid)) >= 0)
    nonneg = _fit(X, y, n_members=3, nonneg_weights="all", nonneg_method=method)
    assert all(np.all(c >= 0) for c in nonneg.coefs_)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_solvers_sparse_input_and_sample_weight(solver):
    X, y = _data(150)
    X[X < 0] = 0.0
    weights = np.random.RandomState(5).uniform(0, 2, len(y))
    dense = PositiveMLPRegressor(
        hidden_layer_sizes=(8,),
        max_iter=20,
        random_state=0,
        solver=solver,
        n_members=2,
        input_bins=None,
        input_scaling="rms",  # 'auto' centres dense X only
    )
    sparse = PositiveMLPRegressor(**dense.get_params())
    dense.fit(X, y, sample_weight=weights)
    sparse.fit(scipy.sparse.csr_matrix(X), y, sample_weight=weights)
    np.testing.assert_allclose(sparse.predict(X), dense.predict(X), rtol=1e-8)
    zero = PositiveMLPRegressor(**dense.get_params())
    zero.fit(np.vstack([X, X[:7]]), np.r_[y, y[:7] * 50], np.r_[weights, np.zeros(7)])
    np.testing.assert_allclose(zero.predict(X), dense.predict(X), rtol=1e-8)


def test_warm_start_partial_fit_and_pickle_keep_the_members():
    X, y = _data()
    reg = _fit(X, y, n_members=3, warm_start=True, max_iter=5)
    reg.fit(X, y)
    assert reg.n_members_ == 3
    reg.set_params(n_members=2)
    with pytest.raises(ValueError, match="n_members"):
        reg.fit(X, y)
    reg.set_params(n_members="auto")
    reg.partial_fit(X, y)
    assert reg.n_members_ == 3
    copy = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(copy.predict(X), reg.predict(X))
    stream = PositiveMLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    assert stream.partial_fit(X, y).n_members_ == 1  # 'auto' on a stream
    with pytest.raises(ValueError, match="n_members"):
        stream.set_params(n_members=2).partial_fit(X, y)


def test_auto_members():
    """'auto': 4 members with Adam; one for the other solvers, for MLPRegressor's
    model (which then equals an explicit n_members=1), for a model without hidden
    layers and for a first partial_fit."""
    X, y = _data()
    assert _fit(X, y).n_members_ == 4
    assert _fit(X, y, solver="sgd").n_members_ == 1
    assert _fit(X, y, solver="lbfgs").n_members_ == 1
    plain = _fit(X, y, output_activation="identity")
    assert plain.n_members_ == 1
    assert np.array_equal(
        plain.predict(X),
        _fit(X, y, output_activation="identity", n_members=1).predict(X),
    )
    assert _fit(X, y, hidden_layer_sizes=()).n_members_ == 1
    stream = PositiveMLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    assert stream.partial_fit(X, y).n_members_ == 1


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_members_of_one_hidden_layer_learn_as_networks_apart(solver, dtype):
    """Members that share no layer, trained together, follow the path each would
    follow alone from the same weights on the same batches: SGD's steps are not
    shrunk by the mean over members (Adam's never were)."""
    X, y = _data()
    X = X.astype(dtype)
    steady = dict(
        solver=solver,
        shuffle=False,
        early_stopping=False,
        tol=0.0,
        learning_rate_init=0.01,
        alpha=0.01,
        batch_size=50,
        epsilon=1e-30,  # Adam's step then blind to the gradient's scale
    )
    together = _fit(X, y, n_members=3, max_iter=1, warm_start=True, **steady)
    start = member_networks(together.coefs_, together.intercepts_, 3)
    state = copy.deepcopy(together._record.optimizer_state)
    positions = member_positions(together._fitted_layout())
    together.set_params(max_iter=4).fit(X, y)
    for m, (coefs, intercepts) in enumerate(start):
        alone = _fit(X, y, n_members=1, max_iter=1, warm_start=True, **steady)
        alone.coefs_ = [c.copy() for c in coefs]
        alone.intercepts_ = [b.copy() for b in intercepts]
        # The member's moments: Adam's of a gradient 1 / 3 of its own (the mean
        # objective's), to which its step is blind.
        alone_state = alone._record.optimizer_state
        share = 3.0 if solver == "adam" else 1.0
        alone_state.first_moment[:] = share * state.first_moment[positions[m]]
        if solver == "adam":
            alone_state.second_moment[:] = share**2 * state.second_moment[positions[m]]
        alone.set_params(max_iter=4).fit(X, y)
        member = member_networks(together.coefs_, together.intercepts_, 3)[m]
        rtol = 1e-4 if dtype == np.float32 else 1e-9
        for got, expected in zip(
            member[0] + member[1], alone.coefs_ + alone.intercepts_
        ):
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "many"])
def test_bad_member_counts_are_refused(bad):
    X, y = _data(50)
    with pytest.raises(ValueError, match="n_members"):
        PositiveMLPRegressor(n_members=bad).fit(X, y)


def test_member_positions_follow_the_one_member_packing():
    layout = ParameterLayout((4, 5, 2), 3)
    params = np.random.RandomState(0).normal(size=layout.n_params)
    positions = member_positions(layout)
    for m in range(3):
        np.testing.assert_array_equal(
            params[positions[m]], _member_params(layout, params, m)
        )
    assert member_positions(ParameterLayout((4, 5, 3, 2), 3)) is None  # a shared layer
    assert member_positions(ParameterLayout((4, 5, 2), 1)) is None


def test_each_member_keeps_its_own_best_epoch():
    """_record_members_progress over three epochs of given parameters: each member
    keeps the parameters of the epoch its own validation score was best at, and the
    no-improvement count restarts while any member improves."""
    rng = np.random.RandomState(0)
    layout = ParameterLayout((3, 6, 1), 3)
    one = ParameterLayout((3, 6, 1))
    X = rng.normal(size=(60, 3))
    y = np.exp(0.5 * X[:, :1])
    validation = Data(X, y)
    loss = resolve_loss("poisson")
    single = build_network(one, "relu", "softplus", loss, np.zeros(1), np.float64)
    positions = member_positions(layout)
    apart = MembersApart(single, positions)
    params = PositiveMLPRegressor(loss="poisson", tol=0.0).get_params()
    settings = resolve(params, Data(X, y), loss)
    record = TrainingRecord.fresh(True)
    best = {}
    epochs = [rng.normal(scale=0.5, size=layout.n_params) for _ in range(3)]
    scores = np.empty((3, 3))  # epoch x member
    for e, p in enumerate(epochs):
        for m, where in enumerate(positions):
            scores[e, m] = loss.score(y, single.predict(p[where], X), None)
        _record_members_progress(settings, record, p, validation, best, 1, 0.0, apart)
    kept = best["params"]
    for m, where in enumerate(positions):
        np.testing.assert_array_equal(
            kept[where], epochs[np.argmax(scores[:, m])][where]
        )
    assert apart.best_scores == pytest.approx(scores.max(axis=0).tolist())
    improved_last = np.any(scores[2] >= scores[:2].max(axis=0))
    assert record.no_improvement_count == (0 if improved_last else 1)
    assert len(set(np.argmax(scores, axis=0))) > 1  # the members' bests differ here


def test_members_stop_apart_and_report_their_models_score():
    """One hidden layer: the members stop apart; best_validation_score_ is the
    score of the model returned (their best epochs together)."""
    X, y = _data(400)
    X_val, y_val = _data(100, seed=1)
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,),
        n_members=3,
        loss="poisson",
        max_iter=60,
        early_stopping=True,
        random_state=0,
    ).fit(X, y, X_val=X_val, y_val=y_val)
    expected = resolve_loss("poisson").score(
        y_val.reshape(-1, 1), reg.predict(X_val).reshape(-1, 1), None
    )
    assert reg.best_validation_score_ == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("members", [3, 4, 600])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_chunks_of_member_rows_cover_every_row(members, n_threads):
    """A chunk holds 512 member-rows (170 rows of 3 members, 128 of 4, one row of 600):
    batches and full-data passes whose last chunk is shorter than the first, on one
    thread or two, train as one thread does and predict every row as row by row."""
    X, y = _data(n=700)
    params = dict(hidden_layer_sizes=(6,), n_members=members, batch_size=300)
    one = _fit(X, y, n_threads=1, max_iter=3, **params)
    reg = _fit(X, y, n_threads=n_threads, max_iter=3, **params)
    np.testing.assert_allclose(reg.loss_curve_, one.loss_curve_, rtol=1e-9)
    pred = reg.predict(X)  # 700 rows: chunks of 170 / 128 / 1 row(s)
    rows = np.concatenate([reg.predict(X[i : i + 1]) for i in range(0, 700, 97)])
    np.testing.assert_allclose(pred[::97], rows, rtol=1e-12)
    assert reg.score(X, y) == pytest.approx(r2_score(y, pred), rel=1e-12)
