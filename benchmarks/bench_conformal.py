"""Prediction intervals with guaranteed coverage: ConformalQuantileRegressor against
gradient boosting calibrated by MAPIE, on generated positive data.

The data are ``bench_quantile.py``'s three shapes (``lognormal``, ``gamma``,
``near0``: 4 standard-normal features, positive right-skewed targets whose spread
varies with the features), at ``--sizes`` rows (2,000 and 10,000) with ``--seeds``
seeds (5); each draws its own ``--test-rows`` (10,000) test rows. Three quarters of
the rows train, one quarter calibrates (the same split for every model).

Implementations, for the nominal coverages 0.8, 0.9 and 0.95:

* ``ours``: ``ConformalQuantileRegressor(PositiveMLPRegressor(loss='quantile'),
  coverage=[0.8, 0.9, 0.95], calibration_fraction=0.25)``: one network for the six
  tail levels and the median, calibrated, bands raised to the floor and nested;
* ``ours-uncalibrated``: the same network's tail levels as they are;
* ``HGB+MAPIE``: MAPIE's ``ConformalizedQuantileRegressor`` on
  ``HistGradientBoostingRegressor(loss='quantile')`` at its defaults, one per
  coverage (three boosted models each), fitted and conformalized on the same rows.

Reported per implementation, shape, size and coverage (mean and standard deviation
over the seeds): the test coverage, the mean band width, the share of lower bounds
below 0 (the targets' floor) and the share of test rows where a higher coverage's
band does not contain a lower one's (``not_nested``).

Writes ``results/conformal.csv`` (a row per setting x seed x implementation x
coverage) and ``results/conformal.md`` (the tables, which the documentation
includes). Needs the ``mapie`` extra.

    python benchmarks/bench_conformal.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from _common import RESULTS_DIR, load_average, write_csv
from bench_quantile import N_FEATURES, SHAPES
from mapie.regression import ConformalizedQuantileRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning

from positive_mlp import ConformalQuantileRegressor, PositiveMLPRegressor

COVERAGES = (0.8, 0.9, 0.95)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES))
    parser.add_argument("--sizes", nargs="+", type=int, default=[2000, 10000])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--test-rows", type=int, default=10000)
    parser.add_argument("--quick", action="store_true", help="a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.shapes, args.sizes, args.seeds, args.test_rows = (
            ["lognormal"],
            [800],
            1,
            2000,
        )
    return args


def make_data(shape: str, n_rows: int, n_test: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows + n_test, N_FEATURES))
    _, sample = SHAPES[shape](X)
    y = sample(rng)
    return X[:n_rows], y[:n_rows], X[n_rows:], y[n_rows:]


def split(n_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and calibration rows: three quarters and one quarter."""
    order = np.random.default_rng(seed + 1000).permutation(n_rows)
    cut = n_rows - n_rows // 4
    return order[:cut], order[cut:]


def ours(X, y, X_test, seed) -> dict[str, np.ndarray]:
    """Bands (n_test, 2, n_coverages) of the calibrated and the raw network."""
    train, calibration = split(len(y), seed)
    model = PositiveMLPRegressor(loss="quantile", random_state=seed)
    model.set_params(quantile=[0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975])
    model.fit(X[train], y[train])
    bands = ConformalQuantileRegressor(model, coverage=list(COVERAGES), prefit=True)
    bands.fit(X[calibration], y[calibration])
    _, calibrated = bands.predict_interval(X_test)
    raw = model.predict(X_test)  # levels in increasing order
    uncalibrated = np.stack([raw[:, [2, 1, 0]], raw[:, [4, 5, 6]]], axis=1)
    return {"ours": calibrated, "ours-uncalibrated": uncalibrated}


def hgb_mapie(X, y, X_test, seed) -> dict[str, np.ndarray]:
    train, calibration = split(len(y), seed)
    bands = []
    for coverage in COVERAGES:
        mapie = ConformalizedQuantileRegressor(
            HistGradientBoostingRegressor(loss="quantile", random_state=seed),
            confidence_level=coverage,
        )
        mapie.fit(X[train], y[train]).conformalize(X[calibration], y[calibration])
        bands.append(mapie.predict_interval(X_test)[1][:, :, 0])
    return {"HGB+MAPIE": np.stack(bands, axis=2)}


