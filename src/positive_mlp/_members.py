"""The members of an in-model ensemble as separate networks, in NumPy.

With ``M`` members, ``coefs_[0]`` holds every member's first layer side by side,
(d, M * h_1) (member m's are the columns ``m * h_1 : (m + 1) * h_1``, and so its
slice of ``intercepts_[0]``); the middle layers are shared; the output layer stacks
the members' heads, (M * h_{L-1}, o) (member m's rows ``m * h_{L-1} : (m + 1) *
h_{L-1}``, its biases ``intercepts_[-1][m * o : (m + 1) * o]``). Without a hidden
layer the one layer is (d, M * o), member m's columns ``m * o : (m + 1) * o``.

The model predicts ``max(mean over members, min over members)`` of the members'
predictions (the min keeps it at or above the threshold, and quantile levels
uncrossed, whatever the rounding of the mean). Used by the reference forward passes
of the tests and the fuzzer, and by the ONNX export.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def fitted_members(model: Any) -> int:
    """The members of a fitted model: ``n_members_``, or 1 for a model without it
    (fitted, or pickled, before members existed)."""
    return int(getattr(model, "n_members_", 1))


def member_networks(
    coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray], members: int
) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
    """Each member's ``(coefs, intercepts)``, views of the stored ones, shaped as a
    single network's: ``members`` networks whose middle layers are the same arrays.

    A ValueError when the stored shapes do not split into ``members`` blocks.
    """
    coefs, intercepts = list(coefs), list(intercepts)
    if members < 1 or len(coefs) != len(intercepts) or not coefs:
        raise ValueError(f"{members} member(s) of {len(coefs)} layer(s)?")
    first, last = coefs[0], coefs[-1]
    width = _block(first.shape[1], members, "coefs_[0]'s columns")
    heads = (
        width
        if len(coefs) == 1
        else _block(last.shape[0], members, "coefs_[-1]'s rows")
    )
    n_out = last.shape[1] if len(coefs) > 1 else width
    _block(intercepts[0].shape[0], members, "intercepts_[0]")
    _block(intercepts[-1].shape[0], members, "intercepts_[-1]")
    networks = []
    for m in range(members):
        first_block = slice(m * width, (m + 1) * width)
        member_coefs = [first[:, first_block], *coefs[1:]]
        member_intercepts = [intercepts[0][first_block], *intercepts[1:]]
        if len(coefs) > 1:
            member_coefs[-1] = last[m * heads : (m + 1) * heads]
            member_intercepts[-1] = intercepts[-1][m * n_out : (m + 1) * n_out]
        networks.append((member_coefs, member_intercepts))
    return networks


def stop_apart(members: int, n_weight_layers: int) -> bool:
    """Whether the members of a network keep each its own best epoch: several
    members that share no layer (at most one hidden layer)."""
    return members > 1 and n_weight_layers <= 2


def member_positions(layout: Any) -> list[np.ndarray] | None:
    """Where each member's parameters sit in the packed vector of ``layout`` (a
    ``ParameterLayout``), in the order a one-member network packs them; None when
    the members share a layer (two hidden layers or more) or there is one member."""
    if not stop_apart(layout.members, len(layout.layer_sizes) - 1):
        return None
    positions = layout.unpack(np.arange(layout.n_params))
    return [
        np.concatenate([a.ravel() for a in coefs] + [b.ravel() for b in biases])
        for coefs, biases in member_networks(*positions, layout.members)
    ]


def stacked_networks(
    networks: Sequence[tuple[Sequence[np.ndarray], Sequence[np.ndarray]]],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The stored ``(coefs, intercepts)`` of a model whose members are ``networks``
    (the inverse of ``member_networks``); the middle layers are the first
    network's."""
    coefs, intercepts = (list(part) for part in networks[0])
    coefs[0] = np.hstack([network[0][0] for network in networks])
    intercepts[0] = np.concatenate([network[1][0] for network in networks])
    if len(coefs) > 1:
        coefs[-1] = np.vstack([network[0][-1] for network in networks])
        intercepts[-1] = np.concatenate([network[1][-1] for network in networks])
    return coefs, intercepts


def _block(size: int, members: int, what: str) -> int:
    if size % members:
        raise ValueError(f"{what} ({size}) do not split into {members} members")
    return size // members


def combine_members(predictions: np.ndarray) -> np.ndarray:
    """The model's prediction from its members' (stacked on the first axis):
    ``max(mean, min)`` elementwise, in the predictions' dtype, the mean as
    the core computes it (a sum of each member's share)."""
    predictions = np.asarray(predictions)
    # A sum of shares, as the core: a sum of values near the largest would overflow.
    mean = (predictions / predictions.shape[0]).sum(axis=0)
    return np.maximum(mean, predictions.min(axis=0))
