"""Training drivers: the epoch loop around the C++ core, and scipy's L-BFGS-B.

The C++ core runs whole epochs (shuffling, batches, updates) with the GIL released;
this module keeps the per-epoch bookkeeping that scikit-learn's MLP keeps: the loss
curve, early stopping, learning-rate schedules, messages and warnings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from positive_mlp import _core
from positive_mlp._network import core_for

_SOLVERS = {"sgd": _core.Solver.sgd, "adam": _core.Solver.adam}
_MIN_ADAPTIVE_LEARNING_RATE = 1e-6  # below this, 'adaptive' stops instead of dividing


@dataclass
class OptimizerState:
    """What a stochastic optimiser carries from one epoch (or fit call) to the next."""

    first_moment: np.ndarray  # Adam's first moment, or SGD's velocity
    second_moment: np.ndarray  # Adam's second moment (empty for SGD)
    learning_rate: float
    step: int = 0  # Adam's update count

    @classmethod
    def fresh(cls, solver: str, n_params: int, dtype, learning_rate: float):
        n_second = n_params if solver == "adam" else 0
        return cls(np.zeros(n_params, dtype), np.zeros(n_second, dtype), learning_rate)


@dataclass
class _Validation:
    """Held-out data for early stopping, and the best parameters seen on it."""

    X: np.ndarray
    y: np.ndarray
    best_params: np.ndarray | None = field(default=None)


def resolve_batch_size(batch_size, n_samples: int) -> int:
    if batch_size == "auto":
        return min(200, n_samples)
    if batch_size > n_samples:
        warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going to "
            "be clipped"
        )
    return int(np.clip(batch_size, 1, n_samples))


def _epoch_options(est, batch_size: int) -> _core.EpochOptions:
    optimizer = _core.OptimizerOptions()
    optimizer.solver = _SOLVERS[est.solver]
    optimizer.momentum = est.momentum
    optimizer.nesterov = est.nesterovs_momentum
    optimizer.beta_1, optimizer.beta_2 = est.beta_1, est.beta_2
    optimizer.epsilon = est.epsilon
    options = _core.EpochOptions()
    options.batch_size = batch_size
    options.shuffle = est.shuffle
    options.alpha = est.alpha
    options.optimizer = optimizer
    return options


def _split_validation(est, X, y, rng):
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, random_state=rng, test_size=est.validation_fraction
    )
    if X_val.shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the "
            "size of your dataset."
        )
    return np.ascontiguousarray(X_train), np.ascontiguousarray(y_train), _Validation(
        X_val, y_val
    )


def _record_progress(est, network, params, validation: _Validation | None) -> None:
    """Updates the no-improvement count from the training loss or validation score."""
    if validation is not None:
        score = r2_score(validation.y, network.predict(params, validation.X))
        est.validation_scores_.append(score)
        if est.verbose:
            print(f"Validation score: {score:f}")
        if score < est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if score > est.best_validation_score_:
            est.best_validation_score_ = score
            validation.best_params = params.copy()
        return
    loss = est.loss_curve_[-1]
    if loss > est.best_loss_ - est.tol:
        est._no_improvement_count += 1
    else:
        est._no_improvement_count = 0
    est.best_loss_ = min(est.best_loss_, loss)


def _stop_or_slow_down(est, state: OptimizerState, early_stopping: bool) -> bool:
    """After n_iter_no_change epochs without progress: stop, or divide the rate by 5."""
    what = "Validation score" if early_stopping else "Training loss"
    message = (
        f"{what} did not improve more than tol={est.tol:f} for "
        f"{est.n_iter_no_change} consecutive epochs."
    )
    adaptive = est.solver == "sgd" and est.learning_rate == "adaptive"
    if adaptive and state.learning_rate > _MIN_ADAPTIVE_LEARNING_RATE:
        state.learning_rate /= 5.0
        if est.verbose:
            print(f"{message} Setting learning rate to {state.learning_rate:f}")
        return False
    if est.verbose:
        print(f"{message} Stopping.")
    return True


def _end_of_epoch_learning_rate(est, state: OptimizerState) -> None:
    if est.solver == "sgd" and est.learning_rate == "invscaling":
        state.learning_rate = est.learning_rate_init / (est.t_ + 1) ** est.power_t


def fit_stochastic(est, network, params: np.ndarray, X: np.ndarray, y: np.ndarray,
                   rng: np.random.RandomState, incremental: bool) -> None:
    """Runs epochs of sgd or adam on ``params`` in place, as MLPRegressor does.

    Updates the estimator's training record (``loss_curve_``, ``n_iter_``, ``t_``, ...)
    and its optimiser state. Ctrl-C stops after the current batch with a warning and
    keeps the model trained so far, as scikit-learn does.
    """
    state = getattr(est, "_optimizer_state", None)
    if state is None or state.first_moment.shape != params.shape:
        state = OptimizerState.fresh(est.solver, params.size, params.dtype,
                                     est.learning_rate_init)
    est._optimizer_state = state
    early_stopping = est.early_stopping and not incremental
    validation = None
    if early_stopping:
        X, y, validation = _split_validation(est, X, y, rng)
    n_samples = X.shape[0]
    batch_size = resolve_batch_size(est.batch_size, n_samples)
    trainer = core_for(params.dtype).EpochTrainer(network, n_samples, batch_size)
    options = _epoch_options(est, batch_size)
    max_epochs = 1 if incremental else est.max_iter
    est.n_iter_ = 0
    try:
        for _ in range(max_epochs):
            options.seed = int(rng.randint(np.iinfo(np.int32).max))
            options.optimizer.learning_rate = state.learning_rate
            result = trainer.run_epoch(params, state.first_moment, state.second_moment,
                                       state.step, X, y, None, options)
            state.step = result.step
            est.n_iter_ += 1
            est.t_ += n_samples
            est.loss_ = result.loss
            est.loss_curve_.append(result.loss)
            if est.verbose:
                print(f"Iteration {est.n_iter_}, loss = {result.loss:.8f}")
            _record_progress(est, network, params, validation)
            _end_of_epoch_learning_rate(est, state)
            if est._no_improvement_count > est.n_iter_no_change:
                if _stop_or_slow_down(est, state, early_stopping):
                    break
                est._no_improvement_count = 0
        else:
            if not incremental:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached "
                    "and the optimization hasn't converged yet.",
                    ConvergenceWarning,
                )
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")
    if validation is not None and validation.best_params is not None:
        params[:] = validation.best_params


def fit_lbfgs(est, network, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> None:
    """Minimises the full-data loss with scipy's L-BFGS-B, updating ``params`` in place.

    Loss and gradient come from the C++ core. Unlike MLPRegressor, the loss curve is
    recorded and ``verbose`` prints one line per iteration.
    """
    grad = np.empty_like(params)

    def loss_and_gradient(x: np.ndarray):
        loss = network.loss_and_gradient(x.astype(params.dtype, copy=False), X, y, None,
                                          est.alpha, grad)
        return loss, grad.astype(np.float64)

    last_iterate = params.astype(np.float64)

    def record_iteration(intermediate_result):
        nonlocal last_iterate
        last_iterate = intermediate_result.x.copy()
        est.loss_curve_.append(float(intermediate_result.fun))
        if est.verbose:
            print(f"Iteration {len(est.loss_curve_)}, loss = {est.loss_curve_[-1]:.8f}")

    try:
        result = scipy.optimize.minimize(
            loss_and_gradient, last_iterate, method="L-BFGS-B", jac=True,
            callback=record_iteration,
            options={"maxfun": est.max_fun, "maxiter": est.max_iter, "gtol": est.tol},
        )
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")
        params[:] = last_iterate
        est.n_iter_ = len(est.loss_curve_)
        est.loss_ = est.loss_curve_[-1] if est.loss_curve_ else np.nan
        est.best_loss_ = min(est.loss_curve_, default=np.nan)
        return
    params[:] = result.x
    est.n_iter_ = int(result.nit)
    est.loss_ = float(result.fun)
    est.best_loss_ = min(est.loss_curve_, default=est.loss_)
    if result.status != 0:
        warnings.warn(
            f"lbfgs failed to converge after {result.nit} iteration(s) "
            f"(status={result.status}): {result.message}. Increase the number of "
            "iterations (max_iter) or the function evaluations (max_fun), or scale "
            "the data.",
            ConvergenceWarning,
        )
