"""Training drivers: the epoch loop around the C++ core, and scipy's L-BFGS-B.

The C++ core runs whole epochs (shuffling, batches, updates) with the GIL released;
this module keeps the per-epoch bookkeeping that scikit-learn's MLP keeps: the loss
curve, early stopping, learning-rate schedules, messages and warnings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

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

    solver: str
    first_moment: np.ndarray  # Adam's first moment, or SGD's velocity
    second_moment: np.ndarray  # Adam's second moment (empty for SGD)
    learning_rate: float
    step: int = 0  # Adam's update count

    @classmethod
    def fresh(cls, solver: str, n_params: int, dtype, learning_rate: float):
        n_second = n_params if solver == "adam" else 0
        return cls(solver, np.zeros(n_params, dtype), np.zeros(n_second, dtype),
                   learning_rate)

    def fits(self, solver: str, params: np.ndarray) -> bool:
        return self.solver == solver and self.first_moment.shape == params.shape


@dataclass
class Data:
    """Rows to train or validate on: X, 2-D y, and optional sample weights."""

    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None = None
    multipliers: np.ndarray | None = None  # 'lagrangian': one per target, in-out


class TrainingDivergedError(FloatingPointError):
    """Raised when the training loss becomes non-finite or explodes."""


# An epoch loss this many times the loss at the start of the fit counts as diverged.
_EXPLODING_LOSS_FACTOR = 1e8


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


def _split_validation(est, data: Data, rng) -> tuple[Data, Data]:
    arrays = [data.X, data.y] + ([data.sample_weight] if data.sample_weight is not None
                                 else [])
    parts = train_test_split(*arrays, random_state=rng,
                             test_size=est.validation_fraction)
    if parts[1].shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the "
            "size of your dataset."
        )
    train = [np.ascontiguousarray(a) for a in parts[0::2]]
    held_out = parts[1::2]
    return Data(*train), Data(*held_out)


def validation_score(y: np.ndarray, pred: np.ndarray,
                     sample_weight: np.ndarray | None) -> float:
    """R2 of ``pred``, computed on each output divided by its largest |value|.

    R2 is scale-free per output; the division keeps its sums of squares finite for
    targets near 1e300. Non-finite predictions score -inf.
    """
    if not np.all(np.isfinite(pred)):
        return -np.inf
    magnitude = np.maximum(np.max(np.abs(y), axis=0), np.max(np.abs(pred), axis=0))
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    with np.errstate(all="ignore"):  # targets nearly constant: a ratio can overflow
        score = float(r2_score(y / magnitude, pred / magnitude,
                               sample_weight=sample_weight))
    return score if np.isfinite(score) else -np.inf


def _record_progress(est, network, params, validation: Data | None, best: dict,
                     n_threads: int) -> None:
    """Updates the no-improvement count from the training loss or validation score."""
    if validation is not None:
        pred = network.predict(params, validation.X, n_threads)
        score = validation_score(validation.y, pred, validation.sample_weight)
        est.validation_scores_.append(score)
        if est.verbose:
            print(f"Validation score: {score:f}")
        if score < est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if score > est.best_validation_score_:
            est.best_validation_score_ = score
            best["params"] = params.copy()
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


def _diverged(loss: float, reference_loss: float) -> bool:
    return not np.isfinite(loss) or loss > _EXPLODING_LOSS_FACTOR * max(reference_loss,
                                                                        1e-12)


# Inputs or (scaled) targets beyond this magnitude are named in divergence messages
# as the likely cause.
_LARGE_VALUE = 1e3


def _largest(a: np.ndarray) -> float:
    return float(np.max(np.abs(a))) if a.size else 0.0


def _scale_advice(data: Data) -> tuple[str, bool]:
    """What to scale, and whether the data's magnitudes make scale the likely cause."""
    largest_x, largest_y = _largest(data.X), _largest(data.y)
    advice = (f"Scale X (for example with StandardScaler in a Pipeline; its largest "
              f"|value| is {largest_x:.3g}) and y (keep target_scaling on, the "
              f"default; the network sees |y| up to {largest_y:.3g})")
    return advice, max(largest_x, largest_y) > _LARGE_VALUE


