"""Time per step over a long ``partial_fit`` run, with subnormal numbers flushed to
zero in the core (the default) and with exact IEEE arithmetic, side by side.

Over tens of thousands of Adam steps, the moments of parameters whose gradient is 0
(a unit that no longer fires) decay geometrically below the smallest normal number
(2.2e-308 in float64, 1.2e-38 in float32), where arithmetic can take a slow path.
The run is the Dask example's stream: blocks of 100,000 insurance policies (8
features, an exposure, Poisson claim counts; 10 blocks drawn in random order),
``PositiveMLPRegressor(loss='poisson', output_activation='exp')`` fitted by one
``partial_fit`` call per block (500 Adam steps of 200 rows). Two models, identical
but for the flushing, take their calls alternately. Per window of ``--window``
calls: the median and spread of the seconds per call, and how many of the
parameters and Adam moments are subnormal. At the end: the largest relative
difference between the two models' predictions on a block.

Writes ``results/subnormal.csv`` (a row per dtype x mode x window).

    python benchmarks/bench_subnormal.py [--calls 200] [--window 20]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from _common import RESULTS_DIR, load_average, median, write_csv

from positive_mlp import PositiveMLPRegressor, _core

BLOCK_ROWS = 100_000
N_BLOCKS = 10
BATCH_SIZE = 200
MODES = {"flushed": True, "exact": False}


def blocks(dtype) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The stream's blocks: features, claim frequency and exposure."""
    out = []
    for seed in range(N_BLOCKS):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(BLOCK_ROWS, 8))
        exposure = rng.uniform(0.1, 1.0, size=BLOCK_ROWS)
        rate = np.exp(
            -1 + 0.5 * X[:, 0] - 0.3 * X[:, 1] ** 2 + 0.4 * np.sin(2 * X[:, 2])
        )
        frequency = rng.poisson(rate * exposure) / exposure
        out.append((X.astype(dtype), frequency, exposure))
    return out


def subnormal_count(model: PositiveMLPRegressor) -> int:
    """Nonzero parameters and Adam moments below the dtype's smallest normal number."""
    state = model._record.optimizer_state
    values = np.concatenate(
        [a.ravel() for a in model.coefs_ + model.intercepts_]
        + [state.first_moment, state.second_moment]
    )
    tiny = np.finfo(values.dtype).smallest_normal
    return int(np.count_nonzero((values != 0) & (np.abs(values) < tiny)))


def timed_call(model, flush: bool, X, y, w) -> float:
    previous = _core._set_flush_subnormals(flush)
    try:
        start = time.perf_counter()
        model.partial_fit(X, y, sample_weight=w)
        return time.perf_counter() - start
    finally:
        _core._set_flush_subnormals(previous)


def run(dtype, calls: int, window: int) -> list[dict]:
    data = blocks(dtype)
    models = {
        mode: PositiveMLPRegressor(
            loss="poisson",
            output_activation="exp",
            batch_size=BATCH_SIZE,
            random_state=0,
        )
        for mode in MODES
    }
    order = np.random.default_rng(1).integers(N_BLOCKS, size=calls)
    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    rows = []
    for call, block in enumerate(order):
        for mode in list(MODES) if call % 2 == 0 else list(MODES)[::-1]:
            seconds[mode].append(timed_call(models[mode], MODES[mode], *data[block]))
        if (call + 1) % window:
            continue
        for mode, model in models.items():
            recent = seconds[mode][-window:]
            rows.append(
                {
                    "dtype": np.dtype(dtype).name,
                    "mode": mode,
                    "steps": (call + 1) * -(-BLOCK_ROWS // BATCH_SIZE),
                    "ms_per_call": 1e3 * median(recent),
                    "ms_spread": f"{1e3 * min(recent):.1f}-{1e3 * max(recent):.1f}",
                    "subnormal_values": subnormal_count(model),
                    "load_average": load_average(),
                }
            )
            print(
                f"{rows[-1]['dtype']} {mode:8s} {rows[-1]['steps']:7d} steps: "
                f"{rows[-1]['ms_per_call']:6.1f} ms a call "
                f"({rows[-1]['ms_spread']}), {rows[-1]['subnormal_values']} subnormal",
                flush=True,
            )
    X = data[0][0]
    exact, flushed = models["exact"].predict(X), models["flushed"].predict(X)
    difference = float(np.max(np.abs(flushed - exact) / np.abs(exact)))
    print(f"{np.dtype(dtype).name}: predictions differ by {difference:.3g} (relative)")
    for row in rows:
        row["final_prediction_rel_difference"] = difference
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="500 Adam steps each")
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # partial_fit's convergence is not the point
        for dtype in args.dtypes:
            rows += run(dtype, args.calls, args.window)
    write_csv(args.out / "subnormal.csv", rows)


if __name__ == "__main__":
    main()
