"""Quantile regression: one PositiveMLPRegressor for five levels against one
HistGradientBoostingRegressor per level, on generated positive data whose spread
varies with the features.

The levels: 0.05, 0.25, 0.5, 0.75, 0.95. The data (``--shapes``), each with 4
standard-normal features and a positive, right-skewed target whose true conditional
quantiles are known (so the oracle's pinball loss is a floor to compare with):

* ``lognormal``: ``exp(m(x) + s(x) e)``, e standard normal,
  ``m = 0.5 + 0.5 x0 - 0.3 x1 + 0.25 x1 x2``, ``s = 0.15 + 0.6 sigmoid(1.5 x0)``:
  median and spread grow together with x0 (as ``examples/quantile_bands.py``);
* ``gamma``: Gamma with mean ``exp(0.3 + 0.4 x0 + 0.3 sin(2 x1))`` and shape
  ``1 / (0.05 + 0.6 sigmoid(2 x2))``: the coefficient of variation grows from 0.22
  to 0.80 with x2, independently of the mean;
* ``near0``: ``f(x) + d(x) G``, G ~ Gamma(shape 0.5, scale 1) (its 5% quantile is
  0.002), ``f = 0.5 softplus(x0 - 1 + 0.5 x3)``, ``d = 0.1 + 0.6 |x1|``: a
  concentration whose lower quantiles come close to 0 where x0 is small, with a
  spread set by |x1|.

Each shape at ``--sizes`` training rows (2,000 and 20,000), with ``--seeds`` seeds
(3): seed s draws the data (training rows, then ``--test-rows`` (10,000) test rows
from the same distribution) and is every model's ``random_state``.

Implementations:

* ``ours``: ``make_pipeline(StandardScaler(), PositiveMLPRegressor(loss='quantile',
  quantile=[levels], hidden_layer_sizes=(64, 64), early_stopping=True,
  max_iter=1000))``, one model for all levels (softplus staircase: every level >= 0,
  levels never cross);
* ``HGB``: ``HistGradientBoostingRegressor(loss='quantile', quantile=q)`` at its
  defaults (early stopping on from 10,000 rows), one model per level, on the raw
  features.

Reported per implementation, mean and standard deviation over seeds:

* ``coverr_q``: |coverage - q| on the test rows, coverage being the share of test
  targets <= the predicted q-quantile (``coverage_q`` in the CSV too);
* ``pinball_q``: ``sklearn.metrics.mean_pinball_loss(y, pred_q, alpha=q)`` on the
  test rows, ``pinball_sum`` their sum and ``pinball_vs_oracle`` that sum divided by
  the true quantiles' (1 is the best possible; it has sampling noise too);
* ``cross_pct``: the share of test rows where two levels cross (a higher level
  predicted below a lower one); ``cross_pushed_pct`` the same on the test inputs
  pushed out of the training range, ``X_test * 3`` and ``X_test * -3`` together
  (gradient boosting extrapolates flat, the network extrapolates);
* ``below0_pct``, ``below0_pushed_pct``: the share of predictions (rows x levels)
  below 0, on the same inputs;
* ``fit_s``: wall time of the fit: ours one model, HGB the sum of its five;
  ``iters``: ours ``n_iter_``, HGB the mean ``n_iter_`` of its five models;
  ``warnings``: warnings raised during the fits (listed after the tables).

Timing follows the other benchmarks: the implementations alternate (which one fits
first rotates with the seed), after a warm-up fit of each, with ``--pause`` seconds
of idle before every fit (each of HGB's five included). Both run on ``--threads``
threads (1): ours with ``n_threads`` set to it, HGB's OpenMP and both BLAS limited
to it by threadpoolctl. One thread by default because on a busy 2-core machine
OpenMP's threads wait at barriers for a thread that is not scheduled (a 5,000-row
HGB fit took 0.4 s on one thread, 3-16 s on two). The quality columns do not depend
on the machine's load; the times do: the 1-minute load average is printed and
recorded.

    python benchmarks/bench_quantile.py           # results/quantile.csv
    python benchmarks/bench_quantile.py --quick   # smoke test, results/quick/
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import _common as c
import numpy as np
from scipy import stats
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_pinball_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from positive_mlp import PositiveMLPRegressor

LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
N_FEATURES = 4
IMPLS = ("ours", "HGB")
PUSHES = (3.0, -3.0)
WARM_ROWS = 500

# Per shape: X -> (the true q-quantiles' function, a sampler of y given a generator)
Quantiles = Callable[[float], np.ndarray]
Sampler = Callable[[np.random.Generator], np.ndarray]


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-t))


def lognormal(X: np.ndarray) -> tuple[Quantiles, Sampler]:
    x0, x1, x2 = X[:, 0], X[:, 1], X[:, 2]
    mean = 0.5 + 0.5 * x0 - 0.3 * x1 + 0.25 * x1 * x2
    spread = 0.15 + 0.6 * _sigmoid(1.5 * x0)
    return (
        lambda q: np.exp(mean + spread * stats.norm.ppf(q)),
        lambda rng: np.exp(mean + spread * rng.standard_normal(len(mean))),
    )


def gamma(X: np.ndarray) -> tuple[Quantiles, Sampler]:
    x0, x1, x2 = X[:, 0], X[:, 1], X[:, 2]
    mean = np.exp(0.3 + 0.4 * x0 + 0.3 * np.sin(2.0 * x1))
    shape = 1.0 / (0.05 + 0.6 * _sigmoid(2.0 * x2))
    return (
        lambda q: stats.gamma.ppf(q, shape, scale=mean / shape),
        lambda rng: rng.gamma(shape, mean / shape),
    )


def near0(X: np.ndarray) -> tuple[Quantiles, Sampler]:
    x0, x1, x3 = X[:, 0], X[:, 1], X[:, 3]
    floor = 0.5 * np.logaddexp(0.0, x0 - 1.0 + 0.5 * x3)
    scale = 0.1 + 0.6 * np.abs(x1)
    return (
        lambda q: floor + scale * stats.gamma.ppf(q, 0.5),
        lambda rng: floor + scale * rng.gamma(0.5, 1.0, len(floor)),
    )


SHAPES = {"lognormal": lognormal, "gamma": gamma, "near0": near0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 1000 training rows, 2000 test rows, 1 seed, 0.1 s pause",
    )
    parser.add_argument(
        "--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES)
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20_000])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    parser.add_argument("--test-rows", type=int, default=10_000)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads of both: ours' n_threads, HGB's OpenMP (and the BLAS)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.5,
        help="seconds of idle before each timed fit",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.seeds, args.test_rows, args.pause = [1000], 1, 2000, 0.1
    return args


# --------------------------------------------------------------------------- data


def make_data(
    shape: str, n_train: int, n_test: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training X, y; test X, y and the test rows' true quantiles (n_test, levels)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_train + n_test, N_FEATURES))
    quantile, sample = SHAPES[shape](X)
    y = sample(rng)
    truth = np.column_stack([quantile(q) for q in LEVELS])[n_train:]
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:], truth


# ------------------------------------------------------------------------- models


class Fitted:
    """A fitted implementation: predict gives (n_samples, n_levels)."""

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], iters: float):
        self.predict = predict
        self.iters = iters


def fit_ours(
    X: np.ndarray, y: np.ndarray, seed: int, threads: int, pause: float
) -> tuple[Fitted, float]:
    model = make_pipeline(
        StandardScaler(),
        PositiveMLPRegressor(
            loss="quantile",
            quantile=list(LEVELS),
            hidden_layer_sizes=(64, 64),
            early_stopping=True,
            max_iter=1000,
            n_threads=threads,
            random_state=seed,
        ),
    )
    time.sleep(pause)
    seconds = c.timed(lambda: model.fit(X, y))
    return Fitted(model.predict, model[-1].n_iter_), seconds


def fit_hgb(
    X: np.ndarray, y: np.ndarray, seed: int, threads: int, pause: float
) -> tuple[Fitted, float]:
    models, seconds = [], 0.0
    for q in LEVELS:
        model = HistGradientBoostingRegressor(
            loss="quantile", quantile=q, random_state=seed
        )
        time.sleep(pause)
        seconds += c.timed(lambda model=model: model.fit(X, y))
        models.append(model)

    def predict(X: np.ndarray) -> np.ndarray:
        return np.column_stack([model.predict(X) for model in models])

    return Fitted(predict, statistics.mean(m.n_iter_ for m in models)), seconds


FITS = {"ours": fit_ours, "HGB": fit_hgb}


def warm_up(threads: int) -> None:
    """One small fit of each (lazy imports, thread start): not timed. Call it under
    the run's thread limits."""
    X, y, *_ = make_data("lognormal", WARM_ROWS, 10, seed=99)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fit in FITS.values():
            fit(X, y, 0, threads, 0.0)


