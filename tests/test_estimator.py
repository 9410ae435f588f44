"""PositiveMLPRegressor's behaviour as a user meets it."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from interrupt import fit_with_ctrl_c_after
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import r2_score

from positive_mlp import PositiveMLPRegressor

BOUNDING = ["softplus", "exp", "relu"]
quiet_convergence = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def _data(n_samples=120, n_features=4, n_outputs=1, offset=3.0, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    W = rng.normal(size=(n_features, n_outputs))
    y = offset + np.abs(X @ W) + 0.1 * rng.uniform(size=(n_samples, n_outputs))
    return X, (y.ravel() if n_outputs == 1 else y)


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        PositiveMLPRegressor().predict(np.ones((2, 3)))


@quiet_convergence
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_output_shape_follows_y(n_outputs):
    X, y = _data(n_outputs=n_outputs)
    reg = PositiveMLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    pred = reg.fit(X, y).predict(X)
    assert pred.shape == y.shape
    assert reg.n_outputs_ == n_outputs
    assert reg.n_layers_ == 3
    assert reg.n_members_ == 4  # 'auto': each member its first and output layer
    assert [c.shape for c in reg.coefs_] == [(4, 4 * 8), (4 * 8, n_outputs)]


@pytest.mark.parametrize("output_activation", BOUNDING)
def test_targets_below_threshold_are_rejected_with_a_count(output_activation):
    X, y = _data()
    y[:7] = -1.0
    reg = PositiveMLPRegressor(output_activation=output_activation)
    with pytest.raises(ValueError, match=r"7 value\(s\) below output_threshold"):
        reg.fit(X, y)


@quiet_convergence
def test_identity_output_accepts_any_target():
    X, y = _data()
    reg = PositiveMLPRegressor(output_activation="identity", max_iter=5, random_state=0)
    reg.fit(X, y - 10.0)
    assert reg.predict(X).min() < 0


@quiet_convergence
def test_per_output_thresholds_bound_each_output():
    X, y = _data(n_outputs=2, offset=6.0)
    threshold = [1.0, 5.0]
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,), output_threshold=threshold, max_iter=20, random_state=0
    ).fit(X, y)
    pred = reg.predict(1e4 * X)
    assert np.all(pred >= threshold)
    np.testing.assert_array_equal(reg.output_threshold_, threshold)


def test_threshold_of_wrong_length_is_rejected():
    X, y = _data(n_outputs=2)
    with pytest.raises(
        ValueError, match="output_threshold must be a float or have one"
    ):
        PositiveMLPRegressor(output_threshold=[0.0, 0.0, 0.0]).fit(X, y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"output_activation": "sigmoid"}, "output_activation"),
        ({"alpha": -1.0}, "alpha"),
        ({"solver": "newton"}, "solver"),
        ({"hidden_layer_sizes": (4, 0)}, "hidden_layer_sizes"),
        ({"output_threshold": np.nan}, "output_threshold must be finite"),
        ({"loss": "poisson", "output_activation": "identity"}, "loss='poisson'"),
        ({"loss": "gamma", "output_activation": "relu"}, "output_threshold > 0"),
    ],
)
def test_invalid_parameters_name_the_parameter(params, message):
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        PositiveMLPRegressor(**params).fit(X, y)


def test_loss_domains_are_checked():
    """MLPRegressor(loss='poisson') fits negative y without a word."""
    X, y = _data()
    y[:3] = 0.0
    with pytest.raises(ValueError, match=r"gamma.*3 value\(s\) are <= 0"):
        PositiveMLPRegressor(loss="gamma").fit(X, y)
    y[:5] = -1.0
    with pytest.raises(ValueError, match=r"poisson.*requires y >= 0; 5 value\(s\)"):
        PositiveMLPRegressor(loss="poisson").fit(X, y)


@quiet_convergence
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_same_random_state_gives_the_same_model(solver):
    X, y = _data()
    fits = [
        PositiveMLPRegressor(
            hidden_layer_sizes=(8,), solver=solver, max_iter=15, random_state=3
        ).fit(X, y)
        for _ in range(2)
    ]
    for a, b in zip(
        fits[0].coefs_ + fits[0].intercepts_, fits[1].coefs_ + fits[1].intercepts_
    ):
        np.testing.assert_array_equal(a, b)
    other = PositiveMLPRegressor(
        hidden_layer_sizes=(8,), solver=solver, max_iter=15, random_state=4
    ).fit(X, y)
    assert not np.allclose(other.coefs_[0], fits[0].coefs_[0])


@quiet_convergence
@settings(max_examples=40, deadline=None)
@given(
    output_activation=st.sampled_from(BOUNDING),
    activation=st.sampled_from(["identity", "logistic", "tanh", "relu"]),
    threshold=st.floats(-50.0, 50.0),
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-3, 1e6),
)
def test_predictions_never_fall_below_the_threshold(
    output_activation, activation, threshold, seed, scale
):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(40, 3))
    y = threshold + rng.exponential(size=40)
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(6, 5),
        activation=activation,
        output_activation=output_activation,
        output_threshold=threshold,
        max_iter=3,
        learning_rate_init=0.1,
        random_state=seed,
    ).fit(X, y)
    X_new = np.clip(scale * rng.standard_cauchy(size=(200, 3)), -1e6, 1e6)
    pred = reg.predict(X_new)
    assert np.all(np.isfinite(pred))
    assert np.all(pred >= threshold)


@pytest.mark.parametrize(
    "output_activation, loss, effect",
    [
        ("softplus", "squared_error", "additive"),
        ("relu", "squared_error", "additive"),
        ("softplus", "gamma", "additive"),
        ("exp", "poisson", "multiplicative"),
        ("exp", "gamma", "multiplicative"),
    ],
)
def test_training_starts_at_the_targets_far_from_zero(output_activation, loss, effect):
    """A target around 1000 is fitted well in 200 epochs, and the first prediction is
    its mean. (The effect is multiplicative for 'exp', whose log link needs it.)"""
    X, y = _data(n_samples=200, offset=1000.0, seed=1)
    y = y + 5 * X[:, 0] if effect == "additive" else y * np.exp(0.3 * X[:, 0])
    reg = PositiveMLPRegressor(
        loss=loss,
        hidden_layer_sizes=(16,),
        output_activation=output_activation,
        random_state=0,
        max_iter=200,
        learning_rate_init=0.01,
        tol=0.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    assert r2_score(y, reg.predict(X)) > 0.9
    start = PositiveMLPRegressor(
        loss=loss,
        hidden_layer_sizes=(16,),
        max_iter=1,
        output_activation=output_activation,
        random_state=0,
        learning_rate_init=1e-9,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start.fit(X, y)
    np.testing.assert_allclose(start.predict(X), y.mean(), rtol=1e-6)


_PROGRESS_LINE = re.compile(
    r"^(?P<step>Epoch|Iteration) (?P<number>\d+): loss (?P<loss>\S+), "
    r"(?:validation score (?P<score>\S+), )?(?P<seconds>\d+\.\d\d) s$"
)


def _progress_lines(out: str) -> list[re.Match]:
    """verbose's per-epoch lines; other lines (stopping messages) are left out."""
    matches = [_PROGRESS_LINE.match(line) for line in out.splitlines()]
    return [m for m in matches if m is not None]


