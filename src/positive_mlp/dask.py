"""Training on Dask arrays larger than memory, one block of rows at a time.

Needs the optional extra ``positive-mlp[dask]``. ``import positive_mlp`` never
imports this module, nor Dask.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state

from positive_mlp._extras import missing_extra

try:
    import dask
    import dask.array as da
except ImportError as error:
    raise missing_extra("dask", "positive_mlp.dask", error) from error

__all__ = ["fit_blocks"]

Estimator = TypeVar("Estimator")


def fit_blocks(
    estimator: Estimator,
    X: da.Array,
    y: da.Array | ArrayLike,
    sample_weight: da.Array | ArrayLike | None = None,
    *,
    epochs: int = 1,
    shuffle_blocks: bool = True,
    random_state: int | np.random.RandomState | None = None,
) -> Estimator:
    """Train with ``partial_fit`` on each block of rows of a Dask array, epoch by epoch.

    Each epoch calls ``estimator.partial_fit`` once per block of rows, in a random
    order (or in order), with the block's rows of ``X``, ``y`` and ``sample_weight``.
    One block is computed while the estimator trains on the one before, so at most
    two blocks are in memory at a time; blocks are computed by the scheduler Dask
    uses where this is called (a ``distributed.Client``, or Dask's local threads).
    The estimator is updated in place: call again to continue training.

    Parameters
    ----------
    estimator : PositiveMLPRegressor or another estimator with ``partial_fit``
        Trained in place. For PositiveMLPRegressor: ``solver`` 'adam' or 'sgd'
        without ``early_stopping``. One ``partial_fit`` is one pass over a block's
        rows (shuffled within the block when ``estimator.shuffle`` is True).

    X : dask.array.Array of shape (n_samples, n_features)
        The inputs, with NumPy or ``scipy.sparse`` blocks (float32 is trained in
        float32). Blocks split along the columns are joined first, so that each
        block holds whole rows.

    y : dask.array.Array or array-like of shape (n_samples,) or (n_samples, n_outputs)
        The targets. Rechunked to the row blocks of ``X`` where the block sizes are
        known; where they are not (as from ``DataFrame.to_dask_array()`` without
        ``lengths=True``), it must have as many row blocks as ``X``, paired in
        order.

    sample_weight : dask.array.Array or array-like of shape (n_samples,), default=None
        Weights of the rows, split as ``y`` is.

    epochs : int, default=1
        Passes over all blocks.

    shuffle_blocks : bool, default=True
        Visit the blocks in a new random order every epoch (recommended when the
        rows are stored sorted, as by time or by group); False visits them in
        order.

    random_state : int, RandomState instance or None, default=None
        Seeds the order of the blocks. The shuffling of the rows within a block is
        the estimator's own (its ``random_state``).

    Returns
    -------
    estimator : object
        The estimator, trained.

    Raises
    ------
    ValueError
        If the estimator has no ``partial_fit`` (with its reason, as for
        ``solver='lbfgs'``), ``X`` has no rows, or ``y`` or ``sample_weight`` do
        not have as many rows, or row blocks, as ``X``.

    See Also
    --------
    PositiveMLPRegressor.partial_fit : One pass over rows in memory.

    Notes
    -----
    The result is the model that calling ``partial_fit`` on the same blocks, in the
    same order, in memory gives. Blocks with no rows are skipped (an X with no rows
    at all is an error). A Ctrl-C while a block trains ends that block's pass
    (``partial_fit`` warns and keeps the model), not the loop.

    Examples
    --------
    >>> import dask.array as da
    >>> from positive_mlp import PositiveMLPRegressor
    >>> from positive_mlp.dask import fit_blocks
    >>> X = da.random.default_rng(0).normal(size=(10_000, 4), chunks=(2_500, 4))
    >>> y = da.exp(X[:, 0] / 2)
    >>> reg = PositiveMLPRegressor(hidden_layer_sizes=(16,), random_state=0)
    >>> reg = fit_blocks(reg, X, y, epochs=3, random_state=0)
    >>> reg.t_
    30000
    """
    partial_fit = _partial_fit_of(estimator)
    if not isinstance(epochs, Integral) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}.")
    blocks = _row_blocks(X, y, sample_weight)
    if X.shape[0] == 0:  # known without computing; unknown sizes: after the loop
        raise _no_rows_error(X)
    order = _block_order(len(blocks), epochs, shuffle_blocks, random_state)
    trained = False
    with ThreadPoolExecutor(max_workers=1) as loader:
        next_block = _load(loader, blocks[order[0]])
        for position in range(len(order)):
            X_block, y_block, weight_block = next_block.result()
            if position + 1 < len(order):
                next_block = _load(loader, blocks[order[position + 1]])
            if X_block.shape[0] == 0:
                continue
            trained = True
            if weight_block is None:
                partial_fit(X_block, y_block)
            else:
                partial_fit(X_block, y_block, sample_weight=weight_block)
    if not trained:
        raise _no_rows_error(X)
    return estimator


def _no_rows_error(X: da.Array) -> ValueError:
    """scikit-learn's message for an empty X, in place of an untrained estimator."""
    return ValueError(
        f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
        "required by fit_blocks: every block of X is empty, so the estimator "
        "would not be trained."
    )


def _partial_fit_of(estimator):
    try:
        return estimator.partial_fit
    except AttributeError as error:
        # scikit-learn's available_if keeps the estimator's reason as the cause.
        reason = error.__cause__ or error
        raise ValueError(
            f"fit_blocks needs the estimator's partial_fit: {reason}"
        ) from error


def _row_blocks(X: da.Array, y, sample_weight) -> list[tuple]:
    """(X, y, sample_weight) of each block of rows, as lazy Dask arrays."""
    if not isinstance(X, da.Array):
        raise TypeError(
            f"X must be a dask.array.Array, got {type(X).__name__}; for data in "
            "memory, call the estimator's fit or partial_fit."
        )
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {X.shape}.")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    y = _split_like(X, y, "y")
    if sample_weight is not None:
        sample_weight = _split_like(X, sample_weight, "sample_weight")
    return [
        (
            X.blocks[i],
            y.blocks[i],
            None if sample_weight is None else sample_weight.blocks[i],
        )
        for i in range(X.numblocks[0])
    ]


def _split_like(X: da.Array, values, name: str) -> da.Array:
    """``values`` in the row blocks of X."""
    values = da.asarray(values)
    if values.ndim == 0:
        raise ValueError(f"{name} must have one row per row of X, got a scalar.")
    rows = X.chunks[0]
    known = not any(np.isnan(rows)) and not any(np.isnan(values.chunks[0]))
    if known:
        if values.shape[0] != X.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} rows but {name} has {values.shape[0]}."
            )
        return values.rechunk({0: rows}) if values.chunks[0] != rows else values
    if values.numblocks[0] != X.numblocks[0]:
        raise ValueError(
            f"X has {X.numblocks[0]} row blocks but {name} has "
            f"{values.numblocks[0]}, and their sizes are unknown, so they cannot be "
            "matched; call compute_chunk_sizes() on both, or use "
            "to_dask_array(lengths=True)."
        )
    return values


def _block_order(
    n_blocks: int, epochs: int, shuffle_blocks: bool, random_state
) -> list[int]:
    """The blocks to visit, epoch after epoch."""
    if not shuffle_blocks:
        return list(range(n_blocks)) * epochs
    rng = check_random_state(random_state)
    return [int(i) for _ in range(epochs) for i in rng.permutation(n_blocks)]


def _load(loader: ThreadPoolExecutor, block: tuple):
    """Start computing one block's arrays (together: they may share work) in the
    caller's context, so that a ``Client.as_current()`` there applies."""
    context = contextvars.copy_context()
    return loader.submit(context.run, dask.compute, *block)
