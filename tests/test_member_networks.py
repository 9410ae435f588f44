"""positive_mlp._members (a model's members as separate networks, their combination)
and the NumPy references built on it: tests/reference.py and the fuzzer's forward
pass."""

from __future__ import annotations

import copy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from reference import forward, loss, member_forward

from positive_mlp import PositiveMLPRegressor
from positive_mlp._losses import resolve_loss
from positive_mlp._members import (
    combine_members,
    fitted_members,
    member_networks,
    stacked_networks,
)
from positive_mlp._network import ParameterLayout, build_network

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from fuzz import reference_forward


def _stored(sizes, members, seed=0):
    """Stored coefs and intercepts of ``members`` members, as the estimator keeps
    them (first layer (d, M*h_1), shared middle layers, output layer (M*h, o))."""
    rng = np.random.RandomState(seed)
    d, o = sizes[0], sizes[-1]
    if len(sizes) == 2:
        return [rng.normal(size=(d, members * o))], [rng.normal(size=members * o)]
    coefs = [rng.normal(size=(d, members * sizes[1]))]
    coefs += [rng.normal(size=s) for s in zip(sizes[1:-2], sizes[2:-1])]
    coefs += [rng.normal(size=(members * sizes[-2], o))]
    intercepts = [rng.normal(size=members * sizes[1])]
    intercepts += [rng.normal(size=n) for n in sizes[2:-1]]
    intercepts += [rng.normal(size=members * o)]
    return coefs, intercepts


@pytest.mark.parametrize("sizes", [(4, 5, 3, 2), (4, 6, 2), (4, 2), (3, 2, 2, 2, 1)])
def test_member_networks_are_views_of_the_stored_blocks(sizes):
    members = 3
    coefs, intercepts = _stored(sizes, members)
    networks = member_networks(coefs, intercepts, members)
    assert len(networks) == members
    width, n_out = sizes[1], sizes[-1]
    for m, (member_coefs, member_intercepts) in enumerate(networks):
        assert [c.shape for c in member_coefs] == list(zip(sizes[:-1], sizes[1:]))
        assert [b.shape for b in member_intercepts] == [(n,) for n in sizes[1:]]
        block = slice(m * width, (m + 1) * width)
        np.testing.assert_array_equal(member_coefs[0], coefs[0][:, block])
        np.testing.assert_array_equal(member_intercepts[0], intercepts[0][block])
        if len(sizes) > 2:
            head = slice(m * sizes[-2], (m + 1) * sizes[-2])
            np.testing.assert_array_equal(member_coefs[-1], coefs[-1][head])
            out = slice(m * n_out, (m + 1) * n_out)
            np.testing.assert_array_equal(member_intercepts[-1], intercepts[-1][out])
        for layer in range(1, len(sizes) - 2):  # the middle layers: the same arrays
            assert member_coefs[layer] is coefs[layer]
            assert member_intercepts[layer] is intercepts[layer]
        for part in (*member_coefs, *member_intercepts):
            assert any(np.shares_memory(part, a) for a in coefs + intercepts)
    again = stacked_networks(networks)
    for a, b in zip(again[0] + again[1], coefs + intercepts):
        np.testing.assert_array_equal(a, b)


def test_one_member_is_the_network_itself():
    coefs, intercepts = _stored((4, 5, 3, 2), 1)
    ((member_coefs, member_intercepts),) = member_networks(coefs, intercepts, 1)
    for a, b in zip(member_coefs + member_intercepts, coefs + intercepts):
        np.testing.assert_array_equal(a, b)


def test_shapes_that_do_not_split_are_refused():
    coefs, intercepts = _stored((4, 5, 3, 2), 3)
    with pytest.raises(ValueError, match="4 members"):
        member_networks(coefs, intercepts, 4)
    with pytest.raises(ValueError):
        member_networks(coefs, intercepts, 0)


def test_a_model_without_n_members_has_one():
    class Old:
        pass

    assert fitted_members(Old()) == 1
    old = Old()
    old.n_members_ = 4
    assert fitted_members(old) == 4


def test_the_combination_never_falls_below_the_smallest_member():
    """max(mean, min) in the members' dtype: never below the smallest member (equal
    members, whose mean can round either way, included), else the mean."""
    rng = np.random.RandomState(0)
    values = rng.uniform(0.1, 10.0, size=(3, 2000, 2)).astype(np.float32)
    for members in (values, np.repeat(values[:1], 3, axis=0)):
        combined = combine_members(members)
        assert combined.dtype == np.float32
        assert np.all(combined >= members.min(axis=0))
        mean = (members / members.shape[0]).sum(axis=0)  # shares, as the core
        lowest = members.min(axis=0)
        np.testing.assert_array_equal(combined, np.where(mean < lowest, lowest, mean))


