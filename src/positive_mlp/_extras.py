"""The optional extras: the error that names the extra to install when a part of
the package that needs one is used without it."""

from __future__ import annotations


def missing_extra(extra: str, feature: str, error: ImportError) -> ImportError:
    """The ImportError to raise from ``error`` (a failed import of an extra's package)
    when ``feature`` is used without ``extra``."""
    package = error.name or str(error)
    return ImportError(
        f"{feature} needs {package}, from the optional extra '{extra}': "
        f'pip install "positive-mlp[{extra}]"'
    )
