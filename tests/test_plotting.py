"""The displays: what they draw, read back from the figures."""

from __future__ import annotations

import doctest
import subprocess
import sys
import warnings

import numpy as np
import pytest
from extras import needs_extra
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from positive_mlp import (
    PositiveMLPRegressor,
    PredictionFloorDisplay,
    TrainingCurveDisplay,
)

matplotlib = needs_extra("matplotlib", "plot")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _fitted(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def _small(**params) -> PositiveMLPRegressor:
    return PositiveMLPRegressor(
        hidden_layer_sizes=(8,), n_threads=1, random_state=0, **params
    )


@pytest.fixture(scope="module")
def data():
    """Half the targets exactly 0: a 'relu' output predicts many exactly at 0."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = np.maximum(0.0, X[:, 0] + 0.2 * rng.normal(size=300))
    return X, y


@pytest.fixture(scope="module")
def early_stopped(data):
    return _fitted(
        _small(
            early_stopping=True,
            learning_rate_init=0.02,
            n_iter_no_change=5,
            n_members=1,  # one network: the weights kept are the best epoch's
        ),
        *data,
    )


def _legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_importing_the_package_does_not_import_matplotlib():
    code = "import sys, positive_mlp; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_docstring_examples_run():
    from positive_mlp import _plotting

    result = doctest.testmod(_plotting)
    assert result.attempted > 0 and result.failed == 0


# TrainingCurveDisplay


def test_training_curve_shows_loss_validation_and_the_kept_epoch(early_stopped):
    reg = early_stopped
    display = TrainingCurveDisplay.from_estimator(reg)
    epochs = np.arange(1, reg.n_iter_ + 1)
    np.testing.assert_array_equal(display.loss_line_.get_xdata(), epochs)
    np.testing.assert_array_equal(display.loss_line_.get_ydata(), reg.loss_curve_)
    np.testing.assert_array_equal(display.validation_line_.get_xdata(), epochs)
    np.testing.assert_array_equal(
        display.validation_line_.get_ydata(), reg.validation_scores_
    )
    best = 1 + int(np.argmax(reg.validation_scores_))
    assert 1 < best < reg.n_iter_  # the case shows a real choice
    np.testing.assert_array_equal(display.best_line_.get_xdata(), [best, best])
    np.testing.assert_array_equal(
        np.column_stack(display.best_marker_.get_data()),
        [[best, reg.best_validation_score_]],
    )
    assert display.validation_line_.axes is display.validation_ax_
    assert display.validation_ax_.get_shared_x_axes().joined(
        display.ax_, display.validation_ax_
    )
    assert display.ax_.get_xlabel() == "Epoch"
    assert display.ax_.get_ylabel() == "Training loss (squared_error)"
    assert display.validation_ax_.get_ylabel() == "Validation score (R²)"
    assert _legend_texts(display.validation_ax_) == [
        "Training loss (squared_error)",
        "Validation score (R²)",
        f"best validation score (epoch {best}, weights kept)",
    ]
    assert display.figure_ is display.ax_.figure


def test_training_curve_of_lbfgs_marks_the_lowest_loss(data):
    reg = _fitted(_small(solver="lbfgs", max_iter=40), *data)
    display = TrainingCurveDisplay.from_estimator(reg)
    np.testing.assert_array_equal(display.loss_line_.get_ydata(), reg.loss_curve_)
    assert display.validation_line_ is None and display.validation_ax_ is None
    best = 1 + int(np.argmin(reg.loss_curve_))
    np.testing.assert_array_equal(display.best_line_.get_xdata(), [best, best])
    np.testing.assert_array_equal(
        np.column_stack(display.best_marker_.get_data()), [[best, reg.best_loss_]]
    )
    assert display.ax_.get_xlabel() == "L-BFGS-B iteration"
    assert _legend_texts(display.ax_)[-1] == f"lowest loss (epoch {best})"


def test_training_curve_of_members_stopped_apart_says_each_kept_its_own(data):
    """Members that stop apart keep each its own best epoch: the mark is the best
    epoch of their mean's curve, and the legend says the weights are not its."""
    reg = _fitted(
        _small(early_stopping=True, learning_rate_init=0.02, n_iter_no_change=5),
        *data,
    )
    assert reg.n_members_ == 4
    display = TrainingCurveDisplay.from_estimator(reg)
    best = 1 + int(np.argmax(reg.validation_scores_))
    np.testing.assert_array_equal(display.best_line_.get_xdata(), [best, best])
    assert _legend_texts(display.validation_ax_)[-1] == (
        f"best epoch of the members' mean ({best}; each member kept its own)"
    )


def test_training_curve_of_a_quantile_model_names_its_score(data):
    X, y = data
    reg = _fitted(
        _small(loss="quantile", quantile=[0.2, 0.8], early_stopping=True, max_iter=15),
        X,
        y,
    )
    display = TrainingCurveDisplay.from_estimator(reg)
    assert display.validation_ax_.get_ylabel() == (
        "Validation score (minus pinball loss)"
    )
    np.testing.assert_array_equal(
        display.validation_line_.get_ydata(), reg.validation_scores_
    )


def test_training_curve_draws_on_the_given_axes_and_reads_pipelines(data):
    pipe = _fitted(make_pipeline(StandardScaler(), _small(max_iter=10)), *data)
    figure, (left, right) = plt.subplots(1, 2)
    display = TrainingCurveDisplay.from_estimator(pipe, ax=right, name="adam")
    assert display.ax_ is right and display.figure_ is figure
    assert plt.get_fignums() == [figure.number]
    assert right.get_title() == "adam" and not left.lines
    np.testing.assert_array_equal(display.loss_line_.get_ydata(), pipe[-1].loss_curve_)


def test_training_curve_of_scikit_learns_mlps(data):
    X, y = data
    mlp = _fitted(MLPRegressor(hidden_layer_sizes=(8,), max_iter=10), X, y)
    display = TrainingCurveDisplay.from_estimator(mlp)
    np.testing.assert_array_equal(display.loss_line_.get_ydata(), mlp.loss_curve_)
    classifier = _fitted(
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=15, early_stopping=True),
        X,
        y > 0,
    )
    display = TrainingCurveDisplay.from_estimator(classifier)
    assert display.validation_ax_.get_ylabel() == "Validation score (accuracy)"
    np.testing.assert_array_equal(
        display.validation_line_.get_ydata(), classifier.validation_scores_
    )


