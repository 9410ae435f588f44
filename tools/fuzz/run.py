"""Running one case in this process: its calls with the checks after each, the
outcome (an allowed, expected or unexpected error, a violation), unwanted warnings,
changes to the caller's sparse arrays, and the address-space limit of a call.
"""

from __future__ import annotations

import contextlib
import os
import re
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .calls import estimator_params, monotonic_setting, run_call
from .data import CallData, issparse, make_call_data
from .options import NEW_LOSS_SHARES, PACKAGE_DIR, Case, Json
from .properties import check_fitted, float_state_problems, score_problems
from .twins import (
    adam_without_second_moment,
    compare_with_twins,
    lbfgs_case,
    twin_calls,
)

FAILURE_KINDS = ("crash", "hang", "violation", "unexpected")

_UNWANTED_WARNINGS = (RuntimeWarning, FutureWarning, DeprecationWarning)

_NONFINITE_MESSAGE = re.compile(r"contains (NaN|infinity)", re.IGNORECASE)

# NumPy's words when something writes into a read-only array (the caller's input)
_READONLY_MESSAGE = re.compile(r"read-only|WRITEBACKIFCOPY", re.IGNORECASE)

_REFUSED_THREADS = re.compile(r"refused to start \d+ thread")


@dataclass
class Outcome:
    """What one case did. status: ok, rejected (allowed error), expected (an invalid
    case refused), crash, hang, violation or unexpected."""

    status: str
    message: str = ""
    detail: str = ""
    seconds: float = 0.0
    compared: int = 0  # fits compared with their dense twins (compare_dense)
    refused: int = 0  # calls on which the system refused to start core threads

    @property
    def failed(self) -> bool:
        return self.status in FAILURE_KINDS


class PropertyViolation(AssertionError):
    """A property of a returned fit failed (raised only in replays)."""


def classify_error(exc: BaseException, case: Case, finite: bool) -> Outcome:
    from positive_mlp import TrainingDivergedError

    message = f"{type(exc).__name__}: {exc}"
    expected = case.get("expect_error")
    if isinstance(exc, TrainingDivergedError):
        return Outcome("rejected", message)
    if isinstance(exc, MemoryError) and case.get("limit"):
        return _memory_outcome(exc, case)
    allowed: tuple[type[BaseException], ...] = (ValueError, TypeError)
    if expected == "partial_fit_lbfgs":
        allowed = (ValueError, TypeError, AttributeError)
    if expected == "malformed_csr":  # scipy may refuse it first, in its own way
        allowed = (Exception,)
    if not isinstance(exc, allowed):
        return Outcome("unexpected", message)
    if not str(exc).strip():
        return Outcome("unexpected", f"{type(exc).__name__} with an empty message")
    if finite and _NONFINITE_MESSAGE.search(str(exc)):
        return Outcome(
            "unexpected", f"non-finite values made inside the estimator: {message}"
        )
    if case["data"].get("readonly") and _READONLY_MESSAGE.search(str(exc)):
        return Outcome(
            "unexpected", f"wrote into the caller's read-only input: {message}"
        )
    return Outcome("expected" if expected else "rejected", message)


def _memory_outcome(exc: MemoryError, case: Case) -> Outcome:
    """Under an address-space limit a MemoryError that says what ran out is allowed;
    the core's bare std::bad_alloc (the package is to explain it) is not."""
    message = f"MemoryError: {exc}"
    if str(exc).strip() in ("", "std::bad_alloc"):
        return Outcome("unexpected", f"a bare MemoryError under a limit: {message!r}")
    return Outcome("expected" if case.get("expect_error") else "rejected", message)


