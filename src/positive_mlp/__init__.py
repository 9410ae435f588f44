"""positive-mlp: scikit-learn MLP regression with predictions that respect a lower bound."""

from positive_mlp._estimator import PositiveMLPRegressor
from positive_mlp._solvers import TrainingDivergedError

__all__ = ["PositiveMLPRegressor", "TrainingDivergedError"]
__version__ = "0.1.0"
