"""scikit-learn's estimator checks and the tools users combine the estimator with."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_html_repr
from sklearn.utils.estimator_checks import parametrize_with_checks

from positive_mlp import PositiveMLPRegressor

CONFIGURATIONS = [
    PositiveMLPRegressor(),
    PositiveMLPRegressor(output_activation="identity"),
    PositiveMLPRegressor(output_activation="exp", loss="poisson"),
    PositiveMLPRegressor(output_activation="relu", output_threshold=0.5),
    PositiveMLPRegressor(solver="lbfgs", loss="gamma"),
    PositiveMLPRegressor(loss="tweedie", power=1.5, output_activation="exp"),
    PositiveMLPRegressor(loss="tweedie", power=3.0, solver="lbfgs"),
    PositiveMLPRegressor(loss="quantile", quantile=0.5),
    PositiveMLPRegressor(solver="sgd", early_stopping=True, validation_fraction=0.25),
    PositiveMLPRegressor(nonneg_weights="all"),
    PositiveMLPRegressor(
        nonneg_weights="output", nonneg_method="square", solver="lbfgs"
    ),
    PositiveMLPRegressor(
        nonneg_weights="hidden", nonneg_method="exp", nonneg_bias=True
    ),
    PositiveMLPRegressor(output_activation="identity", output_constraint="penalty"),
    PositiveMLPRegressor(output_activation="identity", output_constraint="lagrangian"),
    PositiveMLPRegressor(
        output_activation="identity", output_constraint="lagrangian", solver="lbfgs"
    ),
]


def expected_failed_checks(estimator) -> dict[str, str]:
    expected = {}
    if estimator.output_activation != "identity":
        expected["check_regressor_multioutput"] = (
            "the check fits make_regression targets (half negative) without applying "
            "the positive_only tag that every other check honours; a bounded output "
            "rightly rejects them"
        )
    # (early_stopping='auto' holds out nothing from the checks' data sets: they
    # are too small)
    if estimator.early_stopping is True:
        reason = (
            "early stopping holds out a random share of the rows, so repeating rows "
            "changes which rows are held out, while weighting them does not"
        )
        expected["check_sample_weight_equivalence_on_dense_data"] = reason
        expected["check_sample_weight_equivalence_on_sparse_data"] = reason
    return expected


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(CONFIGURATIONS, expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_tags_declare_what_the_estimator_supports():
    """MLPRegressor's tags deny the multi-output support it has."""
    from sklearn.utils import get_tags

    bounded, plain = (
        get_tags(PositiveMLPRegressor()),
        get_tags(PositiveMLPRegressor(output_activation="identity")),
    )
    assert bounded.target_tags.multi_output and plain.target_tags.multi_output
    assert bounded.target_tags.positive_only and not plain.target_tags.positive_only
    assert get_tags(
        PositiveMLPRegressor(loss="poisson", output_activation="exp")
    ).target_tags.positive_only


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X[:300], y[:300]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_and_cross_validation():
    X, y = _diabetes()
    model = make_pipeline(
        StandardScaler(),
        PositiveMLPRegressor(hidden_layer_sizes=(16,), max_iter=300, random_state=0),
    )
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.mean() > 0.3
    assert np.all(model.fit(X, y).predict(X * 50) >= 0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# scikit-learn 1.6 with NumPy < 1.24 warns of the ragged tuples of hidden_layer_sizes
# in cv_results_ (it then stores them as objects)
@pytest.mark.filterwarnings("ignore:Creating an ndarray from ragged nested sequences")
def test_grid_search_over_architecture_penalty_and_output():
    X, y = _diabetes()
    grid = GridSearchCV(
        make_pipeline(
            StandardScaler(),
            PositiveMLPRegressor(max_iter=50, random_state=0, learning_rate_init=0.01),
        ),
        {
            "positivemlpregressor__hidden_layer_sizes": [(8,), (16, 8)],
            "positivemlpregressor__alpha": [1e-4, 1.0],
            "positivemlpregressor__output_activation": ["softplus", "exp", "relu"],
        },
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 12
    assert np.isfinite(grid.best_score_)
    assert np.all(grid.predict(X) >= 0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_clone_and_pickle_round_trip(solver):
    X, y = _diabetes()
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,), solver=solver, max_iter=20, random_state=0
    ).fit(X, y)
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))
    twin = clone(reg)
    assert twin.get_params() == reg.get_params()
    assert not hasattr(twin, "coefs_")
    np.testing.assert_array_equal(twin.fit(X, y).predict(X), reg.predict(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pickled_model_keeps_training_with_warm_start():
    X, y = _diabetes()
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(8,), max_iter=5, warm_start=True, random_state=0, tol=0.0
    ).fit(X, y)
    restored = pickle.loads(pickle.dumps(reg))
    reg.fit(X, y)
    restored.fit(X, y)
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))


def test_the_html_reprs_link_opens_the_api_page():
    link = PositiveMLPRegressor()._get_doc_link()
    # docs/api.rst generates the page under generated/, named module.Class.html
    assert link == (
        "https://positive-mlp.readthedocs.io/en/stable/generated/"
        "positive_mlp.PositiveMLPRegressor.html"
    )
    api = (Path(__file__).resolve().parents[1] / "docs" / "api.rst").read_text()
    assert ":toctree: generated" in api and "   PositiveMLPRegressor\n" in api
    assert f'href="{link}"' in estimator_html_repr(PositiveMLPRegressor())
