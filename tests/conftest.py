"""Shared test configuration."""

import os

import pytest
from hypothesis import settings

from positive_mlp import _threads

# CI explores the same examples on every run (a failure there is reproducible);
# local runs keep hypothesis's random search.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def eight_cores(monkeypatch):
    """A machine of 8 cores, so that n_threads up to 8 is used as asked (counts beyond
    the cores are clipped): the batch splits of 3 to 8 threads run on any machine."""
    monkeypatch.setattr(_threads, "available_cores", lambda: 8)