# ------------------------------------------------------------------------ metrics


def crossed(pred: np.ndarray) -> np.ndarray:
    """Rows where some higher level is predicted below a lower one (any pair crosses
    exactly when some neighbouring pair does)."""
    return np.any(np.diff(pred, axis=1) < 0, axis=1)


def pinball(y: np.ndarray, pred: np.ndarray) -> list[float]:
    return [
        float(mean_pinball_loss(y, pred[:, k], alpha=q)) for k, q in enumerate(LEVELS)
    ]


def evaluate(
    fitted: Fitted, X_test: np.ndarray, y_test: np.ndarray, oracle_sum: float
) -> dict[str, float]:
    pred = fitted.predict(X_test)
    pushed = np.concatenate([fitted.predict(X_test * f) for f in PUSHES])
    record: dict[str, float] = {}
    losses = pinball(y_test, pred)
    for k, q in enumerate(LEVELS):
        coverage = float(np.mean(y_test <= pred[:, k]))
        record[f"coverage_{q}"] = coverage
        record[f"coverr_{q}"] = abs(coverage - q)
    for q, loss in zip(LEVELS, losses):
        record[f"pinball_{q}"] = loss
    record["pinball_sum"] = sum(losses)
    record["pinball_vs_oracle"] = sum(losses) / oracle_sum
    record["cross_pct"] = 100.0 * float(np.mean(crossed(pred)))
    record["cross_pushed_pct"] = 100.0 * float(np.mean(crossed(pushed)))
    record["below0_pct"] = 100.0 * float(np.mean(pred < 0))
    record["below0_pushed_pct"] = 100.0 * float(np.mean(pushed < 0))
    record["min_pred"] = float(pred.min())
    record["min_pred_pushed"] = float(pushed.min())
    record["width90"] = float(np.mean(pred[:, -1] - pred[:, 0]))
    return record


