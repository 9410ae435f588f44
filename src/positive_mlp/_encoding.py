"""Piecewise-linear encoding of the input features (Gorishniy, Rubachev and Babenko,
"On Embeddings for Numerical Features in Tabular Deep Learning", NeurIPS 2022).

A feature with bin edges ``e_0 < e_1 < ... < e_m`` (its training quantiles) gains
``m`` columns, column ``t`` being ``clip((x - e_{t-1}) / (e_t - e_{t-1}), 0, 1)``:
0 left of the bin, 1 right of it, linear inside. The network sees the raw features
followed by these columns, so a linear first layer can bend the response at every
edge (trees' advantage on thresholds) and still extrapolate through the raw
feature. Each column is bounded (any finite input encodes to finite values) and
non-decreasing in its feature, so a monotone constraint on a feature carries over
to its columns unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Quantiles are read from at most this many rows (evenly spaced): the edges of a
# 10-million-row fit then cost what a 200,000-row one does.
_MAX_QUANTILE_ROWS = 200_000


@dataclass(frozen=True)
class InputBins:
    """The encoded columns: each one's feature, left edge and width."""

    n_features: int
    source: np.ndarray  # int64, the feature of each encoded column
    lower: np.ndarray  # float64, its bin's left edge
    width: np.ndarray  # float64, its bin's width (> 0)

    @property
    def n_inputs(self) -> int:
        """Columns the network sees: the raw features, then the encoded ones."""
        return self.n_features + self.source.size

    def edges(self) -> list[np.ndarray]:
        """Each feature's edges (empty where a feature is not encoded)."""
        edges = []
        for feature in range(self.n_features):
            mine = self.source == feature
            lower, width = self.lower[mine], self.width[mine]
            if lower.size:
                edges.append(np.append(lower, lower[-1] + width[-1]))
            else:
                edges.append(np.empty(0))
        return edges


def encodable_features(X: np.ndarray) -> int:
    """The columns of dense ``X`` that take more than two values (in the rows the
    edges are read from): at most these are encoded, as binary, one-hot and
    constant ones never are."""
    rows = _quantile_rows(X)
    low, high = rows.min(axis=0), rows.max(axis=0)
    two_valued = np.all((rows == low) | (rows == high), axis=0)
    return int(np.count_nonzero(~two_valued))


def _quantile_rows(X: np.ndarray) -> np.ndarray:
    if X.shape[0] <= _MAX_QUANTILE_ROWS:
        return X
    return X[np.linspace(0, X.shape[0] - 1, _MAX_QUANTILE_ROWS).astype(np.intp)]


def fit_bins(X: np.ndarray, n_bins: int) -> InputBins:
    """Edges at the ``n_bins + 1`` quantiles of each column of dense ``X`` (repeated
    quantiles merged). Columns with fewer than 3 distinct edges (constant, binary,
    one-hot) are not encoded: one bin would only repeat the feature."""
    rows = _quantile_rows(X)
    probabilities = np.linspace(0.0, 1.0, n_bins + 1)
    source, lower, width = [], [], []
    for feature in range(X.shape[1]):
        column = rows[:, feature].astype(np.float64)
        # Quantiles that are data values: a binary column has 2 distinct edges and
        # is left alone, where interpolated ones would cut it into copies of itself.
        edges = np.unique(np.quantile(column, probabilities, method="inverted_cdf"))
        with np.errstate(over="ignore"):
            widths = np.diff(edges)
        usable = np.isfinite(widths) & (widths > 0)
        if edges.size < 3 or not np.all(usable):
            continue
        source.append(np.full(edges.size - 1, feature, dtype=np.int64))
        lower.append(edges[:-1])
        width.append(widths)
    if not source:
        empty = np.empty(0)
        return InputBins(X.shape[1], np.empty(0, np.int64), empty, empty)
    return InputBins(
        X.shape[1], np.concatenate(source), np.concatenate(lower), np.concatenate(width)
    )


def encode(X: np.ndarray, bins: InputBins | None) -> np.ndarray:
    """``X`` followed by its encoded columns, in ``X``'s dtype (``X`` itself when
    nothing is encoded)."""
    if bins is None or bins.source.size == 0:
        return X
    lower = bins.lower.astype(X.dtype)
    width = bins.width.astype(X.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        # Far outside the edges the ratio overflows to +-inf, which the clip bounds.
        encoded = (X[:, bins.source] - lower) / width
    np.clip(encoded, 0, 1, out=encoded)
    return np.ascontiguousarray(np.hstack([X, encoded]))


def encoded_monotonic_cst(
    monotonic_cst: np.ndarray | None, bins: InputBins | None
) -> np.ndarray | None:
    """The constraint per network input: each encoded column takes its feature's."""
    if monotonic_cst is None or bins is None:
        return monotonic_cst
    return np.concatenate([monotonic_cst, monotonic_cst[bins.source]])
