"""A small NumPy implementation of the network, used as an oracle for the C++ core."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, xlogy

from positive_mlp._members import combine_members, member_networks
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
    """The model's predictions: with several members (``layout.members``), the
    elementwise max(mean, min) of the members' predictions."""
    predictions = member_forward(layout, params, X, activation, output, threshold)
    return predictions[0] if len(predictions) == 1 else combine_members(predictions)


def member_forward(layout: ParameterLayout, params, X, activation, output, threshold):
    """Each member's predictions, stacked: (members, n_samples, n_outputs)."""
    coefs, intercepts = layout.unpack(np.asarray(params, dtype=np.float64))
    networks = member_networks(coefs, intercepts, getattr(layout, "members", 1))
    return np.stack(
        [
            _one_network(W_list, b_list, X, activation, output, threshold)
            for W_list, b_list in networks
        ]
    )


def _one_network(coefs, intercepts, X, activation, output, threshold):
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
    """Weighted mean over samples of the per-row sum over outputs, plus L2. With
    several members, each member's objective (its loss on its own predictions and
    its own L2 penalty), averaged over the members (TabM's training loss), not the
    loss of the combined prediction."""
    predictions = member_forward(layout, params, X, activation, output, threshold)
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    per_member = [ELEMENT_LOSS[loss_name](y, p).sum(axis=1) for p in predictions]
    per_row = per_member[0] if len(per_member) == 1 else np.mean(per_member, axis=0)
    return (w @ per_row + 0.5 * alpha * _squared_weights(layout, params)) / w.sum()


def _squared_weights(layout: ParameterLayout, params) -> float:
    """The L2 penalty's ||W||^2: with members, the mean of the members' own (each
    member's objective carries its own penalty, and the objective is their mean)."""
    params = np.asarray(params, dtype=np.float64)
    if layout.members == 1:
        weights = params[: layout.n_weights]
        return weights @ weights
    coefs, intercepts = layout.unpack(params)
    networks = member_networks(coefs, intercepts, layout.members)
    return np.mean([sum(np.sum(W**2) for W in net[0]) for net in networks])


def central_differences(f, params, step=1e-6):
    """The gradient of ``f`` at ``params`` by central finite differences."""
    grad = np.empty_like(params)
    for i in range(params.size):
        e = np.zeros_like(params)
        e[i] = step
        grad[i] = (f(params + e) - f(params - e)) / (2 * step)
    return grad