def _check_progress(lines: list[re.Match], step: str, losses, scores=None) -> None:
    """One line per recorded epoch, numbered from 1, showing the recorded loss (and
    validation score) as printed, with elapsed seconds that never go back."""
    assert [m["step"] for m in lines] == [step] * len(losses)
    assert [int(m["number"]) for m in lines] == list(range(1, len(losses) + 1))
    assert [m["loss"] for m in lines] == [f"{loss:.6g}" for loss in losses]
    expected_scores = [None] * len(losses) if scores is None else scores
    assert [m["score"] for m in lines] == [
        None if score is None else f"{score:.6g}" for score in expected_scores
    ]
    seconds = [float(m["seconds"]) for m in lines]
    assert seconds == sorted(seconds)


@quiet_convergence
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_verbose_prints_one_line_per_epoch(capsys, solver):
    X, y = _data()
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(4,),
        solver=solver,
        max_iter=7,
        verbose=True,
        random_state=0,
    ).fit(X, y)
    out = capsys.readouterr().out
    assert len(out.splitlines()) == reg.n_iter_ == 7  # nothing else printed
    _check_progress(_progress_lines(out), "Epoch", reg.loss_curve_)


def test_verbose_lines_show_the_validation_score_with_early_stopping(capsys):
    X, y = _data(n_samples=300)
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        n_iter_no_change=3,
        learning_rate_init=0.05,
        max_iter=500,
        verbose=True,
        random_state=0,
    ).fit(X, y)
    out = capsys.readouterr().out
    lines = _progress_lines(out)
    assert reg.n_iter_ < 500  # it stopped early, and said so on a line of its own
    assert len(lines) == reg.n_iter_ == len(reg.validation_scores_)
    _check_progress(lines, "Epoch", reg.loss_curve_, reg.validation_scores_)
    assert out.splitlines()[-1].startswith("Validation score did not improve")


