"""positive-mlp: scikit-learn MLP regression whose predictions respect a floor."""

from positive_mlp._conformal import ConformalQuantileRegressor
from positive_mlp._estimator import PositiveMLPRegressor
from positive_mlp._plotting import PredictionFloorDisplay, TrainingCurveDisplay
from positive_mlp.exceptions import InconsistentVersionWarning, TrainingDivergedError

__all__ = [
    "ConformalQuantileRegressor",
    "InconsistentVersionWarning",
    "PositiveMLPRegressor",
    "PredictionFloorDisplay",
    "TrainingCurveDisplay",
    "TrainingDivergedError",
]
__version__ = "0.1.0"
