"""What a pickled (or skops-saved) model records about the package version, and the
warning when it is loaded under another one, as scikit-learn does for its own
estimators (``InconsistentVersionWarning``)."""

from __future__ import annotations

import warnings

# The state's key holding the version that saved it (scikit-learn's is
# "_sklearn_version", which it records for its own estimators only).
VERSION_KEY = "_positive_mlp_version"


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


def current_version() -> str:
    from positive_mlp import __version__  # read when called: the package is loaded

    return __version__


def warn_if_other_version(original: str | None, estimator_name: str) -> None:
    """An InconsistentVersionWarning when ``original`` (the version in a loaded
    state, None if it has none) is not this version."""
    current = current_version()
    if original != current:
        warnings.warn(
            InconsistentVersionWarning(
                estimator_name=estimator_name,
                current_version=current,
                original_version="unrecorded" if original is None else original,
            ),
            stacklevel=3,
        )
