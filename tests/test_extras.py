"""Without an optional extra, the parts that need it say which extra to install."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from positive_mlp import PredictionFloorDisplay

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("module", "missing", "extra"),
    [
        ("positive_mlp.dask", "dask", "dask"),
        ("positive_mlp.onnx", "skl2onnx", "onnx"),
        ("positive_mlp.onnx", "onnx", "onnx"),
    ],
)
def test_a_module_of_an_extra_names_the_extra(monkeypatch, module, missing, extra):
    for name in [m for m in sys.modules if m == missing or m.startswith(missing + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, missing, None)  # importing it raises
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ImportError, match=rf'pip install "positive-mlp\[{extra}\]"'):
        importlib.import_module(module)


def test_a_display_without_matplotlib_names_the_plot_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "positive-mlp\[plot\]"'):
        PredictionFloorDisplay.from_predictions([1.0, 2.0], [1.0, 2.0])


@pytest.mark.parametrize(
    ("example", "missing", "extra"),
    [
        ("dask_larger_than_memory.py", "dask", "dask"),
        ("readme_figures.py", "matplotlib", "plot"),
    ],
)
def test_an_example_of_an_extra_names_the_extra(tmp_path, example, missing, extra):
    # A site directory whose module of that name fails to import, ahead on the path.
    (tmp_path / f"{missing}.py").write_text("raise ImportError('not installed')\n")
    script = f"import sys, runpy; sys.path.insert(0, {str(tmp_path)!r}); " + (
        f"sys.path.insert(1, {str(EXAMPLES)!r}); "
        f"runpy.run_path({str(EXAMPLES / example)!r}, run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert f'pip install "positive-mlp[{extra}]"' in result.stderr
    assert "Traceback" not in result.stderr