def run_case(case: Case, reraise: bool = False) -> Outcome:
    """Runs every call of the case and checks the properties after each one.

    With ``reraise`` (replays), exceptions and violations propagate with tracebacks.
    """
    from positive_mlp import PositiveMLPRegressor

    params = estimator_params(case["params"])
    params["monotonic_cst"] = monotonic_setting(case)
    compare = (
        bool(case["data"].get("sparse", {}).get("compare_dense"))
        and case["data"]["dtype"] != "float32"
        and not lbfgs_case(case)
        and not adam_without_second_moment(case)
    )
    compared = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = PositiveMLPRegressor(**params)
        # compare_dense: the same calls on X densified, and on X densified with its
        # nonzero entries moved by one ulp, for as long as all of them return
        # The twins see dense X, which input_bins='auto' would encode and
        # input_scaling='auto' centre where sparse X is not: they take the sparse
        # fit's inputs as they are ('rms' scales both alike).
        scaling = params.get("input_scaling", "auto")
        dense_params = {
            **params,
            "input_bins": None,
            "input_scaling": None if scaling == "auto" else scaling,
        }
        twins = (
            [PositiveMLPRegressor(**dense_params) for _ in range(2)] if compare else []
        )
        for index, call in enumerate(case["calls"]):
            arrays = None
            snapshot: list[np.ndarray] = []
            try:
                est.set_params(**call.get("set_params", {}))
                arrays = make_call_data(case, index, est.get_params())
                snapshot = _sparse_snapshot(arrays)
                with address_space_limit(case.get("limit")):
                    result = run_call(est, call, arrays)
            except Exception as exc:
                changed = _sparse_changed(snapshot, arrays, call)
                problems = ([changed] if changed else []) + float_state_problems()
                if problems:
                    return _violation(
                        [f"after {type(exc).__name__}: {p}" for p in problems], reraise
                    )
                outcome = _outcome_of_error(exc, est, case, index, arrays, reraise)
                outcome.compared = compared
                return with_warnings(outcome, caught, case, reraise)
            violations = [_sparse_changed(snapshot, arrays, call)] if snapshot else []
            if malformed_parts(call):
                violations.append(
                    f"{call['op']} accepted a malformed CSR "
                    f"({', '.join(malformed_parts(call))})"
                )
            if any(violations):
                return _violation([v for v in violations if v], reraise)
            if _checks_score(case, call):
                violations = score_problems(est, arrays, result)
                if violations:
                    return _violation(violations, reraise)
            if call["op"] in ("predict", "score"):
                continue
            violations = check_fitted(est, case, arrays)
            if twins and not violations:
                twins = twin_calls(twins, call, arrays)
                if twins:
                    violations = compare_with_twins(est, *twins)
                    compared += 1
            if violations:
                return _violation(violations, reraise)
    if case.get("expect_error"):
        return _violation([f"accepted invalid input ({case['expect_error']})"], reraise)
    outcome = with_warnings(Outcome("ok"), caught, case, reraise)
    outcome.compared = compared
    return outcome


def _checks_score(case: Case, call: Json) -> bool:
    """Score calls of the Tweedie and quantile cases that must return are checked
    (the other score calls are malformed ones, which must raise)."""
    return (
        call["op"] == "score"
        and case["params"].get("loss") in NEW_LOSS_SHARES
        and not case.get("expect_error")
    )


def malformed_parts(call: Json) -> list[str]:
    parts = [f"X: {call['malformed']}"] if call.get("malformed") else []
    if (call.get("val") or {}).get("malformed"):
        parts.append(f"X_val: {call['val']['malformed']}")
    return parts


def _sparse_arrays(M: Any) -> list[np.ndarray]:
    return [
        getattr(M, name)
        for name in ("data", "indices", "indptr", "row", "col")
        if isinstance(getattr(M, name, None), np.ndarray)
    ]


def _sparse_snapshot(arrays: CallData) -> list[np.ndarray]:
    """Copies of the arrays of the call's sparse X and X_val."""
    return [
        a.copy()
        for M in (arrays.X, arrays.X_val)
        if issparse(M)
        for a in _sparse_arrays(M)
    ]


