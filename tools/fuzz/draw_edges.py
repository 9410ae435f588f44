"""The edge draws (neighbourhoods of inputs that once gave bare errors or
silent surprises) and the address-space limits, each from a random stream of its own.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .options import MAX_ROWS, Case, Json, make_valid_loss, pick

# The edge draws (draw_edges): each one's chance in the cases it can apply to.
EDGE_SHARES = {
    "quantile_container": 0.3,  # of the quantile cases
    "y_extreme": 0.03,
    "zero_weights_early_stopping": 0.025,  # of the cases that only fit
    "explicit_val": 0.25,  # of the cases with early_stopping=True and no L-BFGS
    "sparse_fault": 0.015,
}

# A list of levels in these containers is valid; a level, in the first two and as
# a 0-d array or a float32 scalar. Sets and dicts are refused.
_LEVEL_CONTAINERS = {"tuple": 2, "ndarray": 2, "float32": 1, "set": 1, "dict": 1}

# Targets far from 1 (log10): below and above what float32 holds (for float32 X),
# denormal and near the largest float64 (for float64 X).
_EXTREME_EXPONENTS = {
    "float32": {-46: 1, -45: 1, -40: 1, -38: 1, 37: 1, 38: 1, 38.5: 1, 39: 1},
    "float64": {-320: 1, -310: 1, -300: 1, 300: 1, 307: 1, 308: 1},
}

_SPARSE_FAULTS = ("X_1d", "predict_1d", "X_val_1d", "y", "y_val")

_LIMIT_SHARE = 0.04  # cases whose calls run under an address-space limit

# MiB of address space beyond what the process holds: none (NumPy's first array
# fails), room for the core's buffers but no second thread (128 MiB each), a few.
_HEADROOM_MIB = {0: 1, 1: 1, 4: 1, 16: 1.5, 64: 1.5, 256: 1, 1024: 1}


def draw_edges(seed: int, index: int, case: Case) -> None:
    """The neighbourhoods of inputs that once gave bare errors or silent surprises
    (issue 22), each from a random stream of its own (one edge's draws never shift
    another's, nor any other draw); ``case["edges"]`` lists those drawn."""
    drawers: dict[str, Callable[[random.Random, Case], bool]] = {
        "quantile_container": _edge_quantile_container,
        "y_extreme": _edge_extreme_targets,
        "zero_weights_early_stopping": _edge_zero_weights,
        "explicit_val": _edge_explicit_val,
        "sparse_fault": _edge_sparse_fault,
    }
    for name, draw in drawers.items():
        r = random.Random(f"positive-mlp-fuzz-edge-{name}:{seed}:{index}")
        if r.random() < EDGE_SHARES[name] and draw(r, case):
            case.setdefault("edges", []).append(name)


def _edge_quantile_container(r: random.Random, case: Case) -> bool:
    """The levels of a quantile case in another container (a set or a dict: the
    case must be refused)."""
    params = case["params"]
    if params.get("loss") != "quantile" or case.get("expect_error"):
        return False
    one_level = not isinstance(params["quantile"], list)
    containers = {
        k: w for k, w in _LEVEL_CONTAINERS.items() if one_level or k != "float32"
    }
    container = params["quantile_container"] = pick(r, containers)
    if container in ("set", "dict"):
        case["expect_error"] = f"quantile_{container}"
    return True


def _edge_extreme_targets(r: random.Random, case: Case) -> bool:
    """A few targets (or all) at 10**e, e beyond what float32 holds for float32 X
    (y then in float64), denormal or near the largest float64 for float64 X; mostly
    with a deviance (those need y > 0 or y >= 0)."""
    data, params = case["data"], case["params"]
    if case.get("expect_error") or data["dtype"] == "int64":
        return False
    data["y_extreme"] = {
        "log10": pick(r, _EXTREME_EXPONENTS[data["dtype"]]),
        "rows": pick(r, {1: 3, 2: 1, 5: 1, "all": 1}),
    }
    if data["dtype"] == "float32" and r.random() < 0.8:
        data["y_dtype"] = "float64"
    if params["loss"] == "squared_error" and r.random() < 0.7:
        params["loss"] = pick(r, {"poisson": 1, "gamma": 1, "tweedie": 1})
        if params["loss"] == "tweedie":
            params["power"] = r.choice([1.5, 3.0])
        make_valid_loss(params, data["n_outputs"])
    return True


def _edge_zero_weights(r: random.Random, case: Case) -> bool:
    """Early stopping on rows most (or all) of zero weight, a held-out share from 0
    to 0.95, often few rows."""
    params, calls = case["params"], case["calls"]
    if case.get("expect_error") or any(c["op"] == "partial_fit" for c in calls):
        return False
    params["early_stopping"] = pick(r, {True: 3, "auto": 1})
    params["validation_fraction"] = pick(
        r, {0.0: 1, 0.1: 2, 0.3: 1, 0.5: 1, 0.9: 1, 0.95: 0.5}
    )
    params.setdefault("n_iter_no_change", r.randint(1, 10))
    calls[0]["sample_weight"] = {
        "zero_share": pick(r, {0.5: 1, 0.9: 2, 0.97: 1, 1.0: 0.4}),
        "log10_scale": 0.0,
        "integer": r.random() < 0.3,
    }
    if r.random() < 0.5:
        calls[0]["n"] = r.randint(1, 40)
    return True


def _edge_explicit_val(r: random.Random, case: Case) -> bool:
    """One fit's explicit validation set: 0 to 5 rows, constant y_val (warned
    about), sample_weight_val with zeros."""
    params, calls = case["params"], case["calls"]
    fits = [
        c
        for c in calls
        if c["op"] == "fit" and not (c.get("val") or {}).get("malformed")
    ]
    eligible = params["early_stopping"] is True and params["solver"] != "lbfgs"
    if case.get("expect_error") or not eligible or not fits:
        return False
    val: Json = {"n": pick(r, {0: 1, 1: 1, 2: 2, 3: 1, 5: 1})}
    if r.random() < 0.4:
        val["constant"] = True
    if r.random() < 0.4:
        val["sample_weight"] = {
            "zero_share": pick(r, {0.0: 1, 0.5: 2, 1.0: 1}),
            "log10_scale": 0.0,
        }
    r.choice(fits)["val"] = val
    return True


def _edge_sparse_fault(r: random.Random, case: Case) -> bool:
    """A 1-D sparse X (fit, predict or X_val), or a sparse y or y_val: refused."""
    params, calls = case["params"], case["calls"]
    if case.get("expect_error"):
        return False
    fits = [i for i, c in enumerate(calls) if c["op"] in ("fit", "partial_fit")]
    with_val = [i for i in fits if calls[i].get("val")]
    if not with_val and params["early_stopping"] is True and calls[0]["op"] == "fit":
        with_val = [0] if params["solver"] != "lbfgs" else []
    fault = pick(
        r,
        {
            f: 0 if f in ("X_val_1d", "y_val") and not with_val else 1
            for f in _SPARSE_FAULTS
        },
    )
    if fault == "predict_1d":
        calls.append({"op": "predict", "n": r.randint(1, 30), "sparse_fault": "X_1d"})
        at = len(calls) - 1
    else:
        at = r.choice(with_val if fault in ("X_val_1d", "y_val") else fits)
        calls[at]["sparse_fault"] = fault
        if fault in ("X_val_1d", "y_val"):
            calls[at].setdefault("val", {"n": 5})
    case["expect_error"] = f"sparse_{fault}"
    case["expect_error_at"] = at
    return True


def draw_limit(seed: int, index: int, case: Case) -> None:
    """An address-space limit for the case's calls (``limit``), in about 4% of the
    cases, half of them with 2 to 8 core threads (each needs 128 MiB), half with 8
    times the rows (up to 4000)."""
    r = random.Random(f"positive-mlp-fuzz-limit:{seed}:{index}")
    if r.random() >= _LIMIT_SHARE:
        return
    case["limit"] = {"address_space_mib": pick(r, _HEADROOM_MIB)}
    if r.random() < 0.5:
        case["params"]["n_threads"] = r.choice([2, 4, 8])
    if r.random() < 0.5:  # arrays beyond the free heap: new mappings, which may fail
        for part in [case["data"], *case["calls"]]:
            if part is case["data"] or part["op"] in ("fit", "partial_fit"):
                part["n"] = min(MAX_ROWS, 8 * part.get("n", case["data"]["n"]))
