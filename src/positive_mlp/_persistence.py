"""What a pickled (or skops-saved) model records about the package version, and the
warning when it is loaded under another one, as scikit-learn does for its own
estimators (``InconsistentVersionWarning``)."""

from __future__ import annotations

import warnings

from positive_mlp.exceptions import InconsistentVersionWarning

# The state's key holding the version that saved it (scikit-learn's is
# "_sklearn_version", which it records for its own estimators only).
VERSION_KEY = "_positive_mlp_version"


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
