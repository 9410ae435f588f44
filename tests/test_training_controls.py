"""sample_weight, partial_fit, warm_start, explicit validation sets (also in a
Pipeline), divergence."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from positive_mlp import PositiveMLPRegressor, TrainingDivergedError
from positive_mlp._validation import warn_if_validation_off_scale

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n_samples=160, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, 3))
    y = 2.0 + np.abs(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.1 * rng.normal(size=n_samples)
    return X, np.maximum(y, 0.0)


def _params(reg):
    return np.concatenate([a.ravel() for a in reg.coefs_ + reg.intercepts_])


def test_integer_weights_equal_repeated_rows_with_lbfgs():
    X, y = _data()
    weights = np.random.RandomState(1).randint(0, 4, size=len(y))
    settings = dict(
        hidden_layer_sizes=(6,), solver="lbfgs", max_iter=60, random_state=0
    )
    weighted = PositiveMLPRegressor(**settings).fit(X, y, sample_weight=weights)
    repeated = PositiveMLPRegressor(**settings).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-6)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_zero_weights_act_as_absent_rows(solver):
    X, y = _data()
    weights = np.ones(len(y))
    weights[::3] = 0.0
    settings = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=20, random_state=0)
    weighted = PositiveMLPRegressor(**settings).fit(X, y, sample_weight=weights)
    kept = PositiveMLPRegressor(**settings).fit(X[weights > 0], y[weights > 0])
    np.testing.assert_array_equal(_params(weighted), _params(kept))


def test_sample_weight_changes_the_fit_and_is_validated():
    X, y = _data()
    weights = np.where(X[:, 0] > 0, 10.0, 0.1)
    settings = dict(hidden_layer_sizes=(6,), max_iter=50, random_state=0)
    plain = PositiveMLPRegressor(**settings).fit(X, y)
    weighted = PositiveMLPRegressor(**settings).fit(X, y, sample_weight=weights)
    assert not np.allclose(plain.predict(X), weighted.predict(X))
    with pytest.raises(ValueError, match="Negative values in data"):
        PositiveMLPRegressor(**settings).fit(X, y, sample_weight=-weights)
    with pytest.raises(ValueError, match="at least one non-zero"):
        PositiveMLPRegressor(**settings).fit(X, y, sample_weight=np.zeros(len(y)))


def test_partial_fit_in_chunks_tracks_one_epoch_of_fit():
    """Chunks that are whole batches, no shuffling: k partial_fit calls make exactly
    the updates of one fit epoch (identity output: no data-dependent start)."""
    X, y = _data(n_samples=160)
    settings = dict(
        hidden_layer_sizes=(6,),
        batch_size=20,
        shuffle=False,
        output_activation="identity",
        random_state=0,
    )
    one_epoch = PositiveMLPRegressor(max_iter=1, **settings).fit(X, y)
    chunked = PositiveMLPRegressor(**settings)
    for rows in np.array_split(np.arange(160), 4):
        chunked.partial_fit(X[rows], y[rows])
    np.testing.assert_allclose(_params(chunked), _params(one_epoch), rtol=1e-12)
    assert chunked.t_ == one_epoch.t_ == 160
    assert chunked._record.optimizer_state.step == 8


def test_partial_fit_from_fresh_keeps_the_optimiser_state_and_lowers_the_loss():
    X, y = _data()
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=0
    )
    for _ in range(30):
        reg.partial_fit(X, y)
    assert (
        reg._record.optimizer_state.step == 30
    )  # one full batch (160 <= 200) per call
    assert len(reg.loss_curve_) == 30 and reg.t_ == 30 * len(X)
    assert reg.loss_curve_[-1] < 0.7 * reg.loss_curve_[0]
    with pytest.raises(ValueError, match="X has 2 features"):
        reg.partial_fit(X[:, :2], y)


def test_partial_fit_on_a_levelled_off_loss_warns_nothing():
    """The caller owns the loop, as with MLPRegressor: no "learned almost nothing"
    from each call that compares its one epoch with its own starting loss."""
    X, y = _data(n_samples=50)
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(4,),
        learning_rate_init=0.05,
        n_iter_no_change=10,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(300):
            reg.partial_fit(X, y)
    assert reg.loss_curve_[-1] < 0.1 * reg.loss_curve_[0]
    # the loss levelled off: the stopping rule fired, which used to warn
    assert reg._record.no_improvement_count > reg.n_iter_no_change


def test_warm_start_on_a_trained_model_warns_nothing():
    """A trained model need not improve on itself: stopping after one warm epoch is
    not "learned almost nothing"."""
    X, y = _data(n_samples=50)
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(4,), max_iter=2000, warm_start=True, random_state=0
    ).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.fit(X, y)
    assert reg.n_iter_ == 1


@pytest.mark.parametrize("params", [{"solver": "lbfgs"}, {"early_stopping": True}])
def test_partial_fit_exists_only_where_it_means_one_epoch(params):
    reg = PositiveMLPRegressor(**params)
    assert not hasattr(reg, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as error:
        reg.partial_fit(*_data())
    assert "partial_fit is" in str(error.value.__cause__)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_warm_start_continues_exactly_where_training_stopped(solver):
    """Optimiser state included: 5 + 5 warm epochs are the same as 10 epochs."""
    X, y = _data()
    settings = dict(
        hidden_layer_sizes=(6,),
        solver=solver,
        shuffle=False,
        tol=0.0,
        random_state=0,
        batch_size=40,
    )
    ten = PositiveMLPRegressor(max_iter=10, **settings).fit(X, y)
    warm = PositiveMLPRegressor(max_iter=5, warm_start=True, **settings).fit(X, y)
    warm.fit(X, y)
    np.testing.assert_allclose(_params(warm), _params(ten), rtol=1e-12)
    assert warm.loss_curve_ == pytest.approx(ten.loss_curve_, rel=1e-12)


def test_explicit_validation_set_drives_early_stopping():
    X, y = _data(n_samples=300)
    X_val, y_val = _data(n_samples=100, seed=5)
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(16,),
        early_stopping=True,
        n_iter_no_change=5,
        max_iter=300,
        learning_rate_init=0.01,
        random_state=0,
    )
    reg.fit(X, y, X_val=X_val, y_val=y_val)
    assert len(reg.validation_scores_) == reg.n_iter_ < 300
    # the best weights are restored, and they were scored on exactly this set
    assert r2_score(y_val, reg.predict(X_val)) == pytest.approx(
        reg.best_validation_score_, rel=1e-12
    )


def test_validation_set_weights_enter_the_score():
    X, y = _data(n_samples=300)
    X_val, y_val = _data(n_samples=100, seed=5)
    w_val = np.linspace(0.1, 3.0, 100)
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(16,),
        early_stopping=True,
        max_iter=30,
        learning_rate_init=0.01,
        random_state=0,
    )
    reg.fit(X, y, X_val=X_val, y_val=y_val, sample_weight_val=w_val)
    assert r2_score(y_val, reg.predict(X_val), sample_weight=w_val) == pytest.approx(
        reg.best_validation_score_, rel=1e-12
    )


@pytest.mark.parametrize(
    "params, fit_kwargs, message",
    [
        (
            {"early_stopping": False},
            {"X_val": "X", "y_val": "y"},
            "early_stopping=False",
        ),
        (
            {"output_activation": "identity"},
            {"X_val": "X", "y_val": "y"},
            "early_stopping='auto' \\(off for the plain MLPRegressor model\\)",
        ),
        ({"early_stopping": True}, {"X_val": "X"}, "must be given together"),
        (
            {"early_stopping": True, "solver": "lbfgs"},
            {"X_val": "X", "y_val": "y"},
            "lbfgs",
        ),
    ],
)
def test_validation_set_misuse_is_an_error(params, fit_kwargs, message):
    X, y = _data()
    given = {key: {"X": X, "y": y}[value] for key, value in fit_kwargs.items()}
    with pytest.raises(ValueError, match=message):
        PositiveMLPRegressor(**params).fit(X, y, **given)


def _wide_columns(n_samples, seed):
    """Columns on scales from 1e-2 to 1e4, centred far from 0."""
    rng = np.random.RandomState(seed)
    scales = np.array([1e3, 1e-2, 50.0, 1e4])
    Z = rng.normal(size=(n_samples, 4))
    y = 2.0 + np.abs(Z[:, 0]) + 0.5 * Z[:, 1] ** 2 + 0.1 * rng.normal(size=n_samples)
    return (Z + 5.0) * scales, y


_EARLY_STOPPING = dict(
    hidden_layer_sizes=(8,),
    early_stopping=True,
    max_iter=60,  # 20 epochs scored 0.33-0.55 by the seed; 60 scored 0.90-0.95
    learning_rate_init=0.01,
    random_state=0,
)


def test_pipeline_transforms_the_validation_set_with_transform_input():
    """Metadata routing with transform_input scales X_val as X: the model scores the
    same validation rows as one fitted directly on pre-scaled data, and no warning."""
    X, y = _wide_columns(300, seed=0)
    X_val, y_val = _wide_columns(100, seed=1)
    with config_context(enable_metadata_routing=True):
        model = PositiveMLPRegressor(**_EARLY_STOPPING)
        pipe = Pipeline(
            [
                ("scale", StandardScaler()),
                ("model", model.set_fit_request(X_val=True, y_val=True)),
            ],
            transform_input=["X_val"],
        )
        pipe.fit(X, y, X_val=X_val, y_val=y_val)
    scaler = StandardScaler().fit(X)
    direct = PositiveMLPRegressor(**_EARLY_STOPPING).fit(
        scaler.transform(X), y, X_val=scaler.transform(X_val), y_val=y_val
    )
    assert pipe[-1].validation_scores_ == direct.validation_scores_
    assert pipe[-1].best_validation_score_ > 0.5


@pytest.mark.parametrize("routing", [True, False], ids=["routed", "step__param"])
def test_an_unscaled_validation_set_in_a_pipeline_is_warned(routing):
    """Without transform_input, X_val reaches the model unscaled: 3 of its 4 columns
    (all but the one on scale 1e-2) lie far outside the scaled training range."""
    X, y = _wide_columns(300, seed=0)
    X_val, y_val = _wide_columns(100, seed=1)
    model = PositiveMLPRegressor(**_EARLY_STOPPING)
    match = r"X_val has 3 of 4 column\(s\).*transform_input=\['X_val'\]"
    with config_context(enable_metadata_routing=routing):
        if routing:
            model.set_fit_request(X_val=True, y_val=True)
            fit_params = {"X_val": X_val, "y_val": y_val}
        else:
            fit_params = {"model__X_val": X_val, "model__y_val": y_val}
        pipe = Pipeline([("scale", StandardScaler()), ("model", model)])
        with pytest.warns(UserWarning, match=match):
            pipe.fit(X, y, **fit_params)


@pytest.mark.parametrize("scaled", [True, False], ids=["scaled", "raw"])
def test_held_out_rows_of_real_data_are_not_warned(scaled):
    """The off-scale check stays silent on an ordinary random split (the diabetes
    data, positive targets; warnings are errors in the tests)."""
    X, y = load_diabetes(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    if scaled:
        scaler = StandardScaler().fit(X_train)
        X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    PositiveMLPRegressor(**_EARLY_STOPPING).fit(
        X_train, y_train, X_val=X_val, y_val=y_val
    )


def test_the_off_scale_check_reads_sparse_columns():
    """CSR input (zeros implicit, an all-zero column) is judged as its dense form."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4)) * (rng.rand(60, 4) < 0.3)
    X[:, 3] = 0.0  # all zero: not judged
    X_val = X[:20] + np.array([0.0, 0.0, 0.0, 5.0])
    off_scale = X_val + np.array([1e3, 0.0, 1e3, 0.0])  # columns 0 and 2
    for convert in (np.asarray, sp.csr_array):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warn_if_validation_off_scale(convert(X), convert(X_val))
        with pytest.warns(UserWarning, match=r"2 of 4 column\(s\).*column 0"):
            warn_if_validation_off_scale(convert(X), convert(off_scale))