@pytest.mark.parametrize("sizes", [(4, 5, 3, 2), (4, 6, 2), (4, 2)])
def test_reference_forward_combines_its_members(sizes):
    members, threshold = 3, np.full(sizes[-1], 0.5)
    coefs, intercepts = _stored(sizes, members, seed=1)
    params = np.concatenate([np.ravel(a) for a in coefs + intercepts])
    X = np.random.RandomState(2).normal(size=(7, sizes[0]))
    y = np.full((7, sizes[-1]), 2.0)
    layout = ParameterLayout(tuple(sizes), members)
    plain = ParameterLayout(tuple(sizes))
    each = [
        forward(plain, plain.pack(c, b, np.float64), X, "tanh", "softplus", threshold)
        for c, b in member_networks(coefs, intercepts, members)
    ]
    got = member_forward(layout, params, X, "tanh", "softplus", threshold)
    np.testing.assert_array_equal(got, np.stack(each))
    combined = forward(layout, params, X, "tanh", "softplus", threshold)
    np.testing.assert_array_equal(combined, combine_members(np.stack(each)))
    # the training loss: each member's objective (its loss on its own predictions
    # and its own L2 penalty), averaged
    per_member = [
        0.5 * ((p - y) ** 2).sum(axis=1).mean()
        + 0.5 * 0.1 * sum(np.sum(W**2) for W in c) / len(X)
        for p, (c, _) in zip(each, member_networks(coefs, intercepts, members))
    ]
    expected = np.mean(per_member)
    value = loss(
        layout, params, X, y, "tanh", "softplus", threshold, "squared_error", 0.1
    )
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("hidden", [(5, 4), (6,), ()])
@pytest.mark.parametrize("extra", [{}, {"loss": "quantile", "quantile": [0.2, 0.8]}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fuzz_reference_forward_of_members(hidden, extra, dtype):
    """The fuzzer's float64 forward pass of a model of members: max(mean, min) of
    predict of each member as a model of its own, within its rounding bound."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 3))
    y = rng.gamma(2.0, 1.0, size=(30, 2)) + 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PositiveMLPRegressor(
            hidden_layer_sizes=hidden, max_iter=3, n_members=1, random_state=0, **extra
        ).fit(X.astype(dtype), y)
    singles = []
    for _ in range(4):
        single = copy.deepcopy(model)
        single.coefs_ = [
            c + rng.normal(size=c.shape).astype(dtype) for c in model.coefs_
        ]
        single.intercepts_ = [b.copy() for b in model.intercepts_]
        single.coefs_[1:-1] = model.coefs_[1:-1]  # shared
        singles.append(single)
    ensemble = copy.deepcopy(model)
    ensemble.coefs_, ensemble.intercepts_ = stacked_networks(
        [(s.coefs_, s.intercepts_) for s in singles]
    )
    ensemble.n_members_ = 4
    inputs = X.astype(dtype)
    reference = reference_forward(ensemble, inputs)
    each = np.stack([s.predict(inputs).reshape(30, -1) for s in singles])
    expected = combine_members(each.astype(np.float64))
    assert not reference.exempt.any()
    assert np.all(np.abs(expected - reference.pred) <= 2 * reference.tol)
    without = reference_forward(model, inputs)
    model.n_members_ = 1  # the same as a model without the attribute
    alone = reference_forward(model, inputs)
    for name in ("pred", "tol", "exempt"):
        np.testing.assert_array_equal(getattr(alone, name), getattr(without, name))


# After ParameterLayout's members and the core's land.
@pytest.mark.parametrize("sizes", [(4, 5, 3, 2), (4, 6, 2), (4, 2)])
def test_the_core_with_members_equals_the_reference(sizes):
    """ParameterLayout(..., members=3) unpacks to the stored shapes; the core's
    predictions are the reference's max(mean, min) of the members, and its
    training loss the members' losses averaged (as tests/reference.py's loss)."""
    members, threshold = 3, np.full(sizes[-1], 0.5)
    layout = ParameterLayout(tuple(sizes), members=members)
    coefs, intercepts = _stored(sizes, members, seed=3)
    assert [c.shape for c in layout.unpack(np.zeros(layout.n_params))[0]] == [
        c.shape for c in coefs
    ]
    params = layout.pack(coefs, intercepts, np.float64) * 0.3
    X = np.random.RandomState(4).normal(size=(9, sizes[0]))
    y = np.random.RandomState(5).gamma(2.0, 1.0, size=(9, sizes[-1])) + 0.6
    network = build_network(
        layout,
        "tanh",
        "softplus",
        resolve_loss("squared_error"),
        threshold,
        np.float64,
    )
    expected = forward(layout, params, X, "tanh", "softplus", threshold)
    np.testing.assert_allclose(network.predict(params, X), expected, rtol=1e-12)
    grad = np.empty_like(params)
    value = network.loss_and_gradient(params, X, y, None, None, 0.1, grad)
    reference = loss(
        layout, params, X, y, "tanh", "softplus", threshold, "squared_error", 0.1
    )
    assert value == pytest.approx(reference, rel=1e-12)
