"""Helpers shared by the benchmark scripts.

Synthetic data, FLOP counting, wall-clock timing, the machine's GEMM peak, the thread
settings in force, and one "fit for E epochs" function per implementation:
PositiveMLPRegressor (ours), scikit-learn's MLPRegressor, and an equivalent PyTorch CPU
training loop. The scripts import this module as ``_common``; run them as files
(``python benchmarks/bench_fit.py``), not as modules.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from threadpoolctl import threadpool_info, threadpool_limits

from positive_mlp import PositiveMLPRegressor

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# Optimiser settings shared by the three implementations (MLPRegressor's defaults).
ALPHA = 1e-4
LEARNING_RATE = 1e-3
BETAS = (0.9, 0.999)
EPSILON = 1e-8
NEVER_STOP = 10**9  # n_iter_no_change: with tol=0, every fit runs all its epochs
# Ours as one network without its defaults' extras (members, input bins, early
# stopping): a row then shows what its setting (a bounded output, constraints) costs.
SINGLE_NETWORK = dict(n_members=1, input_bins=None, early_stopping=False)


@dataclass(frozen=True)
class Problem:
    """One benchmark setting: data shape, network, batch size, dtype and solver."""

    n_samples: int
    n_features: int
    hidden: tuple[int, ...]
    batch_size: int
    dtype: str = "float64"
    solver: str = "adam"

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.n_features, *self.hidden, 1)

    def describe(self) -> str:
        hidden = "x".join(map(str, self.hidden))
        batch = "full" if self.solver == "lbfgs" else str(self.batch_size)
        return (
            f"{self.n_samples}x{self.n_features} ({hidden}) batch {batch} "
            f"{self.dtype} {self.solver}"
        )


@dataclass(frozen=True)
class RunResult:
    """Wall time of one fit, its epochs (or L-BFGS iterations) and final loss."""

    seconds: float
    n_iter: int
    loss: float

    @property
    def per_epoch(self) -> float:
        return self.seconds / max(self.n_iter, 1)


# --------------------------------------------------------------------------- machine


def n_cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def load_average() -> float:
    """The 1-minute load average (NaN where unknown): a busy machine skews timings."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def blas_threads() -> int:
    """Threads numpy's BLAS uses by default (what MLPRegressor's products run on)."""
    import numpy.linalg  # noqa: F401  (makes sure numpy's BLAS is loaded)

    for lib in threadpool_info():
        if lib["user_api"] == "blas" and "numpy" in lib["filepath"]:
            return int(lib["num_threads"])
    return max(
        (
            int(lib["num_threads"])
            for lib in threadpool_info()
            if lib["user_api"] == "blas"
        ),
        default=1,
    )


@dataclass(frozen=True)
class Threads:
    """Who runs on how many threads in this run."""

    use_torch: bool
    torch: int  # PyTorch's threads (0 when it is not run)
    blas: int  # numpy's BLAS threads, and so our core's (n_threads=None)
    labels: dict[str, str]


def setup_threads(no_torch: bool, torch_threads: int) -> Threads:
    use_torch = not no_torch and torch_available()
    torch = set_torch_threads(torch_threads) if use_torch else 0
    blas = blas_threads()
    return Threads(use_torch, torch, blas, thread_labels(blas, torch))


def print_run_header(threads: Threads) -> None:
    print(f"cores: {n_cores()}, load average (1 min): {load_average():.2f}")
    print(
        f"threads: ours {threads.blas} core threads (n_threads=None), BLAS 1 each; "
        f"MLPRegressor numpy BLAS {threads.blas} (default); PyTorch "
        f"{threads.torch if threads.use_torch else 'not run'}"
    )


def thread_labels(blas: int, torch_threads: int) -> dict[str, str]:
    """What each implementation's name in the tables ran on. Ours: n_threads=None
    gives the core as many threads as the BLAS has (blas), each product on one."""
    ours = f"core={blas}"
    return {
        "ours": ours,
        "ours-softplus": ours,
        "ours-nonneg": ours,
        "MLPRegressor": f"blas={blas}",
        "MLPRegressor-1t": "blas=1",
        "PyTorch": f"torch={torch_threads}",
        "PyTorch-1t": "torch=1",
    }


