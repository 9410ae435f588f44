"""Displays in scikit-learn's style: the training record and the prediction floor.

Each display holds the data of one figure; ``from_estimator`` (and, for the floor,
``from_predictions``) computes them and calls ``plot``, which draws on a matplotlib
Axes and keeps the artists as attributes (``ax_``, ``figure_``, ``..._line_``).
matplotlib is an optional dependency (``pip install "positive-mlp[plot]"``),
imported only when something is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils.validation import check_is_fitted

from positive_mlp._estimator import PositiveMLPRegressor
from positive_mlp._extras import missing_extra
from positive_mlp._losses import LOSSES, resolve_loss
from positive_mlp._members import stop_apart
from positive_mlp._quantiles import has_level_axis

# The share of the distance between the floor and the farthest observation (or of
# |floor|, if larger) within which a prediction counts as at the floor.
FLOOR_RTOL = 1e-6


def _pyplot(caller: str):
    """matplotlib.pyplot, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise missing_extra("plot", caller, error) from error
    return plt


def _axes(ax, caller: str):
    """The Axes to draw on: ``ax``, or a new figure's."""
    plt = _pyplot(caller)
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _style(defaults: Mapping[str, Any], given: Mapping[str, Any] | None) -> dict:
    """Keyword arguments of a matplotlib call: the user's over the defaults."""
    return {**defaults, **(given or {})}


def _final_step(estimator):
    """The estimator itself, or the last step of a Pipeline."""
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def _name(estimator, name: str | None) -> str:
    return type(_final_step(estimator)).__name__ if name is None else name


