"""The random fuzzer of tools/fuzz/ as tests.

* a short campaign with a fixed seed (every run draws the same cases);
* a long campaign behind the ``slow`` marker (``python -m pytest -m slow``);
* the cases of ``tests/fuzz_regressions.jsonl`` (one case JSON per line, each once a
  failure), which must all pass; ``"note"`` says what failed, and a case with an
  ``"xfail"`` field is an open bug (a strict xfail until it is fixed). Its
  ``"known_failure"`` (a regular expression, searched in a failure's message and
  its detail, where a crash's stack is) names the campaign failures that are this
  bug: the campaigns pass over those (and print them) while the bug is open. A
  ``"flaky": true`` case fails only in some processes (a memory limit's effect
  depends on the heap): it is skipped, and its pattern still names its failures.

Cases run in child processes (a crash or a hang fails the test instead of killing
pytest) and import the installed package. On a failure the message holds each
failing case; ``python tools/fuzz --replay '<case>'`` reruns one in-process.
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

# The fuzzer is a package in tools/, beside the tests (not installed).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import fuzz
from fuzz import draw, options

REGRESSIONS = Path(__file__).with_name("fuzz_regressions.jsonl")
# Supervisor processes; PMLP_FUZZ_WORKERS=1 on a shared or single-core machine.
WORKERS = int(os.environ.get("PMLP_FUZZ_WORKERS", "2"))


def _regression_cases() -> list[dict]:
    return fuzz.load_cases(str(REGRESSIONS)) if REGRESSIONS.exists() else []


def _known_failures() -> dict[str, re.Pattern]:
    """The open bugs' failure patterns, by regression id."""
    return {
        case["id"]: re.compile(case["known_failure"])
        for case in _regression_cases()
        if case.get("xfail") and case.get("known_failure")
    }


def _open_bugs(message: str, detail: str) -> list[str]:
    """The open bugs whose pattern a failure matches (detail: where a crash's stack
    is)."""
    text = f"{message}\n{detail}"
    return [bug for bug, pattern in _known_failures().items() if pattern.search(text)]


def _new_failures(summary) -> list[dict]:
    """The campaign's failures that no open bug accounts for (the others are
    printed, with the bug they belong to: ``pytest -rP`` shows them)."""
    new = []
    for failure in summary.failures:
        bugs = _open_bugs(failure["message"], failure["detail"])
        if bugs:
            print(
                f"fuzz case {failure['case']['id']}: open bug {bugs[0]}: "
                f"[{failure['kind']}] {failure['message'][:200]}"
            )
        else:
            new.append(failure)
    return new


def test_short_campaign():
    summary = fuzz.run_campaign(seed=2024, max_cases=300, workers=WORKERS)
    assert summary.cases == 300
    # the campaign reaches sparse inputs, malformed ones and the dense twins
    assert summary.sparse >= 50 and summary.malformed and summary.compared
    # and the Tweedie and quantile losses, valid and refused
    for loss in ("tweedie", "quantile"):
        statuses = {s: n for (name, s), n in summary.new_losses.items() if name == loss}
        assert sum(statuses.values()) >= 20 and statuses.get("ok")
        assert statuses.get("expected"), statuses
    assert not _new_failures(summary), fuzz.format_summary(summary)


@pytest.mark.slow
def test_long_campaign():
    summary = fuzz.run_campaign(seed=7, seconds=20 * 60, workers=WORKERS)
    assert not _new_failures(summary), fuzz.format_summary(summary)


@pytest.fixture(scope="module")
def regression_outcomes() -> dict[str, object]:
    cases = [case for case in _regression_cases() if not case.get("flaky")]
    results = fuzz.run_parallel(enumerate(cases), WORKERS, fuzz.DEFAULT_TIMEOUT)
    return {case["id"]: outcome for _, case, outcome in results}


def _regression_params() -> list:
    """One pytest param per case; a case with an "xfail" field (an open bug) is a
    strict xfail, so that its fix shows up as a failure asking to drop the field."""
    return [
        pytest.param(case, id=case["id"], marks=_marks(case))
        for case in _regression_cases()
    ]


def _marks(case: dict) -> list:
    if case.get("flaky"):
        return [pytest.mark.skip(reason=f"flaky: {case.get('xfail', case['note'])}")]
    if case.get("xfail"):
        return [pytest.mark.xfail(reason=case["xfail"], strict=True)]
    return []


@pytest.mark.parametrize("case", _regression_params())
def test_regression(case, regression_outcomes):
    outcome = regression_outcomes[case["id"]]
    assert not outcome.failed, (
        f"[{outcome.status}] {outcome.message}\n{outcome.detail}\n"
        f"replay: python tools/fuzz --replay '{json.dumps(case)}'"
    )


