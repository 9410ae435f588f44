"""Where MLPRegressor predicts negatives for a non-negative target, ours predicts none.

The data ship with scikit-learn: the breast-cancer table, with the 'worst concavity'
of each tumour (never negative, 13 of 569 exactly 0, skewed to the right) as the
target, times 10, and the 27 measurements that are not concavities as features. (On
the raw scale, median 0.23, MLPRegressor stops on its absolute ``tol`` within 200
epochs, far from a fit; times 10, both models converge.)

With these settings, over seeds 0-49 (each seed both the split and the models'
random_state), MLPRegressor predicted 0-7 negatives on the 143 test rows (none only
for seed 24), PositiveMLPRegressor none, and our test R2 was on average 0.02 above
MLPRegressor's and at worst about 0.02 below it. The test uses seed 0: 6 negatives
and R2 0.864 for MLPRegressor, about 0.87 for ours.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from positive_mlp import PositiveMLPRegressor

SEED = 0
# Both fits converge (in at most about 1150 epochs over seeds 0-49), so pytest's
# warnings-as-errors meets no ConvergenceWarning and none is filtered.
SETTINGS = dict(
    hidden_layer_sizes=(16,), solver="adam", max_iter=3000, random_state=SEED
)


def _worst_concavity():
    data = load_breast_cancer()
    names = list(data.feature_names)
    features = [i for i, name in enumerate(names) if "concavity" not in name]
    return data.data[:, features], 10.0 * data.data[:, names.index("worst concavity")]


def test_no_negative_predictions_where_mlpregressor_has_some_at_a_comparable_r2():
    X, y = _worst_concavity()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED
    )
    theirs = make_pipeline(StandardScaler(), MLPRegressor(**SETTINGS))
    ours = make_pipeline(StandardScaler(), PositiveMLPRegressor(**SETTINGS))
    pred_theirs = theirs.fit(X_train, y_train).predict(X_test)
    pred_ours = ours.fit(X_train, y_train).predict(X_test)

    n_negative_theirs = int(np.sum(pred_theirs < 0))
    assert n_negative_theirs >= 1, "premise: MLPRegressor should predict negatives here"
    assert np.all(pred_ours >= 0), f"ours predicted {np.sum(pred_ours < 0)} negatives"
    r2_theirs = r2_score(y_test, pred_theirs)
    r2_ours = r2_score(y_test, pred_ours)
    assert r2_ours >= r2_theirs - 0.02, (
        f"test R2 {r2_ours:.3f} is more than 0.02 below MLPRegressor's {r2_theirs:.3f}"
    )