@quiet_convergence
def test_lbfgs_records_its_loss_curve_and_keeps_float32(capsys):
    X, y = _data()
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,),
        solver="lbfgs",
        max_iter=30,
        verbose=True,
        random_state=0,
    )
    reg.fit(X.astype(np.float32), y.astype(np.float32))
    assert len(reg.loss_curve_) == reg.n_iter_ > 0
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]
    assert reg.best_loss_ == min(reg.loss_curve_)
    assert reg.coefs_[0].dtype == np.float32
    out = capsys.readouterr().out
    assert len(out.splitlines()) == reg.n_iter_
    _check_progress(_progress_lines(out), "Iteration", reg.loss_curve_)


@quiet_convergence
def test_float32_input_trains_and_predicts_in_float32():
    X, y = _data()
    reg = PositiveMLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    reg.fit(X.astype(np.float32), y)
    assert all(c.dtype == np.float32 for c in reg.coefs_ + reg.intercepts_)
    assert reg.predict(X).dtype == np.float32
    reg64 = PositiveMLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    np.testing.assert_allclose(reg.predict(X), reg64.fit(X, y).predict(X), rtol=1e-3)


@quiet_convergence
def test_warm_start_continues_the_loss_curve():
    X, y = _data()
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,), max_iter=10, warm_start=True, random_state=0, tol=0.0
    )
    reg.fit(X, y)
    curve = list(reg.loss_curve_)
    reg.fit(X, y)
    assert reg.loss_curve_[:10] == curve and len(reg.loss_curve_) == 20
    assert reg.loss_curve_[10] < curve[0]
    assert reg.t_ == 20 * len(X)


@quiet_convergence
def test_warm_start_with_a_different_shape_is_an_error():
    X, y = _data()
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,), max_iter=200, warm_start=True, random_state=0
    ).fit(X, y)
    with pytest.raises(ValueError, match="warm_start=True cannot continue"):
        reg.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    with pytest.raises(ValueError, match="warm_start=True cannot continue"):
        reg.set_params(hidden_layer_sizes=(8,)).fit(X, np.column_stack([y, y]))


def test_early_stopping_keeps_the_best_validation_score():
    X, y = _data(n_samples=300)
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(16,),
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=500,
        random_state=0,
        learning_rate_init=0.05,
        n_members=1,  # members stopping apart score the model they return
    ).fit(X, y)
    assert reg.n_iter_ < 500
    assert len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.best_loss_ is None


@quiet_convergence
def test_adaptive_learning_rate_divides_by_five_on_plateaus(capsys):
    X, y = _data()
    PositiveMLPRegressor(
        hidden_layer_sizes=(4,),
        solver="sgd",
        learning_rate="adaptive",
        n_iter_no_change=1,
        tol=1e3,
        max_iter=10,
        verbose=True,
        random_state=0,
    ).fit(X, y)
    out = capsys.readouterr().out
    assert "Setting learning rate to 0.000200" in out


