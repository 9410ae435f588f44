"""skops.io round trips: the estimator is the one type to trust."""

import numpy as np
import pandas as pd
import pytest
from extras import needs_extra

sio = needs_extra("skops.io", "skops")

from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import positive_mlp  # noqa: E402
from positive_mlp import InconsistentVersionWarning, PositiveMLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# What skops.io.get_untrusted_types lists for any fitted model of this package: the
# training record and optimiser state are saved as dicts and arrays, and numpy's and
# scikit-learn's types (a RandomState, a fitted StandardScaler) are trusted by default.
OUR_TYPES = ["positive_mlp._estimator.PositiveMLPRegressor"]

CONFIGURATIONS = {
    "adam, early stopping, a RandomState": {
        "early_stopping": True,
        "random_state": np.random.RandomState(0),
    },
    "sgd, lagrangian multipliers": {
        "solver": "sgd",
        "output_activation": "identity",
        "output_constraint": "lagrangian",
    },
    "lbfgs, arrays as parameters": {
        "solver": "lbfgs",
        "output_threshold": np.array([0.0, -1.0]),
        "target_scaling": np.array([1.0, 2.0]),
    },
    "quantile levels, names and a dict": {
        "loss": "quantile",
        "quantile": [0.2, 0.8],
        "monotonic_cst": {"a": 1},
    },
    "the input encoding": {"input_bins": 4},
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    return X, np.exp(X.to_numpy()[:, :2])


def saved(obj, tmp_path):
    path = tmp_path / "model.skops"
    sio.dump(obj, path)
    return path


def fitted(data, **params):
    X, y = data
    params = {"hidden_layer_sizes": (4,), "max_iter": 4, "random_state": 0, **params}
    return PositiveMLPRegressor(**params).fit(X, y)


def assert_same_state(loaded, original):
    """Every attribute equal, fitted ones and the training record included."""
    a, b = loaded.__getstate__(), original.__getstate__()
    assert a.keys() == b.keys()
    for key in a:
        assert_equal_values(a[key], b[key], key)


def assert_equal_values(a, b, where):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_equal_values(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)) and not isinstance(a, str):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_equal_values(x, y, f"{where}[{i}]")
    elif isinstance(a, np.random.RandomState):
        assert_equal_values(a.get_state(), b.get_state(), where)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert type(a) is type(b) and a == b, where


@pytest.mark.parametrize("params", CONFIGURATIONS.values(), ids=CONFIGURATIONS.keys())
def test_round_trip_trusting_exactly_our_type(data, params, tmp_path):
    model = fitted(data, **params)
    path = saved(model, tmp_path)
    assert sio.get_untrusted_types(file=path) == OUR_TYPES
    loaded = sio.load(path, trusted=OUR_TYPES)
    assert_same_state(loaded, model)
    np.testing.assert_array_equal(loaded.predict(data[0]), model.predict(data[0]))


def test_loading_without_trust_is_refused(data, tmp_path):
    path = saved(fitted(data), tmp_path)
    with pytest.raises(
        sio.exceptions.UntrustedTypesFoundException, match="PositiveMLP"
    ):
        sio.load(path)


def test_a_pipeline_needs_no_more_trust(data, tmp_path):
    pipe = make_pipeline(
        StandardScaler(), PositiveMLPRegressor(hidden_layer_sizes=(4,), max_iter=4)
    ).fit(*data)
    path = saved(pipe, tmp_path)
    assert sio.get_untrusted_types(file=path) == OUR_TYPES
    loaded = sio.load(path, trusted=OUR_TYPES)
    np.testing.assert_array_equal(loaded.predict(data[0]), pipe.predict(data[0]))


def test_a_loaded_model_continues_training_as_the_original(data, tmp_path):
    """Adam's moments and step count come back: the next epochs are the same."""
    model = fitted(data)
    loaded = sio.load(saved(model, tmp_path), trusted=OUR_TYPES)
    for reg in (model, loaded):
        reg.partial_fit(*data)
    assert_same_state(loaded, model)


def test_loading_under_another_version_warns(data, tmp_path, monkeypatch):
    path = saved(fitted(data), tmp_path)
    monkeypatch.setattr(positive_mlp, "__version__", "9.9.9")
    with pytest.warns(InconsistentVersionWarning, match="under positive-mlp 9.9.9"):
        sio.load(path, trusted=OUR_TYPES)