# -------------------------------------------------------------------------- runs


def run_setting(
    shape: str, n_train: int, args: argparse.Namespace, caught: dict[str, int]
) -> dict[str, list[dict[str, float]]]:
    """Every seed of one (shape, size): per implementation, one record per seed."""
    runs: dict[str, list[dict[str, float]]] = {impl: [] for impl in IMPLS}
    for seed in range(args.seeds):
        X, y, X_test, y_test, truth = make_data(shape, n_train, args.test_rows, seed)
        oracle = pinball(y_test, truth)
        for impl in c.rotated(list(IMPLS), seed):
            with warnings.catch_warnings(record=True) as raised:
                warnings.simplefilter("always")
                fitted, seconds = FITS[impl](X, y, seed, args.threads, args.pause)
            for w in raised:
                key = f"{impl}: {w.category.__name__}: {w.message}"
                caught[key] = caught.get(key, 0) + 1
            record = evaluate(fitted, X_test, y_test, sum(oracle))
            record.update(
                fit_s=seconds,
                iters=float(fitted.iters),
                warnings=float(len(raised)),
                oracle_pinball_sum=sum(oracle),
            )
            runs[impl].append(record)
            print(
                f"  {shape} n={n_train} seed {seed} {impl}: fit {seconds:.2f} s, "
                f"pinball/oracle {record['pinball_vs_oracle']:.4f}, "
                f"crossed {record['cross_pct']:.2f}%",
                flush=True,
            )
    return runs


