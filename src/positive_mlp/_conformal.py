"""Prediction intervals with finite-sample coverage: split-conformal calibration of
one quantile model's levels (conformalized quantile regression), kept above the
floor and nested across coverages."""

from __future__ import annotations

import math
from numbers import Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, column_or_1d

from positive_mlp._estimator import PositiveMLPRegressor


def quantile_model(estimator) -> PositiveMLPRegressor:
    """The PositiveMLPRegressor with loss='quantile' that ``estimator`` is, or that
    ends it (a Pipeline); a ValueError otherwise."""
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if not isinstance(final, PositiveMLPRegressor) or final.loss != "quantile":
        what = (
            f"loss={final.loss!r}"
            if isinstance(final, PositiveMLPRegressor)
            else (type(final).__name__)
        )
        raise ValueError(
            "ConformalQuantileRegressor needs a PositiveMLPRegressor with "
            f"loss='quantile' (alone or ending a Pipeline); got {what}."
        )
    return final


def _level_parameter(estimator, name: str = "quantile") -> str:
    """``name`` as ``estimator`` takes it: the last step's, in a Pipeline."""
    if isinstance(estimator, Pipeline):
        return f"{estimator.steps[-1][0]}__{name}"
    return name


def coverage_levels(coverage: np.ndarray) -> np.ndarray:
    """The quantile levels a model needs for ``coverage``: each coverage's two tails
    and the median, sorted."""
    tails = np.concatenate([(1 - coverage) / 2, (1 + coverage) / 2, [0.5]])
    return np.unique(np.round(tails, 12))


def conformal_margin(scores: np.ndarray, coverage: float) -> float:
    """The ceil((n + 1) coverage)-th smallest conformity score: the margin that gives
    coverage >= ``coverage`` on exchangeable data."""
    n = len(scores)
    rank = math.ceil((n + 1) * coverage)
    if rank > n:
        least = math.ceil(coverage / (1 - coverage))
        raise ValueError(
            f"coverage={coverage} needs at least {least} calibration rows, got {n}: "
            "calibrate on more rows or ask for less coverage."
        )
    return float(np.partition(scores, rank - 1)[rank - 1])


def _finite(bounds: np.ndarray) -> np.ndarray:
    """Bounds capped at the largest float: a tail near it plus a margin would be
    infinite, and every finite target lies below the cap, so no coverage is lost."""
    return np.minimum(bounds, np.finfo(np.float64).max)