@pytest.mark.parametrize("output_activation", ["identity", "softplus"])
def test_a_diverging_fit_stops_with_a_clear_error(output_activation):
    """MLPRegressor returns predictions of -1e13 here without a word."""
    X, y = _data()
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(16,),
        solver="sgd",
        learning_rate_init=10.0,
        max_iter=50,
        output_activation=output_activation,
        random_state=0,
        input_scaling=None,  # 'auto' would scale X * 100 back (and train)
    )
    with pytest.raises(TrainingDivergedError, match="Lower learning_rate_init"):
        reg.fit(X * 100, y * 100)
    assert all(np.all(np.isfinite(c)) for c in reg.coefs_ + reg.intercepts_)
    assert all(np.isfinite(reg.loss_curve_))


def test_divergence_is_the_value_error_mlpregressor_users_catch():
    """scikit-learn's MLP tests expect ValueError for non-finite weights; the error
    stays a FloatingPointError and survives pickling (as across processes)."""
    X, y = _data()
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(16,),
        solver="sgd",
        learning_rate_init=10.0,
        random_state=0,
        input_scaling=None,  # 'auto' would scale X * 100 back (and train)
    )
    with pytest.raises(ValueError, match="Lower learning_rate_init") as error:
        reg.fit(X * 100, y * 100)
    assert isinstance(error.value, FloatingPointError)
    assert isinstance(error.value, TrainingDivergedError)
    copy = pickle.loads(pickle.dumps(error.value))
    assert type(copy) is TrainingDivergedError and copy.args == error.value.args


