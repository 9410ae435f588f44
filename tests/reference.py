"""A small NumPy implementation of the network, used as an oracle for the C++ core."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, xlogy

from positive_mlp._network import ParameterLayout

HIDDEN = {
    "identity": lambda z: z,
    "logistic": expit,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}
OUTPUT = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "exp": np.exp,
}
ELEMENT_LOSS = {
    "squared_error": lambda y, p: 0.5 * (p - y) ** 2,
    "poisson": lambda y, p: xlogy(y, y / p) - y + p,
    "gamma": lambda y, p: np.log(p / y) + y / p - 1.0,
}


def forward(layout: ParameterLayout, params, X, activation, output, threshold):
    coefs, intercepts = layout.unpack(np.asarray(params, dtype=np.float64))
    a = np.asarray(X, dtype=np.float64)
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        z = a @ W + b
        a = HIDDEN[activation](z) if i < len(coefs) - 1 else z
    return threshold + OUTPUT[output](a)


def loss(
    layout,
    params,
    X,
    y,
    activation,
    output,
    threshold,
    loss_name,
    alpha,
    sample_weight=None,
):
    """Weighted mean over samples of the per-row sum over outputs, plus L2."""
    pred = forward(layout, params, X, activation, output, threshold)
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    per_row = ELEMENT_LOSS[loss_name](y, pred).sum(axis=1)
    weights = np.asarray(params, dtype=np.float64)[: layout.n_weights]
    return (w @ per_row + 0.5 * alpha * weights @ weights) / w.sum()


def central_differences(f, params, step=1e-6):
    """The gradient of ``f`` at ``params`` by central finite differences."""
    grad = np.empty_like(params)
    for i in range(params.size):
        e = np.zeros_like(params)
        e[i] = step
        grad[i] = (f(params + e) - f(params - e)) / (2 * step)
    return grad
