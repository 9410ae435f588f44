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
    assert report.DASK_REPORT.read_text() == report.render_dask()


def test_a_figure_changed_by_hand_is_caught(tmp_path, monkeypatch):
    report = _report()
    edited = tmp_path / "performance.md"
    edited.write_text(report.render().replace("|", "| 9", 1))
    monkeypatch.setattr(report, "REPORT", edited)
    assert report.main(["--check"]) == 1
    edited.write_text(report.render())
    assert report.main(["--check"]) == 0


def test_the_pages_include_the_generated_tables():
    pages = {
        "performance.md": "performance.md",
        "dask.md": "dask_grid.md",
        "user_guide.md": "conformal.md",
        "fit_quality.md": "quality_summary.md",
    }
    text = (ROOT / "docs" / "user_guide.md").read_text()
    assert "../benchmarks/results/nonneg_methods.md" in text
    for page, table in pages.items():
        text = (ROOT / "docs" / page).read_text()
        assert f"../benchmarks/results/{table}" in text, (page, table)
