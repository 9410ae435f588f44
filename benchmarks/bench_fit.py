"""Training speed: PositiveMLPRegressor against MLPRegressor and a PyTorch CPU loop.

For each grid row (data shape, network, batch size, dtype, solver) every implementation
fits the same data for the same number of epochs (max_iter=E, tol=0, no early stop,
shuffled mini-batches). E is at least ``--epochs`` and raised until a fit of ours
lasts about ``--min-seconds``, so that a fit's start-up is not counted as training.
The runs of the implementations alternate, and each is repeated. Printed and written
to ``results/fit.csv``: median seconds per epoch (wall time / n_iter_), GFLOP/s (6 x
rows x sum(fan_in x fan_out) per epoch), the share of the machine's GEMM peak (numpy
matmul measured in the same run), each peer's s/epoch divided by ours, and the final
training loss. ``results/fit_throughput.png`` plots GFLOP/s against batch size.

Implementations: ``ours`` = PositiveMLPRegressor(output_activation='identity'), the
like-for-like model; ``ours-softplus`` = the default bounded output, to show its
cost (one network: no members, input bins or early stopping); ``MLPRegressor``;
``PyTorch`` (Adam rows only; see ``_common.fit_torch``); with ``--with-nonneg`` also
``ours-nonneg`` (softplus output and every weight kept >= 0 by projection: the cost
of constraints); with ``--single-thread-peers`` also ``MLPRegressor-1t`` and
``PyTorch-1t``, the peers limited to one thread. With solver='lbfgs' an "epoch" is one
L-BFGS iteration, counted as one loss-and-gradient evaluation over all rows, so its
GFLOP/s is a lower bound. The GEMM peak is the best of numpy's matmul on all cores
and on one (on a loaded machine the threaded one can be the slower).

    python benchmarks/bench_fit.py            # full grid, results/fit.csv + PNG
    python benchmarks/bench_fit.py --quick    # smoke test, results/quick/
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import _common as c
import numpy as np

ROWS: dict[str, c.Problem] = {
    "s-b32": c.Problem(20000, 20, (64, 64), 32),
    "s-b256": c.Problem(20000, 20, (64, 64), 256),
    "s-b2048": c.Problem(20000, 20, (64, 64), 2048),
    "l-b32": c.Problem(20000, 100, (256, 256), 32),
    "l-b256": c.Problem(20000, 100, (256, 256), 256),
    "l-b2048": c.Problem(20000, 100, (256, 256), 2048),
    "l-b256-f32": c.Problem(20000, 100, (256, 256), 256, "float32"),
    "l-b2048-f32": c.Problem(20000, 100, (256, 256), 2048, "float32"),
    "s-lbfgs": c.Problem(20000, 20, (64, 64), 20000, solver="lbfgs"),
    "l-lbfgs": c.Problem(20000, 100, (256, 256), 20000, solver="lbfgs"),
}
QUICK_ROWS = ["s-b32", "s-b256", "l-b256", "l-b256-f32", "s-lbfgs"]
OURS = "ours"

Fitter = Callable[[c.Problem, np.ndarray, np.ndarray, int], c.RunResult]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: rows {' '.join(QUICK_ROWS)} (unless --rows) "
        "on 2000 samples, 2 epochs, 1 repeat, small GEMM",
    )
    parser.add_argument(
        "--rows",
        nargs="+",
        choices=list(ROWS),
        default=None,
        help="grid rows to run (default: all)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--epochs",
        type=int,
        default=5,
        help="least epochs per fit (more if --min-seconds asks for them)",
    )
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=1.0,
        help="epochs per fit are raised until a fit of ours lasts about this "
        "long, so that a fit's start-up (validation, buffers) does not count "
        "in s/epoch; every implementation of a row fits the same epochs",
    )
    parser.add_argument(
        "--n-samples", type=int, default=None, help="override the rows' n_samples"
    )
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=c.n_cores())
    parser.add_argument(
        "--with-nonneg",
        action="store_true",
        help="also time ours with a softplus output and every weight "
        "kept >= 0 by projection (ours-nonneg)",
    )
    parser.add_argument(
        "--single-thread-peers",
        action="store_true",
        help="also time MLPRegressor and PyTorch on one thread",
    )
    parser.add_argument(
        "--gemm-size",
        type=int,
        default=2048,
        help="side of the square matrices of the GEMM peak",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.5,
        help="seconds of idle between fits, so that the previous "
        "fit's spinning BLAS/OpenMP threads go to sleep",
    )
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = QUICK_ROWS if args.quick else list(ROWS)
    if args.quick:
        args.n_samples = args.n_samples or 2000
        args.epochs, args.repeats, args.gemm_size, args.pause = 2, 1, 1024, 0.2
        args.min_seconds = 0.0
    return args


def fitters(
    problem: c.Problem,
    use_torch: bool,
    torch_threads: int,
    single_thread_peers: bool,
    with_nonneg: bool = False,
) -> dict[str, Fitter]:
    """The implementations to time on ``problem``, ours first."""
    runs: dict[str, Fitter] = {
        OURS: c.fit_ours,
        # The bounded output alone: its defaults' members, input bins and early
        # stopping are pinned off, so the row shows what the output itself costs.
        "ours-softplus": lambda p, X, y, e: c.fit_ours(
            p, X, y, e, output_activation="softplus", **c.SINGLE_NETWORK
        ),
    }
    if with_nonneg:  # the cost of constraints: every weight projected onto >= 0
        runs["ours-nonneg"] = lambda p, X, y, e: c.fit_ours(
            p,
            X,
            y,
            e,
            output_activation="softplus",
            nonneg_weights="all",
            **c.SINGLE_NETWORK,
        )
    runs["MLPRegressor"] = c.fit_sklearn
    if single_thread_peers:
        runs["MLPRegressor-1t"] = lambda p, X, y, e: c.fit_sklearn(
            p, X, y, e, blas_threads=1
        )
    if use_torch and problem.solver == "adam":
        runs["PyTorch"] = lambda p, X, y, e: c.fit_torch(
            p, X, y, e, threads=torch_threads
        )
        if single_thread_peers:
            runs["PyTorch-1t"] = lambda p, X, y, e: c.fit_torch(p, X, y, e, threads=1)
    return runs


def epochs_for(
    problem: c.Problem, X: np.ndarray, y: np.ndarray, least: int, min_seconds: float
) -> int:
    """At least ``least`` epochs, and as many as make a fit of ours last about
    ``min_seconds`` (timed on a fit of ``least`` epochs)."""
    if min_seconds <= 0:
        return least
    per_epoch = fitters(problem, False, 1, False)[OURS](problem, X, y, least).per_epoch
    return max(least, math.ceil(min_seconds / per_epoch))


def time_row(
    problem: c.Problem,
    runs: dict[str, Fitter],
    least_epochs: int,
    min_seconds: float,
    repeats: int,
    pause: float,
) -> tuple[int, dict[str, list[c.RunResult]]]:
    """Alternates the implementations' fits, ``repeats`` each, after a warm-up;
    returns the epochs each fit ran and the results."""
    X, y = c.make_data(problem.n_samples, problem.n_features, problem.dtype)
    warm = min(problem.n_samples, 512)
    warm_problem = replace(
        problem, n_samples=warm, batch_size=min(problem.batch_size, warm)
    )
    for fit in runs.values():
        fit(warm_problem, X[:warm], y[:warm], 1)
    epochs = epochs_for(problem, X, y, least_epochs, min_seconds)
    results: dict[str, list[c.RunResult]] = {name: [] for name in runs}
    for repeat in range(repeats):
        for name in c.rotated(list(runs), repeat):
            time.sleep(pause)
            results[name].append(runs[name](problem, X, y, epochs))
    return epochs, results


def machine_peak(peaks: dict[tuple[str, int | None], float], dtype: str) -> float:
    """The best GEMM rate measured in ``dtype``, on all cores or on one."""
    return max(peaks[dtype, None], peaks[dtype, 1])


def summarise(
    name: str,
    problem: c.Problem,
    results: dict[str, list[c.RunResult]],
    peaks: dict[tuple[str, int | None], float],
    threads: dict[str, str],
    epochs: int,
    repeats: int,
) -> list[dict]:
    """One CSV record per implementation of a grid row."""
    flops = c.train_flops(problem.n_samples, problem.layer_sizes)
    ours = c.median(r.per_epoch for r in results[OURS])
    peak, peak_1 = machine_peak(peaks, problem.dtype), peaks[problem.dtype, 1]
    records = []
    for impl, runs in results.items():
        per_epoch = c.median(r.per_epoch for r in runs)
        gflops = flops / per_epoch / 1e9
        records.append(
            {
                "row": name,
                "n_samples": problem.n_samples,
                "n_features": problem.n_features,
                "hidden": "x".join(map(str, problem.hidden)),
                "batch_size": problem.n_samples
                if problem.solver == "lbfgs"
                else min(problem.batch_size, problem.n_samples),
                "dtype": problem.dtype,
                "solver": problem.solver,
                "epochs": epochs,
                "repeats": repeats,
                "impl": impl,
                "threads": threads[impl],
                "s_per_epoch": per_epoch,
                "s_per_epoch_min": min(r.per_epoch for r in runs),
                "s_per_epoch_max": max(r.per_epoch for r in runs),
                "gflops": gflops,
                "peak_gflops": peak,
                "peak_share": gflops / peak,
                "peak_all_threads_gflops": peaks[problem.dtype, None],
                "peak_1thread_gflops": peak_1,
                "peak_1thread_share": gflops / peak_1,
                "time_vs_ours": per_epoch / ours,
                **c.paired_ratio_range(
                    [r.per_epoch for r in runs], [r.per_epoch for r in results[OURS]]
                ),
                "final_loss": c.median(r.loss for r in runs),
                "load_avg_1min": c.load_average(),
            }
        )
    return records


def plot_throughput(
    records: list[dict], peaks: dict[tuple[str, int | None], float], path: Path
) -> None:
    """GFLOP/s against batch size (Adam rows), one panel per network."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    adam = [r for r in records if r["solver"] == "adam"]
    networks = sorted({(r["n_features"], r["hidden"]) for r in adam})
    if not networks:
        return
    impls = list(dict.fromkeys(r["impl"] for r in adam))
    colours = {impl: f"C{i}" for i, impl in enumerate(impls)}
    fig, axes = plt.subplots(
        1, len(networks), figsize=(6 * len(networks), 4.5), squeeze=False
    )
    for ax, (n_features, hidden) in zip(axes[0], networks):
        rows = [
            r for r in adam if r["n_features"] == n_features and r["hidden"] == hidden
        ]
        for impl, dtype in sorted({(r["impl"], r["dtype"]) for r in rows}):
            series = sorted(
                (r["batch_size"], r["gflops"])
                for r in rows
                if (r["impl"], r["dtype"]) == (impl, dtype)
            )
            ax.plot(
                *zip(*series),
                marker="o",
                color=colours[impl],
                ls="-" if dtype == "float64" else "-.",
                label=f"{impl} {dtype}",
            )
        for dtype in sorted({r["dtype"] for r in rows}):
            ax.axhline(machine_peak(peaks, dtype), ls="--", lw=0.8, color="grey")
            ax.axhline(peaks[dtype, 1], ls=":", lw=0.8, color="grey")
            ax.annotate(
                f"GEMM peak {dtype}: machine (--), 1 core (:)",
                (0.01, machine_peak(peaks, dtype)),
                xycoords=("axes fraction", "data"),
                fontsize=7,
                va="bottom",
            )
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="batch size",
            ylabel="GFLOP/s",
            title=f"{rows[0]['n_samples']} x {n_features}, hidden ({hidden})",
        )
        batches = sorted({r["batch_size"] for r in rows})
        ax.set_xticks(batches, [str(b) for b in batches], minor=False)
        ax.set_xticks([], minor=True)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def ratio_summary(records: list[dict]) -> str:
    """A table of each implementation's s/epoch divided by ours, one line per row."""
    impls = [i for i in dict.fromkeys(r["impl"] for r in records) if i != OURS]
    lines: dict[str, dict] = {}
    for r in records:
        lines.setdefault(r["row"], {"row": r["row"]})[r["impl"]] = r["time_vs_ours"]
    return (
        "Summary: s/epoch divided by ours' (> 1 means ours is faster)\n"
        + c.format_table(list(lines.values()), ["row", *impls])
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_threads = c.setup_threads(args.no_torch, args.torch_threads)
    use_torch, torch_threads, blas = (
        run_threads.use_torch,
        run_threads.torch,
        run_threads.blas,
    )
    threads = run_threads.labels
    problems = {
        name: ROWS[name]
        if args.n_samples is None
        else replace(
            ROWS[name],
            n_samples=args.n_samples,
            batch_size=min(ROWS[name].batch_size, args.n_samples),
        )
        for name in args.rows
    }
    c.print_run_header(run_threads)
    dtypes = sorted({p.dtype for p in problems.values()})
    peaks = {
        (d, t): c.gemm_peak_gflops(d, args.gemm_size, threads=t)
        for d in dtypes
        for t in (None, 1)
    }
    for d in dtypes:
        print(
            f"GEMM peak {d} ({args.gemm_size}^2 matmul): {peaks[d, None]:.1f} "
            f"GFLOP/s on {blas} threads, {peaks[d, 1]:.1f} GFLOP/s on 1"
        )
    print(
        f"at least {args.epochs} epochs per fit and about {args.min_seconds} s of "
        f"ours, {args.repeats} repeats, {args.pause} s pause "
        "between fits; s_per_epoch is the median; time_vs_ours = s_per_epoch divided "
        "by ours' (> 1: ours is faster); peak_share against the best GEMM rate\n"
    )

    records: list[dict] = []
    for name, problem in problems.items():
        runs = fitters(
            problem,
            use_torch,
            torch_threads,
            args.single_thread_peers,
            args.with_nonneg,
        )
        epochs, results = time_row(
            problem, runs, args.epochs, args.min_seconds, args.repeats, args.pause
        )
        rows = summarise(name, problem, results, peaks, threads, epochs, args.repeats)
        records += rows
        print(
            f"[{name}] {problem.describe()}: "
            f"{c.train_flops(problem.n_samples, problem.layer_sizes) / 1e9:.2f} "
            f"GFLOP per epoch, {epochs} epochs a fit"
        )
        print(
            c.format_table(
                rows,
                [
                    "impl",
                    "threads",
                    "s_per_epoch",
                    "gflops",
                    "peak_share",
                    "peak_1thread_share",
                    "time_vs_ours",
                    "final_loss",
                ],
            )
            + "\n"
        )
        sys.stdout.flush()

    print(ratio_summary(records))
    out = c.RESULTS_DIR / ("quick" if args.quick else "")
    c.write_csv(out / "fit.csv", records)
    plot_throughput(records, peaks, out / "fit_throughput.png")
    print(f"\nwrote {out / 'fit.csv'} and {out / 'fit_throughput.png'}")


if __name__ == "__main__":
    main()
