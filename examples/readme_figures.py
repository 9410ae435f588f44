"""Draws the README's figures: ``python examples/readme_figures.py``.
==================================================================

Needs matplotlib (``pip install ".[plot]"``). Writes one PNG per figure into
``docs/images/`` (or ``--out DIR``), in about 10 seconds; ``--only NAME ...`` draws
some of them. The fits are seeded and run on one thread, so the same versions of the
libraries draw the same pictures. The data and models come from the other examples
and the demo, so each picture shows what they print:

* ``floor_problem.png``: MLPRegressor and PositiveMLPRegressor on the demo's
  breast-cancer target (``python -m positive_mlp.demo``), predicted against observed
  on the test rows, with the floor at 0.
* ``output_transforms.png``: the bounding outputs 'softplus', 'exp' and 'relu' (and
  MLPRegressor's free output) fitted to the same censored data, drawn beyond the
  training range.
* ``monotone.png``: partial dependence (and individual curves) of the free and the
  monotone demand models of ``examples/monotone_model.py``.
* ``quantile_bands.png``: the quantile bands of ``examples/quantile_bands.py``
  (one network, against gradient boosting fitted per level) along the feature that
  drives the spread, with the true quantiles.
* ``displays.png``: :class:`~positive_mlp.TrainingCurveDisplay` and
  :class:`~positive_mlp.PredictionFloorDisplay` on the counts of
  ``examples/compare_with_mlpregressor.py``, with a 'relu' output.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

try:
    import matplotlib
except ImportError:
    raise SystemExit(
        'This example draws with matplotlib: pip install "positive-mlp[plot]"'
    ) from None

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt
import numpy as np
from compare_with_mlpregressor import make_counts
from matplotlib.figure import Figure
from monotone_model import (
    FEATURES,
    MONOTONIC_CST,
    N_TRAIN,
    make_data,
    make_model,
)
from quantile_bands import LEVELS, fit_models, make_durations, true_quantiles
from sklearn.inspection import PartialDependenceDisplay
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from positive_mlp import (
    PositiveMLPRegressor,
    PredictionFloorDisplay,
    TrainingCurveDisplay,
)
from positive_mlp.demo import SETTINGS as DEMO_SETTINGS
from positive_mlp.demo import load_concavity

SEED = 0
DPI = 100
OUT = Path(__file__).resolve().parent.parent / "docs" / "images"
COLORS = {"softplus": "tab:blue", "exp": "tab:green", "relu": "tab:orange"}


def floor_problem() -> Figure:
    """The demo's two models, predicted against observed on its test rows."""
    X, y, _ = load_concavity()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED
    )
    models = {
        "MLPRegressor": MLPRegressor(random_state=SEED, **DEMO_SETTINGS),
        "PositiveMLPRegressor": PositiveMLPRegressor(
            random_state=SEED, n_threads=1, **DEMO_SETTINGS
        ),
    }
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.4), sharex=True, sharey=True)
    for ax, (name, model) in zip(axes, models.items()):
        pipeline = make_pipeline(StandardScaler(), model).fit(X_train, y_train)
        PredictionFloorDisplay.from_estimator(
            pipeline, X_test, y_test, threshold=0.0, ax=ax
        )
        ax.set_title(name)
    axes[0].set(
        xlabel="Observed worst concavity x 10 (test rows)",
        ylabel="Predicted",
    )
    axes[1].set(xlabel=axes[0].get_xlabel(), ylabel="")
    figure.suptitle("Breast-cancer data (python -m positive_mlp.demo): a target >= 0")
    return figure


