"""Shared test configuration."""

import os

from hypothesis import settings

# CI explores the same examples on every run (a failure there is reproducible);
# local runs keep hypothesis's random search.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
