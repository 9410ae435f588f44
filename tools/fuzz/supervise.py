"""Processes: supervisor subprocesses (``--supervise``) that run each case
in a forked child, with a timeout (a hang) and crash detection, and the pool that
runs cases in parallel on them. Children see at least 8 cores.
"""

from __future__ import annotations

import faulthandler
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any

from .options import PACKAGE_DIR, Case
from .run import Outcome, run_case

DEFAULT_TIMEOUT = 60.0

_SIMULATED_CORES = 8  # the cores children report (n_threads goes up to 8)


def _child_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("PYTHONWARNINGS", None)
    return env


def _run_forked_child(
    case: Case, result_fd: int, err_path: str, timeout: float
) -> None:
    """In the forked child: run the case, write the outcome as JSON, exit."""
    with open(err_path, "wb") as err:
        os.dup2(err.fileno(), 1)
        os.dup2(err.fileno(), 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdout = sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    faulthandler.enable(file=sys.stderr, all_threads=True)
    faulthandler.dump_traceback_later(max(timeout - 2.0, 1.0), exit=False)
    start = time.perf_counter()
    try:
        outcome = run_case(case)
    except BaseException as exc:
        outcome = Outcome(
            "unexpected", f"{type(exc).__name__}: {exc}", traceback.format_exc()
        )
    outcome.seconds = time.perf_counter() - start
    payload = json.dumps(asdict(outcome)).encode()
    view = memoryview(payload)
    while view:
        view = view[os.write(result_fd, view) :]


def _tail(path: str, size: int = 3000) -> str:
    """The end of a child's stderr, without faulthandler's list of extension modules."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 50 * size))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    text = re.sub(r"\n*Extension modules:[^\n]*", "", text)
    return text[-size:]


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Reads fd to EOF; (data, True) if EOF came before the deadline."""
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), False
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)


def run_isolated(case: Case, timeout: float, workdir: str) -> Outcome:
    """Runs one case in a forked child (called in a supervisor process)."""
    err_path = os.path.join(workdir, f"case-{os.getpid()}.err")
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        try:
            _run_forked_child(case, write_fd, err_path, timeout)
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        payload, finished = _read_until(read_fd, start + timeout)
    finally:
        os.close(read_fd)
    if not finished:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    seconds = time.monotonic() - start
    if not finished:
        return Outcome(
            "hang", f"no result after {timeout:g} s", _tail(err_path), seconds
        )
    if payload and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        try:
            return Outcome(**json.loads(payload))
        except (ValueError, TypeError):
            pass
    return Outcome("crash", _describe_status(status), _tail(err_path), seconds)


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return f"killed by {signal.Signals(number).name}"
    return f"exited with status {os.WEXITSTATUS(status)} without a result"


def simulate_cores() -> None:
    """This process reports at least 8 usable cores: the package clips n_threads to
    the cores (with a warning), and the batch splits of 3 to 8 threads (where a heap
    overflow once hid) are to run as drawn on any machine. thread_budget looks
    available_cores up in its module at each call."""
    module = thread_policy_module()
    real = module.available_cores()
    module.available_cores = lambda: max(real, _SIMULATED_CORES)


def thread_policy_module() -> Any:
    """The package's module of thread_budget and available_cores: _threads (since
    the thread policy moved out of _network), or _network before."""
    import importlib

    for name in ("positive_mlp._threads", "positive_mlp._network"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "available_cores"):
            return module
    raise ImportError("no available_cores in positive_mlp._threads or _network")


def supervise(timeout: float) -> None:
    """Supervisor loop: a case JSON per stdin line, an outcome JSON per stdout line."""
    import sklearn.neural_network  # noqa: F401

    import positive_mlp  # noqa: F401 - imported once, before the forks

    simulate_cores()
    with tempfile.TemporaryDirectory(prefix="pmlp-fuzz-") as workdir:
        for line in sys.stdin:
            outcome = run_isolated(json.loads(line), timeout, workdir)
            sys.stdout.write(json.dumps(asdict(outcome)) + "\n")
            sys.stdout.flush()


class Supervisor:
    """A supervisor subprocess running one case at a time."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [sys.executable, PACKAGE_DIR, "--supervise", "--timeout", str(timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_child_environment(),
        )
        self.job: tuple[int, Case] | None = None
        self.started = 0.0

    def submit(self, index: int, case: Case) -> None:
        assert self.proc.stdin is not None
        self.job, self.started = (index, case), time.monotonic()
        self.proc.stdin.write(json.dumps(case) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> Outcome:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.job = None
        if not line:
            return Outcome(
                "crash",
                "the supervisor process died",
                seconds=time.monotonic() - self.started,
            )
        return Outcome(**json.loads(line))

    def overdue(self) -> bool:
        return self.job is not None and (
            time.monotonic() - self.started > self.timeout + 30
        )

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def run_parallel(
    cases: Iterable[tuple[int, Case]], workers: int, timeout: float
) -> Iterator[tuple[int, Case, Outcome]]:
    """Runs cases on ``workers`` supervisors, yielding results as they come."""
    pending = iter(cases)
    pool = [Supervisor(timeout) for _ in range(max(1, workers))]
    try:
        while True:
            yield from _submit_idle(pool, pending)
            busy = {sup.proc.stdout: sup for sup in pool if sup.job is not None}
            if not busy:
                return
            ready, _, _ = select.select(list(busy), [], [], 5.0)
            for stream in ready:
                index, case = busy[stream].job  # type: ignore[misc]
                yield index, case, busy[stream].receive()
            yield from _replace_stuck(pool)
    finally:
        for sup in pool:
            sup.close()


def _submit_idle(
    pool: list[Supervisor], pending: Iterator[tuple[int, Case]]
) -> Iterator[tuple[int, Case, Outcome]]:
    """Gives the next case to each idle supervisor (a dead one counts as a crash)."""
    for position, sup in enumerate(pool):
        if sup.job is not None:
            continue
        job = next(pending, None)
        if job is None:
            return
        try:
            sup.submit(*job)
        except BrokenPipeError:
            yield (*job, Outcome("crash", "the supervisor process died"))
            sup.close()
            pool[position] = Supervisor(sup.timeout)


def _replace_stuck(pool: list[Supervisor]) -> Iterator[tuple[int, Case, Outcome]]:
    """Restarts supervisors that died or stopped answering."""
    for position, sup in enumerate(pool):
        if sup.overdue() or (sup.job is None and sup.proc.poll() is not None):
            if sup.job is not None:
                yield (*sup.job, Outcome("hang", "the supervisor stopped answering"))
            sup.close()
            pool[position] = Supervisor(sup.timeout)
