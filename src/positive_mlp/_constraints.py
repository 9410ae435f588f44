"""Which parameters are sign-constrained (their starts are in ``_start``).

Every parameter gets a sign: 0 (free), +1 (kept >= 0) or -1 (kept <= 0). The C++ core
enforces the signs by projection or reparametrisation; this module builds them from
``nonneg_weights``, ``nonneg_bias`` and ``monotonic_cst``.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from positive_mlp._network import ParameterLayout


def constrained_layers(nonneg_weights, n_layers: int) -> list[int]:
    """Indices (0 = first, from the inputs) of the weight layers kept non-negative."""
    if nonneg_weights is None:
        return []
    if isinstance(nonneg_weights, str):
        return {
            "all": list(range(n_layers)),
            "output": [n_layers - 1],
            "hidden": list(range(n_layers - 1)),
        }[nonneg_weights]
    layers = []
    for index in nonneg_weights:
        if not isinstance(index, Integral) or not -n_layers <= index < n_layers:
            raise ValueError(
                f"nonneg_weights must hold layer indices in [{-n_layers}, "
                f"{n_layers - 1}]"
                f" for this network of {n_layers} weight layers, got {index!r}."
            )
        layers.append(int(index) % n_layers)
    return sorted(set(layers))


def parameter_signs(
    layout: ParameterLayout,
    nonneg_layers: list[int],
    nonneg_bias: bool,
    monotonic_cst: np.ndarray | None,
) -> np.ndarray | None:
    """One sign per packed parameter, or None when nothing is constrained.

    ``monotonic_cst`` (one of -1, 0, +1 per feature) makes the first layer's weights
    of those features take that sign and every later layer's weights non-negative:
    with non-decreasing activations the output then moves with the feature's sign.
    """
    monotone = monotonic_cst is not None and np.any(monotonic_cst != 0)
    if not nonneg_layers and not monotone:
        return None
    signs = np.zeros(layout.n_params, dtype=np.int8)
    coef_signs, bias_signs = layout.unpack(signs)
    for layer in nonneg_layers:
        coef_signs[layer][:] = 1
        if nonneg_bias:
            bias_signs[layer][:] = 1
    if monotone:
        first = coef_signs[0]
        conflicts = np.flatnonzero((monotonic_cst < 0) & np.any(first > 0, axis=1))
        if conflicts.size:
            raise ValueError(
                f"monotonic_cst=-1 for feature(s) {conflicts.tolist()} needs "
                "non-positive first-layer weights, but nonneg_weights makes them "
                "non-negative."
            )
        constrained = monotonic_cst != 0
        first[constrained, :] = monotonic_cst[constrained, None]
        for later in coef_signs[1:]:
            later[:] = 1
    return signs
