"""loss='quantile': the pinball loss and its gradient in the core, every level above
the floor and the levels never crossing for any input, held-out coverage near the
nominal levels, and the layouts and errors a user meets."""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import central_differences
from sklearn.metrics import mean_pinball_loss

from positive_mlp import PositiveMLPRegressor, _core
from positive_mlp._losses import resolve_loss
from positive_mlp._network import ParameterLayout, build_network
from positive_mlp._quantiles import weighted_quantiles
from positive_mlp._start import glorot_uniform_params

TRANSFORMS = ["softplus", "exp", "relu"]
LEVELS = [0.05, 0.25, 0.5, 0.75, 0.95]
quiet_convergence = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def _core_problem(transform, n_targets, levels, seed=0):
    rng = np.random.RandomState(seed)
    n_levels = len(levels)
    layout = ParameterLayout((4, 6, n_targets * n_levels))
    X = rng.normal(size=(30, 4))
    y = rng.gamma(2.0, 1.0, size=(30, n_targets))
    network = build_network(
        layout,
        "tanh",
        transform,
        resolve_loss("quantile"),
        np.full(n_targets * n_levels, 0.2),
        np.float64,
        quantile_levels=np.tile(levels, n_targets),
        outputs_per_group=n_levels,
    )
    params = glorot_uniform_params(layout, "tanh", rng, np.float64)
    return network, params, X, y  # y: one column per target, read by its every level