@quiet_convergence
def test_no_hidden_layer_is_a_generalised_linear_model():
    X, y = _data()
    reg = PositiveMLPRegressor(hidden_layer_sizes=(), solver="lbfgs", random_state=0)
    reg.fit(X, y)
    assert [c.shape for c in reg.coefs_] == [(4, 1)]
    assert reg.n_layers_ == 2
    assert reg.n_members_ == 1  # 'auto': members of a convex model would agree


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_ctrl_c_stops_promptly_and_keeps_the_model(solver):
    """A SIGINT while the C++ loop runs (one epoch here takes over 1.5 s): fit
    returns within a fraction of a second with the model trained so far and a
    warning, as MLPRegressor does."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100_000, 20))
    y = 1.0 + np.abs(X[:, 0])
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(512, 512),
        solver=solver,
        max_iter=10_000,
        input_bins=None,  # the interrupt is to reach the C++ loop, not the encoding
        random_state=0,
    )
    delay = fit_with_ctrl_c_after(reg, X, y, seconds=1.0)  # set-up may be slow
    assert delay < 0.4, f"fit took {delay:.2f} s to stop after the interrupt"
    if solver == "adam":
        assert reg.n_iter_ == 0  # stopped inside the first epoch, in the C++ loop
    assert np.all(reg.predict(X[:10]) >= 0)


THREADED_SETTINGS = [
    {"solver": "adam"},
    {"solver": "lbfgs"},
    {"solver": "sgd", "weighted": True},
    {
        "solver": "adam",
        "output_activation": "identity",
        "output_constraint": "lagrangian",
    },
    {"solver": "adam", "nonneg_weights": "all"},
    {
        "solver": "sgd",
        "nonneg_weights": "hidden",
        "nonneg_method": "square",
        "weighted": True,
    },
]


@quiet_convergence
@pytest.mark.parametrize("settings", THREADED_SETTINGS, ids=str)
def test_threads_change_speed_not_results(settings):
    """Batches of 2048 rows and full-data passes are split over threads (rows for the
    gradient, parameter ranges for the update): the same model up to the order of a
    sum, and exactly repeatable for a given n_threads."""
    settings = dict(settings)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(6000, 8))
    y = 1.0 + np.abs(X[:, 0]) + X[:, 1] ** 2
    weights = (
        rng.uniform(0.0, 2.0, size=len(y)) if settings.pop("weighted", False) else None
    )
    settings.update(
        hidden_layer_sizes=(32,), batch_size=2048, max_iter=5, random_state=0, tol=0.0
    )
    one = PositiveMLPRegressor(n_threads=1, **settings).fit(X, y, sample_weight=weights)
    two = PositiveMLPRegressor(n_threads=2, **settings).fit(X, y, sample_weight=weights)
    again = PositiveMLPRegressor(n_threads=2, **settings).fit(
        X, y, sample_weight=weights
    )
    np.testing.assert_array_equal(two.predict(X), again.predict(X))
    np.testing.assert_allclose(two.predict(X), one.predict(X), rtol=1e-6)
    np.testing.assert_allclose(two.loss_curve_, one.loss_curve_, rtol=1e-6)
    np.testing.assert_array_equal(
        two.set_params(n_threads=1).predict(X), two.predict(X)
    )


@quiet_convergence
def test_threads_on_batches_with_fewer_rows_than_threads():
    """263k parameters: even a one-row batch (the last of each epoch here) counts as
    work for two threads; the result must not depend on how its rows are shared."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(5, 1))
    y = 1.0 + np.abs(X[:, 0])
    settings = {
        "hidden_layer_sizes": (512, 512),
        "batch_size": 2,
        "max_iter": 2,
        "random_state": 0,
        "shuffle": False,
    }
    one = PositiveMLPRegressor(n_threads=1, **settings).fit(X, y)
    two = PositiveMLPRegressor(n_threads=2, **settings).fit(X, y)
    np.testing.assert_allclose(two.loss_curve_, one.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(two.predict(X), one.predict(X), rtol=1e-12)


def test_stopping_before_learning_anything_is_warned():
    """A step too small to move: training stops at the constant starting model after
    n_iter_no_change epochs, which MLPRegressor would return without a word."""
    X, y = _data()
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(4,),
        learning_rate_init=1e-7,
        early_stopping=False,
        n_iter_no_change=10,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="learned almost nothing"):
        reg.fit(X, y)
    assert reg.n_iter_ == reg.n_iter_no_change + 2  # the first epoch sets the mark
