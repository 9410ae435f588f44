"""ConformalQuantileRegressor: coverage of at least the nominal level on exchangeable
data, bands above the floor and nested for any input, the errors a user meets, and
MAPIE's prefit recipe with our quantile models."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from extras import needs_extra
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from positive_mlp import ConformalQuantileRegressor, PositiveMLPRegressor
from positive_mlp._conformal import conformal_margin, coverage_levels

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
COVERAGES = [0.8, 0.9, 0.95]


def _durations(n, seed, floor=0.0):
    """Log-normal durations whose median and spread grow with x0, above ``floor``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 3))
    spread = 0.15 + 0.6 / (1 + np.exp(-1.5 * X[:, 0]))
    y = floor + np.exp(0.5 + 0.5 * X[:, 0] + spread * rng.standard_normal(n))
    return X, y


def _quick_model(seed=0, **params):
    return PositiveMLPRegressor(
        loss="quantile",
        hidden_layer_sizes=(16,),
        max_iter=30,
        n_members=1,
        random_state=seed,
        **params,
    )


def test_the_levels_are_each_coverages_tails_and_the_median():
    levels = coverage_levels(np.array(COVERAGES))
    np.testing.assert_allclose(levels, [0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975])


def test_the_margin_is_the_conformal_rank_of_the_scores():
    scores = np.arange(1.0, 20.0)  # 19 scores: rank ceil(20 * 0.9) = 18
    assert conformal_margin(scores, 0.9) == 18.0
    with pytest.raises(ValueError, match="at least 19 calibration rows, got 18"):
        conformal_margin(scores[:18], 0.95)


def test_coverage_is_at_least_nominal_over_calibration_draws():
    # The guarantee holds for any model, so a rough one serves: fitted once, then
    # calibrated on 300 random draws of 200 rows, each scored on 400 others.
    X_train, y_train = _durations(1000, seed=0)
    model = _quick_model(quantile=coverage_levels(np.array(COVERAGES)).tolist())
    model.fit(X_train, y_train)
    X_pool, y_pool = _durations(600, seed=1)
    bands = ConformalQuantileRegressor(model, coverage=COVERAGES, prefit=True)
    rng = np.random.default_rng(2)
    covered = []
    for _ in range(300):
        order = rng.permutation(len(y_pool))
        calibration, test = order[:200], order[200:]
        bands.fit(X_pool[calibration], y_pool[calibration])
        _, intervals = bands.predict_interval(X_pool[test])
        inside = (y_pool[test, None] >= intervals[:, 0]) & (
            y_pool[test, None] <= intervals[:, 1]
        )
        covered.append(inside.mean(axis=0))
    mean = np.mean(covered, axis=0)
    # The expected coverage is ceil(201 c) / 201 for continuous scores; nesting can
    # only add to it. Three standard errors of the mean over the draws.
    expected = np.ceil(201 * np.array(COVERAGES)) / 201
    standard_error = np.std(covered, axis=0) / np.sqrt(len(covered))
    assert (mean >= expected - 3 * standard_error - 1e-3).all(), mean
    assert (mean <= expected + 0.03).all(), mean


def test_fit_holds_out_the_calibration_share_and_trains_on_the_rest():
    X, y = _durations(800, seed=3)
    bands = ConformalQuantileRegressor(
        _quick_model(), coverage=0.9, calibration_fraction=0.25, random_state=0
    ).fit(X, y)
    assert bands.n_calibration_ == 200
    assert bands.estimator_.n_features_in_ == 3
    np.testing.assert_allclose(bands.estimator_.quantiles_, [0.05, 0.5, 0.95])
    assert bands.predict(X).shape == (800,)
    assert np.isfinite(bands.score(X, y))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    floor=st.sampled_from([0.0, 1.5, -2.0]),
    coverage=st.lists(st.floats(0.5, 0.97), min_size=1, max_size=3),
    scale=st.sampled_from([1.0, 100.0, 1e6]),
)
def test_bands_stay_above_the_floor_ordered_and_nested_for_any_input(
    seed, floor, coverage, scale
):
    X, y = _durations(300, seed, floor=max(floor, 0.0))
    model = _quick_model(seed, output_threshold=floor)
    bands = ConformalQuantileRegressor(model, coverage=coverage, random_state=seed)
    bands.fit(X, y)
    rng = np.random.default_rng(seed)
    X_new = scale * rng.normal(size=(50, 3))  # far outside the training range too
    median, intervals = bands.predict_interval(X_new)
    assert np.isfinite(intervals).all() and np.isfinite(median).all()
    assert (intervals >= floor).all()
    assert (intervals[:, 0] <= intervals[:, 1]).all()
    assert (np.diff(intervals[:, 0], axis=1) <= 0).all()  # higher coverage: wider
    assert (np.diff(intervals[:, 1], axis=1) >= 0).all()