def test_draws_cover_the_package_options():
    """The options drawn are the package's (a new one without a draw weight stops
    the fuzzer at import instead of going unfuzzed)."""
    from positive_mlp._losses import LOSSES
    from positive_mlp._options import BOUNDED_TRANSFORMS, SOLVERS

    assert set(options.LOSS_WEIGHTS) | set(options.NEW_LOSS_SHARES) == set(LOSSES)
    assert set(options.SOLVER_ORDER) == set(SOLVERS)
    assert set(options.BOUNDED) == BOUNDED_TRANSFORMS
    with pytest.raises(ImportError, match="give each one a weight"):
        options.check_covers({"adam": 1}, SOLVERS, "solvers")


def test_draws_are_reproducible():
    for index in range(20):
        first, again = fuzz.draw_case(3, index), fuzz.draw_case(3, index)
        assert json.dumps(first) == json.dumps(again)


def test_new_losses_leave_the_other_draws_alone(monkeypatch):
    """Tweedie and quantile come from a stream of their own, drawn last: a case
    that gets neither is the case it was before they were fuzzed (so are the cases
    of old campaigns and regressions), and one that gets one keeps its recipe."""
    new = [fuzz.draw_case(5, index) for index in range(300)]
    monkeypatch.setattr(draw, "draw_new_loss", lambda seed, index, case: None)
    # what a loss may need changed (max_iter: the work cap counts the levels)
    adjusted = {"loss", "power", "quantile", "output_activation", "output_threshold"}
    adjusted |= {"solver", "max_fun", "output_constraint", "early_stopping", "max_iter"}
    for index, case in enumerate(new):
        old = fuzz.draw_case(5, index)
        if case["params"]["loss"] not in ("tweedie", "quantile"):
            assert json.dumps(case) == json.dumps(old)
            continue
        for key in ("n_features", "n_outputs", "dtype", "seed", "sparse"):
            assert case["data"].get(key) == old["data"].get(key)
        for key in set(old["params"]) - adjusted:
            assert json.dumps(case["params"][key]) == json.dumps(old["params"][key])


def test_members_leave_the_other_draws_alone(monkeypatch):
    """n_members comes from a stream of its own: a case without it is the case it
    was before members were fuzzed, and one with it differs only there and in the
    work cap (max_iter and the row counts)."""
    new = [fuzz.draw_case(5, index) for index in range(400)]
    monkeypatch.setattr(draw, "_draw_members", lambda seed, index, case: None)
    drawn = set()
    for index, case in enumerate(new):
        old = fuzz.draw_case(5, index)
        members = case["params"].pop("n_members", None)
        drawn.add(members)
        if members in (None, 1):
            assert json.dumps(case) == json.dumps(old)
            continue
        for part in (case, old):
            part["params"].pop("max_iter")
            for call in [part["data"], *part["calls"]]:
                call.pop("n", None)
        assert json.dumps(case) == json.dumps(old)
    assert drawn == {None, 1, 2, 3, 4, 8, "auto"}


def test_input_scaling_leaves_the_other_draws_alone(monkeypatch):
    """input_scaling comes from a stream of its own: a case without it is the case
    it was before the scaling was fuzzed, and one with it differs only there (and
    in the refusal expected of 'standard' with sparse X)."""
    new = [fuzz.draw_case(5, index) for index in range(400)]
    monkeypatch.setattr(draw, "_draw_scaling", lambda seed, index, case: None)
    drawn = set()
    for index, case in enumerate(new):
        old = fuzz.draw_case(5, index)
        drawn.add(case["params"].pop("input_scaling", "absent"))
        if case.get("expect_error") == "standard_scaling_with_sparse_X":
            del case["expect_error"]
        assert json.dumps(case) == json.dumps(old)
    assert drawn == {"absent", "auto", "standard", "rms", None}


