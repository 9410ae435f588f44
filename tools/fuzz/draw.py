"""Drawing a case from ``(seed, index)``: the data recipe, the estimator
parameters and the calls, cases made invalid, sparse inputs (their own stream), then
the later streams (``draw_losses``, ``draw_edges``) and the cap on each case's work.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np

from positive_mlp._settings import _AUTO_MEMBERS  # the most members 'auto' gives
from positive_mlp._solvers import SCHEDULES

from .draw_edges import draw_edges, draw_limit
from .draw_losses import draw_new_loss
from .options import (
    ACTIVATION_ORDER,
    BOUNDED,
    LOSS_WEIGHTS,
    MAX_ROWS,
    OUTPUT_CONSTRAINT_WEIGHTS,
    OUTPUT_TRANSFORM_WEIGHTS,
    SOLVER_ORDER,
    STOCHASTIC,
    WEIGHT_METHOD_ORDER,
    Case,
    Json,
    constrained_layers,
    log_uniform,
    make_valid_loss,
    n_levels,
    pick,
    positive_predictions,
    thresholds,
)

# Work budget per case (rows x parameters x passes): keeps a case well under a second.
_WORK_BUDGET = 1.5e9

_MAX_STEPS = 20000  # mini-batch steps per case

_SPARSE_SHARE = 0.3  # cases whose X is scipy.sparse

_SPARSE_FORMATS = {
    "csr_matrix": 4,
    "csr_array": 3,
    "csc_matrix": 1.5,
    "coo_matrix": 1.5,
}

MALFORMED_MODES = (
    "index_past_end",
    "index_huge",
    "index_negative",
    "indptr_decreasing",
    "indptr_negative",
    "indptr_long",
    "indptr_short",
    "indptr_start",
    "indptr_end",
    "indices_short",
)

_INVALID_MODES = (
    "hidden_float",
    "hidden_zero",
    "threshold_nan",
    "threshold_length",
    "scaling_bad",
    "nonneg_index",
    "monotonic_length",
    "monotonic_value",
    "loss_identity",
    "loss_negative_threshold",
    "relu_zero_threshold",
    "y_below",
    "gamma_zero",
    "poisson_negative",
    "x_nan",
    "x_inf",
    "weight_negative",
    "weight_length",
    "val_without_early_stopping",
    "val_lbfgs",
    "val_features",
    "partial_fit_lbfgs",
    "partial_fit_features",
    "warm_start_features",
    "predict_features",
)


# The stochastic solvers in SOLVER_ORDER's order (sgd, adam): the invalid-input draws
# pick from these.
_STOCHASTIC_BY_ORDER = tuple(name for name in SOLVER_ORDER if name in STOCHASTIC)


def _draw_batch_and_rows(r: random.Random) -> tuple[Any, int]:
    """batch_size setting and row count, biased to a short last mini-batch."""
    batch: Any = "auto" if r.random() < 0.35 else int(log_uniform(r, 1, 400))
    effective = 200 if batch == "auto" else batch
    u = r.random()
    if u < 0.5 and effective > 1:
        k = r.randint(1, 5)
        n = k * effective + r.randint(1, effective - 1)
    elif u < 0.75:
        n = r.choice([1, 2, 3, 5, 7, 11, 13, r.randint(1, 40)])
    else:
        n = int(log_uniform(r, 1, MAX_ROWS)) | 1  # odd
    n = min(n, MAX_ROWS)
    if batch != "auto" and r.random() < 0.08:
        batch = n + r.randint(1, 10)  # larger than the data: clipped with a warning
    return batch, n


def _draw_hidden(r: random.Random) -> list[int]:
    if r.random() < 0.05:
        return []

    def width() -> int:
        return r.randint(16, 64) if r.random() < 0.5 else int(log_uniform(r, 1, 64))

    return [width() for _ in range(r.choice([1, 1, 2, 2, 3]))]


def _draw_threshold(r: random.Random, n_outputs: int) -> Any:
    def one() -> float:
        return pick(
            r,
            {
                0.0: 3,
                r.choice([1e-3, 0.5, 3.0, 1e3, 0.1]): 2,
                r.choice([-1.0, -0.5, -1e3]): 1,
            },
        )

    kind = pick(r, {"zero": 5, "scalar": 3, "array": 2})
    if kind == "zero":
        return 0.0
    return one() if kind == "scalar" else [one() for _ in range(n_outputs)]


def _loss_settings_valid(params: Json, n_outputs: int) -> bool:
    """The README's rule: Poisson, Gamma and Tweedie with power >= 1 need a bounding
    output activation with thresholds >= 0 (> 0 for 'relu')."""
    if not positive_predictions(params):
        return True
    threshold = thresholds(params["output_threshold"], n_outputs)
    activation = params["output_activation"]
    return activation in BOUNDED and bool(
        np.all(threshold > 0 if activation == "relu" else threshold >= 0)
    )


def _draw_nonneg(r: random.Random, n_layers: int) -> Any:
    kind = pick(r, {None: 5, "all": 1, "output": 1, "hidden": 1, "list": 2})
    if kind != "list":
        return kind
    indices = [i if r.random() < 0.5 else i - n_layers for i in range(n_layers)]
    return r.sample(indices, r.randint(1, n_layers))


def _draw_monotonic(r: random.Random, n_features: int) -> list[int] | None:
    if r.random() < 0.75:
        return None
    return [pick(r, {0: 3, 1: 2, -1: 2}) for _ in range(n_features)]


def _draw_target_scaling(r: random.Random, n_outputs: int) -> Any:
    kind = pick(
        r, {"auto": 4, "std": 1.5, "mean": 1.5, "rms": 1.5, None: 1, "array": 0.5}
    )
    if kind == "array":
        return [log_uniform(r, 1e-3, 1e3) for _ in range(n_outputs)]
    return kind


def _draw_solver_params(r: random.Random, params: Json) -> None:
    params["solver"] = r.choice(SOLVER_ORDER)
    params["learning_rate_init"] = log_uniform(r, 1e-4, 1.0)
    if params["solver"] == "sgd":
        params["learning_rate"] = r.choice(["constant", "invscaling", "adaptive"])
        params["momentum"] = r.choice([0.0, 0.5, 0.9, 1.0])
        params["nesterovs_momentum"] = r.random() < 0.7
        params["power_t"] = r.choice([0.0, 0.25, 0.5, 1.0])
    if params["solver"] == "adam" and r.random() < 0.2:
        params["beta_1"] = r.choice([0.0, 0.5, 0.99])
        params["beta_2"] = r.choice([0.0, 0.9, 0.9999])
        params["epsilon"] = r.choice([1e-12, 1e-8, 1e-2])
    if params["solver"] == "lbfgs" and r.random() < 0.15:
        params["max_fun"] = r.randint(1, 50)


def _draw_params(
    r: random.Random, batch: Any, n: int, n_features: int, n_outputs: int
) -> Json:
    hidden = _draw_hidden(r)
    params: Json = {
        "loss": pick(r, LOSS_WEIGHTS),
        "hidden_layer_sizes": hidden,
        "activation": r.choice(ACTIVATION_ORDER),
        "output_activation": pick(r, OUTPUT_TRANSFORM_WEIGHTS),
        "output_threshold": _draw_threshold(r, n_outputs),
        "nonneg_weights": _draw_nonneg(r, len(hidden) + 1),
        "nonneg_bias": r.random() < 0.25,
        "nonneg_method": r.choice(WEIGHT_METHOD_ORDER),
        "monotonic_cst": _draw_monotonic(r, n_features),
        "output_constraint": pick(r, OUTPUT_CONSTRAINT_WEIGHTS),
        "constraint_strength": log_uniform(r, 1e-2, 1e2),
        "target_scaling": _draw_target_scaling(r, n_outputs),
        "n_threads": pick(r, {None: 3.5, 1: 1.5, 2: 3, r.randint(3, 8): 2}),
        "batch_size": batch,
        "max_iter": r.randint(1, 20),
        "alpha": 0.0 if r.random() < 0.2 else log_uniform(r, 1e-6, 1.0),
        "shuffle": r.random() < 0.8,
        "random_state": r.randrange(2**31),
        "warm_start": r.random() < 0.25,
        # True, or else the default 'auto' (on from about 300 rows: rarely here) or
        # False
        "early_stopping": r.random() < (0.25 if n >= 20 else 0.05)
        or r.choice(["auto", False]),
        "tol": r.choice([1e-4, 1e-4, 0.0, 1e-2]),
        "verbose": r.random() < 0.03,
    }
    _draw_solver_params(r, params)
    if params["early_stopping"] is True:
        params["validation_fraction"] = r.choice([0.1, 0.1, r.uniform(0.05, 0.5)])
        params["n_iter_no_change"] = r.randint(1, 10)
    if params["output_constraint"] and r.random() < 0.7:
        params["output_activation"] = "identity"
        params["loss"] = "squared_error"
    if r.random() < 0.9:
        make_valid_loss(params, n_outputs)
    elif not _loss_settings_valid(params, n_outputs):
        params["expect_error"] = "loss_settings"
    _avoid_monotonic_conflict(r, params)
    return params


def _avoid_monotonic_conflict(r: random.Random, params: Json) -> None:
    """-1 on a feature whose first-layer weights are kept >= 0 is an error: mostly
    turn it into +1, sometimes keep it (then the case expects that error)."""
    cst = params["monotonic_cst"]
    layers = constrained_layers(
        params["nonneg_weights"], len(params["hidden_layer_sizes"]) + 1
    )
    if cst is None or 0 not in layers or -1 not in cst:
        return
    if r.random() < 0.8:
        params["monotonic_cst"] = [abs(c) for c in cst]
    else:
        params["expect_error"] = "monotonic_conflict"


def _draw_data(
    r: random.Random, n: int, n_features: int, n_outputs: int, dtype: str
) -> Json:
    tiny, huge = (
        ((-300, -200), (100, 150)) if dtype == "float64" else ((-37, -30), (25, 33))
    )

    def y_scale() -> float:
        band = pick(r, {(-2, 3): 6, (-8, 8): 2, tiny: 1, huge: 1})
        return round(r.uniform(*band), 2)

    columns = r.sample(range(n_features), min(n_features, r.randint(0, 4)))
    col_scales = {
        str(c): pick(r, {round(r.uniform(-5, 5), 1): 8, 30: 1, -30: 1}) for c in columns
    }
    if dtype == "int64":
        col_scales = {c: min(e, 5) for c, e in col_scales.items()}
    return {
        "seed": r.randrange(2**31),
        "n": n,
        "n_features": n_features,
        "n_outputs": n_outputs,
        "y_1d": r.random() < 0.85,
        "dtype": dtype,
        "y_dtype": "float64" if dtype == "float32" and r.random() < 0.1 else None,
        "order": r.choice(["C", "F"]),
        "view": pick(r, {None: 6, "rows": 2, "cols": 2}),
        "readonly": r.random() < 0.2,
        "container": pick(r, {"numpy": 17, "pandas": 2, "list": 1}),
        "x_log10_scale": round(pick(r, {0.0: 5, r.uniform(-3, 3): 3}), 2),
        "x_offset": pick(r, {0.0: 6, 3.0: 1, -100.0: 1}),
        "col_log10_scales": col_scales,
        "const_cols": r.sample(
            range(n_features), min(n_features, pick(r, {0: 6, 1: 2, 2: 1}))
        ),
        "y_kind": r.choice(["softplus", "exp", "count", "gamma", "constant", "signed"]),
        "y_log10_scale": [y_scale() for _ in range(n_outputs)],
        "y_zero_share": pick(r, {0.0: 5, 0.1: 2, 0.5: 1, 0.95: 1}),
        "y_anchor": pick(r, {"threshold": 7, "zero": 3}),
        "inject": None,
    }


def _draw_weights(r: random.Random) -> Json | None:
    if r.random() < 0.65:
        return None
    return {
        "zero_share": pick(r, {0.0: 3, 0.3: 2, 0.9: 2, 1.0: 0.3}),
        "log10_scale": pick(r, {0.0: 6, r.uniform(-3, 3): 3, r.choice([-30, 30]): 1}),
        "integer": r.random() < 0.3,
    }


def _draw_calls(r: random.Random, params: Json, n: int) -> list[Json]:
    def fit(rows: int) -> Json:
        call: Json = {"op": "fit", "n": rows, "sample_weight": _draw_weights(r)}
        explicit = params["early_stopping"] is True and params["solver"] != "lbfgs"
        if explicit and r.random() < 0.5:
            call["val"] = {"n": r.choice([1, 2, 5, max(2, rows // 4)])}
        return call

    stochastic = params["solver"] != "lbfgs" and params["early_stopping"] is not True
    if stochastic and r.random() < 0.25:
        calls = [fit(n)] if r.random() < 0.3 else []
        return calls + [
            {
                "op": "partial_fit",
                "n": r.randint(1, n),
                "sample_weight": _draw_weights(r),
            }
            for _ in range(r.randint(2, 4))
        ]
    calls = [fit(n)]
    if params["warm_start"] or r.random() < 0.1:
        for _ in range(r.randint(1, 2)):
            call = fit(r.choice([n, max(1, n // 2), n + 1]))
            call["set_params"] = _draw_set_params(r, params)
            calls.append(call)
    return calls


def _draw_set_params(r: random.Random, params: Json) -> Json:
    choices: dict[str, Callable[[], Any]] = {
        "max_iter": lambda: r.randint(1, 10),
        "learning_rate_init": lambda: log_uniform(r, 1e-4, 1.0),
        "nonneg_method": lambda: r.choice(WEIGHT_METHOD_ORDER),
        "n_threads": lambda: r.choice([None, 1, 2, 4]),
        "shuffle": lambda: r.random() < 0.5,
        "alpha": lambda: log_uniform(r, 1e-6, 1.0),
        "batch_size": lambda: r.choice(["auto", 1, 7, 64]),
    }
    if params["early_stopping"] is not True:
        choices["solver"] = lambda: r.choice(SOLVER_ORDER)
    keys = r.sample(sorted(choices), r.randint(0, 2))
    return {key: choices[key]() for key in keys}


def _cap_work(case: Case) -> None:
    """Lower max_iter, then the row counts, so that each case stays quick."""
    params, data = case["params"], case["data"]
    outputs = data["n_outputs"] * n_levels(params)
    sizes = [data["n_features"], *params["hidden_layer_sizes"], outputs]
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    # members: M first and output layers, and M rows per sample through the
    # shared middle layers: M times the work of one network
    members = params.get("n_members", "auto")  # the estimator's default
    n_params *= _AUTO_MEMBERS if members == "auto" else members
    rounds = 30 if params["solver"] == "lbfgs" and params["output_constraint"] else 1
    rows = sum(call.get("n", data["n"]) for call in case["calls"])
    batch = params["batch_size"]
    batch = 200 if batch == "auto" else max(1, batch)
    while params["max_iter"] > 1 and (
        rows * n_params * params["max_iter"] * rounds * 3 > _WORK_BUDGET
        or math.ceil(rows / batch) * params["max_iter"] > _MAX_STEPS
    ):
        params["max_iter"] = max(1, params["max_iter"] // 2)
    factor = rows * n_params * params["max_iter"] * rounds * 3 / _WORK_BUDGET
    if factor > 1:
        for call in [data, *case["calls"]]:
            if "n" in call:
                call["n"] = max(1, int(call["n"] / factor))


def draw_case(seed: int, index: int) -> Case:
    """The case number ``index`` of the campaign with this seed."""
    r = random.Random(f"positive-mlp-fuzz:{seed}:{index}")
    batch, n = _draw_batch_and_rows(r)
    n_features = pick(
        r, {r.randint(1, 5): 5, r.randint(6, 30): 3, r.randint(31, 200): 2}
    )
    n_outputs = pick(r, {1: 6, r.randint(2, 4): 2.5, r.randint(5, 20): 1.5})
    params = _draw_params(r, batch, n, n_features, n_outputs)
    dtype = pick(r, {"float64": 6, "float32": 3.5, "int64": 0.5})
    case: Case = {
        "id": f"{seed}:{index}",
        "data": _draw_data(r, n, n_features, n_outputs, dtype),
        "params": params,
        "calls": _draw_calls(r, params, n),
    }
    expected = params.pop("expect_error", None)
    if expected:
        case["expect_error"] = expected
    elif r.random() < 0.12:
        _make_invalid(r, case, r.choice(_INVALID_MODES))
    # Sparse draws come from a stream of their own: the dense cases of a seed stay
    # the cases they were before sparse inputs were fuzzed.
    r_sparse = random.Random(f"positive-mlp-fuzz-sparse:{seed}:{index}")
    if r_sparse.random() < _SPARSE_SHARE:
        _make_sparse(r_sparse, case)
    draw_new_loss(seed, index, case)
    draw_edges(seed, index, case)
    draw_limit(seed, index, case)
    _draw_bins(seed, index, case)
    _draw_schedule(seed, index, case)
    _draw_members(seed, index, case)
    _draw_scaling(seed, index, case)
    _cap_work(case)
    return case


# input_bins: drawn in this share of the cases, from a stream of its own (the other
# draws of a case stay what they were); 'auto' encodes only from 4,000 rows.
_BINS_SHARE = 0.2
_BINS_CHOICES = {2: 1.0, 3: 1.0, 8: 2.0, 16: 1.0, 50: 0.5, "auto": 1.0, None: 1.0}


# learning_rate schedules of both stochastic solvers, from a stream of their own.
_SCHEDULE_SHARE = 0.15


# n_members (an in-model ensemble): drawn in this share of the cases, from a stream
# of its own.
_MEMBERS_SHARE = 0.25
_MEMBERS_CHOICES = {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 8: 1.0, "auto": 1.0}


# input_scaling: drawn in this share of the cases, from a stream of its own (the
# others keep the default 'auto', 'standard' for dense X).
_SCALING_SHARE = 0.25
_SCALING_CHOICES = {"auto": 1.0, "standard": 1.0, "rms": 1.0, None: 1.0}


def _draw_scaling(seed: int, index: int, case: Case) -> None:
    """``input_scaling`` for some cases; 'standard' with sparse X is a case that must
    be refused."""
    r = random.Random(f"positive-mlp-fuzz-scaling:{seed}:{index}")
    if r.random() >= _SCALING_SHARE:
        return
    scaling = pick(r, _SCALING_CHOICES)
    if case["data"].get("sparse") and scaling == "standard":
        if case.get("expect_error"):
            return
        case["expect_error"] = "standard_scaling_with_sparse_X"
    case["params"]["input_scaling"] = scaling


def _draw_members(seed: int, index: int, case: Case) -> None:
    """``n_members`` for some cases (1 as given explicitly too)."""
    r = random.Random(f"positive-mlp-fuzz-members:{seed}:{index}")
    if r.random() >= _MEMBERS_SHARE:
        return
    case["params"]["n_members"] = pick(r, _MEMBERS_CHOICES)


def _draw_schedule(seed: int, index: int, case: Case) -> None:
    """A learning_rate schedule (every one of the package's) for some 'sgd' and
    'adam' cases."""
    r = random.Random(f"positive-mlp-fuzz-schedule:{seed}:{index}")
    params = case["params"]
    if r.random() >= _SCHEDULE_SHARE or params.get("solver") not in STOCHASTIC:
        return
    params["learning_rate"] = r.choice(sorted(SCHEDULES))


def _draw_bins(seed: int, index: int, case: Case) -> None:
    """``input_bins`` for some cases; an explicit count with sparse X is a case that
    must be refused."""
    r = random.Random(f"positive-mlp-fuzz-bins:{seed}:{index}")
    if r.random() >= _BINS_SHARE:
        return
    bins = pick(r, _BINS_CHOICES)
    if case["data"].get("sparse") and isinstance(bins, int):
        if case.get("expect_error"):
            return
        case["expect_error"] = "bins_with_sparse_X"
    case["params"]["input_bins"] = bins


def _make_sparse(r: random.Random, case: Case) -> None:
    """X, X_val and the predict inputs of the case as scipy.sparse (``data.sparse``):
    the case's dense X with entries dropped (density, all-zero rows), stored values
    split into duplicate entries (halves, or v - c and c), explicit stored zeros,
    indices unsorted within rows, 64-bit indices; sometimes a malformed CSR call."""
    data = case["data"]
    data["sparse"] = {
        "format": pick(r, _SPARSE_FORMATS),
        "index64": r.random() < 0.4,
        "density": pick(r, {0.01: 1.5, 0.05: 1, 0.2: 2, 0.5: 2, 0.9: 1, 1.0: 1}),
        "zero_rows": pick(r, {0.0: 6, 0.2: 2, 0.7: 1, 1.0: 0.4}),
        "explicit_zeros": pick(r, {0.0: 5, 0.1: 2, 1.0: 0.7}),
        "duplicates": pick(r, {0.0: 5, 0.3: 2, 1.0: 1}),
        "cancel": r.random() < 0.3,
        "unsorted": r.random() < 0.35,
        "compare_dense": data["dtype"] != "float32" and r.random() < 0.35,
    }
    data.update(container="numpy", view=None, order="C")  # dense layouts only
    if not case.get("expect_error") and r.random() < 0.1:
        _make_malformed(r, case)


def _make_malformed(r: random.Random, case: Case) -> None:
    """One call's X (or X_val) becomes a CSR with a broken structure: the call must
    raise a Python exception (any), never crash or return."""
    data, calls = case["data"], case["calls"]
    data["sparse"]["format"] = r.choice(["csr_matrix", "csr_array"])
    mode = r.choice(MALFORMED_MODES)
    with_val = [i for i, call in enumerate(calls) if call.get("val")]
    where = pick(r, {"predict": 5, "score": 1, "fit": 2, "val": 8 if with_val else 0})
    if where == "val" and not with_val:
        where = "predict"
    if where == "val":
        at = r.choice(with_val)
        calls[at]["val"]["malformed"] = mode
    elif where in ("predict", "score"):
        calls.append({"op": where, "n": r.randint(1, 30), "malformed": mode})
        at = len(calls) - 1
    else:
        at = r.randrange(len(calls))
        calls[at]["malformed"] = mode
    case["expect_error"] = "malformed_csr"
    case["expect_error_at"] = at


def _make_invalid(r: random.Random, case: Case, mode: str) -> None:
    """Turns a valid case into one that must be refused (``mode`` says how)."""
    params, data, calls = case["params"], case["data"], case["calls"]
    first = calls[0]
    k = data["n_outputs"]
    bounded = params["output_activation"] in BOUNDED
    if mode == "hidden_float":
        params["hidden_layer_sizes"] = [r.randint(1, 20) + 0.5]
    elif mode == "hidden_zero":
        params["hidden_layer_sizes"] = r.choice([[0], [4, 0], [-3]])
    elif mode == "threshold_nan":
        params["output_threshold"] = r.choice([float("nan"), float("inf")])
    elif mode == "threshold_length":
        params["output_threshold"] = [0.0] * (k + 1)
    elif mode == "scaling_bad":
        params["target_scaling"] = r.choice(
            [[0.0] * k, [-1.0] * k, [1.0] * (k + 1), [float("nan")] * k]
        )
    elif mode == "nonneg_index":
        params["nonneg_weights"] = [len(params["hidden_layer_sizes"]) + 1]
        params["monotonic_cst"] = None
    elif mode == "monotonic_length":
        params["monotonic_cst"] = [1] * (data["n_features"] + 1)
    elif mode == "monotonic_value":
        params["monotonic_cst"] = [2] * data["n_features"]
    elif mode == "loss_identity":
        params.update(loss=r.choice(["poisson", "gamma"]), output_activation="identity")
    elif mode == "loss_negative_threshold":
        params.update(
            loss=r.choice(["poisson", "gamma"]),
            output_threshold=-1.0,
            output_activation=r.choice(BOUNDED),
        )
    elif mode == "relu_zero_threshold":
        params.update(
            loss=r.choice(["poisson", "gamma"]),
            output_threshold=0.0,
            output_activation="relu",
        )
    elif mode in ("y_below", "gamma_zero", "poisson_negative"):
        data["inject"] = mode
        if mode == "y_below" and not bounded:
            params["output_activation"] = "softplus"
        if mode != "y_below":
            params.update(
                loss="gamma" if mode == "gamma_zero" else "poisson",
                output_threshold=0.0,
                output_activation="softplus",
            )
    elif mode in ("x_nan", "x_inf"):
        data["inject"] = mode
    elif mode == "weight_negative":
        first["sample_weight"] = {
            "zero_share": 0.0,
            "log10_scale": 0.0,
            "negative": True,
        }
    elif mode == "weight_length":
        first["sample_weight"] = {
            "zero_share": 0.0,
            "log10_scale": 0.0,
            "length_delta": 1,
        }
    elif mode == "val_without_early_stopping":
        params["early_stopping"] = False
        first.update(op="fit", val={"n": 5})
    elif mode == "val_lbfgs":
        params.update(early_stopping=True, solver="lbfgs")
        first.update(op="fit", val={"n": 5})
    elif mode == "val_features":
        params.update(early_stopping=True, solver=r.choice(_STOCHASTIC_BY_ORDER))
        first.update(op="fit", val={"n": 5, "n_features": data["n_features"] + 1})
    elif mode == "partial_fit_lbfgs":
        params.update(solver="lbfgs")
        case["calls"] = [{"op": "partial_fit", "n": data["n"]}]
    elif mode == "partial_fit_features":
        params.update(solver=r.choice(_STOCHASTIC_BY_ORDER), early_stopping=False)
        case["calls"] = [
            {"op": "partial_fit", "n": data["n"]},
            {"op": "partial_fit", "n": data["n"], "n_features": data["n_features"] + 1},
        ]
    elif mode == "warm_start_features":
        params.update(warm_start=True)
        case["calls"] = [
            {"op": "fit", "n": data["n"]},
            {"op": "fit", "n": data["n"], "n_features": data["n_features"] + 1},
        ]
    elif mode == "predict_features":
        case["calls"] = [
            {"op": "fit", "n": data["n"]},
            {"op": "predict", "n": 3, "n_features": data["n_features"] + 1},
        ]
    if mode.endswith("_features"):
        params["monotonic_cst"] = None
    if mode in ("x_nan", "x_inf") and data["dtype"] == "int64":
        data["dtype"] = "float64"  # NaN has no integer form
    if mode in ("partial_fit_features", "warm_start_features", "predict_features"):
        case["expect_error_at"] = 1  # the call that must be refused
    case["expect_error"] = mode
