"""The README: short, its example runs, its commands are the ones CI runs."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_readme_is_short():
    assert len(README.splitlines()) <= 250


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_first_model_runs_and_stays_above_the_floor():
    (code,) = re.findall(r"```python\n(.*?)```", README, re.S)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    score, above_floor = printed.getvalue().split()
    assert 0 < float(score) <= 1 and above_floor == "True"


def test_the_test_command_is_the_one_ci_runs():
    command = 'pip install ".[test]" && python -m pytest'
    assert command in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install ".[test]"\n' in ci and "\npython -m pytest\n" in ci