def test_a_fit_that_improved_and_levelled_off_near_its_start_is_not_warned():
    """Weak signal (claim sizes): the best deviance is within 1% of the constant
    model's, and the fit is right; it improved for many epochs before stopping."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20000, 4))
    y = rng.gamma(1.0, np.exp(0.1 * X[:, 0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = PositiveMLPRegressor(
            loss="gamma",
            output_activation="exp",
            hidden_layer_sizes=(8,),
            random_state=0,
            max_iter=300,
            early_stopping=False,
            n_iter_no_change=10,
            input_bins=None,  # the raw features: a fit that can only level off
        ).fit(X, y)
    assert reg.n_iter_ > reg.n_iter_no_change + 2  # it improved before stopping
    assert min(reg.loss_curve_) > 0.99 * reg.loss_curve_[0]  # but by less than 1%


@pytest.mark.parametrize("first, second", [(False, True), (True, False)])
def test_warm_start_may_switch_early_stopping(first, second):
    # The record of the first fit follows the second fit's criterion instead of
    # failing on it (None.append, or comparing with best_loss None).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    y = np.exp(X[:, 0])
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,),
        max_iter=15,
        early_stopping=first,
        warm_start=True,
        n_iter_no_change=100,
        learning_rate_init=0.01,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
        reg.set_params(early_stopping=second).fit(X, y)
    assert len(reg.loss_curve_) == 30
    if second:
        assert len(reg.validation_scores_) == 15
        assert reg.best_validation_score_ == max(reg.validation_scores_)
        assert reg.best_loss_ is None
    else:
        assert reg.validation_scores_ is None
        assert reg.best_loss_ == min(reg.loss_curve_[15:])


# --- early_stopping='auto' and n_iter_no_change='auto' ------------------------------


def _rows(n: int, seed: int = 0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    return X, np.exp(0.5 * X[:, 0]) + 0.1 * rng.uniform(size=n)


@pytest.mark.parametrize(
    "params, rows, stops_early",
    [
        ({}, 400, True),  # a bounded model with enough rows to hold out 40
        ({}, 280, False),  # 28 held-out rows: too few to judge by
        ({"loss": "poisson"}, 400, True),
        ({"output_activation": "identity"}, 400, False),  # MLPRegressor's model
        ({"output_activation": "identity", "output_constraint": "penalty"}, 400, True),
        ({"solver": "lbfgs"}, 400, False),
        ({"early_stopping": True}, 280, True),
        ({"early_stopping": False}, 400, False),
    ],
)
def test_auto_early_stopping_is_on_where_it_helps(params, rows, stops_early):
    X, y = _rows(rows)
    reg = PositiveMLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.set_params(**params).fit(X, y)
    assert (reg.validation_scores_ is not None) == stops_early
    if stops_early:
        assert len(reg.validation_scores_) == reg.n_iter_


def _stopping_epoch(scores, patience: int, tol: float) -> int | None:
    """The epoch MLPRegressor's rule stops at: after more than ``patience`` epochs in
    a row that fail to beat the best score by ``tol``."""
    best, count = -np.inf, 0
    for epoch, score in enumerate(scores, 1):
        count = count + 1 if score < best + tol else 0
        best = max(best, score)
        if count > patience:
            return epoch
    return None


@pytest.mark.parametrize(
    "params, patience, shorter",
    [
        # 540 rows fitted: 17 batches of 32 per epoch, so 20 epochs
        ({"batch_size": 32}, 20, 10),
        # 3 batches of 200 per epoch: 100 epochs make 300 steps
        ({"max_iter": 2000}, 100, 20),
    ],
)
def test_auto_patience_of_bounded_models(params, patience, shorter):
    X, y = _rows(600)
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,),
        learning_rate_init=0.05,
        random_state=0,
        n_members=1,  # members stopping apart go on while any member improves
        **params,
    ).fit(X, y)
    assert reg.n_iter_ < reg.max_iter  # stopped by the rule
    assert _stopping_epoch(reg.validation_scores_, patience, reg.tol) == reg.n_iter_
    # a shorter patience would have stopped earlier: the test tells them apart
    assert _stopping_epoch(reg.validation_scores_, shorter, reg.tol) < reg.n_iter_


def test_auto_patience_without_early_stopping_is_twenty_epochs():
    # the training loss is not a noisy held-out score: no need to count steps (the
    # rule itself: test_settings)
    X, y = _rows(200)  # too few rows for early stopping under 'auto'
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,), learning_rate_init=0.05, max_iter=2000, random_state=0
    ).fit(X, y)
    assert reg.validation_scores_ is None
    assert reg.n_iter_ < reg.max_iter
    assert _stopping_epoch([-v for v in reg.loss_curve_], 20, reg.tol) == reg.n_iter_


def test_auto_early_stopping_leaves_partial_fit_and_x_val_available():
    X, y = _rows(400)
    reg = PositiveMLPRegressor(hidden_layer_sizes=(4,), random_state=0)
    assert hasattr(reg, "partial_fit")
    reg.partial_fit(X, y)
    assert reg.validation_scores_ is None  # one epoch per call: nothing to stop
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = PositiveMLPRegressor(
            hidden_layer_sizes=(4,), max_iter=5, random_state=0
        ).fit(X[:300], y[:300], X_val=X[300:], y_val=y[300:])
    assert len(fitted.validation_scores_) == fitted.n_iter_


def test_feature_names_with_early_stopping_fit_without_a_warning():
    """scikit-learn's test_preserve_feature_names case (10 rows, a constant target,
    early stopping): nothing to improve, so reaching max_iter says nothing, as
    MLPRegressor says nothing."""
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.randn(10, 2), columns=["colname_a", "colname_b"])
    y = pd.Series(np.full(10, 1), name="colname_y")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        PositiveMLPRegressor(early_stopping=True, validation_fraction=0.2).fit(X, y)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_max_iter_warns_only_while_the_score_still_improves(early_stopping):
    """A ConvergenceWarning means more iterations would help: the score improved
    within the last 10 epochs. A score flat for longer reaches max_iter quietly
    under a patience longer than max_iter."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = np.exp(0.5 * X[:, 0])
    params = dict(early_stopping=early_stopping, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        PositiveMLPRegressor(max_iter=5, **params).fit(X, y)
    flat = np.full(300, 2.0)  # learnt exactly from the start: nothing improves
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = PositiveMLPRegressor(max_iter=60, n_iter_no_change=100, **params)
        reg.fit(X, flat)
    assert reg.n_iter_ == 60