def _quantile_model(levels, n_targets=2):
    from positive_mlp import PositiveMLPRegressor

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = rng.gamma(2.0, 1.0, (30, n_targets)) + 0.5
    est = PositiveMLPRegressor(
        loss="quantile",
        quantile=levels,
        output_threshold=0.5,
        hidden_layer_sizes=(5,),
        max_iter=3,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return est, fuzz.CallData(X, y)


def test_quantile_properties_hold_and_catch_crossed_levels(monkeypatch):
    """The fuzzer's forward pass builds the levels as the core does; crossed levels,
    a level below the floor and a wrong quantiles_ are reported."""
    case = {"params": {}, "data": {}}
    for levels, n_targets in ([[0.1, 0.5, 0.9], 2], [[0.3], 1], [0.7, 2]):
        est, arrays = _quantile_model(levels, n_targets)
        assert fuzz.check_fitted(est, case, arrays) == []
    est, arrays = _quantile_model([0.1, 0.5, 0.9])
    predict = type(est).predict
    monkeypatch.setattr(est, "predict", lambda X: predict(est, X)[..., ::-1])
    problems = " ".join(fuzz.check_fitted(est, case, arrays))
    assert "levels cross" in problems and "forward pass" in problems
    monkeypatch.setattr(est, "predict", lambda X: predict(est, X) - 1.0)
    assert "below output_threshold_" in " ".join(fuzz.check_fitted(est, case, arrays))
    monkeypatch.undo()
    est.quantiles_ = np.array([0.1, 0.5, 0.8])
    assert "quantiles_" in " ".join(fuzz.check_fitted(est, case, arrays))


# After the core's members land.
@pytest.mark.parametrize("members", [2, 4])
def test_fuzz_properties_hold_for_members(members):
    """check_fitted (the forward pass of members, signs, monotonicity, quantile
    guarantees) passes on models fitted with n_members, and still catches levels
    crossed."""
    from positive_mlp import PositiveMLPRegressor

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = rng.gamma(2.0, 1.0, (40, 2)) + 0.5
    settings = [
        {"loss": "quantile", "quantile": [0.1, 0.5, 0.9], "output_threshold": 0.5},
        {"monotonic_cst": [1, 0, -1], "nonneg_weights": "output"},
        {"hidden_layer_sizes": (), "output_activation": "exp"},
        {"hidden_layer_sizes": (6, 5, 4), "input_bins": 4},
    ]
    for params in settings:
        params = {
            "hidden_layer_sizes": (5,),
            "max_iter": 3,
            "random_state": 0,
            **params,
        }
        est = PositiveMLPRegressor(n_members=members, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        assert est.n_members_ == members
        case = {"params": params, "data": {}}
        assert fuzz.check_fitted(est, case, fuzz.CallData(X, y)) == [], params


def _recipe(**changes) -> dict:
    spec = {
        "format": "csr_matrix",
        "index64": False,
        "density": 0.6,
        "zero_rows": 0.0,
        "explicit_zeros": 0.0,
        "duplicates": 0.0,
        "cancel": False,
        "unsorted": False,
        "compare_dense": False,
    }
    spec.update(changes)
    return {"sparse": spec, "readonly": False, "dtype": "float64"}


def _sparse(X: np.ndarray, broken: str | None = None, **changes):
    rng = np.random.default_rng(0)
    M, _ = fuzz.sparse_input(rng, X, np.zeros(X.shape[0]), _recipe(**changes), broken)
    return M


def test_sparse_recipes():
    """The sparse builder makes what the recipe asks for, and keeps X's values."""
    X = np.random.default_rng(1).standard_normal((40, 7))
    M = _sparse(X, duplicates=1.0, unsorted=True, index64=True, explicit_zeros=0.2)
    assert M.format == "csr" and M.indices.dtype == M.indptr.dtype == np.int64
    dense = M.toarray()
    assert np.all((dense == 0) | (dense == X))  # halves add up exactly
    assert M.nnz > 2 * np.count_nonzero(dense)  # duplicates and explicit zeros
    rows = np.split(M.indices, M.indptr[1:-1])
    assert any(np.any(np.diff(r) < 0) for r in rows)  # unsorted within a row
    assert np.any(M.data == 0)
    empty = _sparse(X, zero_rows=1.0)
    assert empty.nnz == 0 and empty.shape == X.shape
    for fmt in ("csr_array", "csc_matrix", "coo_matrix"):
        M = _sparse(X, format=fmt, duplicates=0.5, cancel=True, unsorted=True)
        assert type(M).__name__ == fmt
        np.testing.assert_allclose(M.toarray()[M.toarray() != 0], X[M.toarray() != 0])
    NaN = X.copy()
    NaN[3, 4] = np.nan
    assert np.isnan(_sparse(NaN, density=0.01).toarray()[3, 4])  # stays stored


@pytest.mark.parametrize("mode", fuzz.MALFORMED_MODES)
@pytest.mark.parametrize("index64", [False, True])
def test_malformed_csr_recipes(mode, index64):
    """Each malformed mode yields a CSR that scipy's full structure check refuses."""
    X = np.random.default_rng(2).standard_normal((6, 3))
    M = _sparse(X, broken=mode, index64=index64)
    assert isinstance(M, sp.csr_matrix)
    with pytest.raises(ValueError):
        M.check_format(full_check=True)


def _limited_cases(seed: int, count: int) -> list[dict]:
    """The first ``count`` drawn cases of the seed that got an address-space limit."""
    cases = (fuzz.draw_case(seed, index) for index in range(2000))
    return [case for case in cases if case.get("limit")][:count]


def test_cases_under_an_address_space_limit_run_and_are_acceptable():
    """Drawn cases with a limit, at their own headroom and at none: each returns or
    raises an allowed error (a MemoryError with a message among them)."""
    cases = []
    for case in _limited_cases(2024, 2):
        for headroom in (case["limit"]["address_space_mib"], 0):
            cases.append({**case, "limit": {"address_space_mib": headroom}})
    results = fuzz.run_parallel(enumerate(cases), WORKERS, fuzz.DEFAULT_TIMEOUT)
    for _, case, outcome in results:
        if not _open_bugs(outcome.message, outcome.detail):
            assert not outcome.failed, (outcome.status, outcome.message, case)


@pytest.mark.skipif(
    "libasan" in os.environ.get("LD_PRELOAD", ""),
    reason="no limit under ASan, which ends the process when its mappings fail",
)
def test_the_address_space_limit_is_lifted_after_each_call():
    resource = pytest.importorskip("resource")
    before = resource.getrlimit(resource.RLIMIT_AS)
    limit = fuzz.address_space_limit({"address_space_mib": 1024})
    with pytest.raises(KeyError), limit:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        assert soft != resource.RLIM_INFINITY or not Path("/proc").exists()
        raise KeyError("a call that raised")
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_memory_errors_and_refused_threads_are_allowed_only_under_a_limit():
    limited = {"data": {}, "limit": {"address_space_mib": 0}}
    plain = {"data": {}}
    clear = MemoryError("The C++ core could not allocate its buffers (...)")
    assert fuzz.classify_error(clear, limited, True).status == "rejected"
    assert fuzz.classify_error(clear, plain, True).status == "unexpected"
    bare = MemoryError("std::bad_alloc")
    assert fuzz.classify_error(bare, limited, True).status == "unexpected"
    refused = warnings.WarningMessage(
        RuntimeWarning("The system refused to start 7 thread(s) of the C++ core"),
        RuntimeWarning,
        "_estimator.py",
        1,
    )
    ok = fuzz.Outcome("ok")
    assert fuzz.with_warnings(ok, [refused], limited, False).status == "ok"
    assert fuzz.with_warnings(ok, [refused], plain, False).status == "violation"


def test_edge_draws_reach_each_neighbourhood():
    """Each edge is drawn; the refused ones expect an error at the right call, and
    level containers reach the estimator as such."""
    cases = [fuzz.draw_case(9, index) for index in range(3000)]
    drawn = {edge for case in cases for edge in case.get("edges", [])}
    assert drawn == set(fuzz.EDGE_SHARES)
    expected = {case.get("expect_error") for case in cases}
    assert {"quantile_set", "quantile_dict", "sparse_X_1d", "sparse_y"} <= expected
    containers = {
        type(fuzz.estimator_params(case["params"])["quantile"]).__name__
        for case in cases
        if case["params"].get("quantile_container")
    }
    assert {"tuple", "ndarray", "set", "dict"} <= containers
    for case in cases:
        at = case.get("expect_error_at", 0)
        if case.get("expect_error", "").startswith("sparse_"):
            assert case["calls"][at].get("sparse_fault")


def test_children_see_eight_cores(monkeypatch):
    """n_threads up to 8 is used as drawn, not clipped to this machine's cores."""
    module = fuzz.thread_policy_module()
    monkeypatch.setattr(module, "available_cores", module.available_cores)
    fuzz.simulate_cores()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert module.thread_budget(8) == 8


def test_the_fuzzer_calibrates_bands_on_quantile_cases_and_finds_a_bad_one(monkeypatch):
    from fuzz import conformal
    from fuzz.data import CallData

    from positive_mlp import PositiveMLPRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = np.exp(X[:, 0] + 0.3 * rng.normal(size=400))
    est = PositiveMLPRegressor(
        loss="quantile", quantile=[0.1, 0.5, 0.9], max_iter=5, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    case = {"data": {"seed": 3}}
    arrays = CallData(X=X, y=y)
    assert 1 <= len(conformal.draw_coverages(case)) <= 3
    assert conformal.conformal_problems(est, case, arrays, [("X", X)]) == []
    # A band below the floor is reported: the check is live.
    monkeypatch.setattr(
        conformal.ConformalQuantileRegressor,
        "_bands",
        lambda self, predictions, margins: np.full((len(predictions), 2, 1), -1.0),
    )
    problems = conformal.conformal_problems(est, case, arrays, [("X", X)])
    assert any("below the floor" in p for p in problems)
