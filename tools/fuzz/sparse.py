"""X as the recipe's scipy.sparse matrix: dropped entries, all-zero rows,
duplicate entries, explicit zeros, unsorted and 64-bit indices; malformed CSRs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .options import Json


def sparse_input(
    rng: np.random.Generator, X: np.ndarray, y: np.ndarray, data: Json, broken: Any
) -> tuple[Any, bool]:
    """(X as the recipe's scipy.sparse matrix, all inputs finite in the training
    dtype). Every non-finite entry of X stays stored (an injected NaN must reach the
    estimator); a ``broken`` call gets a malformed CSR."""
    spec = data["sparse"]
    n, p = X.shape
    keep = rng.random((n, p)) < spec["density"]
    keep[rng.random(n) < spec["zero_rows"]] = False
    if X.dtype.kind == "f":
        keep |= ~np.isfinite(X)
    rows, cols = np.nonzero(keep)
    values = X[rows, cols]
    split = rng.random(rows.size) < spec["duplicates"]
    first, second = _split_values(rng, values[split], spec["cancel"])
    values[split] = first
    zeros = int(rng.binomial(n * p, spec["explicit_zeros"])) if n * p else 0
    rows = np.concatenate([rows, rows[split], rng.integers(0, n, zeros)])
    cols = np.concatenate([cols, cols[split], rng.integers(0, p, zeros)])
    values = np.concatenate([values, second, np.zeros(zeros, X.dtype)])
    M = _sparse_matrix(rng, values, rows, cols, (n, p), spec)
    if broken:
        M = _malformed(rng, M, broken)
    if data["readonly"]:
        for name in ("data", "indices", "indptr", "row", "col"):
            if isinstance(getattr(M, name, None), np.ndarray):
                getattr(M, name).flags.writeable = False
    train = np.float32 if data["dtype"] == "float32" else np.float64
    with np.errstate(over="ignore", invalid="ignore"):
        finite = bool(
            np.isfinite(M.data.astype(train)).all()
            and np.isfinite(np.asarray(y).astype(train)).all()
        )
    return M, finite


def _split_values(
    rng: np.random.Generator, v: np.ndarray, cancel: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Two entries adding up to v (exactly for halves; for v - c and c, up to the
    rounding of v - c)."""
    if v.dtype.kind != "f":
        c = (
            np.round(v * rng.uniform(-1.0, 1.0, v.size)).astype(v.dtype)
            if cancel
            else v // 2
        )
        return v - c, c
    with np.errstate(over="ignore", invalid="ignore"):
        if cancel:
            c = (v * rng.uniform(-1.0, 1.0, v.size)).astype(v.dtype)
            return (v.astype(np.float64) - c).astype(v.dtype), c
        half = (v * 0.5).astype(v.dtype)
        return (v.astype(np.float64) - half).astype(v.dtype), half


def _sparse_matrix(
    rng: np.random.Generator,
    values: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
    spec: Json,
) -> Any:
    """The entries in the recipe's format: compressed formats built from their own
    arrays (so duplicates stay and rows keep the recipe's order), indices 64-bit if
    asked for (set after construction: scipy's constructors choose 32 bits)."""
    import scipy.sparse as sp

    fmt = spec["format"]
    major, minor = (cols, rows) if fmt.startswith("csc") else (rows, cols)
    secondary = rng.random(values.size) if spec["unsorted"] else minor
    order = np.lexsort((secondary, major))
    if fmt.startswith("coo") and spec["unsorted"]:  # COO: no order at all
        order = rng.permutation(values.size)
    values, major, minor = values[order], major[order], minor[order]
    if fmt.startswith("coo"):
        return getattr(sp, fmt)((values, (major, minor)), shape=shape)
    n_major = shape[1] if fmt.startswith("csc") else shape[0]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(major, minlength=n_major))])
    M = getattr(sp, fmt)(
        (values, minor.astype(np.int32), indptr.astype(np.int32)), shape=shape
    )
    if spec["index64"]:
        M.indices = M.indices.astype(np.int64)
        M.indptr = M.indptr.astype(np.int64)
    return M


def _malformed(rng: np.random.Generator, M: Any, mode: str) -> Any:
    """The CSR M with a broken structure, its arrays changed after construction
    (scipy's constructors would refuse most of these)."""
    n, p = M.shape
    indices, indptr, data = M.indices.copy(), M.indptr.copy(), M.data.copy()
    if mode.startswith("index") and not indices.size:  # an entry to break
        indices, data = np.zeros(1, indices.dtype), np.ones(1, data.dtype)
        indptr = np.ones_like(indptr)
        indptr[0] = 0
    entry = int(rng.integers(max(1, indices.size)))
    wide = indices.dtype == np.int64
    if mode == "index_past_end":
        indices[entry] = p
    elif mode == "index_huge":
        indices[entry] = 2**40 if wide else 2**31 - 1
    elif mode == "index_negative":
        indices[entry] = rng.choice([-1, np.iinfo(indices.dtype).min])
    elif mode == "indptr_decreasing":
        if n == 1:
            indptr[1] = -1
        else:
            row = int(rng.integers(1, n))
            indptr[row] = indptr[row + 1] + 1
    elif mode == "indptr_negative":
        indptr[int(rng.integers(1, n + 1))] = -int(rng.integers(1, 10))
    elif mode == "indptr_long":
        indptr = np.append(indptr, indptr[-1])
    elif mode == "indptr_short":
        indptr = indptr[:-1].copy()
    elif mode == "indptr_start":
        indptr += 1
    elif mode == "indptr_end":
        indptr[-1] = indices.size + int(rng.integers(1, 100))
    elif mode == "indices_short":
        if indices.size:
            indices = indices[:-1].copy()
        else:  # no entry to drop (an extra index would be unused, hence valid)
            indptr[-1] = 1
    M.indices, M.indptr, M.data = indices, indptr, data
    return M