def _divergence_error(est, loss: float, reference_loss: float,
                      data: Data) -> TrainingDivergedError:
    scale, scale_is_likely = _scale_advice(data)
    rate = f"lower learning_rate_init (now {est.learning_rate_init})"
    advice = (f"{scale}, then if needed {rate}." if scale_is_likely
              else f"{rate[0].upper()}{rate[1:]}, or {scale[0].lower()}{scale[1:]}.")
    return TrainingDivergedError(
        f"Training diverged in epoch {est.n_iter_ + 1}: the loss went from "
        f"{reference_loss:.6g} at the start to {loss:.6g}, or the parameters left the "
        "finite range. The model keeps the parameters of the last good epoch. "
        f"{advice}"
    )


def _not_finite_at_start_error(reference_loss: float,
                               data: Data) -> TrainingDivergedError:
    return TrainingDivergedError(
        f"The loss is already {reference_loss} before the first update: the network's "
        "arithmetic overflows on these data at its starting weights, so no learning "
        f"rate can help. {_scale_advice(data)[0]}."
    )


def _with_multipliers(est, data: Data) -> Data:
    """For 'lagrangian': the multipliers of these rows, kept on the estimator so that
    warm starts and partial_fit continue the dual ascent."""
    if est.output_constraint != "lagrangian":
        return data
    multipliers = getattr(est, "_multipliers", None)
    if multipliers is None or multipliers.shape != data.y.shape or (
            multipliers.dtype != data.y.dtype):
        multipliers = np.zeros_like(data.y)
    est._multipliers = multipliers
    return Data(data.X, data.y, data.sample_weight, multipliers)


# Stopping with the training loss above this share of the starting loss means the
# model learned next to nothing (with a bounded output: the constant model at the mean).
_NOTHING_LEARNED_SHARE = 0.99


def _warn_if_nothing_learned(est, reference_loss: float) -> None:
    if min(est.loss_curve_) < _NOTHING_LEARNED_SHARE * reference_loss:
        return
    warnings.warn(
        f"Training stopped after {est.n_iter_} epochs with the loss still within 1% of "
        f"its starting value ({reference_loss:.6g}): the model has learned almost "
        f"nothing. Raise learning_rate_init (now {est.learning_rate_init}) or lower "
        f"tol (now {est.tol}).",
        ConvergenceWarning,
    )


def sample_loss(network, params: np.ndarray, data: Data, alpha: float) -> float:
    """The loss on up to 2048 rows: the yardstick for divergence before training, and
    the check of the last update after it."""
    rows = slice(0, 2048)
    weights = None if data.sample_weight is None else data.sample_weight[rows]
    multipliers = None
    if data.multipliers is not None:
        multipliers = np.ascontiguousarray(data.multipliers[rows])
    return network.loss(params, data.X[rows], data.y[rows], weights, multipliers, alpha)