class TrainingCurveDisplay:
    """The training record of a fitted network: loss and validation score by epoch.

    The training loss of every epoch (or L-BFGS-B iteration) on the left axis; with
    early stopping, the validation score of every epoch on a second y axis on the
    right; and a vertical line at the best epoch. With early stopping that is the
    epoch of the best validation score, whose weights the model keeps; otherwise
    the epoch of the lowest loss (the model keeps the last epoch's weights).

    Create it with :meth:`from_estimator`; all parameters are kept as attributes.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        The training loss of each epoch or iteration (``loss_curve_``).

    validation_scores : array-like of shape (n_scored,) or None, default=None
        The validation score of each of the first ``n_scored`` epochs
        (``validation_scores_``), or None.

    best_epoch : int or None, default=None
        The epoch (numbered from 1) marked as the best, or None for no mark.

    best_label : str, default="best epoch"
        The legend's text for the mark.

    step_name : str, default="Epoch"
        What one step of training is called (the x axis label).

    loss_name : str, default="Training loss"
        The label of the loss axis.

    score_name : str, default="Validation score"
        The label of the validation score axis.

    estimator_name : str or None, default=None
        Shown as the title when given.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The Axes of the loss (the x axis is shared).

    validation_ax_ : matplotlib Axes or None
        The twin Axes of the validation score, on the right; None without scores.

    figure_ : matplotlib Figure
        The figure holding the axes.

    loss_line_ : matplotlib Line2D
        The loss curve.

    validation_line_ : matplotlib Line2D or None
        The validation score curve; None without scores.

    best_line_ : matplotlib Line2D or None
        The vertical line at ``best_epoch``; None without it.

    best_marker_ : matplotlib Line2D or None
        A point on the curve that chose the best epoch (the validation score if
        there is one, the loss otherwise); None without ``best_epoch``.

    See Also
    --------
    PredictionFloorDisplay : Predictions against observations, with the floor.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from positive_mlp import PositiveMLPRegressor, TrainingCurveDisplay
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = np.exp(X[:, 0])
    >>> reg = PositiveMLPRegressor(hidden_layer_sizes=(8,), early_stopping=True,
    ...                            learning_rate_init=0.05, max_iter=1000,
    ...                            n_threads=1, random_state=0).fit(X, y)
    >>> display = TrainingCurveDisplay.from_estimator(reg)
    >>> len(display.loss_line_.get_ydata()) == reg.n_iter_
    True
    >>> display.best_epoch == 1 + int(np.argmax(reg.validation_scores_))
    True
    """

    def __init__(
        self,
        *,
        loss_curve,
        validation_scores=None,
        best_epoch: int | None = None,
        best_label: str = "best epoch",
        step_name: str = "Epoch",
        loss_name: str = "Training loss",
        score_name: str = "Validation score",
        estimator_name: str | None = None,
    ):
        self.loss_curve = loss_curve
        self.validation_scores = validation_scores
        self.best_epoch = best_epoch
        self.best_label = best_label
        self.step_name = step_name
        self.loss_name = loss_name
        self.score_name = score_name
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        name: str | None = None,
        ax=None,
        loss_kwargs: dict | None = None,
        validation_kwargs: dict | None = None,
        best_kwargs: dict | None = None,
    ) -> TrainingCurveDisplay:
        """Plot the training record of a fitted network.

        Parameters
        ----------
        estimator : estimator or Pipeline
            A fitted :class:`PositiveMLPRegressor`, or any fitted estimator with a
            ``loss_curve_`` (scikit-learn's MLPRegressor and MLPClassifier with
            'sgd' or 'adam'), or a Pipeline ending in one.

        name : str or None, default=None
            The title; None uses no title.

        ax : matplotlib Axes, default=None
            The Axes to draw on; None creates a figure.

        loss_kwargs, validation_kwargs, best_kwargs : dict, default=None
            Keyword arguments of matplotlib's ``plot`` for the loss curve, the
            validation curve, and of ``axvline`` for the best epoch's line.

        Returns
        -------
        display : TrainingCurveDisplay

        See Also
        --------
        PredictionFloorDisplay.from_estimator : Predictions against observations.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from positive_mlp import PositiveMLPRegressor, TrainingCurveDisplay
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(200, 3))
        >>> y = np.exp(X[:, 0])
        >>> reg = PositiveMLPRegressor(hidden_layer_sizes=(8,),
        ...                            learning_rate_init=0.05, n_threads=1,
        ...                            random_state=0).fit(X, y)
        >>> display = TrainingCurveDisplay.from_estimator(reg)
        >>> bool(np.array_equal(display.loss_curve, reg.loss_curve_))
        True
        >>> display.ax_.get_xlabel()
        'Epoch'
        """
        caller = f"{cls.__name__}.from_estimator"
        _pyplot(caller)
        check_is_fitted(estimator)
        network = _final_step(estimator)
        loss_curve = getattr(network, "loss_curve_", None)
        if loss_curve is None:
            raise TypeError(
                f"{caller} needs a network with a loss_curve_ (PositiveMLPRegressor, "
                f"or MLPRegressor with solver 'sgd' or 'adam'); "
                f"{type(network).__name__} has none."
            )
        loss_curve = np.asarray(loss_curve, dtype=np.float64)
        if loss_curve.size == 0:
            raise ValueError(f"{caller}: the estimator has recorded no epoch yet.")
        scores = getattr(network, "validation_scores_", None)
        scores = None if not scores else np.asarray(scores, dtype=np.float64)
        if scores is not None:
            best_epoch = 1 + int(np.argmax(scores))
            best_label = (
                f"best epoch of the members' mean ({best_epoch}; each member "
                "kept its own)"
                if _members_stopped_apart(network)
                else f"best validation score (epoch {best_epoch}, weights kept)"
            )
        else:
            best_epoch = 1 + int(np.argmin(loss_curve))
            best_label = f"lowest loss (epoch {best_epoch})"
        loss = getattr(network, "loss", None)
        display = cls(
            loss_curve=loss_curve,
            validation_scores=scores,
            best_epoch=best_epoch,
            best_label=best_label,
            step_name=(
                "L-BFGS-B iteration"
                if getattr(network, "solver", None) == "lbfgs"
                else "Epoch"
            ),
            loss_name="Training loss" if loss is None else f"Training loss ({loss})",
            score_name=_score_name(network),
            estimator_name=name,
        )
        return display.plot(
            ax=ax,
            loss_kwargs=loss_kwargs,
            validation_kwargs=validation_kwargs,
            best_kwargs=best_kwargs,
        )

    def plot(
        self,
        ax=None,
        *,
        loss_kwargs: dict | None = None,
        validation_kwargs: dict | None = None,
        best_kwargs: dict | None = None,
    ) -> TrainingCurveDisplay:
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            The Axes to draw on; None creates a figure.

        loss_kwargs, validation_kwargs, best_kwargs : dict, default=None
            Keyword arguments of matplotlib's ``plot`` for the loss curve, the
            validation curve, and of ``axvline`` for the best epoch's line.

        Returns
        -------
        display : TrainingCurveDisplay
            This object, with its artists set.

        See Also
        --------
        TrainingCurveDisplay.from_estimator : Read the record and draw it.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from positive_mlp import TrainingCurveDisplay
        >>> display = TrainingCurveDisplay(loss_curve=[1.0, 0.5, 0.4])
        >>> display = display.plot(loss_kwargs={"color": "black"})
        >>> display.loss_line_.get_ydata().tolist()
        [1.0, 0.5, 0.4]
        """
        ax = _axes(ax, f"{type(self).__name__}.plot")
        losses = np.asarray(self.loss_curve, dtype=np.float64)
        (self.loss_line_,) = ax.plot(
            np.arange(1, losses.size + 1),
            losses,
            **_style({"color": "tab:blue", "label": self.loss_name}, loss_kwargs),
        )
        ax.set(xlabel=self.step_name, ylabel=self.loss_name)
        self.validation_ax_ = self.validation_line_ = None
        if self.validation_scores is not None:
            scores = np.asarray(self.validation_scores, dtype=np.float64)
            self.validation_ax_ = ax.twinx()
            (self.validation_line_,) = self.validation_ax_.plot(
                np.arange(1, scores.size + 1),
                scores,
                **_style(
                    {"color": "tab:orange", "label": self.score_name},
                    validation_kwargs,
                ),
            )
            self.validation_ax_.set_ylabel(self.score_name)
        self._mark_best(ax, best_kwargs)
        handles = [
            line
            for line in (self.loss_line_, self.validation_line_, self.best_line_)
            if line is not None
        ]
        # On the top Axes, so that no curve of the twin Axes hides it.
        top = ax if self.validation_ax_ is None else self.validation_ax_
        top.legend(handles=handles, loc="best")
        if self.estimator_name is not None:
            ax.set_title(self.estimator_name)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _mark_best(self, ax, best_kwargs: dict | None) -> None:
        """A vertical line at the best epoch and a point on the deciding curve."""
        self.best_line_ = self.best_marker_ = None
        if self.best_epoch is None:
            return
        epoch = int(self.best_epoch)
        self.best_line_ = ax.axvline(
            epoch,
            **_style(
                {"color": "0.3", "linestyle": "--", "label": self.best_label},
                best_kwargs,
            ),
        )
        deciding = (
            self.loss_line_ if self.validation_line_ is None else self.validation_line_
        )
        value = np.asarray(deciding.get_ydata())[epoch - 1]
        (self.best_marker_,) = deciding.axes.plot(
            [epoch], [value], marker="o", color=deciding.get_color()
        )


def _members_stopped_apart(network) -> bool:
    """Whether the network's members kept each its own best epoch
    (PositiveMLPRegressor's ``n_members``)."""
    return stop_apart(
        getattr(network, "n_members_", 1), len(getattr(network, "coefs_", ()))
    )


# The losses' score names as the plots print them.
_SCORE_LABELS = {"R2": "R²", "D2": "D²", "minus pinball loss": "minus pinball loss"}


def _score_name(network) -> str:
    """What early stopping scored: R2, accuracy (a classifier), D2 for the
    deviance losses, or for quantiles minus the pinball loss."""
    if isinstance(network, PositiveMLPRegressor) and network.loss in LOSSES:
        loss = resolve_loss(network.loss, network.power, network.quantile)
        return f"Validation score ({_SCORE_LABELS[loss.score_name]})"
    return f"Validation score ({'accuracy' if is_classifier(network) else 'R²'})"


class PredictionFloorDisplay:
    """Predictions against observations, with the floor the predictions respect.

    A scatter of each prediction (y axis) against its observation (x axis), the
    identity line (a perfect model's points lie on it), and the floor
    (``output_threshold``) as a horizontal line. The floor's legend entry gives the
    share of predictions at the floor and below it (a PositiveMLPRegressor with a
    bounding output never predicts below; an unbounded model can).

    A prediction counts as at the floor when it is within ``tolerance`` of it, and
    as below when it is lower than ``threshold - tolerance``. ``from_estimator`` and
    ``from_predictions`` set ``tolerance`` to ``rtol`` (1e-6 by default) times the
    largest distance of an observation from the floor, or times ``|threshold|`` if
    that is larger: a softplus output a millionth of the data's range above the
    floor is at it for any practical purpose, and float32 rounding near a large
    floor stays within it.

    Create it with :meth:`from_estimator` or :meth:`from_predictions`; all
    parameters are kept as attributes.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        The observations.

    y_pred : array-like of shape (n_samples,)
        The predictions.

    threshold : float, default=0.0
        The floor.

    tolerance : float, default=0.0
        How far above the floor a prediction still counts as at it.

    estimator_name : str or None, default=None
        The scatter's legend label; None labels it "predictions".

    target_name : str, default=""
        Added to the axis labels (for example "target 1" or "quantile 0.5").

    Attributes
    ----------
    share_at_floor : float
        The share of predictions within ``tolerance`` of the floor (not below it).

    share_below_floor : float
        The share of predictions below ``threshold - tolerance``.

    ax_ : matplotlib Axes
        The Axes drawn on.

    figure_ : matplotlib Figure
        The figure holding the Axes.

    scatter_ : matplotlib PathCollection
        The points (observation, prediction).

    identity_line_ : matplotlib Line2D
        The line prediction = observation.

    floor_line_ : matplotlib Line2D
        The floor, a horizontal line at ``threshold``.

    See Also
    --------
    TrainingCurveDisplay : The loss and validation score by epoch.
    sklearn.metrics.PredictionErrorDisplay : Residuals or predictions, no floor.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from positive_mlp import PredictionFloorDisplay
    >>> display = PredictionFloorDisplay.from_predictions(
    ...     y_true=[0.0, 0.5, 1.0, 2.0], y_pred=[0.0, 0.0, 1.1, 1.9], threshold=0.0)
    >>> display.share_at_floor
    0.5
    >>> display.floor_line_.get_label()
    'floor 0: 50.0% of predictions at it, 0.0% below'
    """

    def __init__(
        self,
        *,
        y_true,
        y_pred,
        threshold: float = 0.0,
        tolerance: float = 0.0,
        estimator_name: str | None = None,
        target_name: str = "",
    ):
        self.y_true = y_true
        self.y_pred = y_pred
        self.threshold = threshold
        self.tolerance = tolerance
        self.estimator_name = estimator_name
        self.target_name = target_name

    @property
    def share_at_floor(self) -> float:
        distance = np.asarray(self.y_pred, dtype=np.float64) - self.threshold
        return float(
            np.mean((distance >= -self.tolerance) & (distance <= self.tolerance))
        )

    @property
    def share_below_floor(self) -> float:
        distance = np.asarray(self.y_pred, dtype=np.float64) - self.threshold
        return float(np.mean(distance < -self.tolerance))

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        target: int = 0,
        level: float | None = None,
        threshold: float | None = None,
        rtol: float = FLOOR_RTOL,
        name: str | None = None,
        ax=None,
        scatter_kwargs: dict | None = None,
        line_kwargs: dict | None = None,
        floor_kwargs: dict | None = None,
    ) -> PredictionFloorDisplay:
        """Plot a fitted regressor's predictions on ``X`` against ``y``.

        Parameters
        ----------
        estimator : estimator or Pipeline
            A fitted :class:`PositiveMLPRegressor` or a Pipeline ending in one; any
            other fitted regressor (MLPRegressor, for comparison) with
            ``threshold`` given.

        X : array-like or sparse matrix of shape (n_samples, n_features)
            The inputs.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            The observations.

        target : int, default=0
            Which target to draw when the model has several (a column of ``y``).

        level : float or None, default=None
            For ``loss='quantile'`` with a list of levels: which level to draw, one
            of ``quantiles_``; None draws the median (0.5), and is an error when the
            model has no level 0.5.

        threshold : float or None, default=None
            The floor; None takes the estimator's ``output_threshold_`` of
            ``target``.

        rtol : float, default=1e-6
            Predictions within ``rtol`` times the largest distance of an
            observation from the floor (or ``|threshold|``, if larger) of the
            floor count as at it.

        name : str or None, default=None
            The scatter's legend label; None uses the estimator's class name.

        ax : matplotlib Axes, default=None
            The Axes to draw on; None creates a figure.

        scatter_kwargs, line_kwargs, floor_kwargs : dict, default=None
            Keyword arguments of matplotlib's ``scatter`` for the points, of
            ``plot`` for the identity line and of ``axhline`` for the floor.

        Returns
        -------
        display : PredictionFloorDisplay

        See Also
        --------
        PredictionFloorDisplay.from_predictions : The same from predictions.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from positive_mlp import PositiveMLPRegressor, PredictionFloorDisplay
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(200, 3))
        >>> y = np.exp(X[:, 0])
        >>> reg = PositiveMLPRegressor(hidden_layer_sizes=(8,),
        ...                            learning_rate_init=0.05, n_threads=1,
        ...                            random_state=0).fit(X, y)
        >>> display = PredictionFloorDisplay.from_estimator(reg, X, y)
        >>> display.threshold, display.share_below_floor
        (0.0, 0.0)
        """
        caller = f"{cls.__name__}.from_estimator"
        _pyplot(caller)
        check_is_fitted(estimator)
        model = _final_step(estimator)
        if threshold is None:
            floors = getattr(model, "output_threshold_", None)
            if floors is None:
                raise TypeError(
                    f"{caller}: {type(model).__name__} has no output_threshold_; "
                    "pass threshold=, the floor to draw."
                )
        y_pred = np.asarray(estimator.predict(X))
        level_name = ""
        if getattr(model, "quantiles_", None) is not None:
            y_pred, level_name = _one_level(y_pred, model, level, caller)
        elif level is not None:
            raise ValueError(
                f"{caller}: level={level!r} applies to models with loss='quantile' "
                "and a list of levels; this model predicts one value per target."
            )
        y_true, y_pred, chosen = _one_target(y, y_pred, target, caller)
        if threshold is None:
            threshold = float(np.asarray(floors)[chosen.index])
        target_name = ", ".join(filter(None, [chosen.label, level_name]))
        return cls._draw(
            y_true,
            y_pred,
            threshold,
            rtol,
            _name(estimator, name),
            target_name,
            ax,
            scatter_kwargs,
            line_kwargs,
            floor_kwargs,
        )

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_pred,
        *,
        threshold=0.0,
        target: int = 0,
        rtol: float = FLOOR_RTOL,
        name: str | None = None,
        ax=None,
        scatter_kwargs: dict | None = None,
        line_kwargs: dict | None = None,
        floor_kwargs: dict | None = None,
    ) -> PredictionFloorDisplay:
        """Plot predictions against observations.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
            The observations.

        y_pred : array-like of the shape of ``y_true``
            The predictions.

        threshold : float or array-like of shape (n_targets,), default=0.0
            The floor, one for all targets or one per target.

        target : int, default=0
            Which target to draw when there are several (a column).

        rtol : float, default=1e-6
            Predictions within ``rtol`` times the largest distance of an
            observation from the floor (or ``|threshold|``, if larger) of the
            floor count as at it.

        name : str or None, default=None
            The scatter's legend label; None labels it "predictions".

        ax : matplotlib Axes, default=None
            The Axes to draw on; None creates a figure.

        scatter_kwargs, line_kwargs, floor_kwargs : dict, default=None
            Keyword arguments of matplotlib's ``scatter`` for the points, of
            ``plot`` for the identity line and of ``axhline`` for the floor.

        Returns
        -------
        display : PredictionFloorDisplay

        See Also
        --------
        PredictionFloorDisplay.from_estimator : The same from a fitted model.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from positive_mlp import PredictionFloorDisplay
        >>> display = PredictionFloorDisplay.from_predictions(
        ...     y_true=[1.0, 2.0, 3.0], y_pred=[1.0, 1.0, 3.5], threshold=1.0)
        >>> round(display.share_at_floor, 3)
        0.667
        """
        caller = f"{cls.__name__}.from_predictions"
        _pyplot(caller)
        y_pred = check_array(
            y_pred, ensure_2d=False, dtype=np.float64, input_name="y_pred"
        )
        y_true, y_pred, chosen = _one_target(y_true, y_pred, target, caller)
        floors = np.asarray(threshold, dtype=np.float64)
        if floors.ndim > 1 or (floors.ndim == 1 and floors.size != chosen.count):
            raise ValueError(
                f"{caller}: threshold must be a float or hold one value per target "
                f"({chosen.count}), got shape {floors.shape}."
            )
        floor = float(floors if floors.ndim == 0 else floors[chosen.index])
        return cls._draw(
            y_true,
            y_pred,
            floor,
            rtol,
            name,
            chosen.label,
            ax,
            scatter_kwargs,
            line_kwargs,
            floor_kwargs,
        )

    @classmethod
    def _draw(
        cls,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        threshold: float,
        rtol: float,
        name: str | None,
        target_name: str,
        ax,
        scatter_kwargs: dict | None,
        line_kwargs: dict | None,
        floor_kwargs: dict | None,
    ) -> PredictionFloorDisplay:
        if not (isinstance(rtol, Real) and rtol >= 0):
            raise ValueError(f"rtol must be a float >= 0, got {rtol!r}.")
        display = cls(
            y_true=y_true,
            y_pred=y_pred,
            threshold=threshold,
            tolerance=floor_tolerance(y_true, threshold, rtol),
            estimator_name=name,
            target_name=target_name,
        )
        return display.plot(
            ax=ax,
            scatter_kwargs=scatter_kwargs,
            line_kwargs=line_kwargs,
            floor_kwargs=floor_kwargs,
        )

    def plot(
        self,
        ax=None,
        *,
        scatter_kwargs: dict | None = None,
        line_kwargs: dict | None = None,
        floor_kwargs: dict | None = None,
    ) -> PredictionFloorDisplay:
        """Draw the points, the identity line and the floor.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            The Axes to draw on; None creates a figure.

        scatter_kwargs, line_kwargs, floor_kwargs : dict, default=None
            Keyword arguments of matplotlib's ``scatter`` for the points, of
            ``plot`` for the identity line and of ``axhline`` for the floor.

        Returns
        -------
        display : PredictionFloorDisplay
            This object, with its artists set.

        See Also
        --------
        PredictionFloorDisplay.from_predictions : Compute the shares and draw.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from positive_mlp import PredictionFloorDisplay
        >>> display = PredictionFloorDisplay(
        ...     y_true=[0.0, 1.0], y_pred=[0.0, 0.9], threshold=0.0)
        >>> fig, ax = plt.subplots()
        >>> display.plot(ax=ax).ax_ is ax
        True
        """
        ax = _axes(ax, f"{type(self).__name__}.plot")
        y_true = np.asarray(self.y_true, dtype=np.float64)
        y_pred = np.asarray(self.y_pred, dtype=np.float64)
        label = self.estimator_name or "predictions"
        self.scatter_ = ax.scatter(
            y_true,
            y_pred,
            **_style({"s": 12, "alpha": 0.5, "label": label}, scatter_kwargs),
        )
        low = min(y_true.min(), y_pred.min(), self.threshold)
        high = max(y_true.max(), y_pred.max())
        (self.identity_line_,) = ax.plot(
            [low, high],
            [low, high],
            **_style(
                {
                    "color": "black",
                    "linestyle": ":",
                    "label": "prediction = observation",
                },
                line_kwargs,
            ),
        )
        self.floor_line_ = ax.axhline(
            self.threshold,
            **_style({"color": "tab:red", "label": self._floor_label()}, floor_kwargs),
        )
        suffix = f" ({self.target_name})" if self.target_name else ""
        ax.set(xlabel=f"Observed{suffix}", ylabel=f"Predicted{suffix}")
        ax.legend(loc="upper left")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _floor_label(self) -> str:
        return (
            f"floor {self.threshold:g}: {self.share_at_floor:.1%} of predictions at "
            f"it, {self.share_below_floor:.1%} below"
        )


