"""loss='tweedie': scikit-learn's half Tweedie deviance at every power 0 and >= 1, its
gradient, the Poisson and Gamma losses as its powers 1 and 2, and the targets and
settings each power admits."""

from __future__ import annotations

import numpy as np
import pytest
from reference import central_differences
from sklearn.metrics import mean_tweedie_deviance

from positive_mlp import PositiveMLPRegressor
from positive_mlp._losses import resolve_loss
from positive_mlp._network import ParameterLayout, build_network
from positive_mlp._start import glorot_uniform_params

POWERS = [0.0, 1.0, 1.001, 1.3, 1.5, 1.999, 2.0, 2.001, 2.5, 3.0, 4.2]
TRANSFORMS = ["softplus", "exp", "relu"]
quiet_convergence = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def _problem(power: float, transform: str, seed: int = 0):
    rng = np.random.RandomState(seed)
    layout = ParameterLayout((4, 6, 1))
    X = rng.normal(size=(40, 4))
    # Compound Poisson-Gamma targets: exact zeros for powers below 2.
    y = rng.poisson(1.0, size=40) * rng.gamma(2.0, 0.7, size=40)
    if power >= 2:
        y = y + 0.3
    threshold = np.full(1, 0.05)
    network = build_network(
        layout, "tanh", transform, resolve_loss("tweedie", power), threshold, np.float64
    )
    params = glorot_uniform_params(layout, "tanh", rng, np.float64)
    return network, params, X, y.reshape(-1, 1)


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("power", POWERS)
def test_the_loss_is_half_of_scikit_learns_tweedie_deviance(power, transform):
    network, params, X, y = _problem(power, transform)
    weights = np.random.RandomState(1).uniform(0.2, 2.0, size=len(y))
    pred = network.predict(params, X).ravel()
    expected = 0.5 * mean_tweedie_deviance(
        y.ravel(), pred, sample_weight=weights, power=power
    )
    value = network.loss(params, X, y, weights, None, 0.0)
    assert value == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("power", [1.001, 1.5, 1.999, 2.001, 3.0, 4.2])
def test_the_gradient_matches_finite_differences(power, transform):
    network, params, X, y = _problem(power, transform, seed=2)
    grad = np.empty_like(params)
    network.loss_and_gradient(params, X, y, None, None, 0.1, grad)
    numeric = central_differences(
        lambda p: network.loss(p, X, y, None, None, 0.1), params
    )
    error = np.linalg.norm(grad - numeric) / np.linalg.norm(numeric)
    assert error < 1e-6


@quiet_convergence
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize(("name", "power"), [("poisson", 1.0), ("gamma", 2.0)])
def test_poisson_and_gamma_are_the_tweedie_powers_1_and_2(name, power, solver):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 3))
    y = rng.gamma(2.0, np.exp(0.5 * X[:, 0]) / 2.0)
    params = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=30, random_state=0)
    named = PositiveMLPRegressor(loss=name, **params).fit(X, y)
    tweedie = PositiveMLPRegressor(loss="tweedie", power=power, **params).fit(X, y)
    np.testing.assert_allclose(tweedie.predict(X), named.predict(X), rtol=1e-12)
    assert tweedie.loss_curve_ == pytest.approx(named.loss_curve_, rel=1e-12)


@quiet_convergence
@pytest.mark.parametrize("power", [1.2, 1.5, 1.8])
def test_compound_poisson_gamma_targets_with_exact_zeros_fit(power):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(2000, 3))
    mean = np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1])
    counts = rng.poisson(mean)
    y = np.array([rng.gamma(2.0, 0.5, size=k).sum() for k in counts])
    assert np.mean(y == 0) > 0.2
    reg = PositiveMLPRegressor(
        loss="tweedie",
        power=power,
        output_activation="exp",
        hidden_layer_sizes=(16,),
        random_state=0,
        max_iter=100,
    ).fit(X, y)
    pred = reg.predict(X)
    assert np.all(pred > 0)

    def deviance(prediction):
        return mean_tweedie_deviance(y, prediction, power=power)

    oracle = deviance(mean)  # E[y | x] = mean x 2 x 0.5
    constant = deviance(np.full_like(y, y.mean()))
    assert deviance(pred) < oracle + 0.1 * (constant - oracle)


@pytest.mark.parametrize("power", [0.5, -1.0, 0.999])
def test_powers_without_a_tweedie_distribution_for_positive_data_are_refused(power):
    with pytest.raises(ValueError, match="power must be 0 or >= 1"):
        PositiveMLPRegressor(loss="tweedie", power=power).fit([[0.0], [1.0]], [1, 2])


@pytest.mark.parametrize(
    ("power", "y", "message"),
    [
        (1.5, [0.0, -1.0, 2.0], r"power=1.5 requires y >= 0; 1 value\(s\) are < 0"),
        (2.5, [0.0, 1.0, 2.0], r"power=2.5 requires strictly positive y"),
        (2.0, [0.0, 1.0, 2.0], r"power=2 requires strictly positive y"),
    ],
)
def test_targets_outside_a_powers_domain_are_refused(power, y, message):
    reg = PositiveMLPRegressor(loss="tweedie", power=power, output_threshold=0.0)
    with pytest.raises(ValueError, match=message):
        reg.fit([[0.0], [1.0], [2.0]], y)


