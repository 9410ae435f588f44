"""Pickles record the package version; loading under another version warns."""

import pickle
import warnings

import numpy as np
import pytest

import positive_mlp
from positive_mlp import InconsistentVersionWarning, PositiveMLPRegressor
from positive_mlp._persistence import VERSION_KEY
from positive_mlp._solvers import OptimizerState, TrainingRecord

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def model():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    y = np.exp(X[:, :2])
    return PositiveMLPRegressor(
        hidden_layer_sizes=(4,), max_iter=3, random_state=0
    ).fit(X, y), X


def test_a_pickle_records_the_version(model):
    reg, _ = model
    assert reg.__getstate__()[VERSION_KEY] == positive_mlp.__version__


def test_loading_under_the_same_version_is_silent(model):
    reg, X = model
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    assert not hasattr(loaded, VERSION_KEY)


def test_loading_under_another_version_warns_naming_both(model, monkeypatch):
    reg, X = model
    saved, version = pickle.dumps(reg), positive_mlp.__version__
    monkeypatch.setattr(positive_mlp, "__version__", "9.9.9")
    with pytest.warns(InconsistentVersionWarning) as record:
        loaded = pickle.loads(saved)
    warning = record[0].message
    assert (warning.original_version, warning.current_version) == (version, "9.9.9")
    assert f"PositiveMLPRegressor saved with positive-mlp {version}" in str(warning)
    assert "under positive-mlp 9.9.9" in str(warning)
    assert isinstance(warning, UserWarning)
    np.testing.assert_array_equal(
        loaded.predict(X), reg.predict(X)
    )  # loaded all the same


def test_a_state_without_a_version_warns_and_still_loads(model):
    """Pickles made before versions were recorded (their training record still a
    TrainingRecord object)."""
    reg, X = model
    state = reg.__getstate__()
    del state[VERSION_KEY]
    state["_record"] = TrainingRecord.from_plain(state["_record"])
    loaded = PositiveMLPRegressor.__new__(PositiveMLPRegressor)
    with pytest.warns(InconsistentVersionWarning, match="positive-mlp unrecorded"):
        loaded.__setstate__(state)
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_the_training_record_is_saved_as_plain_types_and_restored(model):
    reg, _ = model
    plain = reg.__getstate__()["_record"]
    assert type(plain) is dict
    assert type(plain["optimizer_state"]) is dict
    loaded = pickle.loads(pickle.dumps(reg))
    assert isinstance(loaded._record, TrainingRecord)
    assert isinstance(loaded._record.optimizer_state, OptimizerState)
    np.testing.assert_array_equal(
        loaded._record.optimizer_state.second_moment,
        reg._record.optimizer_state.second_moment,
    )


def test_pickling_leaves_the_model_as_it_was(model):
    """BaseEstimator.__getstate__ hands on the instance's own __dict__: the state
    must be a copy, or pickling would strip the model's cached network."""
    reg, _ = model
    before = dict(reg.__dict__)
    pickle.dumps(reg)
    assert reg.__dict__.keys() == before.keys()
    assert all(reg.__dict__[key] is value for key, value in before.items())


def test_an_unfitted_model_round_trips():
    reg = PositiveMLPRegressor(hidden_layer_sizes=(3,), alpha=0.5)
    loaded = pickle.loads(pickle.dumps(reg))
    assert loaded.get_params() == reg.get_params()
