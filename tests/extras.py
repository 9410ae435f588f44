"""The optional extras in the tests: a test that needs one is skipped without it,
with a reason that names the extra to install."""

from __future__ import annotations

from types import ModuleType

import pytest


def needs_extra(module: str, extra: str) -> ModuleType:
    """``module``, imported; without it the calling test (or test module, at its top)
    is skipped, naming ``extra``."""
    install = f'pip install "positive-mlp[{extra}]"'
    return pytest.importorskip(
        module, reason=f"needs the optional extra '{extra}': {install}"
    )
