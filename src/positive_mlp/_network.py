"""Parameter layout and the C++ network's construction.

Parameters travel as one packed vector: every layer's weights (row-major, shaped as
``coefs_``), then every layer's biases (as ``intercepts_``), the order the core uses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg.cython_blas  # loads the BLAS the core calls
import scipy.sparse

from positive_mlp import _core
from positive_mlp._options import (
    ACTIVATIONS,
    OUTPUT_CONSTRAINTS,
    OUTPUT_TRANSFORMS,
    WEIGHT_METHODS,
)

if TYPE_CHECKING:
    from positive_mlp._losses import Loss


@dataclass(frozen=True)
class ParameterLayout:
    """Where each layer's weights and biases sit in the packed parameter vector.

    ``layer_sizes`` are one member's; with ``members`` > 1 (an ensemble in one
    network, see the core's ``Layout``) the first layer's weights are
    ``(n_in, members * n_out)``, member m's columns ``[m * n_out, (m + 1) * n_out)``;
    the last layer's (when there are hidden layers) are ``(members * n_in, n_out)``,
    member m's rows ``[m * n_in, (m + 1) * n_in)``; the layers between are shared.
    Each layer's biases follow its weights' columns, per member where they are.
    """

    layer_sizes: tuple[int, ...]
    members: int = 1

    @property
    def fans(self) -> list[tuple[int, int]]:
        """Each layer's (fan-in, fan-out) within one member."""
        return list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))

    def copies(self, layer: int) -> int:
        """How many members' copies of ``layer`` there are (1: shared)."""
        return self.members if layer in (0, len(self.layer_sizes) - 2) else 1

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """The shapes of ``coefs_``."""
        shapes = []
        for layer, (n_in, n_out) in enumerate(self.fans):
            copies = self.copies(layer)
            if layer == 0:
                shapes.append((n_in, copies * n_out))
            else:
                shapes.append((copies * n_in, n_out))
        return shapes

    @property
    def bias_sizes(self) -> list[int]:
        """The lengths of ``intercepts_``."""
        fan_outs = [n_out for _, n_out in self.fans]
        return [self.copies(layer) * n for layer, n in enumerate(fan_outs)]

    @property
    def n_weights(self) -> int:
        return sum(n_in * n_out for n_in, n_out in self.shapes)

    @property
    def n_params(self) -> int:
        return self.n_weights + sum(self.bias_sizes)

    @classmethod
    def of(
        cls, coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray], members: int
    ) -> ParameterLayout:
        """The layout of fitted ``coefs_`` and ``intercepts_`` of ``members``."""
        layout = cls((coefs[0].shape[0], *(b.size for b in intercepts)), members)
        sizes = [
            size // layout.copies(layer)
            for layer, size in enumerate(layout.layer_sizes[1:])
        ]
        return cls((coefs[0].shape[0], *sizes), members)

    def pack(
        self,
        coefs: Sequence[np.ndarray],
        intercepts: Sequence[np.ndarray],
        dtype: np.dtype,
    ) -> np.ndarray:
        """One contiguous vector holding ``coefs`` then ``intercepts``."""
        parts = [np.ravel(c) for c in coefs] + [np.ravel(b) for b in intercepts]
        return np.concatenate(parts).astype(dtype, copy=False)

    def unpack(self, params: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Views of ``params`` shaped as ``coefs_`` and ``intercepts_``."""
        coefs, intercepts, start = [], [], 0
        for n_in, n_out in self.shapes:
            coefs.append(params[start : start + n_in * n_out].reshape(n_in, n_out))
            start += n_in * n_out
        for n_out in self.bias_sizes:
            intercepts.append(params[start : start + n_out])
            start += n_out
        return coefs, intercepts

    def units(self) -> np.ndarray:
        """Each parameter's reparametrisation unit, ``1 / sqrt(fan-in)`` of its layer
        (the core's ``Layout::unit``)."""
        units = [1.0 / math.sqrt(n_in) for n_in, _ in self.fans]
        coefs = [np.full(shape, u) for shape, u in zip(self.shapes, units)]
        intercepts = [np.full(size, u) for size, u in zip(self.bias_sizes, units)]
        return self.pack(coefs, intercepts, np.float64)


def core_input(X, dtype: np.dtype):
    """X as the core reads it, in ``dtype``: a C-contiguous array, or a CSR matrix
    whose first layer the core multiplies over the nonzeros (never densified). Other
    sparse formats become CSR; data already in this form is not copied."""
    if scipy.sparse.issparse(X):
        return X.tocsr().astype(dtype, copy=False)
    return np.ascontiguousarray(X, dtype=dtype)


def core_for(dtype: np.dtype):
    """The core's submodule working in ``dtype`` (float32 or float64)."""
    return _core.f32 if np.dtype(dtype) == np.float32 else _core.f64


# The power the core is given for a loss without one (it reads it only for
# Loss.tweedie): the binding's default.
_NO_POWER = 1.5


def build_network(
    layout: ParameterLayout,
    activation: str,
    output_activation: str,
    loss: Loss,
    threshold: np.ndarray,
    dtype: np.dtype,
    *,
    quantile_levels: np.ndarray | None = None,
    outputs_per_group: int = 1,
    signs: np.ndarray | None = None,
    weight_method: str = "none",
    output_constraint: str | None = None,
    constraint_strength: float = 1.0,
    constraint_margin: np.ndarray | None = None,
):
    """The C++ network for these settings, computing in ``dtype``.

    ``loss`` is resolved (``_losses.resolve_loss``), with its Tweedie power;
    ``quantile_levels`` is the level of each output for a loss with levels; outputs
    come in groups of ``outputs_per_group`` whose predictions rise (see
    ``_quantiles``). ``signs`` (one of -1, 0, +1 per packed parameter) and
    ``weight_method`` constrain parameters; ``output_constraint`` adds a penalty or
    an augmented-Lagrangian term for predictions below the threshold (plus
    ``constraint_margin``, per output) to the training loss.
    """
    spec = _core.NetworkSpec(
        layer_sizes=list(layout.layer_sizes),
        members=layout.members,
        activation=ACTIVATIONS[activation],
        output_transform=OUTPUT_TRANSFORMS[output_activation].core,
        loss=loss.core,
        tweedie_power=_NO_POWER if loss.power is None else loss.power,
        quantile_levels=[] if quantile_levels is None else list(quantile_levels),
        outputs_per_group=outputs_per_group,
        weight_method=(
            WEIGHT_METHODS[weight_method].core
            if signs is not None
            else _core.WeightMethod.none
        ),
        output_constraint=OUTPUT_CONSTRAINTS[output_constraint],
        constraint_strength=constraint_strength,
        constraint_margin=[] if constraint_margin is None else list(constraint_margin),
    )
    return core_for(dtype).Network(spec, np.asarray(threshold, dtype=dtype), signs)