class ConformalQuantileRegressor(RegressorMixin, BaseEstimator):
    """Prediction intervals with guaranteed coverage that stay above the floor.

    Conformalized quantile regression (Romano, Patterson and Candès, 2019) on one
    :class:`PositiveMLPRegressor` with ``loss='quantile'``: the model learns the two
    tail levels of every requested coverage (and the median) in one network, and a
    held-out calibration set widens or narrows each band by the margin that gives
    coverage of at least the nominal level on exchangeable data, whatever the model.
    After calibration every lower bound is raised to ``output_threshold`` (no target
    lies below it, so no coverage is lost), and the bands are nested: a higher
    coverage's band contains a lower one's, and a lower bound never exceeds its
    upper bound.

    Parameters
    ----------
    estimator : PositiveMLPRegressor, Pipeline or None, default=None
        The quantile model: a PositiveMLPRegressor with ``loss='quantile'``, alone or
        as the last step of a Pipeline (after its preprocessing). Its ``quantile``
        levels are set to those the coverages need. None uses
        ``PositiveMLPRegressor(loss='quantile')``.

    coverage : float or list of float, default=0.9
        The nominal coverage(s) of the bands, each in (0, 1).

    calibration_fraction : float, default=0.25
        Share of the rows ``fit`` holds out to calibrate the bands (the model trains
        on the others). Ignored when ``prefit=True``.

    prefit : bool, default=False
        If True, ``estimator`` is already fitted (with every level the coverages
        need) and ``fit`` only calibrates, on all the rows it is given.

    random_state : int, RandomState instance or None, default=None
        The split between training and calibration rows.

    Attributes
    ----------
    estimator_ : PositiveMLPRegressor or Pipeline
        The fitted quantile model.

    coverages_ : ndarray of shape (n_coverages,)
        The nominal coverages, in increasing order.

    margins_ : ndarray of shape (n_coverages,)
        Each band's calibrated margin: a band is the model's tail levels widened by
        it (narrowed where it is negative).

    n_calibration_ : int
        The number of calibration rows.

    See Also
    --------
    PositiveMLPRegressor : The quantile model (``loss='quantile'``).

    Notes
    -----
    The guarantee is marginal: over the draw of calibration and test rows, a band
    covers a new row with probability at least its coverage (and below coverage plus
    1 / (n_calibration + 1) when the scores have no ties). It holds for
    exchangeable rows, not for rows from another distribution. Calibration weighs
    rows equally; ``sample_weight`` in ``fit`` weighs the training rows only. One
    target: for several, calibrate one per target.

    Examples
    --------
    >>> import numpy as np
    >>> from positive_mlp import ConformalQuantileRegressor, PositiveMLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, 2, size=(600, 2))
    >>> y = rng.gamma(2.0, np.exp(X[:, 0]))
    >>> bands = ConformalQuantileRegressor(
    ...     PositiveMLPRegressor(loss="quantile", random_state=0),
    ...     coverage=[0.8, 0.9], random_state=0).fit(X, y)
    >>> median, intervals = bands.predict_interval(X[:3])
    >>> intervals.shape
    (3, 2, 2)
    >>> bool((intervals >= 0).all())
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [PositiveMLPRegressor, Pipeline, None],
        "coverage": [Interval(Real, 0, 1, closed="neither"), list, tuple, np.ndarray],
        "calibration_fraction": [Interval(Real, 0, 1, closed="neither")],
        "prefit": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        coverage=0.9,
        calibration_fraction=0.25,
        prefit=False,
        random_state=None,
    ):
        self.estimator = estimator
        self.coverage = coverage
        self.calibration_fraction = calibration_fraction
        self.prefit = prefit
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        """Fit the quantile model on part of the rows and calibrate on the rest.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        y : array-like of shape (n_samples,)
            The target values, each ``>= output_threshold``.

        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the training rows (calibration weighs rows equally).

        Returns
        -------
        self : object
            The fitted and calibrated bands.

        See Also
        --------
        ConformalQuantileRegressor.predict_interval : The calibrated bands.

        Examples
        --------
        >>> import numpy as np
        >>> from positive_mlp import ConformalQuantileRegressor, PositiveMLPRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.uniform(0, 2, size=(600, 2))
        >>> y = rng.gamma(2.0, np.exp(X[:, 0]))
        >>> model = PositiveMLPRegressor(loss="quantile", random_state=0)
        >>> bands = ConformalQuantileRegressor(model, random_state=0).fit(X, y)
        >>> bands.n_calibration_
        150
        """
        self._validate_params()
        coverages = self._coverages()
        levels = coverage_levels(coverages)
        if np.ndim(y) == 2 and np.shape(y)[1] != 1:
            raise ValueError(
                "ConformalQuantileRegressor calibrates one target; y has "
                f"{np.shape(y)[1]} columns: calibrate one per target."
            )
        y = column_or_1d(y, warn=True)
        if self.prefit:
            model = self.estimator
            check_is_fitted(quantile_model(model))
            self._check_prefit_levels(quantile_model(model), levels)
            X_cal, y_cal = X, y
        else:
            model = clone(self.estimator or PositiveMLPRegressor(loss="quantile"))
            quantile_model(model)  # refuses any other model before training
            model.set_params(**{_level_parameter(model): levels.tolist()})
            split = train_test_split(
                *(a for a in (X, y, sample_weight) if a is not None),
                test_size=self.calibration_fraction,
                random_state=self.random_state,
            )
            X_fit, X_cal, y_fit, y_cal = split[:4]
            weights = {}
            if sample_weight is not None:
                weights[_level_parameter(model, "sample_weight")] = split[4]
            model.fit(X_fit, y_fit, **weights)
        self.estimator_ = model
        self.coverages_ = coverages
        self.n_calibration_ = len(y_cal)
        self.margins_ = self._calibrate(X_cal, y_cal)
        return self

    def predict(self, X) -> np.ndarray:
        """The model's median for each row of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The predicted median, ``>= output_threshold``.

        See Also
        --------
        ConformalQuantileRegressor.predict_interval : The median and the bands.

        Examples
        --------
        >>> import numpy as np
        >>> from positive_mlp import ConformalQuantileRegressor, PositiveMLPRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.uniform(0, 2, size=(600, 2))
        >>> y = rng.gamma(2.0, np.exp(X[:, 0]))
        >>> model = PositiveMLPRegressor(loss="quantile", random_state=0)
        >>> bands = ConformalQuantileRegressor(model, random_state=0).fit(X, y)
        >>> bands.predict(X[:2]).shape
        (2,)
        """
        check_is_fitted(self)
        return self._levels(X)[:, self._median_column()]

    def predict_interval(self, X) -> tuple[np.ndarray, np.ndarray]:
        """The median and the calibrated bands, as MAPIE's ``predict_interval``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The predicted median.

        intervals : ndarray of shape (n_samples, 2, n_coverages)
            Lower (``[:, 0]``) and upper (``[:, 1]``) bounds for each coverage of
            ``coverages_``: all finite and ``>= output_threshold``, each lower bound
            at most its upper one, and each band inside the next coverage's. A bound
            that would exceed the largest float is capped at it.

        See Also
        --------
        ConformalQuantileRegressor.predict : The median alone.

        Examples
        --------
        >>> import numpy as np
        >>> from positive_mlp import ConformalQuantileRegressor, PositiveMLPRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.uniform(0, 2, size=(600, 2))
        >>> y = rng.gamma(2.0, np.exp(X[:, 0]))
        >>> model = PositiveMLPRegressor(loss="quantile", random_state=0)
        >>> bands = ConformalQuantileRegressor(model, random_state=0).fit(X, y)
        >>> median, intervals = bands.predict_interval(X[:2])
        >>> intervals.shape
        (2, 2, 1)
        >>> bool((intervals[:, 0] <= intervals[:, 1]).all())
        True
        """
        check_is_fitted(self)
        predictions = self._levels(X)
        median = predictions[:, self._median_column()]
        return median, self._bands(predictions, self.margins_)

    def _coverages(self) -> np.ndarray:
        coverages = np.unique(np.atleast_1d(np.asarray(self.coverage, dtype=float)))
        if coverages.ndim != 1 or not ((coverages > 0) & (coverages < 1)).all():
            given = np.asarray(self.coverage).tolist()
            raise ValueError(f"coverage must lie in (0, 1), got {given}.")
        return coverages

    @staticmethod
    def _check_prefit_levels(model, levels: np.ndarray) -> None:
        fitted = np.atleast_1d(getattr(model, "quantiles_", np.array([])))
        missing = [float(q) for q in levels if not np.isclose(fitted, q).any()]
        if missing:
            raise ValueError(
                f"The prefit model lacks the levels {missing} that the coverages need "
                f"(it has {fitted.tolist()}): fit it with quantile={levels.tolist()}."
            )

    def _levels(self, X) -> np.ndarray:
        """The model's predictions (n_samples, n_levels), one target."""
        predictions = np.asarray(self.estimator_.predict(X), dtype=np.float64)
        if predictions.ndim != 2:
            raise ValueError(
                "ConformalQuantileRegressor calibrates one target; the model predicts "
                f"an array of shape {predictions.shape}: calibrate one per target."
            )
        return predictions

    def _median_column(self) -> int:
        levels = quantile_model(self.estimator_).quantiles_
        return int(np.argmin(np.abs(levels - 0.5)))

    def _tails(self, predictions: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        levels = quantile_model(self.estimator_).quantiles_
        tails = []
        for coverage in self.coverages_:
            low = int(np.argmin(np.abs(levels - (1 - coverage) / 2)))
            high = int(np.argmin(np.abs(levels - (1 + coverage) / 2)))
            tails.append((predictions[:, low], predictions[:, high]))
        return tails

    def _calibrate(self, X, y) -> np.ndarray:
        """Each coverage's margin from the calibration rows' conformity scores."""
        tails = self._tails(self._levels(X))
        return np.array(
            [
                conformal_margin(np.maximum(low - y, y - high), coverage)
                for (low, high), coverage in zip(tails, self.coverages_)
            ]
        )

    def _bands(self, predictions: np.ndarray, margins: np.ndarray) -> np.ndarray:
        """The bands (n_samples, 2, n_coverages): the tails moved by their margins,
        raised to the floor, ordered, and nested from the lowest coverage up.
        Widening a band never loses coverage, so none of these steps does."""
        regressor = quantile_model(self.estimator_)
        floor = float(np.asarray(regressor.output_threshold).ravel()[0])
        bands = np.empty((len(predictions), 2, len(margins)))
        for k, ((low, high), margin) in enumerate(
            zip(self._tails(predictions), margins)
        ):
            with np.errstate(over="ignore"):  # capped by _finite
                lower = _finite(np.maximum(low - margin, floor))
                upper = np.maximum(_finite(high + margin), lower)
            if k > 0:
                lower = np.minimum(lower, bands[:, 0, k - 1])
                upper = np.maximum(upper, bands[:, 1, k - 1])
            bands[:, 0, k], bands[:, 1, k] = lower, upper
        return bands
