"""loss='tweedie' and loss='quantile', drawn from a random stream of their own
after every other draw (the other cases of a seed stay as they were): the settings
made to suit the loss or made invalid, later fits' powers and levels, score calls.
"""

from __future__ import annotations

import random
from typing import Any

from .options import (
    BOUNDED,
    NEW_LOSS_SHARES,
    STOCHASTIC,
    Case,
    Json,
    make_valid_loss,
    pick,
    positive_predictions,
)

_TWEEDIE_POWERS = {
    0.0: 1,
    1.0: 1,
    1.0001: 1,
    1.2: 1,
    1.5: 2,
    1.9: 1,
    1.9999: 1,
    2.0: 1,
    2.5: 1,
    3.0: 1,
    5.0: 0.7,
}

_BAD_POWERS = (0.5, -1.0, 0.999, 1e-9, -0.5)
# The powers whose loss is a deviance (predictions > 0), as the package says.
_DEVIANCE_POWERS = {
    p: w
    for p, w in _TWEEDIE_POWERS.items()
    if positive_predictions({"loss": "tweedie", "power": p})
}

# Levels near 0 and 1 and pairs of levels close together, with common ones.
_QUANTILE_LEVELS = {
    1e-3: 1,
    0.01: 1,
    0.05: 1.5,
    0.1: 1.5,
    0.25: 1.5,
    0.5: 2,
    0.5000001: 0.3,
    0.75: 1.5,
    0.9: 1.5,
    0.95: 1.5,
    0.99: 1,
    0.999: 1,
}

_TWEEDIE_INVALID_MODES = (
    "tweedie_power",
    "tweedie_identity",
    "tweedie_negative_threshold",
    "tweedie_relu_zero_threshold",
    "tweedie_domain",
)

_QUANTILE_INVALID_MODES = (
    "quantile_unsorted",
    "quantile_duplicate",
    "quantile_range",
    "quantile_empty",
    "quantile_lbfgs",
    "quantile_identity",
    "quantile_constraint",
)

# Invalid cases of the other draws that stay invalid, for the same reason, whatever
# loss the case gets (those about the loss, the threshold or L-BFGS do not).
_LOSS_NEUTRAL_INVALID = {
    "hidden_float",
    "hidden_zero",
    "nonneg_index",
    "monotonic_length",
    "monotonic_value",
    "monotonic_conflict",
    "scaling_bad",
    "y_below",
    "x_nan",
    "x_inf",
    "weight_negative",
    "weight_length",
    "val_without_early_stopping",
    "val_features",
    "partial_fit_features",
    "warm_start_features",
    "predict_features",
    "malformed_csr",
}


def draw_new_loss(seed: int, index: int, case: Case) -> None:
    """loss='tweedie' (with ``power``) or loss='quantile' (with ``quantile``) for
    about 13% of the cases each, from a random stream of their own drawn after every
    other draw: the other cases of a seed stay exactly as they were. The case's
    settings are made to suit the loss (targets follow the loss when the arrays are
    built), or, in about one case in ten that was valid, made invalid in a way the
    loss forbids (``expect_error``)."""
    r = random.Random(f"positive-mlp-fuzz-loss:{seed}:{index}")
    u, shares = r.random(), NEW_LOSS_SHARES
    loss = (
        "tweedie"
        if u < shares["tweedie"]
        else "quantile"
        if u < shares["tweedie"] + shares["quantile"]
        else None
    )
    expected = case.get("expect_error")
    if loss is None or (expected and expected not in _LOSS_NEUTRAL_INVALID):
        return
    invalid = not expected and r.random() < 0.1
    if loss == "tweedie":
        _make_tweedie(r, case, invalid)
    else:
        _make_quantile(r, case, invalid)
    weights = case["calls"][0].get("sample_weight")
    if invalid and weights:
        weights.update(zero_share=0.0, integer=False)  # all-zero ones: refused first
    if not case.get("expect_error") and r.random() < 0.3:
        _add_score_call(r, case)


def _add_score_call(r: random.Random, case: Case) -> None:
    """A last call score(X, y, sample_weight) on fresh rows, weights often with
    zeros (all of them sometimes); in a quarter of them an invalid y (a NaN, twice
    the rows) or a weight too many, which must be refused."""
    call: Json = {"op": "score", "n": r.choice([1, 2, 5, case["data"]["n"]])}
    if r.random() < 0.6:
        call["sample_weight"] = {
            "zero_share": pick(r, {0.0: 3, 0.5: 2, 1.0: 1}),
            "log10_scale": pick(r, {0.0: 3, r.uniform(-3, 3): 1}),
            "integer": r.random() < 0.3,
        }
    case["calls"].append(call)
    if r.random() < 0.25:
        mode = r.choice(["score_y_nan", "score_y_rows", "score_weight_length"])
        if mode == "score_weight_length":
            call["sample_weight"] = {
                "zero_share": 0.0,
                "log10_scale": 0.0,
                "length_delta": 1,
            }
        else:
            call["y_fault"] = "nan" if mode == "score_y_nan" else "double"
        case["expect_error"] = mode
        case["expect_error_at"] = len(case["calls"]) - 1


