"""Shrinking a failing case: simpler variants kept while the failure (its kind
and message signature) stays.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator

from positive_mlp import PositiveMLPRegressor

from .campaign import signature
from .options import Case
from .run import Outcome, malformed_parts
from .supervise import Supervisor

# Parameters a shrink step sets back to the estimator's default.
_SHRINK_TO_DEFAULT = (
    "loss",
    "output_threshold",
    "nonneg_weights",
    "monotonic_cst",
    "output_constraint",
    "target_scaling",
    "n_threads",
    "early_stopping",
    "warm_start",
    "alpha",
    "verbose",
    "nonneg_bias",
    "tol",
)
_DEFAULTS = PositiveMLPRegressor().get_params()


def _shrink_candidates(case: Case) -> Iterator[Case]:
    """Simpler variants of a case: fewer rows, features, outputs, layers, params."""

    def variant(edit: Callable[[Case], None]) -> Case:
        new = json.loads(json.dumps(case))
        edit(new)
        return new

    data, params = case["data"], case["params"]
    # the call an invalid case must be refused at stays (without it the case would
    # fail as "accepted invalid input" whatever the package does)
    invalid_at = case.get("expect_error_at", 0) if case.get("expect_error") else -1
    for i in range(len(case["calls"])):
        kept = i == invalid_at or malformed_parts(case["calls"][i])
        if len(case["calls"]) > 1 and not kept:
            yield variant(lambda c, i=i: _drop_call(c, i))
        n = case["calls"][i].get("n", data["n"])
        for smaller in sorted({n // 2, n - 1, (n * 3) // 4} - {n}):
            if smaller >= 1:
                yield variant(lambda c, i=i, m=smaller: c["calls"][i].update(n=m))
        for key in ("sample_weight", "val", "set_params"):
            if case["calls"][i].get(key):
                yield variant(lambda c, i=i, k=key: c["calls"][i].pop(k))
    if case.get("limit"):
        yield variant(lambda c: c.pop("limit"))
    yield from _shrink_data(case, variant)
    defaults = {key: _DEFAULTS[key] for key in _SHRINK_TO_DEFAULT}
    defaults["early_stopping"] = False  # simpler than 'auto', which may hold out rows
    for key in sorted(params):
        if key in defaults and params[key] != defaults[key]:
            yield variant(lambda c, k=key: c["params"].update({k: defaults[k]}))
        elif key not in defaults and key not in (
            "hidden_layer_sizes",
            "solver",
            "output_activation",
            "random_state",
        ):
            yield variant(lambda c, k=key: c["params"].pop(k))
    levels = params.get("quantile")
    if isinstance(levels, list) and len(levels) > 1:
        for j in range(len(levels)):
            yield variant(lambda c, j=j: c["params"]["quantile"].pop(j))
    hidden = params["hidden_layer_sizes"]
    for j in range(len(hidden)):
        yield variant(lambda c, j=j: c["params"]["hidden_layer_sizes"].pop(j))
        if isinstance(hidden[j], int) and hidden[j] > 1:
            yield variant(
                lambda c, j=j: c["params"]["hidden_layer_sizes"].__setitem__(
                    j, max(1, hidden[j] // 2)
                )
            )


def _drop_call(case: Case, i: int) -> None:
    case["calls"].pop(i)
    if case.get("expect_error_at", 0) > i:
        case["expect_error_at"] -= 1


def _shrink_sparse(
    case: Case, variant: Callable[[Callable[[Case], None]], Case]
) -> Iterator[Case]:
    """Dense inputs, then each sparse knob at its plain value."""
    spec = case["data"].get("sparse")
    if not spec:
        return
    if case.get("expect_error") != "malformed_csr":
        yield variant(lambda c: c["data"].pop("sparse"))
    plain = {
        "format": "csr_matrix",
        "index64": False,
        "density": 1.0,
        "zero_rows": 0.0,
        "explicit_zeros": 0.0,
        "duplicates": 0.0,
        "cancel": False,
        "unsorted": False,
        "compare_dense": False,
    }
    for key, value in plain.items():
        if spec.get(key) != value:
            yield variant(lambda c, k=key, v=value: c["data"]["sparse"].update({k: v}))


def _shrink_data(
    case: Case, variant: Callable[[Callable[[Case], None]], Case]
) -> Iterator[Case]:
    yield from _shrink_sparse(case, variant)
    data = case["data"]
    if data["n_outputs"] > 1:
        yield variant(lambda c: _set_outputs(c, 1))
    p = data["n_features"]
    for smaller in sorted({p // 2, p - 1} - {p}):
        if smaller >= 1:
            yield variant(lambda c, m=smaller: _set_features(c, m))
    plain = {
        "view": None,
        "readonly": False,
        "container": "numpy",
        "order": "C",
        "const_cols": [],
        "col_log10_scales": {},
        "x_offset": 0.0,
        "x_log10_scale": 0.0,
        "y_zero_share": 0.0,
        "y_dtype": None,
        "y_extreme": None,
    }
    for key, value in plain.items():
        if data.get(key) != value:
            yield variant(lambda c, k=key, v=value: c["data"].update({k: v}))


def _set_outputs(case: Case, k: int) -> None:
    data, params = case["data"], case["params"]
    data["n_outputs"] = k
    data["y_log10_scale"] = data["y_log10_scale"][:k]
    for key in ("output_threshold", "target_scaling"):
        if isinstance(params.get(key), list):
            params[key] = params[key][:k]


def _set_features(case: Case, p: int) -> None:
    data, params = case["data"], case["params"]
    data["n_features"] = p
    data["const_cols"] = [c for c in data["const_cols"] if c < p]
    data["col_log10_scales"] = {
        c: e for c, e in data["col_log10_scales"].items() if int(c) < p
    }
    if params.get("monotonic_cst") is not None:
        params["monotonic_cst"] = params["monotonic_cst"][:p]


def shrink(case: Case, timeout: float, rounds: int = 200) -> tuple[Case, Outcome]:
    """Greedy simplification keeping the failure's kind and message signature."""
    pool = Supervisor(timeout)
    try:

        def run(c: Case) -> Outcome:
            pool.submit(0, c)
            return pool.receive()

        target = run(case)
        if not target.failed:
            return case, target
        key = (target.status, signature(target.message))
        improved, tries = True, 0
        while improved and tries < rounds:
            improved = False
            for candidate in _shrink_candidates(case):
                tries += 1
                outcome = run(candidate)
                if outcome.status == "crash" and pool.proc.poll() is not None:
                    pool.close()
                    pool = Supervisor(timeout)
                if (outcome.status, signature(outcome.message)) == key:
                    case, target, improved = candidate, outcome, True
                    print(
                        f"shrunk ({tries} tries): {json.dumps(case)}", file=sys.stderr
                    )
                    break
                if tries >= rounds:
                    break
        return case, target
    finally:
        pool.close()
