"""The starting parameters of a fit: Glorot-uniform weights as scikit-learn draws
them, constrained weights on their half-lines, and a bounded output that starts as the
constant model that minimises the loss (the targets' mean, or their quantiles)."""

from __future__ import annotations

import numpy as np

from positive_mlp._losses import Loss
from positive_mlp._network import ParameterLayout
from positive_mlp._options import BOUNDED_TRANSFORMS, OUTPUT_TRANSFORMS, WEIGHT_METHODS
from positive_mlp._settings import Data

# A reparametrised, constrained output layer starts at this share of its random draw
# (close to the constant model, but away from the saddle at 0).
_REPARAMETRISED_OUTPUT_START = 0.1


def initial_params(
    layout: ParameterLayout,
    activation: str,
    output_at_mean: str | None,
    weight_method: str,
    signs: np.ndarray | None,
    data: Data,
    threshold: np.ndarray,
    rng: np.random.RandomState,
    dtype,
    loss: Loss,
) -> np.ndarray:
    """Fresh free parameters (what the optimiser updates).

    ``output_at_mean`` names the output transform when the output starts as the
    constant model that minimises ``loss`` (the targets' mean, or with quantile
    levels their sample quantiles; None: a Glorot start, as MLPRegressor's).
    """
    params = glorot_uniform_params(layout, activation, rng, dtype)
    if signs is not None:
        start_constrained(params, layout, signs, rng)
    if output_at_mean is not None:
        above = loss.start_above_threshold(data.y, threshold, data.sample_weight)
        output_scale = _output_weight_scale(layout, signs, weight_method)
        start_at_target_mean(params, layout, output_at_mean, above, output_scale)
    if signs is None:
        return params
    if not WEIGHT_METHODS[weight_method].reparametrises:
        # the output bias placed at the targets' mean can be below 0
        project_onto_signs(params, signs)
    return to_free(params, signs, weight_method, layout)


def _output_weight_scale(
    layout: ParameterLayout, signs: np.ndarray | None, weight_method: str
) -> float:
    if signs is None or not WEIGHT_METHODS[weight_method].reparametrises:
        return 0.0
    output_signs = layout.unpack(signs)[0][-1]
    return _REPARAMETRISED_OUTPUT_START if np.any(output_signs) else 0.0


def glorot_uniform_params(
    layout: ParameterLayout,
    activation: str,
    rng: np.random.RandomState,
    dtype: np.dtype,
) -> np.ndarray:
    """Glorot-uniform weights and biases, drawn as scikit-learn's MLP draws them."""
    factor = 2.0 if activation == "logistic" else 6.0
    coefs, intercepts = [], []
    blocks = zip(layout.fans, layout.shapes, layout.bias_sizes)
    for (n_in, n_out), shape, n_bias in blocks:
        bound = np.sqrt(factor / (n_in + n_out))  # one member's fans
        coefs.append(rng.uniform(-bound, bound, shape))
        intercepts.append(rng.uniform(-bound, bound, n_bias))
    return layout.pack(coefs, intercepts, dtype)


# Smallest mean distance above the threshold used to place the output bias: targets
# that all sit on their threshold still get a finite starting point.
_MIN_START_ABOVE_THRESHOLD = 1e-6


def start_at_target_mean(
    params: np.ndarray,
    layout: ParameterLayout,
    output_activation: str,
    mean_above_threshold: np.ndarray,
    output_weight_scale: float = 0.0,
) -> None:
    """Makes the initial network the constant model predicting the targets' mean.

    The output layer's weights start at 0 and its bias at ``g^-1(mean(y) - threshold)``:
    training then starts where the targets are, however far from the threshold they
    lie, and the first predictions carry no random offset (which 'exp' would turn into
    a random factor). The hidden layers keep their Glorot-uniform start.
    A reparametrised output layer cannot start at 0 (p^2 has no gradient there, exp(p)
    never reaches it): ``output_weight_scale`` then shrinks its weights instead.
    """
    coefs, intercepts = layout.unpack(params)
    coefs[-1][:] *= output_weight_scale
    start = mean_above_threshold
    if output_activation in BOUNDED_TRANSFORMS:
        start = np.maximum(start, _MIN_START_ABOVE_THRESHOLD)
    start = np.asarray(start, dtype=np.float64)
    bias = OUTPUT_TRANSFORMS[output_activation].inverse(start)
    intercepts[-1][:] = np.tile(bias, layout.copies(len(intercepts) - 1))  # per member


def start_constrained(
    params: np.ndarray,
    layout: ParameterLayout,
    signs: np.ndarray,
    rng: np.random.RandomState,
) -> None:
    """Draws a start that satisfies the signs, in place.

    A constrained weight of a layer with fan-in n starts at sign * U(0, 2 / n): the
    weights of a unit then sum to about 1 in expectation, so each layer passes on the
    scale of its inputs instead of multiplying it by the fan-in. Constrained biases
    start at the absolute value of their Glorot draw.
    """
    coefs, intercepts = layout.unpack(params)
    coef_signs, bias_signs = layout.unpack(signs)
    for W, S, (n_in, _) in zip(coefs, coef_signs, layout.fans):
        mask = S != 0
        W[mask] = S[mask] * rng.uniform(0.0, 2.0 / n_in, size=int(mask.sum()))
    for b, S in zip(intercepts, bias_signs):
        b[S != 0] = S[S != 0] * np.abs(b[S != 0])


def project_onto_signs(params: np.ndarray, signs: np.ndarray) -> None:
    """Clips constrained parameters onto their half-lines, in place."""
    np.maximum(params, 0, out=params, where=signs > 0)
    np.minimum(params, 0, out=params, where=signs < 0)


def to_free(
    weights: np.ndarray, signs: np.ndarray | None, method: str, layout: ParameterLayout
) -> np.ndarray:
    """The free parameters whose reparametrisation gives ``weights`` (a copy): the
    inverse of the core's ``p**2 / (4 u)`` ('square') or ``exp(p / u)`` ('exp'), with
    ``u`` each parameter's unit (see constraints.hpp)."""
    free = np.array(weights, copy=True)
    if signs is None or not WEIGHT_METHODS[method].reparametrises:
        return free
    mask = signs != 0
    magnitude = np.abs(weights[mask]).astype(np.float64)
    unit = layout.units()[mask]
    if method == "square":
        free[mask] = 2.0 * np.sqrt(unit * magnitude)
    else:
        tiny = np.finfo(weights.dtype).tiny
        free[mask] = unit * np.log(np.maximum(magnitude, tiny))
    return free
