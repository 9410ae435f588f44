"""The core's thread budget: the cores this process may use (CPU affinity, a
container's CPU quota), the BLAS's thread setting held at one thread while the core
runs, and the context of every call into the core's threaded work."""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.linalg.blas
from threadpoolctl import ThreadpoolController

from positive_mlp import _core


@lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


@dataclass(frozen=True)
class _ThreadSetting:
    """Reads and sets one BLAS library's threads, from any Python thread."""

    get: Callable[[], int]
    set: Callable[[int], object]


# OpenBLAS's names carry a prefix and a suffix in some builds: SciPy's wheels prefix
# them with "scipy_", builds with 64-bit integers append "64_".
_OPENBLAS_AFFIXES = (("", ""), ("", "64_"), ("scipy_", ""), ("scipy_", "64_"))


def _openblas_function(filepath: str, name: str) -> Callable | None:
    """The C function ``name`` of the OpenBLAS already loaded from ``filepath``, under
    whichever affixes it was built with; None if it has none."""
    try:  # RTLD_NOLOAD: the library already loaded, never a second copy
        library = ctypes.CDLL(filepath, mode=getattr(os, "RTLD_NOLOAD", 0))
    except OSError:
        return None
    for prefix, suffix in _OPENBLAS_AFFIXES:
        function = getattr(library, f"{prefix}{name}{suffix}", None)
        if function is not None:
            return function
    return None


def _thread_setting(lib) -> _ThreadSetting:
    """For OpenBLAS, its own two C functions, looked up once (threadpoolctl looks them
    up on every call: 19 of a one-row predict's 83 us went to the BLAS limit); for
    other libraries, threadpoolctl's methods. threadpoolctl's public setter lets only
    the first Python thread that used it change OpenBLAS's threads (see
    _SharedBlasLimit); these setters work from any thread. Only threadpoolctl's
    public attributes are read, so any version from the declared minimum on works."""
    if lib.internal_api == "openblas":
        openmp = lib.threading_layer == "openmp"
        get = _openblas_function(
            lib.filepath,
            "omp_get_max_threads" if openmp else "openblas_get_num_threads",
        )
        set_ = _openblas_function(
            lib.filepath,
            "omp_set_num_threads" if openmp else "openblas_set_num_threads",
        )
        if get is not None and set_ is not None:
            return _ThreadSetting(get, set_)
    # threadpoolctl >= 3.5 keeps its public setter for the thread that first used
    # it; its unrestricted one is private, so it is taken only where it exists.
    return _ThreadSetting(
        lib.get_num_threads,
        getattr(lib, "_real_set_num_threads", lib.set_num_threads),
    )


@lru_cache(maxsize=1)
def _blas_libraries() -> tuple[_ThreadSetting, ...]:
    """How to read and set the threads of each BLAS library loaded in this process
    (found once: a search costs ~5 us)."""
    libs = _threadpools().select(user_api="blas").lib_controllers
    return tuple(_thread_setting(lib) for lib in libs)


