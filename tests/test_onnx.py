"""ONNX export (positive_mlp.onnx): onnxruntime runs the converted model and its
predictions equal ``predict``'s."""

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from extras import needs_extra

needs_extra("skl2onnx", "onnx")
ort = needs_extra("onnxruntime", "onnx")

from skl2onnx import to_onnx  # noqa: E402
from sklearn.ensemble import VotingRegressor  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import positive_mlp.onnx  # noqa: E402, F401  (registers the converter)
from positive_mlp import PositiveMLPRegressor  # noqa: E402
from positive_mlp._members import (  # noqa: E402
    combine_members,
    member_networks,
    stacked_networks,
)
from positive_mlp._options import (  # noqa: E402
    ACTIVATIONS,
    BOUNDED_TRANSFORMS,
    OUTPUT_TRANSFORMS,
)

# The fuzzer's float64 forward pass (with its rounding bound) is in tools/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from fuzz import reference_forward  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# How close onnxruntime's predictions must be to predict's, by the model's dtype.
RTOL = {np.float32: 1e-5, np.float64: 1e-6}
# One threshold per target: zero, positive (0.7 rounds down in float32, so float32
# predictions at the threshold need the step up predict takes) and negative.
THRESHOLDS = np.array([0.0, 0.7, -1.5])
# Inputs this many times the training inputs (both signs) are far outside its range.
FAR = 1e3


def make_data(n_targets=3, n_samples=60):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_samples, 4))
    y = np.exp(0.6 * X[:, :n_targets]) + np.array([0.1, 1.0, 0.3])[:n_targets]
    return X, y


def fitted(X, y, dtype=np.float64, **params):
    """A network of one member unless ``params`` say otherwise."""
    params = {
        "hidden_layer_sizes": (5, 4),
        "max_iter": 3,
        "random_state": 0,
        "n_members": 1,
        **params,
    }
    return PositiveMLPRegressor(**params).fit(X.astype(dtype), y)


def converted(model, X_sample):
    """The converted model as a predict function; X_sample's dtype sets the graph's
    input type."""
    session = ort.InferenceSession(
        to_onnx(model, X_sample[:1]).SerializeToString(),
        providers=["CPUExecutionProvider"],
    )
    name = session.get_inputs()[0].name
    return lambda X: session.run(None, {name: X})[0]


def onnx_predict(model, X):
    return converted(model, X)(X)


def assert_matches(got, expected, threshold, output_activation, rtol):
    """Equal within rtol of the addends of ``threshold + scale * g``; for 'relu' and
    'identity', whose g = z can come out of cancellation near 0 (where any rounding
    is a large share), within rtol of the output's largest addends."""
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    assert np.all(np.isfinite(got))
    size = np.abs(threshold) + np.abs(expected - threshold)
    if output_activation in ("relu", "identity"):
        size = np.broadcast_to(size.max(axis=0), size.shape)
    error = np.abs(got.astype(np.float64) - expected)
    assert np.all(error <= rtol * size), f"{np.max(error / size):.3g} relative"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("target_scaling", ["auto", None])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("output_activation", sorted(OUTPUT_TRANSFORMS))
def test_onnx_predictions_equal_predict(
    output_activation, activation, target_scaling, dtype
):
    X, y = make_data()
    model = fitted(
        X,
        y,
        dtype,
        activation=activation,
        output_activation=output_activation,
        output_threshold=THRESHOLDS,
        target_scaling=target_scaling,
    )
    if target_scaling == "auto" and output_activation != "identity":
        assert np.all(model.target_scale_ != 1)  # the scales are in the graph
    predict = converted(model, X.astype(dtype))
    for inputs in (X, FAR * X, -FAR * X):
        inputs = inputs.astype(dtype)
        expected, got = model.predict(inputs), predict(inputs)
        assert_matches(got, expected, THRESHOLDS, output_activation, RTOL[dtype])
        if output_activation in BOUNDED_TRANSFORMS:
            assert np.all(got >= THRESHOLDS)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("output_activation", sorted(OUTPUT_TRANSFORMS))
