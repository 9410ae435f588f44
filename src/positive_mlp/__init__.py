"""positive-mlp: scikit-learn MLP regression with predictions that respect a lower bound."""

from positive_mlp._estimator import PositiveMLPRegressor

__all__ = ["PositiveMLPRegressor"]
__version__ = "0.1.0"