def test_training_curve_errors(data):
    with pytest.raises(NotFittedError):
        TrainingCurveDisplay.from_estimator(PositiveMLPRegressor())
    with pytest.raises(TypeError, match="LinearRegression has none"):
        TrainingCurveDisplay.from_estimator(LinearRegression().fit(*data))


def test_training_curve_built_by_hand_without_a_best_epoch():
    display = TrainingCurveDisplay(loss_curve=[3.0, 2.0, 2.5]).plot()
    assert display.best_line_ is None and display.best_marker_ is None
    np.testing.assert_array_equal(display.loss_line_.get_xdata(), [1, 2, 3])


# PredictionFloorDisplay


def test_floor_display_of_known_predictions():
    y_true = np.array([1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 1.2, 2.5])
    y_pred = np.array([1.0, 1.0, 2.1, 1.0, 3.9, 5.2, 0.8, 2.4])  # 3 at 1, 1 below
    display = PredictionFloorDisplay.from_predictions(
        y_true, y_pred, threshold=1.0, name="model"
    )
    assert display.share_at_floor == 3 / 8 and display.share_below_floor == 1 / 8
    assert display.floor_line_.get_label() == (
        "floor 1: 37.5% of predictions at it, 12.5% below"
    )
    np.testing.assert_array_equal(display.floor_line_.get_ydata(), [1.0, 1.0])
    np.testing.assert_array_equal(
        display.scatter_.get_offsets(), np.column_stack([y_true, y_pred])
    )
    np.testing.assert_array_equal(display.identity_line_.get_xdata(), [0.8, 5.2])
    np.testing.assert_array_equal(display.identity_line_.get_ydata(), [0.8, 5.2])
    assert _legend_texts(display.ax_) == [
        "model",
        "prediction = observation",
        "floor 1: 37.5% of predictions at it, 12.5% below",
    ]
    assert (display.ax_.get_xlabel(), display.ax_.get_ylabel()) == (
        "Observed",
        "Predicted",
    )


def test_at_the_floor_means_within_rtol_of_the_datas_distance_from_it():
    y_true = np.array([2.0, 12.0, 7.0])  # the farthest is 10 above the floor 2
    just_in, just_out = 2.0 + 0.9e-6 * 10, 2.0 + 1.1e-6 * 10
    display = PredictionFloorDisplay.from_predictions(
        y_true, [just_in, just_out, 7.0], threshold=2.0
    )
    assert display.tolerance == pytest.approx(1e-5)
    assert display.share_at_floor == pytest.approx(1 / 3)
    wider = PredictionFloorDisplay.from_predictions(
        y_true, [just_in, just_out, 7.0], threshold=2.0, rtol=1e-3
    )
    assert wider.share_at_floor == pytest.approx(2 / 3)