def test_one_output_gives_a_column_as_skl2onnx_regressors(output_activation, dtype):
    X, y = make_data(n_targets=1)
    model = fitted(
        X, y.ravel(), dtype, output_activation=output_activation, output_threshold=0.2
    )
    expected = model.predict(X.astype(dtype))
    got = onnx_predict(model, X.astype(dtype))
    assert expected.shape == (60,)
    assert got.shape == (60, 1)
    assert_matches(got[:, 0], expected, 0.2, output_activation, RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("quantile", "n_targets", "output_activation", "shape"),
    [
        (0.3, 1, "softplus", (60, 1)),  # a float: no level axis (predict: (60,))
        ([0.1, 0.5, 0.9], 1, "exp", (60, 3)),
        ([0.2, 0.8], 2, "relu", (60, 2, 2)),
    ],
)
def test_quantile_levels_keep_predicts_shape_and_order(
    quantile, n_targets, output_activation, shape, dtype
):
    X, y = make_data(n_targets)
    threshold = 0.05
    model = fitted(
        X,
        y.reshape(60, -1) if n_targets > 1 else y.ravel(),
        dtype,
        loss="quantile",
        quantile=quantile,
        output_activation=output_activation,
        output_threshold=threshold,
    )
    predict = converted(model, X.astype(dtype))
    for inputs in (X, FAR * X):
        inputs = inputs.astype(dtype)
        got = predict(inputs)
        assert got.shape == shape
        expected = model.predict(inputs).reshape(shape)
        assert_matches(got, expected, threshold, output_activation, RTOL[dtype])
        assert np.all(got >= threshold)
        assert np.all(np.diff(got, axis=-1) >= 0)  # levels never cross


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_keeps_its_relative_accuracy_far_below_zero(dtype):
    """softplus(z) ~ e^z for z << 0, where log(1 + e^z) computed naively is 0: the
    graph's log1p keeps the predictions' relative accuracy."""
    X, y = make_data(n_targets=3)
    y = np.hstack([y, y])  # six outputs, one depth below zero each
    model = fitted(X, y, dtype, output_threshold=0.0)
    depths = (
        [-5, -20, -40, -80, -300, -700]
        if dtype == np.float64
        else [-5, -20, -40, -60, -80, -86]
    )
    model.intercepts_[-1][:] = depths  # a view of the weights predict uses
    model.coefs_[-1][:] = 0
    inputs = X.astype(dtype)
    expected = model.predict(inputs)
    assert np.all(expected > 0)
    got = onnx_predict(model, inputs)
    np.testing.assert_allclose(got, expected, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturated_predictions_agree(dtype):
    """exp's argument guard, and scaled predictions beyond the dtype's range clipped
    to its largest finite value: neither predict nor the graph reaches inf, so
    equal means equal finite values."""
    X, y = make_data(n_targets=2)
    model = fitted(X, y, dtype, output_activation="exp", target_scaling=[1e-3, 100.0])
    model.intercepts_[-1][:] = 1e4  # every z beyond exp's guard
    inputs = X.astype(dtype)
    expected = model.predict(inputs)
    largest = np.finfo(dtype).max
    assert np.all(expected[:, 0] < largest)  # 1e-3 times the guarded exp
    assert np.all(expected[:, 1] == largest)  # 100 times it: clipped
    assert_matches(onnx_predict(model, inputs), expected, 0.0, "exp", RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_levels_summing_beyond_the_dtype_saturate_as_predict(dtype):
    """Levels whose sum overflows the dtype equal predict's (both saturate); below
    them, predict recomputes the row in extended precision without exp's guard,
    which the graph keeps (the documented difference)."""
    X, y = make_data(n_targets=1)
    levels = np.linspace(0.05, 0.95, 16)
    model = fitted(
        X, y.ravel(), dtype, loss="quantile", quantile=levels, output_activation="exp"
    )
    model.intercepts_[-1][:] = 1e4
    inputs = X.astype(dtype)
    expected = model.predict(inputs)
    got = onnx_predict(model, inputs)
    overflowed = expected[:, -1] == expected.max()
    assert np.all(overflowed)
    assert np.all(np.isfinite(got))
    np.testing.assert_array_equal(got[:, -1], expected[:, -1])
    assert np.all((got >= 0) & (got <= expected))
    assert np.all(np.diff(got, axis=-1) >= 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pipeline_with_a_scaler_converts(dtype):
    X, y = make_data()
    X = 100 * X.astype(dtype) + 7
    pipe = make_pipeline(
        StandardScaler(),
        PositiveMLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0),
    ).fit(X, y)
    got = onnx_predict(pipe, X)
    assert_matches(got, pipe.predict(X), 0.0, "softplus", RTOL[dtype])


def test_voting_regressor_combines_the_single_output_column():
    """The (n, 1) output lets skl2onnx's converters of meta-estimators combine the
    model with scikit-learn's own regressors."""
    X, y = make_data(n_targets=1)
    vote = VotingRegressor(
        [
            ("mlp", PositiveMLPRegressor(hidden_layer_sizes=(5,), max_iter=3)),
            ("linear", LinearRegression()),
        ]
    ).fit(X, y.ravel())
    got = onnx_predict(vote, X)
    assert got.shape == (60, 1)
    np.testing.assert_allclose(got[:, 0], vote.predict(X), rtol=1e-6)


def test_float64_input_to_a_float32_model_is_cast_as_predict_casts_it():
    X, y = make_data()
    model = fitted(X, y, np.float32, output_threshold=THRESHOLDS)
    got = converted(model, X)(X)  # a float64 input
    assert got.dtype == np.float32
    assert_matches(got, model.predict(X), THRESHOLDS, "softplus", RTOL[np.float32])


def test_an_opset_without_cumsum_is_refused():
    X, y = make_data()
    with pytest.raises(RuntimeError, match="target_opset >= 11"):
        to_onnx(fitted(X, y), X[:1], target_opset=10)


def test_an_unfitted_model_is_refused():
    X, _ = make_data()
    with pytest.raises(NotFittedError):
        to_onnx(PositiveMLPRegressor(), X[:1])


def test_importing_the_package_imports_no_onnx_library():
    code = (
        "import sys, positive_mlp; "
        "print([m for m in ('skl2onnx', 'onnx', 'onnxruntime') if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# Members: a fitted model of one member made into one of several, each member's
# first layer and output layer perturbed (the middle layers are shared).
MEMBER_CASES = [
    pytest.param(hidden, extra, id=f"{len(hidden)}-hidden-{name}")
    for hidden in [(5, 4), (6,), ()]
    for name, extra in [
        ("plain", {}),
        ("levels", {"loss": "quantile", "quantile": [0.1, 0.5, 0.9]}),
        ("level", {"loss": "quantile", "quantile": 0.3}),
        ("bins", {"input_bins": 4}),
    ]
]


def with_members(model, members, seed=0):
    """``model`` made into ``members`` members, and each member as a model of one
    member (``predict`` works on those today), laid out as the estimator stores
    them: first layers side by side, output layers stacked, middle layers shared."""
    rng = np.random.RandomState(seed)
    singles = []
    for _ in range(members):
        single = copy.deepcopy(model)
        single.coefs_ = [c.copy() for c in model.coefs_]
        single.intercepts_ = [b.copy() for b in model.intercepts_]
        for layer in {0, len(model.coefs_) - 1}:  # one layer without hidden ones
            for values in (single.coefs_[layer], single.intercepts_[layer]):
                values += (0.5 * rng.normal(size=values.shape)).astype(values.dtype)
        singles.append(single)
    ensemble = copy.deepcopy(model)
    ensemble.coefs_, ensemble.intercepts_ = stacked_networks(
        [(single.coefs_, single.intercepts_) for single in singles]
    )
    ensemble.n_members_ = members
    return ensemble, singles


def _member_problem(dtype, hidden, extra, members=3):
    X, y = make_data(n_targets=2)
    params = {"output_threshold": 0.2, "hidden_layer_sizes": hidden, **extra}
    model = fitted(X, y, dtype, **params)
    return X, (*with_members(model, members),)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("hidden", "extra"), MEMBER_CASES)
def test_members_equal_the_reference_forward_pass(hidden, extra, dtype):
    """The graph of a model of three members against the float64 forward pass of
    tools/fuzz (max(mean, min) of the members), within its rounding bound; never
    below the threshold, levels uncrossed."""
    X, (ensemble, _) = _member_problem(dtype, hidden, extra)
    predict = converted(ensemble, X.astype(dtype))
    for inputs in (X, FAR * X, -FAR * X):
        inputs = inputs.astype(dtype)
        got = predict(inputs)
        reference = reference_forward(ensemble, inputs)
        assert not reference.exempt.any()
        flat = got.reshape(len(inputs), -1).astype(np.float64)
        assert got.dtype == dtype
        assert np.all(np.abs(flat - reference.pred) <= reference.tol)
        assert np.all(got >= 0.2)
        if np.ndim(extra.get("quantile", 0.5)):
            assert np.all(np.diff(got, axis=-1) >= 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("hidden", "extra"), MEMBER_CASES)
def test_members_combine_the_predictions_of_each_member(hidden, extra, dtype):
    """The graph of three members against max(mean, min) of predict of each member
    as a model of its own (predict in user units: the same combination up to the
    rounding of threshold + scale * g), with predict's shape."""
    X, (ensemble, singles) = _member_problem(dtype, hidden, extra)
    inputs = X.astype(dtype)
    each = np.stack([single.predict(inputs).astype(np.float64) for single in singles])
    expected = combine_members(each).astype(dtype)
    got = onnx_predict(ensemble, inputs)
    assert_matches(got.reshape(expected.shape), expected, 0.2, "softplus", RTOL[dtype])
    assert got.shape == onnx_predict(singles[0], inputs).shape


@pytest.mark.parametrize("hidden", [(5, 4), ()])
def test_one_member_is_the_graph_without_members(hidden):
    X, y = make_data()
    model = fitted(X, y, hidden_layer_sizes=hidden)
    without = to_onnx(model, X[:1]).SerializeToString()
    model.n_members_ = 1
    assert to_onnx(model, X[:1]).SerializeToString() == without


def test_members_convert_at_the_lowest_opset():
    X, (ensemble, singles) = _member_problem(np.float64, (5, 4), {})
    session = ort.InferenceSession(
        to_onnx(ensemble, X[:1], target_opset=11).SerializeToString(),
        providers=["CPUExecutionProvider"],
    )
    got = session.run(None, {session.get_inputs()[0].name: X})[0]
    expected = combine_members(np.stack([single.predict(X) for single in singles]))
    assert_matches(got, expected, 0.2, "softplus", RTOL[np.float64])


# After the core's members land: a model fitted with n_members.
FITTED_MEMBER_CASES = [
    pytest.param(hidden, extra, id=f"{len(hidden)}-hidden-{name}")
    for hidden in [(5, 4), (6,), ()]
    for name, extra in [
        ("plain", {}),
        ("levels", {"loss": "quantile", "quantile": [0.1, 0.5, 0.9]}),
        ("bins", {"input_bins": 4}),
    ]
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("hidden", "extra"), FITTED_MEMBER_CASES)
def test_onnx_of_a_fitted_ensemble_equals_predict(hidden, extra, dtype):
    """PositiveMLPRegressor(n_members=4): the stored layout, predict against each
    member's network (as a model of one member), the fuzzer's float64 forward pass
    and the ONNX graph."""
    X, y = make_data(n_targets=2)
    model = fitted(
        X,
        y,
        dtype,
        n_members=4,
        hidden_layer_sizes=hidden,
        output_threshold=0.2,
        **extra,
    )
    assert model.n_members_ == 4
    n_out = 2 * model._n_levels()
    first = hidden[0] if hidden else n_out
    assert model.coefs_[0].shape[1] == 4 * first
    assert model.intercepts_[-1].shape == (4 * n_out,)
    if hidden:
        assert model.coefs_[-1].shape == (4 * hidden[-1], n_out)
    inputs = X.astype(dtype)
    expected = model.predict(inputs)
    singles = []
    for coefs, intercepts in member_networks(model.coefs_, model.intercepts_, 4):
        single = copy.deepcopy(model)
        single.coefs_, single.intercepts_ = (
            [c.copy() for c in coefs],
            [b.copy() for b in intercepts],
        )
        single.n_members_ = 1
        singles.append(single)
    each = np.stack([single.predict(inputs).astype(np.float64) for single in singles])
    assert_matches(
        expected, combine_members(each).astype(dtype), 0.2, "softplus", RTOL[dtype]
    )
    reference = reference_forward(model, inputs)
    flat = expected.reshape(len(inputs), -1).astype(np.float64)
    assert np.all(np.abs(flat - reference.pred) <= reference.tol)
    predict = converted(model, inputs)
    for X_far in (inputs, (FAR * X).astype(dtype), (-FAR * X).astype(dtype)):
        got = predict(X_far).reshape(model.predict(X_far).shape)
        assert_matches(got, model.predict(X_far), 0.2, "softplus", RTOL[dtype])
