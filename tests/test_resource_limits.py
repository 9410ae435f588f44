"""Under resource limits a fit or predict works on fewer threads, or raises a clear
MemoryError; it never aborts or hangs the interpreter.

The limits are real: each case runs in a subprocess that lowers its own address space
(RLIMIT_AS, as ``ulimit -v`` does) or its processes (RLIMIT_NPROC, as ``ulimit -u``
or a container's process limit do) after importing the package, then fits and
predicts at several thread counts on a simulated 8-core machine.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from positive_mlp import PositiveMLPRegressor

resource = pytest.importorskip("resource", reason="resource limits are POSIX only")

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/status"
)

# The child: fits and predicts under the limit that its argument names, printing one
# JSON line per thread count: "ok", or the exception's type and message.
CHILD = textwrap.dedent(
    """
    import json, os, resource, sys, warnings
    import numpy as np
    from positive_mlp import PositiveMLPRegressor, _threads

    _threads.available_cores = lambda: 8
    limit, amount, first_fit = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(20000, 20))
    y = np.exp(X[:, 0])
    warnings.simplefilter("ignore")
    if first_fit == "before the limit":
        PositiveMLPRegressor(hidden_layer_sizes=(4,), max_iter=1).fit(X[:600], y[:600])

    if limit == "address_space":
        with open("/proc/self/status") as status:
            in_use = next(int(l.split()[1]) for l in status if l.startswith("VmSize"))
        resource.setrlimit(resource.RLIMIT_AS, (in_use * 1024 + (amount << 20), -1))
    else:
        if os.geteuid() == 0:  # root is exempt from RLIMIT_NPROC
            os.setgid(65534)
            os.setuid(65534)
        resource.setrlimit(resource.RLIMIT_NPROC, (amount, amount))

    for n_threads in (1, 2, 8):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                # Poisson: early stopping's D2 score takes NumPy's products.
                reg = PositiveMLPRegressor(
                    hidden_layer_sizes=(256,), batch_size=4000, max_iter=2,
                    n_threads=n_threads, random_state=0, loss="poisson",
                    early_stopping=True, input_bins=None,
                ).fit(X, y)
                pred = reg.predict(X)
                ok = bool(np.isfinite(pred).all() and (pred >= 0).all())
                outcome = "ok" if ok else "bad predictions"
            except Exception as error:
                outcome = f"{type(error).__name__}: {error}"
        refused = [str(w.message) for w in caught if "refused" in str(w.message)]
        print(json.dumps({"n_threads": n_threads, "outcome": outcome,
                          "refused": refused}), flush=True)
    """
)


def _run_child(limit: str, amount: int, first_fit: str) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, limit, str(amount), first_fit],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, (
        f"exit status {result.returncode} under {limit}={amount}\n{result.stderr}"
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def _is_clear_memory_error(outcome: str) -> bool:
    return outcome.startswith("MemoryError: ") and "std::bad_alloc" not in outcome


# AddressSanitizer reserves terabytes of shadow memory and ends the process when a
# mapping of its own is refused, so an address-space limit tests ASan, not the core.
_UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


# MiB of address space left beyond what the process holds: from none (numpy's first
# array fails) through room for the core's buffers but no second thread, to room for
# several threads.
@pytest.mark.skipif(_UNDER_ASAN, reason="ASan aborts when its own mappings fail")
@pytest.mark.parametrize(
    "headroom_mib, first_fit",
    [
        (0, "before the limit"),
        (2, "before the limit"),
        (16, "before the limit"),
        (64, "before the limit"),
        (1024, "before the limit"),
        # The first fit of the process under the limit: what the package takes at
        # import (BLAS buffers, threadpoolctl's view) is not asked for again.
        (0, "under the limit"),
        (16, "under the limit"),
        (64, "under the limit"),
    ],
)
def test_an_address_space_limit_gives_fewer_threads_or_a_memory_error(
    headroom_mib, first_fit
):
    runs = _run_child("address_space", headroom_mib, first_fit)
    assert [run["n_threads"] for run in runs] == [1, 2, 8]
    for run in runs:
        assert run["outcome"] == "ok" or _is_clear_memory_error(run["outcome"]), run
    if headroom_mib == 64:  # room for the buffers, none for a second thread's
        assert all(run["outcome"] == "ok" for run in runs), runs
        assert [bool(run["refused"]) for run in runs] == [False, True, True], runs
    if headroom_mib == 1024:  # room for a few threads (128 MiB each)
        assert all(run["outcome"] == "ok" for run in runs), runs
        assert not runs[1]["refused"], runs  # 2 threads fit


def test_a_process_limit_runs_on_the_threads_that_start():
    """RLIMIT_NPROC of 1: no new thread starts (the process has one already)."""
    runs = _run_child("processes", 1, "before the limit")
    assert all(run["outcome"] == "ok" for run in runs), runs
    assert [bool(run["refused"]) for run in runs] == [False, True, True], runs
    assert "refused to start 7 thread(s)" in runs[2]["refused"][0]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("n_threads", [9, 1000, 2**31, 2**63])
def test_threads_beyond_the_cores_are_clipped_with_a_warning(n_threads, eight_cores):
    """Each thread has its own buffers: 1,000 threads on 2 cores once took 4.9 GB."""
    X = np.random.RandomState(0).uniform(size=(50, 3))
    y = 1.0 + X[:, 0]
    reg = PositiveMLPRegressor(hidden_layer_sizes=(4,), max_iter=2, n_threads=n_threads)
    clipped = f"n_threads={n_threads} is more than the 8 core"
    with pytest.warns(UserWarning, match=clipped):
        reg.fit(X, y)
    with pytest.warns(UserWarning, match=clipped):  # rows enough for threads
        assert np.isfinite(reg.predict(np.tile(X, (4000, 1)))).all()


def test_thread_count_is_the_cores_for_larger_requests(eight_cores):
    with pytest.warns(UserWarning, match="using 8"):
        assert PositiveMLPRegressor(n_threads=64)._thread_count() == 8
    assert PositiveMLPRegressor(n_threads=8)._thread_count() == 8
    assert PositiveMLPRegressor(n_threads=3)._thread_count() == 3
