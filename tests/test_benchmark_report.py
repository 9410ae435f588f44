"""The README's performance tables are what the benchmarks' CSVs say."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _report():
    path = ROOT / "benchmarks" / "performance_report.py"
    spec = importlib.util.spec_from_file_location("performance_report", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readmes_performance_tables_are_the_csvs():
    report = _report()
    text = (ROOT / "README.md").read_text()
    assert report.readme_with(report.render(), text) == text, (
        "README.md's performance tables differ from benchmarks/results/: run "
        "python benchmarks/performance_report.py"
    )


def test_a_figure_changed_by_hand_is_caught():
    report = _report()
    text = report.readme_with(report.render(), (ROOT / "README.md").read_text())
    block = text[text.index(report.BEGIN) : text.index(report.END)]
    edited = text.replace(block, block.replace("|", "| 9", 1))
    assert report.readme_with(report.render(), edited) != edited