def gemm_peak_gflops(
    dtype: str, size: int = 2048, repeats: int = 10, threads: int | None = None
) -> float:
    """Best GFLOP/s of numpy's ``a @ b`` on ``size x size`` matrices of ``dtype``.

    ``threads=None`` leaves numpy's BLAS at its default (all cores); ``threads=1``
    gives the peak of one core, the ceiling of our fit, whose BLAS runs
    single-threaded. (On a loaded machine the first can be the lower.) The best of
    ``repeats``, since a shared machine's other load only ever slows a product down.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    with threadpool_limits(limits=threads, user_api="blas"):
        a @ b  # warm-up: thread start, page faults
        best = min(timed(lambda: a @ b) for _ in range(repeats))
    return 2.0 * size**3 / best / 1e9


# --------------------------------------------------------------------- data and FLOPs


def make_data(
    n_samples: int, n_features: int, dtype: str = "float64", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal X and a smooth non-negative target (valid for every output)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=np.dtype(dtype).type)
    w = (rng.standard_normal(n_features) / np.sqrt(n_features)).astype(dtype)
    y = np.logaddexp(0.0, 2.0 * (X @ w)) + 0.5 * np.sin(3.0 * X[:, 0]) ** 2
    return X, np.ascontiguousarray(y, dtype=dtype)


def weight_macs(layer_sizes: Sequence[int]) -> int:
    """sum(fan_in * fan_out): multiply-adds per row of one forward pass."""
    return sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


def train_flops(n_rows: int, layer_sizes: Sequence[int]) -> float:
    """FLOPs of forward + backward over ``n_rows`` rows: 6 per weight per row
    (2 forward, 2 for the input gradient, 2 for the weight gradient)."""
    return 6.0 * n_rows * weight_macs(layer_sizes)


def predict_flops(n_rows: int, layer_sizes: Sequence[int]) -> float:
    """FLOPs of a forward pass over ``n_rows`` rows: 2 per weight per row."""
    return 2.0 * n_rows * weight_macs(layer_sizes)


# -------------------------------------------------------------------------- timing


def timed(fn: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: Iterable[float]) -> float:
    values = [v for v in values if v == v]  # drop NaN
    return statistics.median(values) if values else float("nan")


def paired_ratio_range(
    theirs: Sequence[float], ours: Sequence[float]
) -> dict[str, float]:
    """The least and largest of theirs[i] / ours[i] over the repeats i (timed in the
    same round, alternated): the spread of a ratio, which the medians' ratio hides."""
    ratios = [t / o for t, o in zip(theirs, ours) if o > 0]
    return {"time_vs_ours_low": min(ratios), "time_vs_ours_high": max(ratios)}


def rotated(items: Sequence[Any], shift: int) -> list[Any]:
    """``items`` started at position ``shift``: alternates which runs first."""
    shift %= max(len(items), 1)
    return list(items[shift:]) + list(items[:shift])


# -------------------------------------------------------------- the three trainers


def sklearn_params(problem: Problem, epochs: int, seed: int) -> dict[str, Any]:
    """Keyword arguments meaning the same to MLPRegressor and PositiveMLPRegressor:
    exactly ``epochs`` epochs (or L-BFGS iterations), shuffled mini-batches."""
    return dict(
        hidden_layer_sizes=problem.hidden,
        solver=problem.solver,
        batch_size=problem.batch_size,
        alpha=ALPHA,
        learning_rate_init=LEARNING_RATE,
        beta_1=BETAS[0],
        beta_2=BETAS[1],
        epsilon=EPSILON,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=NEVER_STOP,
        shuffle=True,
        random_state=seed,
    )


def _fit_estimator(estimator, X: np.ndarray, y: np.ndarray) -> RunResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        seconds = timed(lambda: estimator.fit(X, y))
    return RunResult(seconds, int(estimator.n_iter_), float(estimator.loss_))


def fit_ours(
    problem: Problem,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int = 0,
    output_activation: str = "identity",
    **extra,
) -> RunResult:
    """PositiveMLPRegressor (its BLAS runs single-threaded during fit); ``extra`` are
    further parameters of ours (constraints)."""
    estimator = PositiveMLPRegressor(
        output_activation=output_activation,
        **sklearn_params(problem, epochs, seed),
        **extra,
    )
    return _fit_estimator(estimator, X, y)


def fit_sklearn(
    problem: Problem,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int = 0,
    blas_threads: int | None = None,
) -> RunResult:
    """scikit-learn's MLPRegressor, on numpy's BLAS with its default threads unless
    ``blas_threads`` limits them."""
    estimator = MLPRegressor(**sklearn_params(problem, epochs, seed))
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        return _fit_estimator(estimator, X, y)


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def set_torch_threads(threads: int) -> int:
    """Sets PyTorch's intra-op threads; returns the number in force."""
    import torch

    torch.set_num_threads(threads)
    return torch.get_num_threads()