def fit_stochastic(est, network, params: np.ndarray, data: Data,
                   validation: Data | None, rng: np.random.RandomState,
                   incremental: bool, n_threads: int = 1) -> None:
    """Runs epochs of sgd or adam on ``params`` in place, as MLPRegressor does.

    ``validation`` is an explicit early-stopping set; with ``early_stopping`` and no
    such set, ``validation_fraction`` of ``data`` is held out. Updates the estimator's
    training record (``loss_curve_``, ``n_iter_``, ``t_``, ...) and optimiser state.
    Ctrl-C stops after the current batch with a warning and keeps the model trained
    so far, as scikit-learn does. A diverging loss raises TrainingDivergedError.
    Large batches are split over up to ``n_threads`` threads.
    """
    state = getattr(est, "_optimizer_state", None)
    if state is None or not state.fits(est.solver, params):
        state = OptimizerState.fresh(est.solver, params.size, params.dtype,
                                     est.learning_rate_init)
    est._optimizer_state = state
    early_stopping = est.early_stopping and not incremental
    if early_stopping and validation is None:
        data, validation = _split_validation(est, data, rng)
    if not early_stopping:
        validation = None
    data = _with_multipliers(est, data)
    n_samples = data.X.shape[0]
    batch_size = resolve_batch_size(est.batch_size, n_samples)
    trainer = core_for(params.dtype).EpochTrainer(network, n_samples, batch_size,
                                                  n_threads)
    options = _epoch_options(est, batch_size)
    reference_loss = sample_loss(network, params, data, est.alpha)
    if not np.isfinite(reference_loss):
        raise _not_finite_at_start_error(reference_loss, data)
    best: dict = {}
    est.n_iter_ = 0
    last_good = params.copy(), state.first_moment.copy(), state.second_moment.copy()

    def restore_and_raise(loss: float):
        params[:], state.first_moment[:], state.second_moment[:] = last_good
        raise _divergence_error(est, loss, reference_loss, data)

    try:
        for _ in range(1 if incremental else est.max_iter):
            options.seed = int(rng.randint(np.iinfo(np.int32).max))
            options.optimizer.learning_rate = state.learning_rate
            last_good = params.copy(), state.first_moment.copy(), state.second_moment.copy()
            result = trainer.run_epoch(params, state.first_moment, state.second_moment,
                                       state.step, data.X, data.y, data.sample_weight,
                                       data.multipliers, options)
            finite = np.all(np.isfinite(params))
            if not finite or _diverged(result.loss, reference_loss):
                restore_and_raise(result.loss)
            state.step = result.step
            est.n_iter_ += 1
            est.t_ += n_samples
            est.loss_ = result.loss
            est.loss_curve_.append(result.loss)
            if est.verbose:
                print(f"Iteration {est.n_iter_}, loss = {result.loss:.8f}")
            _record_progress(est, network, params, validation, best, n_threads)
            if data.multipliers is not None and (
                    result.below_threshold > 0 or abs(result.constraint) > est.tol):
                # infeasible, or multipliers still far from complementary slackness:
                # the dual ascent is not done
                est._no_improvement_count = 0
            _end_of_epoch_learning_rate(est, state)
            if est._no_improvement_count > est.n_iter_no_change:
                if _stop_or_slow_down(est, state, early_stopping):
                    _warn_if_nothing_learned(est, reference_loss)
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
    if "params" in best:
        params[:] = best["params"]
        return
    # The epoch losses are measured before each batch's update: judge the last
    # update too, so that a fit never returns parameters it has not checked.
    final_loss = sample_loss(network, params, data, est.alpha)
    if _diverged(final_loss, reference_loss):
        restore_and_raise(final_loss)


# 'lagrangian' with L-BFGS-B: rounds of a full minimisation with fixed multipliers,
# each followed by one ascent step on them (the method of multipliers), until no
# training prediction is below the threshold.
_MAX_LAGRANGIAN_ROUNDS = 30


def fit_lbfgs(est, network, params: np.ndarray, data: Data,
              bounds: scipy.optimize.Bounds | None = None, n_threads: int = 1) -> None:
    """Minimises the full-data loss with scipy's L-BFGS-B, updating ``params`` in place.

    Loss and gradient come from the C++ core; ``bounds`` keeps projected parameters on
    their half-lines. Unlike MLPRegressor, the loss curve is recorded and ``verbose``
    prints one line per iteration. With ``output_constraint='lagrangian'`` the
    multipliers are updated between rounds of minimisation.
    """
    data = _with_multipliers(est, data)
    rounds = _MAX_LAGRANGIAN_ROUNDS if data.multipliers is not None else 1
    est.n_iter_ = 0
    for _ in range(rounds):
        if not _minimise_lbfgs(est, network, params, data, bounds, n_threads):
            return  # interrupted
        if data.multipliers is None:
            return
        if network.update_multipliers(params, data.X, data.multipliers, n_threads) == 0:
            return


def _minimise_lbfgs(est, network, params: np.ndarray, data: Data,
                    bounds: scipy.optimize.Bounds | None, n_threads: int) -> bool:
    """One L-BFGS-B run from ``params``; False when Ctrl-C stopped it."""
    grad = np.empty_like(params)

    def loss_and_gradient(x: np.ndarray):
        loss = network.loss_and_gradient(x.astype(params.dtype, copy=False), data.X,
                                          data.y, data.sample_weight, data.multipliers,
                                          est.alpha, grad, n_threads)
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
            bounds=bounds, callback=record_iteration,
            options={"maxfun": est.max_fun, "maxiter": est.max_iter, "gtol": est.tol},
        )
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")
        params[:] = last_iterate
        est.n_iter_ = len(est.loss_curve_)
        est.loss_ = est.loss_curve_[-1] if est.loss_curve_ else np.nan
        est.best_loss_ = min(est.loss_curve_, default=np.nan)
        return False
    if not np.isfinite(result.fun):
        raise TrainingDivergedError(
            f"L-BFGS-B ended on a non-finite loss ({result.fun}); scale X and y, or "
            "use a bounded output_activation with a loss that suits the targets."
        )
    params[:] = result.x
    est.n_iter_ += int(result.nit)
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
    return True