@quiet_convergence
def test_a_deviance_power_needs_a_bounded_output_and_power_0_does_not():
    X, y = [[0.0], [1.0], [2.0]], [0.5, 1.0, 2.0]
    with pytest.raises(ValueError, match=r"power=1\.5 needs strictly positive"):
        PositiveMLPRegressor(loss="tweedie", output_activation="identity").fit(X, y)
    PositiveMLPRegressor(
        loss="tweedie", power=0.0, output_activation="identity", max_iter=2
    ).fit(X, [-1.0, 0.0, 2.0])


def test_the_core_refuses_a_power_in_0_1():
    with pytest.raises(ValueError, match="Tweedie power"):
        build_network(
            ParameterLayout((2, 1)),
            "relu",
            "exp",
            resolve_loss("tweedie", 0.5),
            np.zeros(1),
            np.float64,
        )


# --- early stopping judges the deviance -------------------------------------------


@pytest.mark.parametrize("power", [1.0, 1.2, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_validation_score_is_scikit_learns_d2(power, weighted):
    from sklearn.metrics import d2_tweedie_score

    from positive_mlp._losses import d2_validation_score

    rng = np.random.RandomState(int(power * 10))
    y = rng.poisson(1.5, size=(60, 3)) * rng.gamma(2.0, size=(60, 3))
    if power >= 2:
        y = y + 0.1
    pred = np.maximum(y * rng.uniform(0.5, 1.5, size=y.shape), 0.05)
    weights = rng.uniform(0.1, 2.0, size=60) if weighted else None
    expected = np.mean(
        [
            d2_tweedie_score(y[:, j], pred[:, j], sample_weight=weights, power=power)
            for j in range(3)
        ]
    )
    assert d2_validation_score(y, pred, weights, power) == pytest.approx(expected)
    # Scale-free, and finite for targets near the largest float.
    huge = d2_validation_score(y * 1e300, pred * 1e300, weights, power)
    assert huge == pytest.approx(expected, rel=1e-9)


def test_validation_score_of_impossible_predictions_is_minus_inf():
    from positive_mlp._losses import d2_validation_score

    y = np.array([[0.0], [1.0], [3.0]])
    assert d2_validation_score(y, np.array([[1.0], [np.inf], [1.0]]), None, 1.5) < 0
    assert d2_validation_score(y, np.array([[1.0], [0.0], [1.0]]), None, 1.0) == (
        -np.inf
    )
    constant = np.ones((3, 1))
    assert d2_validation_score(constant, constant, None, 2.0) == 1.0


@pytest.mark.parametrize("score", ["d2", "r2"])
def test_a_constant_target_scores_1_if_predicted_exactly_else_0(score):
    """As r2_score scores a constant target. The weights make the weighted mean of
    the equal targets round a unit away from them (checked below), which left a null
    deviance at rounding level and scored predictions a rounding apart -1e18 or 0:
    early stopping then picked its epoch by rounding (fuzz case 141:4744)."""
    from positive_mlp._losses import d2_validation_score, r2_validation_score

    value = 0.3
    y = np.full((7, 1), value)
    weights = np.random.default_rng(0).random(7)
    weights[2] = 0.0  # a row of zero weight may hold anything
    y[2] = 5.0
    kept = weights > 0
    assert np.average(y[kept, 0], weights=weights[kept]) != value

    def scored(pred):
        if score == "d2":
            return d2_validation_score(y, pred, weights, 1.5)
        return r2_validation_score(y, pred, weights)

    assert scored(y.copy()) == 1.0
    for nudge in (1 + 1e-15, 1 - 1e-15, 1.5):
        assert scored(y * nudge) == 0.0


@pytest.mark.parametrize(
    "loss, power", [("poisson", 1.5), ("gamma", 1.5), ("tweedie", 1.3)]
)
def test_early_stopping_scores_the_deviance(loss, power):
    from sklearn.metrics import d2_tweedie_score

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    mean = np.exp(0.8 * X[:, 0])
    y = rng.gamma(2.0, mean / 2.0) if loss == "gamma" else rng.poisson(mean) * 1.0
    X_val, y_val = X[200:], y[200:]
    reg = PositiveMLPRegressor(
        loss=loss,
        power=power,
        hidden_layer_sizes=(8,),
        early_stopping=True,
        learning_rate_init=0.01,
        max_iter=1000,
        random_state=0,
    ).fit(X[:200], y[:200], X_val=X_val, y_val=y_val)
    deviance_power = {"poisson": 1.0, "gamma": 2.0}.get(loss, power)
    expected = d2_tweedie_score(y_val, reg.predict(X_val), power=deviance_power)
    # The members kept each its best epoch: the score is the returned model's D2.
    assert reg.n_members_ > 1
    assert reg.best_validation_score_ == pytest.approx(expected, rel=1e-9)
    one = PositiveMLPRegressor(**{**reg.get_params(), "n_members": 1})
    one.fit(X[:200], y[:200], X_val=X_val, y_val=y_val)  # the best epoch's weights
    assert one.best_validation_score_ == max(one.validation_scores_)