def summarise(
    shape: str,
    n_train: int,
    impl: str,
    runs: list[dict[str, float]],
    threads: int,
    args: argparse.Namespace,
) -> dict:
    """One CSV record: each metric's mean and standard deviation over seeds."""
    record: dict = {
        "shape": shape,
        "n_train": n_train,
        "n_test": args.test_rows,
        "impl": impl,
        "threads": f"n_threads={threads}" if impl == "ours" else f"openmp={threads}",
        "seeds": len(runs),
    }
    for key in runs[0]:
        values = [r[key] for r in runs]
        record[f"{key}_mean"] = statistics.mean(values)
        record[f"{key}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
    record["load_avg_1min"] = c.load_average()
    return record


def pm(record: dict, key: str, digits: int = 3) -> str:
    """``mean±sd`` of a metric, to ``digits`` decimals."""
    return f"{record[key + '_mean']:.{digits}f}±{record[key + '_sd']:.{digits}f}"


def tables(records: list[dict]) -> str:
    label = [{"setting": f"{r['shape']} {r['n_train']} {r['impl']}"} for r in records]
    quality = [
        {
            **name,
            **{f"coverr {q}": pm(r, f"coverr_{q}") for q in LEVELS},
            "pinball_sum": pm(r, "pinball_sum", 4),
            "vs_oracle": pm(r, "pinball_vs_oracle", 4),
        }
        for name, r in zip(label, records)
    ]
    losses = [
        {**name, **{f"pinball {q}": pm(r, f"pinball_{q}", 4) for q in LEVELS}}
        for name, r in zip(label, records)
    ]
    guarantees = [
        {
            **name,
            "cross %": pm(r, "cross_pct", 2),
            "cross pushed %": pm(r, "cross_pushed_pct", 2),
            "<0 %": pm(r, "below0_pct", 3),
            "<0 pushed %": pm(r, "below0_pushed_pct", 3),
            "width90": pm(r, "width90", 2),
            "fit s": pm(r, "fit_s", 2),
            "iters": pm(r, "iters", 0),
        }
        for name, r in zip(label, records)
    ]
    return "\n\n".join(
        [
            "Coverage error |coverage - q| per level and the summed pinball loss "
            "(mean±sd over seeds)\n" + c.format_table(quality, list(quality[0])),
            "Mean pinball loss per level (mean±sd over seeds)\n"
            + c.format_table(losses, list(losses[0])),
            "Crossed rows and predictions below 0 (% of rows / of predictions; "
            "pushed: X_test * 3 and * -3), 90% band width, fit time\n"
            + c.format_table(guarantees, list(guarantees[0])),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(f"cores: {c.n_cores()}, load average (1 min): {c.load_average():.2f}")
    print(
        f"threads: ours n_threads={args.threads}, HGB OpenMP {args.threads} "
        f"(threadpoolctl), BLAS {args.threads}; {args.pause} s pause before each "
        "fit; fit order alternates with the seed"
    )
    print(
        "quality metrics (coverage, pinball, crossings, < 0) do not depend on the "
        "machine's load; fit times do (other work may be running)\n"
    )
    start = time.perf_counter()
    records, caught = [], {}
    # Fits and predictions (HGB's predict runs on OpenMP too) on args.threads.
    with threadpool_limits(limits=args.threads):
        warm_up(args.threads)
        for shape in args.shapes:
            for n_train in args.sizes:
                runs = run_setting(shape, n_train, args, caught)
                records += [
                    summarise(shape, n_train, impl, runs[impl], args.threads, args)
                    for impl in IMPLS
                ]
    print(f"\n{tables(records)}\n")
    if caught:
        print("warnings raised during the fits (count):")
        for message, count in caught.items():
            print(f"  {count} x {message}")
    else:
        print("no warnings raised during the fits")
    print(
        f"load average (1 min) at the end: {c.load_average():.2f}; "
        f"total {time.perf_counter() - start:.0f} s"
    )
    out = c.RESULTS_DIR / ("quick" if args.quick else "")
    c.write_csv(out / "quantile.csv", records)
    print(f"\nwrote {out / 'quantile.csv'}")


if __name__ == "__main__":
    main()