def measures(bands: np.ndarray, y: np.ndarray) -> list[dict[str, float]]:
    lower, upper = bands[:, 0], bands[:, 1]
    nested = (np.diff(lower, axis=1) <= 1e-12) & (np.diff(upper, axis=1) >= -1e-12)
    not_nested = float(np.mean(~nested.all(axis=1)))
    return [
        {
            "coverage": float(np.mean((y >= lower[:, k]) & (y <= upper[:, k]))),
            "width": float(np.mean(upper[:, k] - lower[:, k])),
            "below_floor": float(np.mean(lower[:, k] < 0)),
            "not_nested": not_nested,
        }
        for k in range(len(COVERAGES))
    ]


def run(args: argparse.Namespace) -> list[dict]:
    records = []
    for shape in args.shapes:
        for n_rows in args.sizes:
            for seed in range(args.seeds):
                X, y, X_test, y_test = make_data(shape, n_rows, args.test_rows, seed)
                for fit in (ours, hgb_mapie):
                    start = time.perf_counter()
                    results = fit(X, y, X_test, seed)
                    seconds = time.perf_counter() - start
                    for impl, bands in results.items():
                        for coverage, row in zip(COVERAGES, measures(bands, y_test)):
                            records.append(
                                {
                                    "shape": shape,
                                    "n_rows": n_rows,
                                    "seed": seed,
                                    "impl": impl,
                                    "nominal": coverage,
                                    **row,
                                    "fit_seconds": seconds,
                                    "load_avg_1min": load_average(),
                                }
                            )
                print(f"{shape} {n_rows} seed {seed}: done")
    return records


def _mean_std(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    values = np.asarray(values) * scale
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def tables(records: list[dict]) -> str:
    """Coverage (%) and width, per shape, size and coverage; then the floor and
    nesting summary per implementation."""
    impls = list(dict.fromkeys(r["impl"] for r in records))
    lines = [
        "Test coverage in % (mean ± std over seeds) and mean band width, by nominal "
        "coverage:",
        "",
        "| shape, rows | nominal | "
        + " | ".join(f"{i} coverage | {i} width" for i in impls)
        + " |",
        "|---|---|" + "---|---|" * len(impls),
    ]
    settings = dict.fromkeys((r["shape"], r["n_rows"], r["nominal"]) for r in records)
    for shape, n_rows, nominal in settings:
        cells = []
        for impl in impls:
            rows = [
                r
                for r in records
                if (r["shape"], r["n_rows"], r["nominal"], r["impl"])
                == (shape, n_rows, nominal, impl)
            ]
            cells += [
                _mean_std([r["coverage"] for r in rows], 100),
                _mean_std([r["width"] for r in rows], digits=3),
            ]
        lines.append(
            f"| {shape}, {n_rows:,} | {nominal:.0%} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "Over every setting: coverage minus nominal (percentage points: mean, and the "
        "lowest of the settings' means), lower bounds below the floor 0, and test "
        "rows whose bands are not nested:",
        "",
        "| implementation | coverage - nominal | lowest setting | lower bounds < 0 "
        "| rows not nested |",
        "|---|---|---|---|---|",
    ]
    for impl in impls:
        rows = [r for r in records if r["impl"] == impl]
        gaps = [100 * (r["coverage"] - r["nominal"]) for r in rows]
        by_setting = {}
        for r in rows:
            key = (r["shape"], r["n_rows"], r["nominal"])
            by_setting.setdefault(key, []).append(100 * (r["coverage"] - r["nominal"]))
        lowest = min(np.mean(v) for v in by_setting.values())
        below = np.mean([r["below_floor"] for r in rows])
        nested = np.mean([r["not_nested"] for r in rows])
        lines.append(
            f"| {impl} | {np.mean(gaps):+.2f} | {lowest:+.2f} | {below:.2%} | "
            f"{nested:.2%} |"
        )
    loads = [r["load_avg_1min"] for r in records]
    lines += ["", f"Load average (1 minute): {min(loads):.1f}-{max(loads):.1f}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    records = run(args)
    out = RESULTS_DIR / "quick" if args.quick else RESULTS_DIR
    write_csv(out / "conformal.csv", records)
    Path(out / "conformal.md").write_text(tables(records))
    print(tables(records))


if __name__ == "__main__":
    main()
