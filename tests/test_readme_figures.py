"""examples/readme_figures.py: each figure shows what the README and the
documentation say it shows."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
from extras import needs_extra

matplotlib = needs_extra("matplotlib", "plot")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LARGEST_PNG = 150 * 1024


@pytest.fixture(scope="module")
def figures():
    """The script, imported as it runs: with examples/ on the path."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT / "examples"))
        yield importlib.import_module("readme_figures")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def _line(ax, label: str):
    (line,) = [line for line in ax.get_lines() if line.get_label() == label]
    return line


def test_the_committed_pictures_are_the_scripts_and_small(figures):
    for name in figures.FIGURES:
        path = ROOT / "docs" / "images" / f"{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size < LARGEST_PNG
        shown = [(ROOT / "README.md").read_text().count(f"(docs/images/{name}.png)")]
        shown += [
            page.read_text().count(f"(images/{name}.png)")
            for page in (ROOT / "docs").glob("*.md")
        ]
        assert sum(shown) > 0, f"{name}.png is on no page"


def test_the_script_writes_pngs(figures, tmp_path):
    figures.main(["--out", str(tmp_path), "--only", "displays"])
    assert [p.name for p in tmp_path.iterdir()] == ["displays.png"]
    assert 0 < (tmp_path / "displays.png").stat().st_size < LARGEST_PNG


def test_floor_problem_shows_mlpregressor_below_the_floor_and_ours_not(figures):
    theirs, ours = figures.floor_problem().axes
    assert (theirs.get_title(), ours.get_title()) == (
        "MLPRegressor",
        "PositiveMLPRegressor",
    )
    below = {}
    for ax in (theirs, ours):
        floor = _legend_texts(ax)[-1]
        below[ax.get_title()] = float(floor.split(", ")[-1].removesuffix("% below"))
        predictions = ax.collections[0].get_offsets()[:, 1]
        assert below[ax.get_title()] == pytest.approx(
            100 * np.mean(predictions < 0), abs=0.05
        )
    assert below["MLPRegressor"] > 0 and below["PositiveMLPRegressor"] == 0


def test_output_transforms_stay_above_the_floor_where_the_free_output_does_not(
    figures,
):
    whole, near_floor = figures.output_transforms().axes
    for output in figures.COLORS:
        assert _line(whole, output).get_ydata().min() >= 0
    assert _line(whole, "MLPRegressor (free output)").get_ydata().min() < 0
    relu = _line(whole, "relu").get_ydata()
    assert np.mean(relu == 0) > 0.2  # 'relu' reaches the floor itself
    assert near_floor.get_ylim()[0] < 0 < near_floor.get_ylim()[1]


def test_monotone_partial_dependence_is_monotone_only_when_constrained(figures):
    axes = figures.monotone().axes
    free, constrained = axes[:3], axes[3:]

    def moves_the_wrong_way(ax, direction: int) -> bool:
        steps = [np.diff(line.get_ydata()) for line in ax.get_lines()]
        return any(np.any(direction * step < -1e-9) for step in steps)

    for feature, direction in ((0, -1), (1, 1)):
        assert not moves_the_wrong_way(constrained[feature], direction)
        assert moves_the_wrong_way(free[feature], direction)


@pytest.mark.slow
def test_quantile_bands_cross_for_boosting_only(figures):
    ours, boosting = figures.quantile_bands().axes
    assert ours.get_title() == "PositiveMLPRegressor: 0% crossed"
    assert boosting.get_title().startswith("HistGradientBoosting")
    assert boosting.get_title() != "HistGradientBoosting: 0% crossed"


def test_displays_figure_holds_both_displays(figures):
    curve, floor = figures.displays().axes[:2]
    assert curve.get_title() == "TrainingCurveDisplay"
    assert curve.get_xlabel() == "Epoch"
    assert floor.get_title() == "PredictionFloorDisplay (test rows)"
    at_floor = _legend_texts(floor)[-1]
    assert at_floor.startswith("floor 0: ") and not at_floor.startswith("floor 0: 0.0%")