def torch_mlp(layer_sizes: Sequence[int], dtype: str, seed: int = 0):
    """Linear+ReLU layers (identity output), Glorot-uniform as MLPRegressor starts."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    layers: list = []
    pairs = list(zip(layer_sizes[:-1], layer_sizes[1:]))
    for i, (n_in, n_out) in enumerate(pairs):
        linear = torch.nn.Linear(n_in, n_out, dtype=getattr(torch, dtype))
        bound = float(np.sqrt(6.0 / (n_in + n_out)))
        with torch.no_grad():
            linear.weight.uniform_(-bound, bound, generator=generator)
            linear.bias.uniform_(-bound, bound, generator=generator)
        layers.append(linear)
        if i < len(pairs) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_from_coefs(coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray]):
    """A PyTorch copy of a fitted MLPRegressor (its ``coefs_``, ``intercepts_``)."""
    import torch

    sizes = [w.shape[0] for w in coefs] + [coefs[-1].shape[1]]
    model = torch_mlp(sizes, str(coefs[0].dtype))
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for linear, w, b in zip(linears, coefs, intercepts):
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            linear.bias.copy_(torch.from_numpy(b))
    return model.eval()


def _torch_adam(model):
    """Adam with MLPRegressor's settings; weights and biases in separate groups so
    that the L2 penalty (as coupled weight decay) applies to the weights only."""
    import torch

    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    groups = [
        {"params": [m.weight for m in linears], "weight_decay": 0.0},
        {"params": [m.bias for m in linears], "weight_decay": 0.0},
    ]
    return torch.optim.Adam(groups, lr=LEARNING_RATE, betas=BETAS, eps=EPSILON)


def _torch_epoch(model, optimizer, X, y, batch: int, generator) -> float:
    """One epoch of shuffled mini-batches; returns the mean half squared error."""
    import torch

    n, total = X.shape[0], 0.0
    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch):
        rows = order[start : start + batch]
        optimizer.param_groups[0]["weight_decay"] = ALPHA / rows.numel()
        optimizer.zero_grad(set_to_none=True)
        residual = model(X.index_select(0, rows)) - y.index_select(0, rows)
        loss = 0.5 * residual.square().mean()
        loss.backward()
        optimizer.step()
        total += loss.item() * rows.numel()
    return total / n


def fit_torch(
    problem: Problem,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int = 0,
    threads: int | None = None,
) -> RunResult:
    """A PyTorch CPU loop equivalent to MLPRegressor's Adam epochs.

    Same network and start, lr, betas and eps (PyTorch adds eps to the bias-corrected
    sqrt(v), scikit-learn to the raw one: a negligible difference); shuffled
    mini-batches of the same size; half the mean squared error; the L2 penalty
    ``alpha / (2 * rows) * ||W||^2`` on weights only, applied as Adam's coupled
    ``weight_decay = alpha / rows``, which adds exactly that penalty's gradient.
    The returned loss is the last epoch's mean batch loss plus the penalty, as
    MLPRegressor's ``loss_`` (with the end-of-epoch weights). ``threads`` sets
    PyTorch's intra-op threads for this fit (and leaves them so).
    """
    import torch

    if problem.solver != "adam":
        raise ValueError("the PyTorch loop implements Adam only")
    if threads is not None:
        set_torch_threads(threads)
    model = torch_mlp(problem.layer_sizes, problem.dtype, seed)
    optimizer = _torch_adam(model)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.reshape(len(y), -1))
    batch = min(problem.batch_size, X.shape[0])
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    seconds = timed(
        lambda: losses.extend(
            _torch_epoch(model, optimizer, X_t, y_t, batch, generator)
            for _ in range(epochs)
        )
    )
    with torch.no_grad():
        squared_norm = sum(
            float(w.square().sum()) for w in optimizer.param_groups[0]["params"]
        )
    n_batches = -(-X.shape[0] // batch)
    loss = losses[-1] + 0.5 * ALPHA * squared_norm * n_batches / X.shape[0]
    return RunResult(seconds, epochs, loss)


# -------------------------------------------------------------------------- output


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Writes ``rows`` (dicts with the same keys) to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def append_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Appends ``rows`` to ``path`` (its header written when the file is new), so
    that a long run keeps what it finished if interrupted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain fixed-width text table of ``columns`` of ``rows``."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            if value != value:
                return "-"
            return f"{value:.4g}"
        return str(value)

    cells = [[cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += [
        "  ".join(
            v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))
        )
        for r in cells
    ]
    return "\n".join(lines)


def run_in_fresh_process(script: str, flag: str, spec: dict) -> dict:
    """Runs ``python script flag '<spec as JSON>'`` and returns the JSON record the
    worker prints last: a fresh process per measurement, so that its peak memory and
    caches are its own."""
    command = [sys.executable, str(Path(script).resolve()), flag, json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {spec} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])