@pytest.mark.parametrize("y_scale", [1e150, 1e300])
def test_bands_stay_finite_where_a_tail_plus_its_margin_would_overflow(y_scale):
    """Targets near the float range and inputs at its edge: the model's tails reach
    the largest float, and a tail plus its margin would be infinite. Bounds are capped
    at the largest float, which every finite target lies below."""
    X, y = _durations(300, 0)
    bands = ConformalQuantileRegressor(
        _quick_model(), coverage=[0.8, 0.9], random_state=0
    ).fit(X, y * y_scale)
    rng = np.random.default_rng(1)
    largest = np.finfo(np.float64).max
    X_new = np.vstack([X[:20], largest / 4 * np.sign(rng.normal(size=(20, 3)))])
    median, intervals = bands.predict_interval(X_new)
    assert np.isfinite(median).all() and np.isfinite(intervals).all()
    assert (intervals[:, 0] <= intervals[:, 1]).all()
    assert (np.diff(intervals[:, 0], axis=1) <= 0).all()
    assert (np.diff(intervals[:, 1], axis=1) >= 0).all()
    assert (intervals == largest).any()  # the cap was needed


def test_a_band_that_calibration_pushes_below_the_floor_is_raised_to_it():
    # Targets piled at the floor: the calibrated lower tail would fall below 0.
    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 2))
    y = np.where(rng.random(600) < 0.5, 0.0, rng.exponential(1.0, 600))
    bands = ConformalQuantileRegressor(
        _quick_model(), coverage=0.95, random_state=0
    ).fit(X, y)
    predictions = bands.estimator_.predict(X)
    unclipped = predictions[:, 0] - bands.margins_[0]
    _, intervals = bands.predict_interval(X)
    assert (unclipped < 0).any()
    assert (intervals[:, 0, 0] == 0.0)[unclipped < 0].all()


def test_settings_that_cannot_work_are_refused():
    X, y = _durations(200, seed=5)
    with pytest.raises(ValueError, match="loss='quantile'"):
        ConformalQuantileRegressor(PositiveMLPRegressor(max_iter=5)).fit(X, y)
    with pytest.raises(ValueError, match="coverage"):
        ConformalQuantileRegressor(_quick_model(), coverage=1.0).fit(X, y)
    with pytest.raises(ValueError, match="calibration rows"):
        ConformalQuantileRegressor(
            _quick_model(), coverage=0.99, calibration_fraction=0.1
        ).fit(X[:100], y[:100])
    single = _quick_model(quantile=[0.1, 0.5, 0.9]).fit(X, y)
    with pytest.raises(ValueError, match=r"lacks the levels \[0.05, 0.95\]"):
        ConformalQuantileRegressor(single, coverage=0.9, prefit=True).fit(X, y)
    two_targets = np.column_stack([y, y])
    with pytest.raises(ValueError, match="one target"):
        ConformalQuantileRegressor(_quick_model()).fit(X, two_targets)


def test_it_clones_pickles_and_searches_like_a_scikit_learn_estimator():
    X, y = _durations(400, seed=6)
    bands = ConformalQuantileRegressor(_quick_model(), coverage=0.9, random_state=0)
    assert clone(bands).get_params()["estimator__max_iter"] == 30
    fitted = bands.fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(
        again.predict_interval(X)[1], fitted.predict_interval(X)[1]
    )
    search = GridSearchCV(bands, {"estimator__alpha": [1e-4, 1e-2]}, cv=2).fit(X, y)
    assert search.best_estimator_.margins_.shape == (1,)


def test_mapies_prefit_recipe_takes_our_quantile_models():
    mapie = needs_extra("mapie.regression", "mapie")
    X, y = _durations(1200, seed=7)
    X_train, y_train, X_cal, y_cal = X[:600], y[:600], X[600:900], y[600:900]
    # MAPIE's order: the lower level, the upper level, the median.
    models = [_quick_model(quantile=q).fit(X_train, y_train) for q in (0.05, 0.95, 0.5)]
    regressor = mapie.ConformalizedQuantileRegressor(
        models, confidence_level=0.9, prefit=True
    ).conformalize(X_cal, y_cal)
    _, intervals = regressor.predict_interval(X[900:])
    covered = (y[900:] >= intervals[:, 0, 0]) & (y[900:] <= intervals[:, 1, 0])
    assert covered.mean() > 0.8


def test_a_pipeline_ending_in_a_quantile_model_is_calibrated():
    X, y = _durations(800, seed=8)
    pipeline = make_pipeline(StandardScaler(), _quick_model())
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    bands = ConformalQuantileRegressor(pipeline, coverage=[0.8, 0.9], random_state=0)
    bands.fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(
        bands.estimator_[-1].quantiles_, [0.05, 0.1, 0.5, 0.9, 0.95]
    )
    _, intervals = bands.predict_interval(1e3 * X)
    assert (intervals >= 0).all() and (intervals[:, 0] <= intervals[:, 1]).all()
    prefit = ConformalQuantileRegressor(bands.estimator_, coverage=0.9, prefit=True)
    assert prefit.fit(X[:300], y[:300]).n_calibration_ == 300
    with pytest.raises(ValueError, match="ending a Pipeline"):
        ConformalQuantileRegressor(
            make_pipeline(StandardScaler(), GradientBoostingRegressor())
        ).fit(X, y)
