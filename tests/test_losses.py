"""The loss table (``_losses``): one object per loss, matched against the core's
enum, with its Tweedie resolution, target domains, messages, validation scores and
starting points."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.metrics import d2_tweedie_score, mean_pinball_loss, r2_score

from positive_mlp import PositiveMLPRegressor, _core
from positive_mlp._losses import (
    ANY_TARGET,
    LOSSES,
    NON_NEGATIVE,
    POSITIVE,
    is_mlp_regressor_loss,
    resolve_loss,
    tweedie_member,
)

NAMES = sorted(LOSSES)
CORE_NAMES = sorted(_core.Loss.__members__)
# Each loss at parameters of its own (those it ignores at their defaults).
RESOLVED = {
    "squared_error": resolve_loss("squared_error"),
    "poisson": resolve_loss("poisson"),
    "gamma": resolve_loss("gamma"),
    "tweedie": resolve_loss("tweedie", 1.5),
    "quantile": resolve_loss("quantile", quantile=[0.2, 0.8]),
}


# --- the table and the core --------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_loss_has_its_core_enum(name):
    entry = LOSSES[name]
    assert entry.name == name
    assert entry.core == _core.Loss.__members__[name]


@pytest.mark.parametrize("name", CORE_NAMES)
def test_every_core_loss_has_an_entry(name):
    assert LOSSES[name].core == getattr(_core.Loss, name)


def test_the_parameter_accepts_exactly_the_tables_losses():
    (options,) = PositiveMLPRegressor._parameter_constraints["loss"]
    assert options.options == set(LOSSES)


def test_every_loss_is_resolved_in_the_test_table():
    assert set(RESOLVED) == set(LOSSES)


@pytest.mark.parametrize("name", NAMES)
def test_resolving_keeps_the_name_and_the_core_enum(name):
    loss = RESOLVED[name]
    assert (loss.name, loss.core) == (name, LOSSES[name].core)


def test_a_loss_without_parameters_resolves_to_its_entry():
    for name in ("squared_error", "poisson", "gamma"):
        assert resolve_loss(name, 3.0, [0.1, 0.9]) is LOSSES[name]


# --- Tweedie's power ---------------------------------------------------------------


@pytest.mark.parametrize(
    "power, domain, deviance_power, positive",
    [
        (0.0, ANY_TARGET, None, False),
        (1.0, NON_NEGATIVE, 1.0, True),
        (1.5, NON_NEGATIVE, 1.5, True),
        (2.0, POSITIVE, 2.0, True),
        (3.0, POSITIVE, 3.0, True),
    ],
)
def test_tweedie_resolves_its_power(power, domain, deviance_power, positive):
    loss = resolve_loss("tweedie", power)
    assert loss.domain is domain
    assert loss.deviance_power == deviance_power
    assert loss.needs_positive_predictions is positive
    assert loss.power == power
    assert loss.core == _core.Loss.tweedie
    assert not loss.mlp_regressor  # power 0 is the squared error, not MLPRegressor's


@pytest.mark.parametrize(
    "power, name", [(0, "squared_error"), (1, "poisson"), (2, "gamma")]
)
def test_tweedies_powers_0_1_2_are_the_losses_of_those_powers(power, name):
    member = tweedie_member(power)
    assert member is LOSSES[name]
    tweedie = resolve_loss("tweedie", power)
    assert tweedie.domain is member.domain
    assert tweedie.deviance_power == member.deviance_power


@pytest.mark.parametrize("power", [0.0, 1.0, 1.5, 2.0, 3.0])
def test_tweedie_admits_powers_0_and_from_1(power):
    resolve_loss("tweedie", power).check_parameters()


@pytest.mark.parametrize("power", [0.5, 0.999, -1.0])
def test_tweedie_refuses_other_powers(power):
    loss = resolve_loss("tweedie", power)  # resolving checks nothing
    message = f"power must be 0 or >= 1 for loss='tweedie', got {power!r}: no Tweedie"
    with pytest.raises(ValueError, match=re.escape(message)):
        loss.check_parameters()


@pytest.mark.parametrize("name", ["squared_error", "poisson", "gamma", "quantile"])
def test_other_losses_ignore_the_power(name):
    resolve_loss(name, -3.0).check_parameters()


# --- descriptions and domains ------------------------------------------------------


@pytest.mark.parametrize(
    "loss, description",
    [
        (resolve_loss("squared_error"), "loss='squared_error'"),
        (resolve_loss("gamma"), "loss='gamma'"),
        (resolve_loss("tweedie", 1.5), "loss='tweedie' with power=1.5"),
        (resolve_loss("tweedie", 2), "loss='tweedie' with power=2"),
        (resolve_loss("quantile", quantile=0.3), "loss='quantile'"),
    ],
)
def test_descriptions(loss, description):
    assert loss.description == description


@pytest.mark.parametrize(
    "loss, y, message",
    [
        (
            resolve_loss("poisson"),
            [1.0, -1.0, -2.0, 0.0],
            "loss='poisson' requires y >= 0; 2 value(s) are < 0.",
        ),
        (
            resolve_loss("gamma"),
            [1.0, 0.0, 3.0],
            "loss='gamma' requires strictly positive y; 1 value(s) are <= 0.",
        ),
        (
            resolve_loss("tweedie", 1.5),
            [-1.0, 0.0],
            "loss='tweedie' with power=1.5 requires y >= 0; 1 value(s) are < 0.",
        ),
        (
            resolve_loss("tweedie", 3),
            [0.0, 0.0, 1.0],
            "loss='tweedie' with power=3 requires strictly positive y; 2 value(s) "
            "are <= 0.",
        ),
    ],
)
def test_targets_outside_the_domain_are_counted(loss, y, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        loss.check_targets(np.array(y).reshape(-1, 1))


@pytest.mark.parametrize("name", NAMES)
def test_targets_inside_the_domain_pass(name):
    RESOLVED[name].check_targets(np.array([[0.5], [1.0], [2.0]]))


@pytest.mark.parametrize("name", NAMES)
def test_the_domain_mask_matches_its_words(name):
    domain = RESOLVED[name].domain
    y = np.array([-1.0, 0.0, 1.0])
    if domain.invalid is None:
        assert (domain.words, domain.outside) == ("", "")
        return
    expected = {"< 0": y < 0, "<= 0": y <= 0}[domain.outside]
    np.testing.assert_array_equal(domain.invalid(y), expected)


def test_targets_that_underflowed_are_blamed_on_the_change():
    y = np.array([[1e-300], [1.0]])
    changed = np.array([[0.0], [1.0]])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "loss='gamma' requires strictly positive y; 1 value(s) of y (the smallest "
            "1e-300) underflowed to 0 when cast. Cast less."
        ),
    ):
        resolve_loss("gamma").check_targets_kept(y, changed, "when cast", "Cast less.")
    resolve_loss("poisson").check_targets_kept(y, changed, "when cast", "Cast less.")


# --- levels ------------------------------------------------------------------------


def test_levels_are_parsed_once_on_first_use():
    loss = resolve_loss("quantile", quantile=[0.1, 0.5, 0.9])
    assert loss.levels is loss.levels
    np.testing.assert_array_equal(loss.levels, [0.1, 0.5, 0.9])
    assert loss.n_levels == 3
    assert loss.level_axis


def test_one_level_has_no_level_axis():
    loss = resolve_loss("quantile", quantile=0.5)
    assert loss.n_levels == 1 and not loss.level_axis


def test_invalid_levels_raise_when_read_not_when_resolved():
    loss = resolve_loss("quantile", quantile=[0.5, 0.2])
    with pytest.raises(ValueError, match="strictly increasing"):
        loss.levels  # noqa: B018


@pytest.mark.parametrize("name", ["squared_error", "poisson", "gamma", "tweedie"])
def test_losses_without_levels_have_one_output_per_target(name):
    loss = RESOLVED[name]
    assert loss.levels is None and loss.n_levels == 1 and not loss.level_axis


def test_only_a_loss_with_levels_limits_the_solver_and_constraint():
    quantile = RESOLVED["quantile"]
    with pytest.raises(
        ValueError, match="loss='quantile' needs solver='adam' or 'sgd'"
    ):
        quantile.check_training(False, None)
    with pytest.raises(ValueError, match="output_constraint='penalty' has nothing"):
        quantile.check_training(True, "penalty")
    quantile.check_training(True, None)
    for name in ("squared_error", "poisson", "gamma", "tweedie"):
        RESOLVED[name].check_training(False, "penalty")


# --- validation scores -------------------------------------------------------------


def _scored_data(n_outputs: int = 2):
    rng = np.random.RandomState(0)
    y = rng.gamma(2.0, 1.5, size=(40, n_outputs))
    pred = y * rng.uniform(0.6, 1.4, size=y.shape) + 0.1
    weights = rng.uniform(0.5, 2.0, size=40)
    return y, pred, weights


@pytest.mark.parametrize(
    "loss, score_name",
    [
        (resolve_loss("squared_error"), "R2"),
        (resolve_loss("tweedie", 0), "R2"),
        (resolve_loss("poisson"), "D2"),
        (resolve_loss("gamma"), "D2"),
        (resolve_loss("tweedie", 1.5), "D2"),
        (resolve_loss("quantile"), "minus pinball loss"),
    ],
)
def test_score_names(loss, score_name):
    assert loss.score_name == score_name


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("power", [0, None])
def test_the_squared_errors_score_is_r2(weighted, power):
    y, pred, weights = _scored_data()
    weights = weights if weighted else None
    loss = resolve_loss("squared_error" if power is None else "tweedie", power)
    expected = r2_score(y, pred, sample_weight=weights)
    assert loss.score(y, pred, weights) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "name, power, deviance_power",
    [
        ("poisson", 1.5, 1.0),
        ("gamma", 1.5, 2.0),
        ("tweedie", 1.0, 1.0),
        ("tweedie", 1.5, 1.5),
        ("tweedie", 2.0, 2.0),
        ("tweedie", 3.0, 3.0),
    ],
)
def test_a_deviances_score_is_d2(name, power, deviance_power, weighted):
    y, pred, weights = _scored_data()
    weights = weights if weighted else None
    expected = np.mean(
        [
            d2_tweedie_score(
                y[:, j], pred[:, j], sample_weight=weights, power=deviance_power
            )
            for j in range(y.shape[1])
        ]
    )
    score = resolve_loss(name, power).score(y, pred, weights)
    assert score == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_the_pinball_score_is_minus_the_pinball_loss_summed_over_outputs(weighted):
    levels = [0.1, 0.5, 0.9]
    y, pred, weights = _scored_data(n_outputs=2)
    weights = weights if weighted else None
    # The network's outputs: each target's levels side by side; y one column per
    # target, read by each of its levels.
    pred_out = np.repeat(pred, len(levels), axis=1) * np.tile([0.8, 1.0, 1.2], 2)
    expected = -sum(
        mean_pinball_loss(
            y[:, j // 3], pred_out[:, j], alpha=levels[j % 3], sample_weight=weights
        )
        for j in range(pred_out.shape[1])
    )
    score = resolve_loss("quantile", quantile=levels).score(y, pred_out, weights)
    assert score == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_non_finite_predictions_score_minus_inf(name):
    loss = RESOLVED[name]
    y = np.array([[1.0], [2.0], [3.0]])
    pred = np.repeat(y, loss.n_levels, axis=1)
    pred[1] = np.inf
    assert loss.score(y, pred, None) == -np.inf


# --- starting points and the plain MLP ---------------------------------------------


@pytest.mark.parametrize("name", ["squared_error", "poisson", "gamma", "tweedie"])
def test_a_mean_loss_starts_at_the_weighted_mean(name):
    y, _, weights = _scored_data()
    threshold = np.array([0.1, 0.2])
    start = RESOLVED[name].start_above_threshold(y, threshold, weights)
    expected = np.average(y, axis=0, weights=weights) - threshold
    np.testing.assert_allclose(start, expected, rtol=1e-12)


def test_a_loss_with_levels_starts_at_the_sample_quantiles():
    levels = [0.2, 0.8]
    y, _, _ = _scored_data(n_outputs=1)
    loss = resolve_loss("quantile", quantile=levels)
    start = loss.start_above_threshold(y, np.zeros(1), None)
    quantiles = np.quantile(y[:, 0], levels, method="inverted_cdf")
    np.testing.assert_allclose(np.cumsum(start), quantiles, rtol=1e-12)


def test_only_the_squared_error_is_mlp_regressors_loss():
    assert [n for n in NAMES if is_mlp_regressor_loss(n)] == ["squared_error"]
    assert not is_mlp_regressor_loss("no such loss")
    assert not is_mlp_regressor_loss(["squared_error"])


@pytest.mark.parametrize("name", NAMES)
def test_every_score_name_has_a_plot_label(name):
    from positive_mlp._plotting import _SCORE_LABELS

    assert RESOLVED[name].score_name in _SCORE_LABELS