def _sparse_changed(
    snapshot: list[np.ndarray], arrays: CallData | None, call: Json
) -> str:
    """What the call changed in the caller's sparse X or X_val ('' if nothing)."""
    if not snapshot or arrays is None:
        return ""
    now = [
        a for M in (arrays.X, arrays.X_val) if issparse(M) for a in _sparse_arrays(M)
    ]
    same = len(now) == len(snapshot) and all(
        a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        for a, b in zip(now, snapshot)
    )
    return "" if same else f"{call['op']} modified the caller's sparse X or X_val"


def _outcome_of_error(
    exc: Exception,
    est: Any,
    case: Case,
    index: int,
    arrays: CallData | None,
    reraise: bool,
) -> Outcome:
    from positive_mlp import TrainingDivergedError

    outcome = classify_error(exc, case, arrays is None or arrays.finite)
    if isinstance(exc, TrainingDivergedError) and arrays is not None:
        invalid_seen = index >= case.get("expect_error_at", 0)
        outcome = _after_divergence(est, case, arrays, outcome, invalid_seen, reraise)
    if reraise and outcome.failed:
        raise exc
    outcome.detail = outcome.detail or traceback.format_exc()
    return outcome


def _after_divergence(
    est: Any,
    case: Case,
    arrays: CallData,
    outcome: Outcome,
    invalid_seen: bool,
    reraise: bool,
) -> Outcome:
    """TrainingDivergedError keeps the last good weights: check them too."""
    if case.get("expect_error") and invalid_seen:
        message = (
            f"accepted invalid input ({case['expect_error']}), then {outcome.message}"
        )
        return _violation([message], reraise)
    if case.get("expect_error"):
        outcome.status = "expected"  # the invalid call was never reached
    if est is None or not hasattr(est, "coefs_"):
        return outcome
    violations = check_fitted(est, case, arrays)
    if violations:
        return _violation(
            [f"after {outcome.message.splitlines()[0]}:", *violations], reraise
        )
    return outcome


def _violation(messages: list[str], reraise: bool) -> Outcome:
    if reraise:
        raise PropertyViolation("\n".join(messages))
    return Outcome("violation", "; ".join(messages[:6]))


def with_warnings(
    outcome: Outcome, caught: list[warnings.WarningMessage], case: Case, reraise: bool
) -> Outcome:
    outcome.refused = sum(bool(_REFUSED_THREADS.search(str(w.message))) for w in caught)
    bad = [w for w in caught if _unwanted(w, case)]
    if not bad or outcome.status != "ok":  # warnings on the way to an error are fine
        return outcome
    w = bad[0]
    message = (
        f"unexpected warning {w.category.__name__}: {w.message} "
        f"({Path(w.filename).name}:{w.lineno})"
    )
    return _violation([message], reraise)


def _unwanted(w: warnings.WarningMessage, case: Case) -> bool:
    """A RuntimeWarning, FutureWarning or DeprecationWarning of the package's (under
    an address-space limit, the core's word that threads were refused is fine)."""
    if not issubclass(w.category, _UNWANTED_WARNINGS):
        return False
    if Path(w.filename).resolve().parent == PACKAGE_DIR:  # the fuzzer's own
        return False
    return not (case.get("limit") and _REFUSED_THREADS.search(str(w.message)))


@contextlib.contextmanager
def address_space_limit(limit: Json | None) -> Iterator[None]:
    """The soft RLIMIT_AS at the address space in use plus the limit's headroom, for
    the duration of the block; then the soft limit it was (a soft limit may be
    raised back up to the hard one: the process goes on without the limit). Not
    under AddressSanitizer, which ends the process when its own mappings are refused
    (the limit would test ASan, not the package)."""
    under_asan = "libasan" in os.environ.get("LD_PRELOAD", "")
    if not limit or under_asan or not os.path.exists("/proc/self/status"):
        yield
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = _address_space_in_use() + (limit["address_space_mib"] << 20)
    for bound in (soft, hard):
        if bound != resource.RLIM_INFINITY:
            wanted = min(wanted, bound)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space_in_use() -> int:
    """VmSize of this process, in bytes."""
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize"))
    return kib << 10
