"""Scaling with n_samples: seconds per epoch and peak memory of fit.

For n_samples from 10^3 to 10^6, each (implementation, size) runs in a fresh
subprocess that makes the data, resets the kernel's peak-RSS counter, fits, and
reports:

* ``s_per_epoch``: median over repeats of wall time / n_iter_ (max_iter=E, tol=0);
  small sizes run more epochs so that every fit sees at least ``--min-rows`` rows;
* ``rss_before_mb``: resident memory with the data in place, before fitting;
* ``peak_mb``: the process's peak resident memory during the fits: the kernel's
  high-water mark (``VmHWM`` in /proc/self/status, the counter ``ru_maxrss`` reports),
  reset after the data are made (``echo 5 > /proc/self/clear_refs``), so the data's
  making does not count. Not tracemalloc: it would miss the C++ core's buffers;
* ``fit_extra_mb`` = peak - before: what fitting adds to the data. For ours it should
  be O(batch x width) plus the 8 x n bytes of the shuffled row order (``index_mb``),
  not a copy of X per epoch (``data_mb`` is X and y).

Ours runs at every size; MLPRegressor up to ``--sklearn-max-n`` (10^5).

    python benchmarks/bench_scaling.py           # results/scaling.csv
    python benchmarks/bench_scaling.py --quick   # smoke test, results/quick/
"""

from __future__ import annotations

import argparse
import json
import resource

import _common as c

OURS = "ours"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 10^3 to 10^6 rows (MLPRegressor to 10^4), "
        "1 repeat, fewer epochs",
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10**3, 10**4, 10**5, 10**6]
    )
    parser.add_argument("--sklearn-max-n", type=int, default=10**5)
    parser.add_argument("--n-features", type=int, default=20)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--min-rows",
        type=int,
        default=2 * 10**5,
        help="run at least this many rows per fit (more epochs)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.sklearn_max_n = [10**3, 10**4, 10**5, 10**6], 10**4
        args.epochs, args.min_rows, args.repeats = 1, 2 * 10**4, 1
    return args


# ---------------------------------------------------------------- in the subprocess


def memory_mb() -> dict[str, float]:
    """Current and peak resident memory of this process, in MB (Linux /proc)."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024  # kB
    return {"rss": fields["VmRSS"], "peak": fields["VmHWM"]}


def reset_peak_memory() -> None:
    """Sets the kernel's peak-RSS counter to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def run_worker(spec: dict) -> dict:
    """Makes the data, fits ``repeats`` times, measures time and memory."""
    import gc

    problem = c.Problem(
        spec["n"],
        spec["n_features"],
        tuple(spec["hidden"]),
        spec["batch_size"],
        spec["dtype"],
    )
    X, y = c.make_data(problem.n_samples, problem.n_features, problem.dtype)
    fit = c.fit_ours if spec["impl"] == OURS else c.fit_sklearn
    warm = c.Problem(
        256,
        problem.n_features,
        problem.hidden,
        min(problem.batch_size, 256),
        problem.dtype,
    )
    fit(warm, X[:256], y[:256], 1)  # lazy imports and one-off set-up: not the fit's
    gc.collect()
    reset_peak_memory()
    before = memory_mb()
    runs = [fit(problem, X, y, spec["epochs"]) for _ in range(spec["repeats"])]
    after = memory_mb()
    return {
        "impl": spec["impl"],
        "n_samples": problem.n_samples,
        "s_per_epoch": c.median(r.per_epoch for r in runs),
        "epochs": runs[0].n_iter,
        "final_loss": runs[-1].loss,
        "data_mb": (X.nbytes + y.nbytes) / 2**20,
        "rss_before_mb": before["rss"],
        "peak_mb": after["peak"],
        "fit_extra_mb": after["peak"] - before["rss"],
        "index_mb": 8 * problem.n_samples / 2**20,
        "self_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# -------------------------------------------------------------------- in the parent


def measure(spec: dict) -> dict:
    """Runs one (implementation, size) in a fresh Python process."""
    return c.run_in_fresh_process(__file__, "--worker", spec)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return
    print(f"cores: {c.n_cores()}, load average (1 min): {c.load_average():.2f}")
    print(
        f"network {args.n_features} -> {tuple(args.hidden)} -> 1, batch "
        f"{args.batch_size}, {args.dtype}, Adam; ours n_threads=None (BLAS 1 each), "
        "MLPRegressor "
        f"numpy BLAS {c.blas_threads()} threads; one fresh process per row; memory "
        "= peak RSS (VmHWM, reset after making the data), in MiB\n"
    )
    records = []
    for n in args.sizes:
        impls = [OURS] + (["MLPRegressor"] if n <= args.sklearn_max_n else [])
        for impl in impls:
            spec = {
                "impl": impl,
                "n": n,
                "n_features": args.n_features,
                "hidden": args.hidden,
                "batch_size": args.batch_size,
                "dtype": args.dtype,
                "repeats": args.repeats,
                "epochs": max(args.epochs, -(-args.min_rows // n)),
            }
            record = {
                **measure(spec),
                "hidden": "x".join(map(str, args.hidden)),
                "batch_size": args.batch_size,
                "dtype": args.dtype,
                "repeats": args.repeats,
                "load_avg_1min": c.load_average(),
            }
            records.append(record)
            print(
                f"  {impl} n={n}: {record['s_per_epoch']:.4g} s/epoch, fit adds "
                f"{record['fit_extra_mb']:.1f} MiB to {record['data_mb']:.1f} MiB "
                "of data",
                flush=True,
            )
    print(
        "\n"
        + c.format_table(
            records,
            [
                "impl",
                "n_samples",
                "epochs",
                "s_per_epoch",
                "data_mb",
                "index_mb",
                "rss_before_mb",
                "peak_mb",
                "fit_extra_mb",
                "final_loss",
            ],
        )
    )
    out = c.RESULTS_DIR / ("quick" if args.quick else "")
    c.write_csv(out / "scaling.csv", records)
    print(f"\nwrote {out / 'scaling.csv'}")


if __name__ == "__main__":
    main()