def _make_tweedie(r: random.Random, case: Case, invalid: bool) -> None:
    params, k = case["params"], case["data"]["n_outputs"]
    params.update(loss="tweedie", power=pick(r, _TWEEDIE_POWERS))
    if params["power"] != 0 and params["output_activation"] == "identity":
        params["output_activation"] = r.choice(BOUNDED)
    if r.random() < 0.4:  # targets with exact zeros and a skewed positive part
        case["data"]["y_kind"] = r.choice(["compound", "count", "gamma"])
        case["data"]["y_zero_share"] = pick(r, {0.0: 1, 0.3: 1, 0.8: 0.5})
    make_valid_loss(params, k)
    _draw_power_changes(r, case)
    if not invalid:
        return
    mode = r.choice(_TWEEDIE_INVALID_MODES)
    power = params["power"] = (
        r.choice(_BAD_POWERS) if mode == "tweedie_power" else pick(r, _DEVIANCE_POWERS)
    )
    if mode == "tweedie_identity":
        params["output_activation"] = "identity"
    elif mode == "tweedie_negative_threshold":
        params["output_activation"] = r.choice(BOUNDED)
        params["output_threshold"] = r.choice([-1.0, -1e-3, [-0.5] * k])
    elif mode == "tweedie_relu_zero_threshold":
        params.update(output_activation="relu", output_threshold=0.0)
    elif mode == "tweedie_domain":  # y = 0 for power >= 2, y = -1 below
        case["data"]["inject"] = "tweedie_zero" if power >= 2 else "tweedie_negative"
        params.update(
            output_threshold=0.0, output_activation=r.choice(["softplus", "exp"])
        )
    for call in case["calls"]:
        call.get("set_params", {}).pop("power", None)
    case["expect_error"] = mode


def _draw_power_changes(r: random.Random, case: Case) -> None:
    """Sometimes a later fit sets another power (>= 1 if the case's is: the settings
    suit those; targets follow the power at each call)."""
    if case["params"]["power"] == 0:
        return
    for call in case["calls"][1:]:
        if call["op"] == "fit" and r.random() < 0.2:
            powers = _DEVIANCE_POWERS
            call.setdefault("set_params", {})["power"] = pick(r, powers)


def _draw_levels(r: random.Random) -> Any:
    """A level (float), or a strictly increasing list of 1 to 6 levels."""
    if r.random() < 0.35:
        return pick(r, {pick(r, _QUANTILE_LEVELS): 4, round(r.uniform(0, 1), 3): 1})
    size = pick(r, {1: 1, 2: 2, 3: 2, 4: 1, 5: 1, 6: 1})
    pool = [*sorted(_QUANTILE_LEVELS), round(r.uniform(0.001, 0.999), 3)]
    return sorted(set(r.sample(pool, size)))


def _valid_level(level: float) -> float:
    return level if 0 < level < 1 else 0.5


def _make_quantile(r: random.Random, case: Case, invalid: bool) -> None:
    params = case["params"]
    levels = _draw_levels(r)
    if isinstance(levels, float):
        levels = _valid_level(levels)
    params.update(loss="quantile", quantile=levels, output_constraint=None)
    if params["output_activation"] == "identity":
        params["output_activation"] = r.choice(BOUNDED)
    if params["solver"] == "lbfgs":
        params["solver"] = r.choice(STOCHASTIC)
        params.pop("max_fun", None)
    for call in case["calls"]:
        changes = call.get("set_params", {})
        if changes.get("solver") == "lbfgs":
            changes["solver"] = r.choice(STOCHASTIC)
        if call["op"] == "fit" and call is not case["calls"][0] and r.random() < 0.15:
            other = _draw_levels(r)  # the next fit predicts other levels
            if isinstance(other, float):
                other = _valid_level(other)
            call.setdefault("set_params", {})["quantile"] = other
    if invalid:
        _make_quantile_invalid(r, case, r.choice(_QUANTILE_INVALID_MODES))


def _make_quantile_invalid(r: random.Random, case: Case, mode: str) -> None:
    params = case["params"]
    levels = params["quantile"]
    many = levels if isinstance(levels, list) and len(levels) >= 2 else [0.2, 0.7]
    if mode == "quantile_unsorted":
        params["quantile"] = many[::-1] if r.random() < 0.5 else many[1:] + many[:1]
    elif mode == "quantile_duplicate":
        at = r.randrange(len(many))
        params["quantile"] = sorted([*many, many[at]])
    elif mode == "quantile_range":
        bad = r.choice([0.0, 1.0, -0.1, 1.5, 1e-320 * -1, 1.0 + 1e-12])
        params["quantile"] = bad if r.random() < 0.3 else sorted([*many, bad])
    elif mode == "quantile_empty":
        params["quantile"] = []
    elif mode == "quantile_lbfgs":
        params["solver"] = "lbfgs"
        params["early_stopping"] = False
        for call in case["calls"]:
            call.pop("val", None)
            if call["op"] == "partial_fit":
                call["op"] = "fit"  # lbfgs has no partial_fit (another error)
    elif mode == "quantile_identity":
        params["output_activation"] = "identity"
    elif mode == "quantile_constraint":
        params["output_constraint"] = r.choice(["penalty", "lagrangian"])
    for call in case["calls"]:
        call.get("set_params", {}).pop("quantile", None)
        call.get("set_params", {}).pop("solver", None)
    case["expect_error"] = mode
