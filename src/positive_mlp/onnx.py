"""ONNX export of :class:`~positive_mlp.PositiveMLPRegressor` through skl2onnx.

Importing this module registers the model's converter with skl2onnx (``register``
does it again, for instance after another library registered its own), so that
``skl2onnx.to_onnx`` converts a fitted model, alone or as a step of a Pipeline::

    import positive_mlp.onnx  # registers the converter
    from skl2onnx import to_onnx
    onx = to_onnx(model, X[:1])  # X's dtype sets the input type

The graph computes what ``predict`` computes: the layers, the hidden activation, the
output transform ``g`` (softplus and exp written with the same overflow guards as
the core), each target's quantile levels as a running sum of ``g``, and
``threshold + scale * g`` in float64, clipped to the model dtype's finite range and
never rounded below the threshold. A model of several members (``n_members_``)
computes them in one pass (the first layer's product gives every member's units,
the middle layers are shared, a batched MatMul applies the members' output layers)
and combines their ``g`` as ``predict`` does, max(mean, min) over the members,
before ``threshold + scale * g``. Its output has the model's dtype (float32 or
float64, whatever the input type) and ``predict``'s shape, except that a model with
one output and no level axis gives ``(n_samples, 1)``, as skl2onnx's own regressors
do (so that their meta-estimators' converters, such as VotingRegressor's, combine
it with theirs). It needs ``target_opset >= 11``.

Where the dtype overflows, ``predict`` recomputes the row in extended precision and
the graph does not: rows whose matrix products overflow (inputs near 1e300, or 1e30
in float32) give inf or NaN in the graph; in rows whose quantile levels sum beyond
the dtype's range, the levels that overflow agree (both saturate) and the levels
below them keep exp's overflow guard in the graph, where ``predict`` computes them
without it (larger values).

Needs the ``onnx`` extra: ``pip install "positive-mlp[onnx]"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.utils.validation import check_is_fitted

from positive_mlp._extras import missing_extra

try:
    from onnx.helper import np_dtype_to_tensor_dtype
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from skl2onnx.common.utils import (
        check_input_and_output_numbers,
        check_input_and_output_types,
    )
except ImportError as error:
    raise missing_extra("onnx", "positive_mlp.onnx", error) from error

from positive_mlp._estimator import PositiveMLPRegressor
from positive_mlp._members import fitted_members
from positive_mlp._options import BOUNDED_TRANSFORMS
from positive_mlp._quantiles import per_output, shaped_predictions

__all__ = ["register"]

# The name skl2onnx knows the converter and the shape calculator by.
_ALIAS = "PositiveMLPRegressor"

# CumSum appeared in opset 11.
_MIN_OPSET = 11


class _Graph:
    """Adds nodes and constants to the graph skl2onnx is building, under unique
    names, computing in ``dtype`` unless told otherwise."""

    def __init__(self, scope, container, dtype: np.dtype) -> None:
        self._scope = scope
        self._container = container
        self.dtype = np.dtype(dtype)

    def constant(self, values, dtype=None) -> str:
        """An initializer holding ``values`` (an array or a scalar) in ``dtype``
        (by default the graph's)."""
        array = np.asarray(values, dtype=self.dtype if dtype is None else dtype)
        name = self._scope.get_unique_variable_name("constant")
        self._container.add_initializer(
            name,
            np_dtype_to_tensor_dtype(array.dtype),
            list(array.shape),
            array.ravel(),
        )
        return name

    def shape(self, dims: Sequence[int]) -> str:
        return self.constant(dims, np.int64)

    def node(self, op: str, inputs: Sequence[str], out: str | None = None, **attrs):
        """Adds one ``op`` node and returns the name of its output (``out``, or a new
        name)."""
        out = out or self._scope.get_unique_variable_name(op.lower())
        self._container.add_node(
            op,
            list(inputs),
            out,
            name=self._scope.get_unique_operator_name(op),
            **attrs,
        )
        return out

    def cast(self, name: str, dtype) -> str:
        return self.node("Cast", [name], to=np_dtype_to_tensor_dtype(np.dtype(dtype)))


# Hidden activations as ONNX operators (None: nothing to apply).
_HIDDEN_OPERATORS: dict[str, str | None] = {
    "identity": None,
    "logistic": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
}


def _log1p(graph: _Graph, x: str) -> str:
    """log(1 + x) for x >= 0, accurate for tiny x although ONNX has no Log1p:
    ``x * log(u) / (u - 1)`` with ``u = 1 + x`` rounded, which cancels the rounding
    of u (Goldberg's method), and x itself where u rounds to 1."""
    one = graph.constant(1)
    u = graph.node("Add", [x, one])
    u_minus_one = graph.node("Sub", [u, one])
    ratio = graph.node("Div", [x, u_minus_one])  # inf or NaN only where unused
    fraction = graph.node("Mul", [graph.node("Log", [u]), ratio])
    rounds_to_one = graph.node("Equal", [u_minus_one, graph.constant(0)])
    return graph.node("Where", [rounds_to_one, x, fraction])


def _softplus(graph: _Graph, z: str) -> str:
    """``max(z, 0) + log1p(exp(-|z|))``, as the core computes it: no overflow for
    any z (onnxruntime has no float64 Softplus, and its float32 one is written
    differently)."""
    decay = graph.node("Exp", [graph.node("Neg", [graph.node("Abs", [z])])])
    return graph.node("Add", [graph.node("Relu", [z]), _log1p(graph, decay)])


def _max_exp_argument(dtype: np.dtype):
    """The core's guard on exp's argument (``max_exp_argument`` in
    output_transforms.hpp), computed in ``dtype`` as the core does."""
    dtype = np.dtype(dtype).type
    return np.finfo(dtype).maxexp * dtype(0.6931471805599453) - dtype(2)


def _exp(graph: _Graph, z: str) -> str:
    guard = graph.constant(_max_exp_argument(graph.dtype))
    return graph.node("Exp", [graph.node("Min", [z, guard])])


# g in prediction = threshold + scale * g(z), as the graph computes it.
_OUTPUT_TRANSFORMS: dict[str, Callable[[_Graph, str], str]] = {
    "identity": lambda graph, z: z,
    "relu": lambda graph, z: graph.node("Relu", [z]),
    "softplus": _softplus,
    "exp": _exp,
}


def _check_supported(model: PositiveMLPRegressor) -> None:
    """A clear error for an option this converter has no translation of (a new
    option added to the package and not here)."""
    if model.activation not in _HIDDEN_OPERATORS:
        raise NotImplementedError(
            f"No ONNX translation of activation={model.activation!r}; the converter "
            f"knows {sorted(_HIDDEN_OPERATORS)}."
        )
    if model.out_activation_ not in _OUTPUT_TRANSFORMS:
        raise NotImplementedError(
            f"No ONNX translation of output_activation={model.out_activation_!r}; "
            f"the converter knows {sorted(_OUTPUT_TRANSFORMS)}."
        )


def _layers(graph: _Graph, model: PositiveMLPRegressor, x: str) -> str:
    """The output layer's pre-activation z (n_samples, n_network_outputs)."""
    hidden = _HIDDEN_OPERATORS[model.activation]
    last = len(model.coefs_) - 1
    for layer, (weights, bias) in enumerate(zip(model.coefs_, model.intercepts_)):
        x = graph.node("MatMul", [x, graph.constant(weights)])
        x = graph.node("Add", [x, graph.constant(bias)])
        if layer < last and hidden is not None:
            x = graph.node(hidden, [x])
    return x


def _member_outputs(graph: _Graph, model: PositiveMLPRegressor, x: str) -> str:
    """The pre-activations z of every member, (n_samples * members,
    n_network_outputs), member m of sample i in row ``i * members + m``: the first
    layer's (d, members * h) product gives each sample's members side by side, a
    Reshape puts them in rows for the shared middle layers, and a batched MatMul
    applies each member's head (members, h, o) to its rows."""
    hidden = _HIDDEN_OPERATORS[model.activation]
    members = fitted_members(model)
    coefs, intercepts = model.coefs_, model.intercepts_
    x = graph.node("MatMul", [x, graph.constant(coefs[0])])
    x = graph.node("Add", [x, graph.constant(intercepts[0])])
    if len(coefs) > 1 and hidden is not None:
        x = graph.node(hidden, [x])
    # one row per member (without hidden layers, these are the outputs)
    x = graph.node("Reshape", [x, graph.shape([-1, coefs[0].shape[1] // members])])
    if len(coefs) == 1:
        return x
    for weights, bias in zip(coefs[1:-1], intercepts[1:-1]):
        x = graph.node("MatMul", [x, graph.constant(weights)])
        x = graph.node("Add", [x, graph.constant(bias)])
        if hidden is not None:
            x = graph.node(hidden, [x])
    width, n_out = coefs[-1].shape[0] // members, coefs[-1].shape[1]
    # (n, members, 1, h) @ (members, h, o): one (1, h) @ (h, o) product per member
    x = graph.node("Reshape", [x, graph.shape([-1, members, 1, width])])
    heads = coefs[-1].reshape(members, width, n_out)
    z = graph.node("MatMul", [x, graph.constant(heads)])
    z = graph.node("Reshape", [z, graph.shape([-1, members, n_out])])
    z = graph.node("Add", [z, graph.constant(intercepts[-1].reshape(members, n_out))])
    return graph.node("Reshape", [z, graph.shape([-1, n_out])])


def _combined_members(graph: _Graph, raw: str, members: int, n_out: int) -> str:
    """The model's g from its members' (rows ``i * members + m``): max(mean, min)
    over the members, the mean as the sum of each g / members (no overflow where g
    nears the dtype's largest value). Elementwise Sum, Min and Max of one Gather per
    member: the same operators in every opset."""
    by_member = graph.node("Reshape", [raw, graph.shape([-1, members, n_out])])
    shares = graph.node("Div", [by_member, graph.constant(members)])

    def each(values: str) -> list[str]:
        return [
            graph.node("Gather", [values, graph.constant(m, np.int64)], axis=1)
            for m in range(members)
        ]

    mean = graph.node("Sum", each(shares))
    lowest = graph.node("Min", each(by_member))
    return graph.node("Max", [mean, lowest])


def _staircase(graph: _Graph, steps: str, n_targets: int, n_levels: int) -> str:
    """Each target's levels as the running sum of its steps g(z_k) (the core's
    rising staircase, from 0: the threshold is added in ``_in_user_units``)."""
    by_target = graph.node("Reshape", [steps, graph.shape([-1, n_targets, n_levels])])
    summed = graph.node("CumSum", [by_target, graph.constant(2, np.int64)])
    # A sum beyond the dtype's range saturates at its largest finite value, as in
    # the core's extended-precision pass over such rows.
    largest = np.finfo(graph.dtype).max
    saturated = graph.node("Min", [summed, graph.constant(largest)])
    return graph.node("Reshape", [saturated, graph.shape([-1, n_targets * n_levels])])


def _smallest_at_or_above(threshold: np.ndarray, dtype) -> np.ndarray:
    """Per threshold, the smallest value of ``dtype`` that is ``>= threshold``."""
    rounded = threshold.astype(dtype)
    return np.where(
        rounded < threshold, np.nextafter(rounded, dtype.type(np.inf)), rounded
    )


def _in_user_units(graph: _Graph, raw: str, model: PositiveMLPRegressor) -> str:
    """``threshold + scale * raw`` as ``_scaling.in_user_units`` computes it: in
    float64, clipped to the model dtype's finite range, and with a bounding output
    never rounded below the threshold."""
    n_levels = model._n_levels()
    threshold = per_output(model.output_threshold_, n_levels).astype(np.float64)
    scale = per_output(model.target_scale_, n_levels).astype(np.float64)
    wide = raw if graph.dtype == np.float64 else graph.cast(raw, np.float64)
    scaled = graph.node("Mul", [graph.constant(scale, np.float64), wide])
    exact = graph.node("Add", [graph.constant(threshold, np.float64), scaled])
    # Min and Max, not Clip: onnxruntime 1.32's fusion of Relu and Clip fails on a
    # float64 Clip.
    largest = np.finfo(graph.dtype).max
    below_largest = graph.node("Min", [exact, graph.constant(largest, np.float64)])
    clipped = graph.node("Max", [below_largest, graph.constant(-largest, np.float64)])
    y = clipped if graph.dtype == np.float64 else graph.cast(clipped, graph.dtype)
    if model.out_activation_ in BOUNDED_TRANSFORMS:
        floor = _smallest_at_or_above(threshold, graph.dtype)
        y = graph.node("Max", [y, graph.constant(floor)])
    return y


def _output_dims(model: PositiveMLPRegressor) -> list[int]:
    """The output's dimensions after the samples': ``predict``'s, with (1,) for a
    model that predicts one value per sample (skl2onnx's regressor convention)."""
    n_levels = model._n_levels()
    layout = np.empty((1, model.n_outputs_ * n_levels))
    level_axis = getattr(model, "_level_axis", False)
    dims = shaped_predictions(layout, model.n_outputs_, n_levels, level_axis).shape[1:]
    return list(dims) or [1]


def _output_tensor_type(model: PositiveMLPRegressor):
    return DoubleTensorType if model.coefs_[0].dtype == np.float64 else FloatTensorType


def _calculate_output_shape(operator) -> None:
    """skl2onnx's shape calculator: one input (n_samples, n_features), one output
    of the model's dtype, shaped as ``_output_dims`` says."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_input_and_output_types(
        operator, good_input_types=[FloatTensorType, DoubleTensorType]
    )
    model = operator.raw_operator
    check_is_fitted(model)
    n_samples = operator.inputs[0].get_first_dimension()
    tensor_type = _output_tensor_type(model)
    operator.outputs[0].type = tensor_type([n_samples, *_output_dims(model)])


def _encoded(graph: _Graph, model: PositiveMLPRegressor, x: str) -> str:
    """The inputs followed by their piecewise-linear encoding (``input_bins``), in
    the operations predict uses: clip((x[:, source] - lower) / width, 0, 1)."""
    bins = getattr(model, "_input_bins", None)
    if bins is None or bins.source.size == 0:
        return x
    gathered = graph.node("Gather", [x, graph.constant(bins.source, np.int64)], axis=1)
    shifted = graph.node("Sub", [gathered, graph.constant(bins.lower)])
    ratio = graph.node("Div", [shifted, graph.constant(bins.width)])
    clipped = graph.node("Clip", [ratio, graph.constant(0.0), graph.constant(1.0)])
    return graph.node("Concat", [x, clipped], axis=1)


def _convert(scope, operator, container) -> None:
    """skl2onnx's converter: the graph of ``predict`` for ``operator.raw_operator``."""
    model = operator.raw_operator
    check_is_fitted(model)
    _check_supported(model)
    if container.target_opset is not None and container.target_opset < _MIN_OPSET:
        raise RuntimeError(
            f"PositiveMLPRegressor's ONNX graph needs target_opset >= {_MIN_OPSET} "
            f"(CumSum); got {container.target_opset}."
        )
    graph = _Graph(scope, container, model.coefs_[0].dtype)
    x = operator.inputs[0].full_name
    if operator.inputs[0].type.__class__ is not _output_tensor_type(model):
        x = graph.cast(x, graph.dtype)  # as predict converts X to the model's dtype
    x = _encoded(graph, model, x)
    members = fitted_members(model)
    z = _layers(graph, model, x) if members == 1 else _member_outputs(graph, model, x)
    raw = _OUTPUT_TRANSFORMS[model.out_activation_](graph, z)
    n_levels = model._n_levels()
    if n_levels > 1:
        raw = _staircase(graph, raw, model.n_outputs_, n_levels)
    if members > 1:
        raw = _combined_members(graph, raw, members, model.n_outputs_ * n_levels)
    y = _in_user_units(graph, raw, model)
    graph.node(
        "Reshape",
        [y, graph.shape([-1, *_output_dims(model)])],
        out=operator.outputs[0].full_name,
    )


def register() -> None:
    """Register (again) the converter of PositiveMLPRegressor with skl2onnx.

    Importing :mod:`positive_mlp.onnx` calls it; calling it again replaces any
    converter registered for the class since.

    See Also
    --------
    skl2onnx.to_onnx : Converts a fitted model once the converter is registered.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skl2onnx import to_onnx
    >>> from positive_mlp import PositiveMLPRegressor
    >>> from positive_mlp.onnx import register
    >>> register()
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 2))
    >>> y = np.exp(X[:, 0])
    >>> model = PositiveMLPRegressor(hidden_layer_sizes=(4,), learning_rate_init=0.05,
    ...                              random_state=0).fit(X, y)
    >>> onx = to_onnx(model, X[:1])
    >>> session = ort.InferenceSession(onx.SerializeToString(),
    ...                                providers=["CPUExecutionProvider"])
    >>> (onnx_pred,) = session.run(None, {session.get_inputs()[0].name: X})
    >>> bool(np.allclose(onnx_pred[:, 0], model.predict(X), rtol=1e-6))
    True
    """
    update_registered_converter(
        PositiveMLPRegressor,
        _ALIAS,
        _calculate_output_shape,
        _convert,
        overwrite=True,
    )


register()