def test_floor_display_counts_a_relu_models_predictions_at_its_floor(data):
    X, y = data
    reg = _fitted(_small(output_activation="relu", output_threshold=0.0), X, y)
    pred = reg.predict(X)
    exactly_at_floor = np.mean(pred == 0.0)
    assert 0.2 < exactly_at_floor < 0.8  # the case tests something
    display = PredictionFloorDisplay.from_estimator(reg, X, y)
    assert display.share_at_floor == exactly_at_floor
    assert display.floor_line_.get_label() == (
        f"floor 0: {exactly_at_floor:.1%} of predictions at it, 0.0% below"
    )
    np.testing.assert_array_equal(display.scatter_.get_offsets()[:, 1], pred)
    assert _legend_texts(display.ax_)[0] == "PositiveMLPRegressor"


def test_floor_display_picks_one_target_and_its_threshold(data):
    X, y = data
    Y = np.column_stack([y, 2.0 + y])
    reg = _fitted(_small(output_threshold=[0.0, 2.0], max_iter=20), X, Y)
    _, ax = plt.subplots()
    display = PredictionFloorDisplay.from_estimator(reg, X, Y, target=1, ax=ax)
    assert display.ax_ is ax
    np.testing.assert_array_equal(
        display.scatter_.get_offsets(), np.column_stack([Y[:, 1], reg.predict(X)[:, 1]])
    )
    np.testing.assert_array_equal(display.floor_line_.get_ydata(), [2.0, 2.0])
    assert display.ax_.get_xlabel() == "Observed (target 1)"
    with pytest.raises(ValueError, match=r"target must be an int in \[0, 2\)"):
        PredictionFloorDisplay.from_estimator(reg, X, Y, target=2)
    with pytest.raises(ValueError, match=r"y has 1 target\(s\), the predictions 2"):
        PredictionFloorDisplay.from_estimator(reg, X, y)


def test_floor_display_from_predictions_of_several_targets():
    y_true = np.array([[1.0, 5.0], [2.0, 6.0], [3.0, 7.0]])
    y_pred = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 6.5]])
    display = PredictionFloorDisplay.from_predictions(
        y_true, y_pred, threshold=[0.0, 5.0], target=1
    )
    assert display.threshold == 5.0 and display.share_at_floor == 2 / 3
    with pytest.raises(ValueError, match="one value per target"):
        PredictionFloorDisplay.from_predictions(y_true, y_pred, threshold=[0, 1, 2])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        PredictionFloorDisplay.from_predictions(y_true, y_pred[:2])


def test_floor_display_of_a_quantile_model_draws_one_level(data):
    X, y = data
    reg = _fitted(_small(loss="quantile", quantile=[0.1, 0.5, 0.9], max_iter=10), X, y)
    pred = reg.predict(X)
    median = PredictionFloorDisplay.from_estimator(reg, X, y)
    np.testing.assert_array_equal(median.scatter_.get_offsets()[:, 1], pred[:, 1])
    assert median.ax_.get_ylabel() == "Predicted (quantile 0.5)"
    low = PredictionFloorDisplay.from_estimator(reg, X, y, level=0.1)
    np.testing.assert_array_equal(low.scatter_.get_offsets()[:, 1], pred[:, 0])
    with pytest.raises(ValueError, match=r"no such level; pass level="):
        PredictionFloorDisplay.from_estimator(reg, X, y, level=0.3)
    tails = _fitted(_small(loss="quantile", quantile=[0.1, 0.9], max_iter=5), X, y)
    with pytest.raises(ValueError, match=r"\[0.1, 0.9\] and has no median: pass"):
        PredictionFloorDisplay.from_estimator(tails, X, y)


def test_floor_display_of_another_regressor_needs_the_threshold(data):
    X, y = data
    mlp = _fitted(
        MLPRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=0), X, y
    )
    with pytest.raises(TypeError, match="pass threshold="):
        PredictionFloorDisplay.from_estimator(mlp, X, y)
    display = PredictionFloorDisplay.from_estimator(mlp, X, y, threshold=0.0)
    below = np.mean(mlp.predict(X) < 0.0)
    assert below > 0  # the unbounded model does predict below zero here
    assert display.share_below_floor == below
    with pytest.raises(ValueError, match=r"level=0\.5 applies to models with"):
        PredictionFloorDisplay.from_estimator(mlp, X, y, threshold=0.0, level=0.5)


def test_floor_display_of_an_unfitted_model():
    with pytest.raises(NotFittedError):
        PredictionFloorDisplay.from_estimator(PositiveMLPRegressor(), [[0.0]], [1.0])


def test_a_deviance_loss_is_labelled_d2():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 2))
    y = rng.poisson(np.exp(X[:, 0])).astype(float)
    reg = PositiveMLPRegressor(
        loss="poisson",
        hidden_layer_sizes=(4,),
        early_stopping=True,
        learning_rate_init=0.02,
        random_state=0,
    )
    display = TrainingCurveDisplay.from_estimator(_fitted(reg, X, y))
    assert display.validation_ax_.get_ylabel() == "Validation score (D²)"