def censored_data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A noisy line cut off at 0: a third of the targets are exactly 0."""
    x = rng.uniform(-3.0, 3.0, size=300)
    y = np.maximum(0.0, 0.8 * x + 0.3 * np.sin(2.0 * x) + 0.5 * rng.normal(size=300))
    return x[:, None], y


def output_transforms() -> Figure:
    """Each output transform fitted to the same data, drawn past the training
    range; on the right, the same curves near the floor."""
    X, y = censored_data(np.random.default_rng(SEED))
    settings = {"hidden_layer_sizes": (16,), "solver": "lbfgs", "max_iter": 500}
    grid = np.linspace(-6.0, 5.0, 400)[:, None]
    curves = {
        output: (
            PositiveMLPRegressor(
                output_activation=output, random_state=SEED, n_threads=1, **settings
            )
            .fit(X, y)
            .predict(grid),
            {"color": color, "lw": 2},
        )
        for output, color in COLORS.items()
    }
    curves["MLPRegressor (free output)"] = (
        MLPRegressor(random_state=SEED, **settings).fit(X, y).predict(grid),
        {"color": "black", "ls": "--"},
    )
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax in axes:
        ax.axvspan(-3.0, 3.0, color="0.94", label="training range")
        ax.scatter(X[:, 0], y, s=8, color="0.55", label="data (33% exactly 0)")
        for label, (prediction, style) in curves.items():
            ax.plot(grid[:, 0], prediction, label=label, **style)
        ax.axhline(0.0, color="tab:red", lw=1, label="floor 0")
        ax.set(xlabel="x", ylabel="prediction")
    axes[0].set_title("PositiveMLPRegressor(output_activation=...), same data")
    axes[0].legend(loc="upper left", fontsize="small")
    axes[1].set(ylim=(-0.15, 0.5), title="Near the floor")
    figure.suptitle("'relu' reaches the floor, 'softplus' and 'exp' approach it")
    return figure


def monotone() -> Figure:
    """Partial dependence of the free and the monotone demand models."""
    X, y = make_data(N_TRAIN, np.random.RandomState(SEED))
    figure, axes = plt.subplots(2, 3, figsize=(9.6, 6), sharey=True)
    for row, (name, cst) in zip(
        axes, (("free", None), (f"monotonic_cst={MONOTONIC_CST}", MONOTONIC_CST))
    ):
        model = make_model(cst, SEED)
        model[-1].set_params(n_threads=1)
        PartialDependenceDisplay.from_estimator(
            model.fit(X, y),
            X,
            features=[0, 1, 2],
            feature_names=list(FEATURES),
            kind="both",
            centered=True,
            subsample=20,
            random_state=SEED,
            ax=row,
            ice_lines_kw={"color": "tab:blue", "alpha": 0.3},
            pd_line_kw={"color": "tab:orange", "lw": 2.5},
        )
        row[0].set_ylabel(f"{name}\ncentred demand")
        for ax in row[1:]:
            ax.set_ylabel("")
            ax.get_legend().remove()
    figure.suptitle(
        f"Demand on {N_TRAIN} rows (examples/monotone_model.py): individual curves "
        "and their average"
    )
    return figure


def quantile_bands() -> Figure:
    """The five levels along x0 (the others at 0) against the true quantiles."""
    X, y = make_durations(np.random.default_rng(SEED))
    with threadpool_limits(limits=1):  # as the example: see its docstring
        models = fit_models(X[:5000], y[:5000])
    x0 = np.linspace(-3.5, 3.5, 200)
    grid = np.zeros((x0.size, X.shape[1]))
    grid[:, 0] = x0
    truth = true_quantiles(grid)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.4), sharey=True)
    for ax, (name, predict) in zip(axes, models.items()):
        bands = predict(grid)
        ax.fill_between(x0, bands[:, 0], bands[:, 4], alpha=0.25, label="5-95%")
        ax.fill_between(x0, bands[:, 1], bands[:, 3], alpha=0.45, label="25-75%")
        ax.plot(x0, bands[:, 2], color="tab:blue", label="median")
        ax.plot(x0, truth, color="black", ls=":", lw=1)
        ax.plot([], [], color="black", ls=":", lw=1, label="true quantiles")
        crossed = np.mean(np.any(np.diff(bands, axis=1) < 0, axis=1))
        ax.set(xlabel="x0 (x1 = x2 = x3 = 0)", title=f"{name}: {crossed:.0%} crossed")
        ax.legend(loc="upper left", fontsize="small")
    axes[0].set_ylabel(f"duration, levels {', '.join(f'{q:g}' for q in LEVELS)}")
    figure.suptitle("Quantile bands of a skewed duration (examples/quantile_bands.py)")
    return figure


def displays() -> Figure:
    """The two displays on one fit: counts with a 'relu' output, early stopping."""
    X, y = make_counts(2000, SEED)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED
    )
    model = make_pipeline(
        StandardScaler(),
        PositiveMLPRegressor(
            hidden_layer_sizes=(32,),
            output_activation="relu",
            early_stopping=True,
            max_iter=1000,
            random_state=SEED,
            n_threads=1,
        ),
    ).fit(X_train, y_train)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    TrainingCurveDisplay.from_estimator(model, ax=left, name="TrainingCurveDisplay")
    PredictionFloorDisplay.from_estimator(model, X_test, y_test, ax=right)
    right.set_title("PredictionFloorDisplay (test rows)")
    figure.suptitle(
        "Counts (examples/compare_with_mlpregressor.py), "
        "PositiveMLPRegressor(output_activation='relu', early_stopping=True)"
    )
    return figure


FIGURES: dict[str, Callable[[], Figure]] = {
    "floor_problem": floor_problem,
    "output_transforms": output_transforms,
    "monotone": monotone,
    "quantile_bands": quantile_bands,
    "displays": displays,
}


def save(figure: Figure, path: Path) -> None:
    """A PNG at DPI, without the matplotlib version in its metadata (so that a
    new matplotlib alone does not change the file)."""
    figure.tight_layout()
    figure.savefig(
        path, dpi=DPI, metadata={"Software": None}, pil_kwargs={"optimize": True}
    )
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT}")
    parser.add_argument("--only", nargs="+", choices=list(FIGURES), default=None)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the figures should fit without warnings
        for name in args.only or FIGURES:
            path = args.out / f"{name}.png"
            save(FIGURES[name](), path)
            print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
