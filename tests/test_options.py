"""The option tables of `_options.py` against the core's enums and the parameters:
a new option is one table entry plus its numerics, and these tests tell when the two
sides disagree."""

import numpy as np
import pytest

from positive_mlp import PositiveMLPRegressor, _core
from positive_mlp._options import (
    ACTIVATIONS,
    BOUNDED_TRANSFORMS,
    OUTPUT_CONSTRAINTS,
    OUTPUT_TRANSFORMS,
    SOLVERS,
    WEIGHT_METHODS,
    names,
)

# Each table, the core enum its entries carry, and how an entry gives its enum value.
TABLES = [
    ("output_activation", OUTPUT_TRANSFORMS, _core.OutputTransform, lambda e: e.core),
    ("activation", ACTIVATIONS, _core.Activation, lambda e: e),
    ("solver", SOLVERS, _core.Solver, lambda e: e.core),
    ("nonneg_method", WEIGHT_METHODS, _core.WeightMethod, lambda e: e.core),
    ("output_constraint", OUTPUT_CONSTRAINTS, _core.OutputConstraint, lambda e: e),
]


@pytest.mark.parametrize(
    "parameter, table, enum, core_of", TABLES, ids=[t[0] for t in TABLES]
)
def test_every_table_entry_carries_its_own_core_value(parameter, table, enum, core_of):
    for name, entry in table.items():
        value = core_of(entry)
        if value is None:  # run in Python (L-BFGS-B)
            continue
        assert isinstance(value, enum)
        assert value.name == (name or "none")


@pytest.mark.parametrize(
    "parameter, table, enum, core_of", TABLES, ids=[t[0] for t in TABLES]
)
def test_every_core_value_is_offered(parameter, table, enum, core_of):
    """A value the core implements but no table offers is dead numerics (WeightMethod
    'none' is the absence of constraints, chosen without a name)."""
    offered = {core_of(entry) for entry in table.values()}
    unused = set(enum.__members__.values()) - offered
    assert {value.name for value in unused} <= {"none"}


@pytest.mark.parametrize(
    "parameter, table, enum, core_of", TABLES, ids=[t[0] for t in TABLES]
)
def test_the_parameters_accept_exactly_the_table(parameter, table, enum, core_of):
    X = np.random.RandomState(0).uniform(size=(20, 2))
    y = 1.0 + X[:, 0]
    for name in names(table):
        PositiveMLPRegressor(**{parameter: name})._validate_params()
    with pytest.raises(ValueError, match=f"The '{parameter}' parameter"):
        PositiveMLPRegressor(**{parameter: "no-such-option"}).fit(X, y)


def test_bounded_transforms_are_those_whose_g_is_never_negative():
    z = np.linspace(-50.0, 50.0, 101)
    values = {"softplus": np.logaddexp(0.0, z), "exp": np.exp(z)}
    values["relu"], values["identity"] = np.maximum(z, 0.0), z
    assert set(values) == set(OUTPUT_TRANSFORMS)
    for name, g in values.items():
        assert (name in BOUNDED_TRANSFORMS) == bool(np.all(g >= 0)), name


@pytest.mark.parametrize("name", sorted(OUTPUT_TRANSFORMS))
def test_each_inverse_undoes_its_transform(name):
    value = np.array([1e-3, 0.5, 1.0, 7.0])
    z = OUTPUT_TRANSFORMS[name].inverse(value)
    g = {
        "softplus": np.logaddexp(0.0, z),
        "exp": np.exp(z),
        "relu": np.maximum(z, 0.0),
        "identity": z,
    }[name]
    np.testing.assert_allclose(g, value, rtol=1e-12)