def floor_tolerance(y_true: np.ndarray, threshold: float, rtol: float) -> float:
    """``rtol`` times the largest distance of an observation from the floor, or times
    ``|threshold|`` if that is larger."""
    distance = float(np.max(np.abs(y_true - threshold))) if y_true.size else 0.0
    return rtol * max(distance, abs(threshold))


@dataclass(frozen=True)
class _Target:
    """Which target of several is drawn."""

    index: int
    count: int  # how many targets there are

    @property
    def label(self) -> str:
        """Added to the axis labels when there are several targets."""
        return f"target {self.index}" if self.count > 1 else ""


def _one_target(
    y_true, y_pred: np.ndarray, target, caller: str
) -> tuple[np.ndarray, np.ndarray, _Target]:
    """The observations and predictions of one target, each 1-D, and which it is."""
    y_true = check_array(y_true, ensure_2d=False, dtype=np.float64, input_name="y")
    check_consistent_length(y_true, y_pred)
    if y_true.ndim > 2 or y_pred.ndim > 2:
        raise ValueError(
            f"{caller}: y and the predictions must be 1-D or 2-D (n_samples, "
            f"n_targets), got shapes {y_true.shape} and {y_pred.shape}."
        )
    y_true = y_true.reshape(y_true.shape[0], -1)
    y_pred = y_pred.reshape(y_pred.shape[0], -1)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{caller}: y has {y_true.shape[1]} target(s), the predictions "
            f"{y_pred.shape[1]}."
        )
    n_targets = y_true.shape[1]
    if not isinstance(target, Integral) or not 0 <= target < n_targets:
        raise ValueError(
            f"{caller}: target must be an int in [0, {n_targets}) (a column of y), "
            f"got {target!r}."
        )
    return y_true[:, target], y_pred[:, target], _Target(int(target), n_targets)


def _one_level(y_pred: np.ndarray, model, level, caller: str):
    """A quantile model's predictions at one level (the last axis dropped), and the
    level's label."""
    levels = np.asarray(model.quantiles_, dtype=np.float64)
    if not has_level_axis(model.quantile):
        if level is not None and not np.isclose(level, levels[0]):
            raise ValueError(
                f"{caller}: the model predicts the one level {levels[0]:g}; got "
                f"level={level!r}."
            )
        return y_pred, f"quantile {levels[0]:g}"
    wanted = 0.5 if level is None else level
    matches = np.flatnonzero(np.isclose(levels, wanted))
    if matches.size == 0:
        advice = "has no median: pass" if level is None else "has no such level; pass"
        raise ValueError(
            f"{caller}: the model predicts the levels {levels.tolist()} and {advice} "
            "level= one of them."
        )
    return y_pred[..., matches[0]], f"quantile {levels[matches[0]]:g}"
