"""Training on data larger than memory: a Dask array, one block of rows at a time.
===============================================================================

A generated insurance portfolio, never held in memory as a whole: Dask builds each
block of 100,000 policies from a seed when it is needed (as it would read a block
of a Parquet or Zarr store), with 8 standard-normal features, an exposure uniform
in (0.1, 1) years and a claim count ``N ~ Poisson(exposure * rate(x))``, where
``log rate = -1 + 0.5 x0 - 0.3 x1**2 + 0.4 sin(2 x2)`` (the other five features are
noise). The model is PositiveMLPRegressor(loss='poisson', output_activation='exp'),
fitted to the frequency ``N / exposure`` with ``sample_weight=exposure``
(scikit-learn's convention for exposure; see insurance_frequency_and_premium.py).

``positive_mlp.dask.fit_blocks`` runs ``partial_fit`` on one block after another,
in a new random order every epoch, the block's weights going with its rows, while
Dask computes the next block; it is called once per epoch here, to score the model
on 200,000 held-out policies (computed into memory) between epochs. The printout
gives, per epoch, the held-out mean Poisson deviance (weighted by exposure; lower is
better) and D2, the share of the deviance of the constant frequency that the model
explains, against the true rate's (the best any model can do), then the data's size
and how much the process's peak memory grew while training.

Run on this machine's threads (the default), or on a running Dask cluster with
``--address tcp://scheduler:8786``: the blocks are then computed on the workers and
sent here, where the model trains. ``--rows 200_000_000`` gives 16 GB of data.

On our 2-core machine (busy with other work), 2,000,000 rows (153 MiB of X,
frequencies and weights): held-out D2 0.116 after the first epoch and 0.117 after
the fourth, where the true rate reaches 0.119; 1.0-1.5 s an epoch; the process's
peak memory grew by 96 MiB while training. With 10,000,000 rows (763 MiB): D2 0.118,
and the peak grew by 121 MiB: the blocks in flight, not the data. Its epochs took
2.4, 2.3, 2.2 and 2.3 s. Over these 200,000 Adam steps some of Adam's moments decay
towards subnormal numbers (below 2.2e-308), on which arithmetic can be slow; the
core flushes them to zero (with exact arithmetic, the same run's epochs took 2.7,
2.5, 2.8 and 3.0 s here, and an earlier version's 4, 10, 21 and 28 s).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from sklearn.metrics import mean_poisson_deviance

from positive_mlp import PositiveMLPRegressor

try:
    import dask.array as da
except ImportError:
    raise SystemExit(
        'This example trains on Dask arrays: pip install "positive-mlp[dask]"'
    ) from None

from positive_mlp.dask import fit_blocks

BLOCK_ROWS = 100_000
N_FEATURES = 8
TEST_ROWS = 200_000
EPOCHS = 4


def true_rate(X: da.Array) -> da.Array:
    """Claims per policy-year given the features."""
    return da.exp(-1.0 + 0.5 * X[:, 0] - 0.3 * X[:, 1] ** 2 + 0.4 * da.sin(2 * X[:, 2]))


def portfolio(rows: int, seed: int) -> tuple[da.Array, da.Array, da.Array, da.Array]:
    """Features, claim frequency, exposure and true rate, lazily, in blocks of rows."""
    rng = da.random.default_rng(seed)
    X = rng.normal(size=(rows, N_FEATURES), chunks=(BLOCK_ROWS, N_FEATURES))
    exposure = rng.uniform(0.1, 1.0, size=rows, chunks=BLOCK_ROWS)
    rate = true_rate(X)
    counts = rng.poisson(rate * exposure, chunks=BLOCK_ROWS)
    return X, counts / exposure, exposure, rate


def d2(deviance: float, constant_deviance: float) -> float:
    return 1.0 - deviance / constant_deviance


def peak_memory_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(rows: int, address: str | None) -> None:
    client = None
    if address is not None:
        from distributed import Client

        client = Client(address)
    X, frequency, exposure, _ = portfolio(rows, seed=0)
    X_test, y_test, w_test, rate_test = da.compute(*portfolio(TEST_ROWS, seed=1))
    constant = np.full_like(y_test, np.average(y_test, weights=w_test))
    constant_deviance = mean_poisson_deviance(y_test, constant, sample_weight=w_test)
    best = mean_poisson_deviance(y_test, rate_test, sample_weight=w_test)

    model = PositiveMLPRegressor(
        loss="poisson",
        output_activation="exp",
        hidden_layer_sizes=(32,),
        random_state=0,
    )
    print(f"{rows:,} rows in {X.numblocks[0]} blocks; held-out: {TEST_ROWS:,} rows")
    print(f"true rate: deviance {best:.4f}, D2 {d2(best, constant_deviance):.3f}")
    memory_before = peak_memory_mib()
    for epoch in range(1, EPOCHS + 1):
        start = time.perf_counter()
        fit_blocks(model, X, frequency, sample_weight=exposure, random_state=epoch)
        seconds = time.perf_counter() - start
        deviance = mean_poisson_deviance(
            y_test, model.predict(X_test), sample_weight=w_test
        )
        print(
            f"epoch {epoch}: deviance {deviance:.4f}, "
            f"D2 {d2(deviance, constant_deviance):.3f}, {seconds:.1f} s"
        )
    data_mib = (X.nbytes + frequency.nbytes + exposure.nbytes) / 2**20
    growth = peak_memory_mib() - memory_before
    print(f"data: {data_mib:,.0f} MiB; peak memory grew by {growth:,.0f} MiB")
    if client is not None:
        client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--address", help="a Dask scheduler, e.g. tcp://host:8786")
    arguments = parser.parse_args()
    main(arguments.rows, arguments.address)