class _SharedBlasLimit:
    """One BLAS thread while any fit or predict of this package runs.

    The BLAS has one thread setting for the whole process: a limit entered and left
    by each of several fits running in Python threads would lift it under the
    others. Here the first user sets it and the last one restores it; while it
    holds, ``original_threads`` remembers the threads the BLAS had before.
    threadpoolctl's public setter lets only the first Python thread that used it
    change OpenBLAS's threads (later calls from other threads are ignored, so a fit
    in a worker thread ran with OpenBLAS's own threads); the setting is changed
    directly here, under this class's lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._restore: list[tuple[_ThreadSetting, int]] = []
        self.original_threads: int | None = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._limit_to_one()
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    for lib, threads in self._restore:
                        lib.set(threads)
                    self._restore, self.original_threads = [], None

    def _limit_to_one(self) -> None:
        libs = _blas_libraries()
        self._restore = [(lib, lib.get()) for lib in libs]
        self.original_threads = max((t for _, t in self._restore), default=1)
        for lib in libs:
            lib.set(1)

    def threads_before(self) -> int:
        """The BLAS's threads outside this package's limit. Read under the lock: read
        after it, a fit starting in another thread could have set the BLAS to its
        one thread in between (a budget of 1, and a model that differed in rounding
        from the same fit alone)."""
        with self._lock:
            if self.original_threads is not None:
                return self.original_threads
            return max((lib.get() for lib in _blas_libraries()), default=1)


# Runs the core's BLAS calls on one thread. The core's products are small (a batch
# times a layer's width) and many; measured on 2 cores, OpenBLAS's threads made a
# 200 x 128 x 128 product 30x slower and an epoch 20x slower, and were no faster on
# the largest products we train with.
single_threaded_blas = _SharedBlasLimit()


def blas_threads() -> int:
    """The threads the BLAS would use here: the core's thread budget by default.

    This follows OMP_NUM_THREADS and OPENBLAS_NUM_THREADS, threadpoolctl's limits,
    and the limits joblib sets in parallel workers (as in GridSearchCV(n_jobs=...)).
    """
    return single_threaded_blas.threads_before()


def thread_budget(n_threads: int | None) -> int:
    """The core's threads for one fit or predict: ``n_threads``, or by default the
    BLAS's threads, and never more than the cores this process may use.

    Threads beyond the cores only cost: each has its own buffers (1,000 threads on 2
    cores took 4.9 GB and 50 times as long as 2), so a larger count is clipped, with
    a warning.
    """
    cores = available_cores()
    if n_threads is None:
        return min(blas_threads(), cores)
    if n_threads > cores:
        warnings.warn(
            f"n_threads={n_threads} is more than the {cores} core(s) this process "
            f"may use; using {cores}. Set n_threads=None to follow the cores.",
            UserWarning,
            stacklevel=2,
        )
        return cores
    return n_threads


@contextlib.contextmanager
def core_call() -> Iterator[None]:
    """The context of every call into the core's threaded work: one BLAS thread, and
    a warning when the system refused to start some of the core's threads (which then
    ran on those that started)."""
    with single_threaded_blas():
        try:
            yield
        except MemoryError as error:
            if str(error) != "std::bad_alloc":  # numpy's own messages say enough
                raise
            raise MemoryError(
                "The C++ core could not allocate its buffers (a memory limit, or "
                "too little free memory). Lower batch_size, the hidden layers' "
                "sizes or n_threads, or free memory."
            ) from error
        finally:
            refused = _core.take_refused_thread_starts()
            if refused:
                warnings.warn(
                    f"The system refused to start {refused} thread(s) of the C++ core "
                    "(a limit on memory, as set by `ulimit -v`, or on processes); "
                    "the work ran on the threads that started. Set n_threads lower, "
                    "or raise the limit.",
                    RuntimeWarning,
                    stacklevel=3,  # the with statement
                )


@lru_cache(maxsize=1)
def available_cores() -> int:
    """The cores this process may run on: its CPU affinity, and the CPU quota a
    container sets (cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``). Read once per
    process: it costs 20 us, a one-row predict 40."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(cores, 1)


def _cgroup_cpu_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """CPUs allowed by the cgroup's quota, or None without one."""
    candidates = [
        (f"{root}/cpu.max", None),
        (f"{root}/cpu/cpu.cfs_quota_us", f"{root}/cpu/cpu.cfs_period_us"),
    ]
    for quota_file, period_file in candidates:
        try:
            with open(quota_file) as f:
                fields = f.read().split()
            if period_file is not None:
                with open(period_file) as f:
                    fields.append(f.read().strip())
        except (OSError, ValueError):
            continue
        if len(fields) < 2 or fields[0] in ("max", "-1"):
            return None
        try:
            return int(fields[0]) / int(fields[1])
        except ValueError:
            return None
    return None


def _take_blas_resources_now() -> None:
    """Takes, while memory is plentiful, what a fit's first calls would otherwise
    ask for under a memory limit (``ulimit -v``) set later: this thread's buffer in
    SciPy's OpenBLAS (the core's products), which retries a refused one forever, and
    in NumPy's (the validation scores' products), which ends the process; and
    threadpoolctl's look at the loaded libraries, which reads /proc/self/maps."""
    scipy.linalg.blas.dgemm(1.0, np.ones((1, 1)), np.ones((1, 1)))
    np.ones((2, 2)) @ np.ones((2, 2))
    _blas_libraries()


_take_blas_resources_now()
