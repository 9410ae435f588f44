"""The exceptions and warnings positive-mlp raises, as scikit-learn's
``sklearn.exceptions`` holds its own."""

__all__ = ["InconsistentVersionWarning", "TrainingDivergedError"]


class TrainingDivergedError(FloatingPointError, ValueError):
    """Raised when the training loss becomes non-finite or explodes.

    A :class:`FloatingPointError` and a :class:`ValueError`: code written for
    MLPRegressor, and scikit-learn's own tests, catch ``ValueError`` when training
    produces non-finite weights. The estimator keeps the parameters of the last good
    epoch, so it still predicts finite values; the message says whether to lower
    ``learning_rate_init`` or to scale the data.

    See Also
    --------
    PositiveMLPRegressor.fit : Raises it, judged after every epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from positive_mlp import PositiveMLPRegressor, TrainingDivergedError
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-2, 2, size=(100, 3))
    >>> y = X.sum(axis=1) ** 2
    >>> reg = PositiveMLPRegressor(hidden_layer_sizes=(8,), solver="sgd",
    ...                            learning_rate_init=10.0,
    ...                            output_activation="identity", random_state=0)
    >>> try:
    ...     reg.fit(X, y)
    ... except TrainingDivergedError as error:
    ...     print(error)
    Training diverged in epoch ...: the loss went from ... Lower learning_rate_init
    (now 10.0), or scale X ...
    >>> bool(np.isfinite(reg.predict(X)).all())
    True
    >>> issubclass(TrainingDivergedError, ValueError)
    True
    """


class InconsistentVersionWarning(UserWarning):
    """A model saved by one version of positive-mlp was loaded under another.

    Parameters
    ----------
    estimator_name : str
        The loaded estimator's class name.
    current_version : str
        The version of positive-mlp loading it.
    original_version : str
        The version that saved it ("unrecorded" for a model saved before versions
        were recorded).

    See Also
    --------
    sklearn.exceptions.InconsistentVersionWarning : The same for scikit-learn's own
        estimators.

    Examples
    --------
    >>> import pickle
    >>> import warnings
    >>> from positive_mlp import InconsistentVersionWarning, PositiveMLPRegressor
    >>> state = PositiveMLPRegressor().__getstate__()
    >>> state["_positive_mlp_version"] = "0.0.1"  # as if saved by another version
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     PositiveMLPRegressor.__new__(PositiveMLPRegressor).__setstate__(state)
    >>> warning = caught[0].message
    >>> isinstance(warning, InconsistentVersionWarning), warning.original_version
    (True, '0.0.1')
    """

    def __init__(
        self, *, estimator_name: str, current_version: str, original_version: str
    ) -> None:
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self) -> str:
        return (
            f"Loading {self.estimator_name} saved with positive-mlp "
            f"{self.original_version} under positive-mlp {self.current_version}. "
            "Its state may not mean the same here: predictions may be wrong or "
            "methods may fail. Refit it with this version, or load it with the "
            "version that saved it."
        )
