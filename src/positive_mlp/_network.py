"""Parameter layout, the C++ network's construction, and its BLAS and thread budget.

Parameters travel as one packed vector: every layer's weights (row-major, shaped as
``coefs_``), then every layer's biases (as ``intercepts_``), the order the core uses.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg.blas
import scipy.linalg.cython_blas  # loads the BLAS the core calls
import scipy.sparse
from threadpoolctl import ThreadpoolController

from positive_mlp import _core
from positive_mlp._options import (
    ACTIVATIONS,
    OUTPUT_CONSTRAINTS,
    OUTPUT_TRANSFORMS,
    WEIGHT_METHODS,
)

if TYPE_CHECKING:
    from positive_mlp._losses import Loss


@dataclass(frozen=True)
class ParameterLayout:
    """Where each layer's weights and biases sit in the packed parameter vector."""

    layer_sizes: tuple[int, ...]

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))

    @property
    def n_weights(self) -> int:
        return sum(n_in * n_out for n_in, n_out in self.shapes)

    @property
    def n_params(self) -> int:
        return self.n_weights + sum(self.layer_sizes[1:])

    def pack(
        self,
        coefs: Sequence[np.ndarray],
        intercepts: Sequence[np.ndarray],
        dtype: np.dtype,
    ) -> np.ndarray:
        """One contiguous vector holding ``coefs`` then ``intercepts``."""
        parts = [np.ravel(c) for c in coefs] + [np.ravel(b) for b in intercepts]
        return np.concatenate(parts).astype(dtype, copy=False)

    def unpack(self, params: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Views of ``params`` shaped as ``coefs_`` and ``intercepts_``."""
        coefs, intercepts, start = [], [], 0
        for n_in, n_out in self.shapes:
            coefs.append(params[start : start + n_in * n_out].reshape(n_in, n_out))
            start += n_in * n_out
        for n_out in self.layer_sizes[1:]:
            intercepts.append(params[start : start + n_out])
            start += n_out
        return coefs, intercepts

    def units(self) -> np.ndarray:
        """Each parameter's reparametrisation unit, ``1 / sqrt(fan-in)`` of its layer
        (the core's ``Layout::unit``)."""
        coefs = [np.full(shape, 1.0 / math.sqrt(shape[0])) for shape in self.shapes]
        intercepts = [np.full(n, 1.0 / math.sqrt(n_in)) for n_in, n in self.shapes]
        return self.pack(coefs, intercepts, np.float64)


# One product now gives this thread OpenBLAS's buffer while memory is plentiful:
# OpenBLAS retries a refused buffer forever, so the first product of a fit run under
# a tight memory limit (ulimit -v) would hang instead of failing.
scipy.linalg.blas.dgemm(1.0, np.ones((1, 1)), np.ones((1, 1)))


@lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


@dataclass(frozen=True)
class _ThreadSetting:
    """Reads and sets one BLAS library's threads, from any Python thread."""

    get: Callable[[], int]
    set: Callable[[int], object]


def _thread_setting(lib) -> _ThreadSetting:
    """For OpenBLAS, its own two C functions, looked up once (threadpoolctl looks them
    up on every call: 19 of a one-row predict's 83 us went to the BLAS limit); for
    other libraries, threadpoolctl's methods. threadpoolctl's public setter lets only
    the first Python thread that used it change OpenBLAS's threads (see
    _SharedBlasLimit); these setters work from any thread."""
    if lib.internal_api == "openblas":
        openmp = lib.threading_layer == "openmp"
        get = lib._get_symbol(
            "omp_get_max_threads" if openmp else "openblas_get_num_threads"
        )
        set_ = lib._get_symbol(
            "omp_set_num_threads" if openmp else "openblas_set_num_threads"
        )
        if get is not None and set_ is not None:
            return _ThreadSetting(get, set_)
    return _ThreadSetting(
        lambda: lib.num_threads,
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
        """The BLAS's threads outside this package's limit."""
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


def core_input(X, dtype: np.dtype):
    """X as the core reads it, in ``dtype``: a C-contiguous array, or a CSR matrix
    whose first layer the core multiplies over the nonzeros (never densified). Other
    sparse formats become CSR; data already in this form is not copied."""
    if scipy.sparse.issparse(X):
        return X.tocsr().astype(dtype, copy=False)
    return np.ascontiguousarray(X, dtype=dtype)


def core_for(dtype: np.dtype):
    """The core's submodule working in ``dtype`` (float32 or float64)."""
    return _core.f32 if np.dtype(dtype) == np.float32 else _core.f64


# The power the core is given for a loss without one (it reads it only for
# Loss.tweedie): the binding's default.
_NO_POWER = 1.5


def build_network(
    layout: ParameterLayout,
    activation: str,
    output_activation: str,
    loss: Loss,
    threshold: np.ndarray,
    dtype: np.dtype,
    *,
    quantile_levels: np.ndarray | None = None,
    outputs_per_group: int = 1,
    signs: np.ndarray | None = None,
    weight_method: str = "none",
    output_constraint: str | None = None,
    constraint_strength: float = 1.0,
    constraint_margin: np.ndarray | None = None,
):
    """The C++ network for these settings, computing in ``dtype``.

    ``loss`` is resolved (``_losses.resolve_loss``), with its Tweedie power;
    ``quantile_levels`` is the level of each output for a loss with levels; outputs
    come in groups of ``outputs_per_group`` whose predictions rise (see
    ``_quantiles``). ``signs`` (one of -1, 0, +1 per packed parameter) and
    ``weight_method`` constrain parameters; ``output_constraint`` adds a penalty or
    an augmented-Lagrangian term for predictions below the threshold (plus
    ``constraint_margin``, per output) to the training loss.
    """
    spec = _core.NetworkSpec(
        layer_sizes=list(layout.layer_sizes),
        activation=ACTIVATIONS[activation],
        output_transform=OUTPUT_TRANSFORMS[output_activation].core,
        loss=loss.core,
        tweedie_power=_NO_POWER if loss.power is None else loss.power,
        quantile_levels=[] if quantile_levels is None else list(quantile_levels),
        outputs_per_group=outputs_per_group,
        weight_method=(
            WEIGHT_METHODS[weight_method].core
            if signs is not None
            else _core.WeightMethod.none
        ),
        output_constraint=OUTPUT_CONSTRAINTS[output_constraint],
        constraint_strength=constraint_strength,
        constraint_margin=[] if constraint_margin is None else list(constraint_margin),
    )
    return core_for(dtype).Network(spec, np.asarray(threshold, dtype=dtype), signs)
