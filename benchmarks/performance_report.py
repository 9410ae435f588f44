"""The performance tables of the documentation, written from the benchmarks' CSVs.

Reads ``results/fit.csv`` (bench_fit.py), ``results/predict.csv`` (bench_predict.py),
``results/members.csv`` (bench_members.py), ``results/threads.csv``
(bench_threads.py), ``results/subnormal.csv``
(bench_subnormal.py), ``results/gemm_shapes.csv`` (bench_gemm_shapes.py),
``results/sparse.csv`` and ``results/sparse_memory.csv`` (bench_sparse.py) and
``results/scaling.csv`` (bench_scaling.py), and writes ``results/performance.md``,
which the documentation's performance page includes, and ``results/dask_grid.md``
from ``results/dask_grid.csv`` (bench_dask.py), which its Dask page includes.
``--check`` changes nothing and fails when a file is not what the CSVs give: no
figure in them is typed by hand.

    python benchmarks/performance_report.py [--check]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPORT = RESULTS_DIR / "performance.md"
DASK_REPORT = RESULTS_DIR / "dask_grid.md"  # the Dask page's table

OURS = "ours"
FIT_ROWS = {  # bench_fit.py's grid rows, as the tables name them
    "s-b32": "(64, 64), batch 32",
    "s-b256": "(64, 64), batch 256",
    "s-b2048": "(64, 64), batch 2048",
    "l-b32": "(256, 256), batch 32",
    "l-b256": "(256, 256), batch 256",
    "l-b2048": "(256, 256), batch 2048",
    "l-b256-f32": "(256, 256), batch 256, float32",
    "l-b2048-f32": "(256, 256), batch 2048, float32",
    "s-lbfgs": "(64, 64), L-BFGS-B iteration",
    "l-lbfgs": "(256, 256), L-BFGS-B iteration",
}


def read(name: str) -> list[dict[str, str]]:
    with (RESULTS_DIR / name).open(newline="") as f:
        return list(csv.DictReader(f))


def _ratio(row: dict[str, str] | None) -> str:
    """A peer's time over ours: the medians' ratio, and the range over the repeats."""
    if row is None:
        return "-"
    text = f"{float(row['time_vs_ours']):.2f}"
    if row.get("time_vs_ours_low"):
        low, high = float(row["time_vs_ours_low"]), float(row["time_vs_ours_high"])
        text += f" ({low:.2f}-{high:.2f})"
    return text


def _seconds(value: float) -> str:
    if value < 1e-3:
        return f"{value * 1e6:.0f} us"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def _spread(row: dict[str, str], key: str) -> str:
    low, high = row.get(f"{key}_min"), row.get(f"{key}_max")
    if not high:
        return f"{_seconds(float(row[key]))}"
    return (
        f"{_seconds(float(row[key]))} ({_seconds(float(low))}-{_seconds(float(high))})"
    )


def _by(
    rows: list[dict[str, str]], *keys: str
) -> dict[tuple[str, ...], dict[str, str]]:
    return {tuple(row[k] for k in keys): row for row in rows}


def fit_table(rows: list[dict[str, str]]) -> list[str]:
    by = _by(rows, "row", "impl")
    lines = [
        "| 20,000 rows, Adam unless said | epochs a fit | ours s/epoch (min-max) | "
        "GFLOP/s, share of the GEMM peak | MLPRegressor / ours (range) | "
        "PyTorch / ours (range) |",
        "|---|---|---|---|---|---|",
    ]
    for name, label in FIT_ROWS.items():
        ours = by.get((name, OURS))
        if ours is None:
            continue
        lines.append(
            f"| {label} | {ours['epochs']} | {_spread(ours, 's_per_epoch')} | "
            f"{float(ours['gflops']):.1f} ({float(ours['peak_share']):.0%}) | "
            f"{_ratio(by.get((name, 'MLPRegressor')))} | "
            f"{_ratio(by.get((name, 'PyTorch')))} |"
        )
    return lines


def float32_speedups(rows: list[dict[str, str]]) -> list[str]:
    by = _by(rows, "row", "impl")
    parts = []
    for batch in ("256", "2048"):
        f64, f32 = by.get((f"l-b{batch}", OURS)), by.get((f"l-b{batch}-f32", OURS))
        if f64 and f32:
            ratio = float(f64["s_per_epoch"]) / float(f32["s_per_epoch"])
            parts.append(f"{ratio:.2f}x at batch {batch}")
    return parts


def predict_table(rows: list[dict[str, str]]) -> list[str]:
    by = _by(rows, "n_rows", "hidden", "impl")
    networks = sorted(
        {row["hidden"] for row in rows}, key=lambda h: int(h.split("x")[0])
    )
    sizes = sorted({row["n_rows"] for row in rows}, key=int)
    head = "| rows |" + "".join(
        f" ({h.replace('x', ', ')}): ours | MLPRegressor / ours | PyTorch / ours |"
        for h in networks
    )
    lines = [head, "|---|" + "---|---|---|" * len(networks)]
    for n in sizes:
        cells = []
        for h in networks:
            ours = by[(n, h, OURS)]
            cells += [
                _seconds(float(ours["seconds"])),
                _ratio(by.get((n, h, "MLPRegressor"))),
                _ratio(by.get((n, h, "PyTorch"))),
            ]
        lines.append(f"| {int(n):,} | " + " | ".join(cells) + " |")
    return lines


def members_table(rows: list[dict[str, str]]) -> list[str]:
    lines = [
        "| network | members k | epoch of k members / one member's | "
        "VotingRegressor of k / k members |",
        "|---|---|---|---|",
    ]
    for row in rows:
        vs_one, voting = float(row["members_vs_one"]), float(row["voting_vs_members"])
        lines.append(
            f"| {row['problem']} | {row['members']} | {vs_one:.2f} | {voting:.2f} |"
        )
    return lines


def threads_table(rows: list[dict[str, str]]) -> list[str]:
    lines = [
        "| network | rows x parameters a step | default s/epoch | "
        "one thread / default (range) |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['problem']} | {int(row['work']):,} | "
            f"{_seconds(float(row['default_s_per_epoch']))} | "
            f"{float(row['one_thread_vs_default']):.2f} "
            f"({float(row['ratio_low']):.2f}-{float(row['ratio_high']):.2f}) |"
        )
    return lines


def subnormal_lines(rows: list[dict[str, str]]) -> list[str]:
    lines = [
        "| dtype | mode | ms per call, first 10,000 steps | last 10,000 of "
        "the run (steps) | subnormal values at the end |",
        "|---|---|---|---|---|",
    ]
    for dtype in dict.fromkeys(row["dtype"] for row in rows):
        for mode in ("flushed", "exact"):
            windows = [r for r in rows if r["dtype"] == dtype and r["mode"] == mode]
            first, last = windows[0], windows[-1]
            lines.append(
                f"| {dtype} | {mode} | {float(first['ms_per_call']):.1f} "
                f"({first['ms_spread']}) | {float(last['ms_per_call']):.1f} "
                f"({last['ms_spread']}; {int(last['steps']):,}) | "
                f"{last['subnormal_values']} |"
            )
    return lines


def sparse_table(rows: list[dict[str, str]]) -> list[str]:
    lines = [
        "| model, input | s/epoch (min-max) | epoch / ours on CSR | predict s "
        "(min-max) | predict / ours on CSR |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['impl']}, {row['input']} | {_spread(row, 's_per_epoch')} | "
            f"{float(row['epoch_vs_ours_sparse']):.2f} | "
            f"{_spread(row, 'predict_s')} | "
            f"{float(row['predict_vs_ours_sparse']):.2f} |"
        )
    return lines


def sparse_memory_lines(rows: list[dict[str, str]]) -> list[str]:
    row = rows[0]
    return [
        f"A fit on {int(row['n_rows']):,} rows x {int(row['n_features']):,} columns "
        f"({int(row['nnz']) // int(row['n_rows'])} nonzeros a row; hidden "
        f"({row['hidden']},), one epoch): X's CSR arrays take "
        f"{float(row['x_mb']):,.0f} MiB (dense: {float(row['dense_x_mb']) / 1024:,.0f} "
        f"GiB); the fit added {float(row['fit_extra_mb']):,.0f} MiB to them "
        f"({int(row['n_params']):,} parameters) and took {float(row['fit_s']):,.0f} s."
    ]


def scaling_table(rows: list[dict[str, str]]) -> list[str]:
    by = _by(rows, "n_samples", "impl")
    sizes = sorted({row["n_samples"] for row in rows}, key=int)
    lines = [
        "| rows | ours s/epoch | MLPRegressor / ours | ours memory beyond the data |",
        "|---|---|---|---|",
    ]
    for n in sizes:
        ours, theirs = by.get((n, OURS)), by.get((n, "MLPRegressor"))
        if ours is None:
            continue
        ratio = (
            f"{float(theirs['s_per_epoch']) / float(ours['s_per_epoch']):.2f}"
            if theirs
            else "-"
        )
        lines.append(
            f"| {int(n):,} | {_seconds(float(ours['s_per_epoch']))} | {ratio} | "
            f"{float(ours['fit_extra_mb']):,.1f} MiB |"
        )
    return lines


def dask_table(rows: list[dict[str, str]]) -> list[str]:
    lines = [
        "| how | search s (fastest) | speed-up over one fit after another | "
        "cluster start-up | largest score difference |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        start = float(row["cluster_start_s"])
        lines.append(
            f"| {row['mode']} | {_seconds(float(row['search_s']))} "
            f"({_seconds(float(row['search_s_min']))}) | "
            f"{float(row['speedup']):.2f} | "
            f"{'-' if start != start else _seconds(start)} | "
            f"{float(row['max_score_difference']):.1e} |"
        )
    return lines


GEMM_PRODUCTS = (
    "forward, first layer",
    "forward, hidden layer",
    "weight gradient, first layer",
    "weight gradient, hidden layer",
    "input gradient, hidden layer",
)


def gemm_shapes_table(rows: list[dict[str, str]]) -> list[str]:
    """Per step setting, each product's share of one thread's square-product rate."""
    by = _by(rows, "dtype", "network", "batch", "product")
    settings = dict.fromkeys((r["dtype"], r["network"], r["batch"]) for r in rows)
    lines = [
        "| dtype | network, batch (rows per thread) | "
        + " | ".join(GEMM_PRODUCTS)
        + " |",
        "|---|---|" + "---|" * len(GEMM_PRODUCTS),
    ]

    def order(setting: tuple[str, str, str]) -> tuple[bool, int, int]:
        dtype, network, batch = setting  # float64 first, then by width and batch
        return dtype != "float64", int(network.strip("(").split(",")[0]), int(batch)

    for dtype, network, batch in sorted(settings, key=order):
        cells = []
        for product in GEMM_PRODUCTS:
            row = by[(dtype, network, batch, product)]
            cells.append(
                f"{float(row['peak_share']):.0%} ({row['m']}x{row['n']}x{row['k']})"
            )
        rows_per_thread = by[(dtype, network, batch, GEMM_PRODUCTS[0])]["thread_rows"]
        lines.append(
            f"| {dtype} | {network}, {batch} ({rows_per_thread}) | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def _loads(*tables: list[dict[str, str]]) -> str:
    loads = [
        float(row.get("load_avg_1min") or row.get("load_average") or row["load"])
        for rows in tables
        for row in rows
    ]
    return f"{min(loads):.1f}-{max(loads):.1f}"


def render() -> str:
    fit, predict = read("fit.csv"), read("predict.csv")
    members, subnormal = read("members.csv"), read("subnormal.csv")
    threads = read("threads.csv")
    gemm_shapes = read("gemm_shapes.csv")
    sparse, sparse_memory = read("sparse.csv"), read("sparse_memory.csv")
    scaling = read("scaling.csv")
    sparse_setting = sparse[0]
    peak = float(
        next(r for r in fit if r["dtype"] == "float64")["peak_all_threads_gflops"]
    )
    lines = [
        "Fit (`python benchmarks/bench_fit.py`; median of the repeats, each a fit of "
        "as many epochs as make a fit of ours last about a second, at least 5; a "
        "ratio above 1: ours is faster; the range is over the repeats, "
        f"each timed beside ours; float64 GEMM peak of this run {peak:.1f} GFLOP/s on "
        "2 threads):",
        "",
        *fit_table(fit),
        "",
        f"float32 against float64 per epoch: {', '.join(float32_speedups(fit))}.",
        "",
        "Predict (`python benchmarks/bench_predict.py`; 20 features; per call, "
        "median of the repeats):",
        "",
        *predict_table(predict),
        "",
        "In-model ensembles (`python benchmarks/bench_members.py`; per epoch, median "
        "of the repeats):",
        "",
        *members_table(members),
        "",
        "Two threads on small steps (`python benchmarks/bench_threads.py`: "
        "n_threads=1 against the default, which splits a step over two threads "
        "from 2 x 2^15 rows x parameters on; per epoch, median of the repeats):",
        "",
        *threads_table(threads),
        "",
        "Subnormal numbers (`python benchmarks/bench_subnormal.py`: 100,000-row "
        "`partial_fit` calls of 500 Adam steps, Poisson loss, 'exp' output; "
        "flushed is the default, exact is IEEE arithmetic; the two take alternate "
        "calls):",
        "",
        *subnormal_lines(subnormal),
        "",
        "The BLAS on a step's products (`python benchmarks/bench_gemm_shapes.py`: "
        "one thread in a hot loop, as a share of its rate on a 1024^3 product in "
        "the same round; median of the rounds; m x n x k):",
        "",
        *gemm_shapes_table(gemm_shapes),
        "",
        "Sparse input (`python benchmarks/bench_sparse.py`: "
        f"{int(sparse_setting['n_rows']):,} rows x "
        f"{int(sparse_setting['n_features']):,} columns, "
        f"{float(sparse_setting['nnz_per_row']):.0f} nonzeros a row, hidden "
        f"({sparse_setting['hidden']},), batch {sparse_setting['batch_size']}, "
        "Adam; median of the repeats):",
        "",
        *sparse_table(sparse),
        "",
        *sparse_memory_lines(sparse_memory),
        "",
        "Rows (`python benchmarks/bench_scaling.py`: hidden (64, 64), batch 200; "
        "per epoch):",
        "",
        *scaling_table(scaling),
        "",
        "Load average (1 minute) during these runs: "
        f"{_loads(fit, predict, members, threads, gemm_shapes, sparse, scaling)}.",
    ]
    return "\n".join(lines) + "\n"


def render_dask() -> str:
    rows = read("dask_grid.csv")
    setting = rows[0]
    lines = [
        f"`python benchmarks/bench_dask.py`: {int(setting['n_samples']):,} rows, "
        f"{setting['n_features']} features, {setting['fits']} fits of "
        f"{setting['epochs']} epochs, on {setting['cores']} cores (load average "
        f"{float(setting['load_average']):.1f}):",
        "",
        *dask_table(rows),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    reports = {REPORT: render(), DASK_REPORT: render_dask()}
    if args.check:
        stale = [path for path, text in reports.items() if path.read_text() != text]
        for path in stale:
            print(f"{path} differs from the CSVs; run {Path(__file__).name}")
        return 1 if stale else 0
    for path, text in reports.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