@pytest.mark.parametrize("n_targets", [1, 2])
@pytest.mark.parametrize("levels", [[0.3], [0.1, 0.5, 0.9]], ids=str)
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_the_core_loss_is_the_pinball_loss_and_its_gradient_matches(
    transform, levels, n_targets
):
    network, params, X, Y = _core_problem(transform, n_targets, levels)
    pred = network.predict(params, X)
    n_levels = len(levels)
    expected = sum(
        mean_pinball_loss(Y[:, j // n_levels], pred[:, j], alpha=levels[j % n_levels])
        for j in range(pred.shape[1])
    )
    assert network.loss(params, X, Y, None, None, 0.0) == pytest.approx(expected)
    grad = np.empty_like(params)
    network.loss_and_gradient(params, X, Y, None, None, 0.1, grad)
    numeric = central_differences(
        lambda p: network.loss(p, X, Y, None, None, 0.1), params
    )
    assert np.linalg.norm(grad - numeric) / np.linalg.norm(numeric) < 1e-6


_ONE_COLUMN_PER_TARGET = (
    r"^y must have 2 column\(s\), one per target \(the network's 6 output\(s\), in "
    r"groups of 3, read one each\), got "
)


@pytest.mark.parametrize(
    ("y_shape", "message"),
    [
        ((30, 6), _ONE_COLUMN_PER_TARGET + "6$"),
        ((30, 1), _ONE_COLUMN_PER_TARGET + "1$"),
        ((30,), "^y must be 2-D, got 1-D$"),
        ((29, 2), "^X has 30 rows but y has 29$"),
    ],
    ids=["repeated per level", "too few columns", "1-D", "too few rows"],
)
def test_the_core_reads_one_y_column_per_target_and_refuses_other_shapes(
    y_shape, message
):
    network, params, X, Y = _core_problem("softplus", 2, [0.1, 0.5, 0.9])
    assert (network.n_outputs, network.n_targets) == (6, 2)
    wrong = np.ones(y_shape)
    with pytest.raises(ValueError, match=message):
        network.loss(params, X, wrong, None, None, 0.0)
    grad = np.empty_like(params)
    with pytest.raises(ValueError, match=message):
        network.loss_and_gradient(params, X, wrong, None, None, 0.0, grad)
    trainer = _core.f64.EpochTrainer(network, 30, 10)
    moments = np.zeros_like(params), np.zeros_like(params)
    options = _core.EpochOptions()
    with pytest.raises(ValueError, match=message):
        trainer.run_epoch(params, *moments, 0, X, wrong, None, None, options)
    # the shape it asks for trains
    result = trainer.run_epoch(params, *moments, 0, X, Y, None, None, options)
    assert np.isfinite(result.loss)


@quiet_convergence
@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_fit_of_many_levels_never_holds_y_repeated_per_level(early_stopping):
    """y goes to the core as it is, one column per target: a fit's traced memory
    stays below one copy of y repeated for each of 19 levels (6.1 MB). Measured:
    1.4 MB, and 3.9 MB with early stopping; 7.2 MB and 15.5 MB when y was repeated
    per level for the core."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20_000, 1))
    y = rng.gamma(2.0, 1.0, size=(20_000, 2))
    levels = np.linspace(0.05, 0.95, 19)
    reg = PositiveMLPRegressor(
        loss="quantile",
        quantile=levels,
        hidden_layer_sizes=(2,),
        max_iter=1,
        early_stopping=early_stopping,
        input_bins=None,  # the encoded copy of X is not what is measured
        random_state=0,
    )
    repeated = y.nbytes * levels.size
    tracing = tracemalloc.is_tracing()  # already, under PYTHONTRACEMALLOC
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        reg.fit(X, y)
        if not early_stopping:  # partial_fit trains on every row it is given
            reg.partial_fit(X, y)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    # early stopping predicts its held-out tenth: (2000, 38) outputs and the score's
    # temporaries of that size
    assert peak < (1.0 if early_stopping else 0.5) * repeated
    assert reg.predict(X[:5]).shape == (5, 2, 19)


def _heteroscedastic(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    return X, rng.gamma(2.0, np.exp(0.5 * X[:, 0]))


@quiet_convergence
def test_held_out_coverage_is_near_each_nominal_level():
    X, y = _heteroscedastic(4000, 0)
    X_test, y_test = _heteroscedastic(4000, 1)
    reg = PositiveMLPRegressor(
        loss="quantile", quantile=LEVELS, hidden_layer_sizes=(32,), random_state=0
    ).fit(X, y)
    pred = reg.predict(X_test)
    assert pred.shape == (4000, len(LEVELS))
    coverage = (y_test[:, None] <= pred).mean(axis=0)
    np.testing.assert_allclose(coverage, LEVELS, atol=0.03)
    np.testing.assert_array_equal(reg.quantiles_, LEVELS)


@pytest.fixture(scope="module")
def fitted_models():
    """Quantile models for each transform and dtype, fitted once."""
    X, y = _heteroscedastic(300, 2)
    models = {}
    for transform in TRANSFORMS:
        for dtype in (np.float64, np.float32):
            models[transform, dtype] = PositiveMLPRegressor(
                loss="quantile",
                quantile=[0.1, 0.5, 0.9],
                output_activation=transform,
                output_threshold=0.25,
                hidden_layer_sizes=(8, 8),
                max_iter=20,
                random_state=0,
            ).fit(X.astype(dtype), y + 0.25)
    return models, X


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@settings(max_examples=40, deadline=None)
@given(
    transform=st.sampled_from(TRANSFORMS),
    dtype=st.sampled_from([np.float64, np.float32]),
    exponent=st.integers(0, 308),
    sign=st.sampled_from([1.0, -1.0]),
)
def test_quantiles_never_cross_nor_fall_below_the_floor_for_any_input(
    fitted_models, transform, dtype, exponent, sign
):
    models, X = fitted_models
    largest = np.finfo(dtype).max
    with np.errstate(all="ignore"):
        huge = np.clip(X * sign * 10.0**exponent, -largest, largest).astype(dtype)
        for inputs in (huge, 1000 * X.astype(dtype)):
            pred = models[transform, dtype].predict(inputs)
            assert np.all(np.isfinite(pred))
            assert np.all(pred >= 0.25)
            assert np.all(np.diff(pred, axis=1) >= 0)


@quiet_convergence
def test_prediction_layouts_follow_targets_and_levels():
    X, y = _heteroscedastic(200, 3)
    two = np.c_[y, 2 * y]
    common = dict(loss="quantile", hidden_layer_sizes=(4,), max_iter=5)
    shapes = [
        (0.5, 1, (200,)),
        ([0.5], 1, (200, 1)),
        ([0.1, 0.9], 1, (200, 2)),
        (0.5, 2, (200, 2)),
        ([0.1, 0.9], 2, (200, 2, 2)),
    ]
    for quantile, n_targets, shape in shapes:
        reg = PositiveMLPRegressor(quantile=quantile, **common)
        reg.fit(X, y if n_targets == 1 else two)
        assert reg.predict(X).shape == shape, (quantile, n_targets)
        assert reg.n_outputs_ == n_targets


@quiet_convergence
def test_score_is_r2_for_one_level_and_minus_the_pinball_loss_for_several():
    X, y = _heteroscedastic(300, 4)
    one = PositiveMLPRegressor(loss="quantile", hidden_layer_sizes=(8,)).fit(X, y)
    from sklearn.metrics import r2_score

    assert one.score(X, y) == pytest.approx(r2_score(y, one.predict(X)))
    several = PositiveMLPRegressor(
        loss="quantile", quantile=[0.2, 0.8], hidden_layer_sizes=(8,)
    ).fit(X, y)
    pred = several.predict(X)
    expected = -sum(
        mean_pinball_loss(y, pred[:, k], alpha=level)
        for k, level in enumerate([0.2, 0.8])
    )
    assert several.score(X, y) == pytest.approx(expected)


@quiet_convergence
def test_a_quantile_model_survives_pickling():
    X, y = _heteroscedastic(200, 5)
    reg = PositiveMLPRegressor(
        loss="quantile", quantile=[0.1, 0.9], hidden_layer_sizes=(4,), max_iter=5
    ).fit(X, y)
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"solver": "lbfgs"}, "needs solver='adam' or 'sgd'"),
        ({"output_activation": "identity"}, "only with a bounding g"),
        ({"output_constraint": "penalty"}, "has nothing to add"),
        ({"quantile": [0.9, 0.1]}, "strictly increasing"),
        ({"quantile": [0.1, 1.0]}, r"must lie in \(0, 1\)"),
        ({"quantile": []}, "a level or a list of levels"),
    ],
)
def test_settings_that_cannot_work_are_refused(params, message):
    X, y = _heteroscedastic(20, 6)
    with pytest.raises(ValueError, match=message):
        PositiveMLPRegressor(loss="quantile", **params).fit(X, y)


@settings(max_examples=200, deadline=None)
@given(
    n_rows=st.integers(1, 30),
    n_columns=st.integers(1, 3),
    levels=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5),
    seed=st.integers(0, 2**16),
    ties=st.booleans(),
)
def test_weighted_quantiles_count_a_weight_of_k_as_k_repeated_rows(
    n_rows, n_columns, levels, seed, ties
):
    # The starting model's quantiles: numpy takes weights only from 2.0 on, so the
    # package counts them itself; integer weights must equal repeated rows.
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n_rows, n_columns))
    if ties:
        y = np.round(y)
    weights = rng.integers(0, 4, n_rows).astype(float)
    weights[rng.integers(n_rows)] += 1  # some weight
    levels = np.sort(levels)
    repeated = np.repeat(y, weights.astype(int), axis=0)
    expected = np.quantile(repeated, levels, axis=0, method="inverted_cdf")
    np.testing.assert_array_equal(weighted_quantiles(y, levels, weights), expected)
    unweighted = np.quantile(y, levels, axis=0, method="inverted_cdf")
    np.testing.assert_array_equal(weighted_quantiles(y, levels), unweighted)
