"""The documentation's performance tables are what the benchmarks' CSVs say."""

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


def test_the_performance_tables_are_the_csvs():
    report = _report()
    assert report.REPORT.read_text() == report.render(), (
        "benchmarks/results/performance.md differs from the CSVs: run "
        "python benchmarks/performance_report.py"
    )


def test_a_figure_changed_by_hand_is_caught(tmp_path, monkeypatch):
    report = _report()
    edited = tmp_path / "performance.md"
    edited.write_text(report.render().replace("|", "| 9", 1))
    monkeypatch.setattr(report, "REPORT", edited)
    assert report.main(["--check"]) == 1
    edited.write_text(report.render())
    assert report.main(["--check"]) == 0


def test_the_performance_page_includes_the_generated_tables():
    page = (ROOT / "docs" / "performance.md").read_text()
    assert "{include} ../benchmarks/results/performance.md" in page
