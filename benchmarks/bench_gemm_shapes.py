"""How close one BLAS thread comes to its peak on the products of a training step.

The core runs each thread's share of a batch through the BLAS SciPy loaded, one
thread each. This times those products alone, in a hot loop of a small C++ program
(``native/gemm_shapes.cpp``, compiled here with the system's C++ compiler), against
the same thread's rate on a 1024^3 product. If the small products already run near
the peak, a kernel library would not speed up the fit's products; the rest of an
epoch's time is elsewhere (the loops between products, the threads' meetings).

Shapes: a thread's rows r = batch / 2 (two threads) for the benchmark's networks
(20 features, (64, 64); 100 features, (256, 256)); per hidden layer a step makes a
forward product (r x h x h, NN), a weight gradient (h x h x r, TN) and an input
gradient (r x h x h, NT); the first layer's products have a side of 20 or 100.

The program runs in rounds (the square, then every shape) and each shape's rate is
divided by its own round's square rate, so a slower spell of a shared machine
affects both alike. Writes ``results/gemm_shapes.csv``: per dtype and shape the
median GFLOP/s over the rounds, its range, and the median (and range) of the
shares of the round's square.

    python benchmarks/bench_gemm_shapes.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import scipy.linalg  # loads SciPy's BLAS, the core's
from _common import RESULTS_DIR, load_average, median, write_csv
from threadpoolctl import threadpool_info

SOURCE = Path(__file__).parent / "native" / "gemm_shapes.cpp"

# (network, features, hidden width, batch): the products of one thread's share.
SETTINGS = [
    ("(64,64)", 20, 64, 32),
    ("(64,64)", 20, 64, 256),
    ("(256,256)", 100, 256, 256),
    ("(256,256)", 100, 256, 2048),
]


def step_products(features: int, width: int, rows: int) -> list[tuple[str, str]]:
    """(role, "m,n,k,ta,tb") of the GEMMs of one step on one thread's rows."""
    return [
        ("forward, first layer", f"{rows},{width},{features},N,N"),
        ("forward, hidden layer", f"{rows},{width},{width},N,N"),
        ("weight gradient, hidden layer", f"{width},{width},{rows},T,N"),
        ("weight gradient, first layer", f"{features},{width},{rows},T,N"),
        ("input gradient, hidden layer", f"{rows},{width},{width},N,T"),
    ]


def scipy_blas() -> Path:
    """The OpenBLAS that SciPy's ``cython_blas`` (the core's BLAS) comes from."""
    site = Path(scipy.__file__).parent.parent
    homes = (site / "scipy.libs", site / "scipy")  # Linux wheels; macOS: scipy/.dylibs
    for info in threadpool_info():
        path = Path(info["filepath"])
        if info["internal_api"] == "openblas" and any(h in path.parents for h in homes):
            return path
    raise SystemExit("SciPy's OpenBLAS was not found; this benchmark needs it")


def compile_program(workdir: Path) -> Path:
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        raise SystemExit("a C++ compiler is needed (set CXX)")
    program = workdir / "gemm_shapes"
    subprocess.run(
        [compiler, "-O2", "-std=c++17", str(SOURCE), "-o", str(program), "-ldl"],
        check=True,
    )
    return program


def measure(program: Path, blas: Path, dtype: str, shapes: list[str], repeats: int):
    """{(m, n, k, ta, tb): [GFLOP/s per round]}, the square included."""
    code = "d" if dtype == "float64" else "s"
    out = subprocess.run(
        [str(program), str(blas), "scipy_", code, str(repeats), *shapes],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rates: dict[tuple, list[float]] = defaultdict(list)
    for line in out.splitlines():  # in round order
        m, n, k, ta, tb, _, gflops = line.split()
        rates[int(m), int(n), int(k), ta, tb].append(float(gflops))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    blas = scipy_blas()
    print(f"BLAS: {blas.name}, one thread; load {load_average():.2f}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        program = compile_program(Path(tmp))
        for dtype in ("float64", "float32"):
            products = {
                (network, batch, role, shape)
                for network, features, width, batch in SETTINGS
                for role, shape in step_products(features, width, batch // 2)
            }
            shapes = sorted({shape for *_, shape in products})
            rates = measure(program, blas, dtype, shapes, args.repeats)
            peaks = rates[1024, 1024, 1024, "N", "N"]
            for network, batch, role, shape in sorted(products):
                m, n, k, ta, tb = shape.split(",")
                got = rates[int(m), int(n), int(k), ta, tb]
                shares = [g / p for g, p in zip(got, peaks)]  # a round's own peak
                rows.append(
                    {
                        "dtype": dtype,
                        "network": network,
                        "batch": batch,
                        "thread_rows": batch // 2,
                        "product": role,
                        "m": int(m),
                        "n": int(n),
                        "k": int(k),
                        "op": ta + tb,
                        "gflops": round(median(got), 2),
                        "gflops_min": round(min(got), 2),
                        "gflops_max": round(max(got), 2),
                        "peak_1thread_gflops": round(median(peaks), 2),
                        "peak_share": round(median(shares), 3),
                        "peak_share_min": round(min(shares), 3),
                        "peak_share_max": round(max(shares), 3),
                        "load": round(load_average(), 2),
                    }
                )
                print(
                    f"{dtype} {network} b{batch} {role:31s} {m}x{n}x{k} {ta}{tb}: "
                    f"{median(got):6.1f} GFLOP/s ({min(got):.1f}-{max(got):.1f}), "
                    f"{median(shares):.0%} ({min(shares):.0%}-{max(shares):.0%}) "
                    f"of the round's 1024^3"
                )
    write_csv(RESULTS_DIR / "gemm_shapes.csv", rows)
    print(f"wrote {RESULTS_DIR / 'gemm_shapes.csv'}")


if __name__ == "__main__":
    np.seterr(all="raise")
    main()
