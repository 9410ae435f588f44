"""Training drivers: the epoch loop around the C++ core, and scipy's L-BFGS-B.

The C++ core runs whole epochs (shuffling, batches, updates) with the GIL released;
this module keeps the per-epoch bookkeeping that scikit-learn's MLP keeps: the loss
curve, early stopping, learning-rate schedules, messages and warnings.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from positive_mlp import _core
from positive_mlp._network import core_for, core_input
from positive_mlp._options import SOLVERS, WEIGHT_METHODS
from positive_mlp._settings import BATCH_SIZE_CLIPPED, Data, Settings
from positive_mlp.exceptions import TrainingDivergedError

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
        return cls(
            solver, np.zeros(n_params, dtype), np.zeros(n_second, dtype), learning_rate
        )

    def fits(self, solver: str, params: np.ndarray) -> bool:
        return self.solver == solver and self.first_moment.shape == params.shape


@dataclass
class TrainingRecord:
    """What training has done and carries to the next call (warm start, partial_fit).

    The solvers update it; the estimator publishes it as its fitted attributes
    (``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``, ``best_loss_``,
    ``validation_scores_``, ``best_validation_score_``).
    """

    n_iter: int = 0  # epochs or L-BFGS-B iterations of the last call
    t: int = 0  # training samples seen by the stochastic solvers
    loss: float | None = None
    loss_curve: list[float] = field(default_factory=list)
    best_loss: float | None = np.inf  # None when a validation score decides
    validation_scores: list[float] | None = None
    best_validation_score: float | None = None
    no_improvement_count: int = 0
    optimizer_state: OptimizerState | None = None
    multipliers: np.ndarray | None = None  # 'lagrangian': one per training target

    @classmethod
    def fresh(cls, tracks_validation: bool) -> TrainingRecord:
        if not tracks_validation:
            return cls()
        return cls(best_loss=None, validation_scores=[], best_validation_score=-np.inf)

    def follow(self, tracks_validation: bool) -> None:
        """Switches what decides progress when a warm start turns early stopping on
        or off: the validation score from now on, or the training loss."""
        if tracks_validation == (self.validation_scores is not None):
            return
        fresh = TrainingRecord.fresh(tracks_validation)
        self.best_loss = fresh.best_loss
        self.validation_scores = fresh.validation_scores
        self.best_validation_score = fresh.best_validation_score
        self.no_improvement_count = 0

    def as_plain(self) -> dict:
        """The record as a dict of builtins and arrays (the optimiser state a nested
        dict), for pickles and skops files: loading them then trusts no class of
        this package but the estimator."""
        plain = _fields_of(self)
        if self.optimizer_state is not None:
            plain["optimizer_state"] = _fields_of(self.optimizer_state)
        return plain

    @classmethod
    def from_plain(cls, plain: dict) -> TrainingRecord:
        """The record ``as_plain`` gave."""
        plain = dict(plain)
        if plain.get("optimizer_state") is not None:
            plain["optimizer_state"] = OptimizerState(**plain["optimizer_state"])
        return cls(**plain)


def _fields_of(instance) -> dict:
    """A dataclass's fields as a dict, values not copied (dataclasses.asdict copies
    every array)."""
    return {f.name: getattr(instance, f.name) for f in fields(instance)}


# An epoch loss this many times the loss at the start of the fit counts as diverged.
_EXPLODING_LOSS_FACTOR = 1e8


class ProgressLog:
    """``verbose``'s one line per epoch (or L-BFGS-B iteration): its number, the
    training loss, the validation score when early stopping runs, and the seconds
    since this call's training started, e.g. ``Epoch 12: loss 0.0412, validation
    score 0.8731, 0.53 s``. Prints nothing when ``verbose`` is off."""

    def __init__(self, verbose: bool, step_name: str):
        self.verbose = verbose
        self.step_name = step_name
        self.start = time.perf_counter()

    def step(self, number: int, loss: float, score: float | None = None) -> None:
        if not self.verbose:
            return
        parts = [f"{self.step_name} {number}: loss {loss:.6g}"]
        if score is not None:
            parts.append(f"validation score {score:.6g}")
        parts.append(f"{time.perf_counter() - self.start:.2f} s")
        print(", ".join(parts))


def _epoch_options(settings: Settings) -> _core.EpochOptions:
    optimizer = _core.OptimizerOptions()
    optimizer.solver = SOLVERS[settings.solver].core
    optimizer.momentum = settings.momentum
    optimizer.nesterov = settings.nesterovs_momentum
    optimizer.beta_1, optimizer.beta_2 = settings.beta_1, settings.beta_2
    optimizer.epsilon = settings.epsilon
    options = _core.EpochOptions()
    options.batch_size = settings.batch_size
    options.shuffle = settings.shuffle
    options.alpha = settings.alpha
    options.optimizer = optimizer
    return options


def _split_validation(settings: Settings, data: Data, rng) -> tuple[Data, Data]:
    arrays = [data.X, data.y] + (
        [data.sample_weight] if data.sample_weight is not None else []
    )
    # resolve has counted and checked the rows held out (_settings._held_out_rows).
    parts = train_test_split(
        *arrays, random_state=rng, test_size=settings.held_out_rows
    )
    train = [core_input(a, a.dtype) for a in parts[0::2]]
    held_out = parts[1::2]
    return Data(*train), Data(*held_out)


def _record_progress(
    settings: Settings,
    record: TrainingRecord,
    network,
    params,
    validation: Data | None,
    best: dict,
    n_threads: int,
    apart: MembersApart | None = None,
) -> None:
    """Updates the no-improvement count from the training loss or validation score
    (each member's, for members that stop ``apart``)."""
    if validation is not None:
        pred = network.predict(params, validation.X, n_threads)
        score = settings.loss.score(validation.y, pred, validation.sample_weight)
        if apart is not None:
            return _record_members_progress(
                settings, record, params, validation, best, n_threads, score, apart
            )
        record.validation_scores.append(score)
        if score < record.best_validation_score + settings.tol:
            record.no_improvement_count += 1
        else:
            record.no_improvement_count = 0
        if score > record.best_validation_score:
            record.best_validation_score = score
            best["params"] = params.copy()
        return
    loss = record.loss_curve[-1]
    if loss > record.best_loss - settings.tol:
        record.no_improvement_count += 1
    else:
        record.no_improvement_count = 0
    record.best_loss = min(record.best_loss, loss)


def _record_members_progress(
    settings: Settings,
    record: TrainingRecord,
    params: np.ndarray,
    validation: Data,
    best: dict,
    n_threads: int,
    score: float,
    apart: MembersApart,
) -> None:
    """_record_progress for members stopping ``apart``: ``best``'s params hold each
    member's best epoch; ``score`` is the current model's."""
    if not apart.best_scores:
        apart.best_scores = [-np.inf] * len(apart.positions)
    kept = best.setdefault("params", params.copy())
    improved = False
    for m, positions in enumerate(apart.positions):
        pred = apart.network.predict(params[positions], validation.X, n_threads)
        member = settings.loss.score(validation.y, pred, validation.sample_weight)
        improved |= member >= apart.best_scores[m] + settings.tol
        if member > apart.best_scores[m]:
            apart.best_scores[m] = member
            kept[positions] = params[positions]
    record.validation_scores.append(score)
    record.no_improvement_count = 0 if improved else record.no_improvement_count + 1


def _stop_or_slow_down(settings: Settings, state: OptimizerState) -> bool:
    """After n_iter_no_change epochs without progress: stop, or divide the rate by 5."""
    what = "Validation score" if settings.early_stopping else "Training loss"
    message = (
        f"{what} did not improve more than tol={settings.tol:f} for "
        f"{settings.n_iter_no_change} consecutive epochs."
    )
    adaptive = settings.solver == "sgd" and settings.learning_rate == "adaptive"
    if adaptive and state.learning_rate > _MIN_ADAPTIVE_LEARNING_RATE:
        state.learning_rate /= 5.0
        if settings.verbose:
            print(f"{message} Setting learning rate to {state.learning_rate:f}")
        return False
    if settings.verbose:
        print(f"{message} Stopping.")
    return True


def _end_of_epoch_learning_rate(
    settings: Settings, record: TrainingRecord, state: OptimizerState
) -> None:
    if settings.solver == "sgd" and settings.learning_rate == "invscaling":
        state.learning_rate = (
            settings.learning_rate_init / (record.t + 1) ** settings.power_t
        )


def _cosine(progress: float) -> float:
    """Decay from 1 to 0 over the horizon."""
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _cosine_restarts(progress: float) -> float:
    """Four cycles of rise and fall, each twice as long as the one before (RealMLP's
    'coslog4': 0.5 - 0.5 cos(2 pi log2(1 + 15 t)))."""
    return 0.5 - 0.5 * math.cos(2.0 * math.pi * math.log2(1.0 + 15.0 * progress))


# learning_rate schedules over max_iter epochs, for 'sgd' and 'adam' alike: the rate
# of an epoch is learning_rate_init times the factor at the epoch's middle.
SCHEDULES: dict[str, Callable[[float], float]] = {
    "cosine": _cosine,
    "cosine_restarts": _cosine_restarts,
}


def scheduled_rate(settings: Settings, epoch: int) -> float:
    """The rate of epoch ``epoch`` (counted over the model's life: partial_fit
    calls and warm starts continue the schedule); past ``max_iter`` epochs the
    last epoch's rate stays."""
    epoch = min(epoch, settings.max_iter - 1)
    factor = SCHEDULES[settings.learning_rate]((epoch + 0.5) / settings.max_iter)
    return settings.learning_rate_init * factor


# MLPRegressor's patience: an epoch count over which a score that still improves
# means more iterations would help.
_RECENT_EPOCHS = 10


def _still_improving(settings: Settings, record: TrainingRecord) -> bool:
    """Whether the score (validation, else training loss) improved by ``tol`` in the
    last epochs (10, MLPRegressor's patience, or ``n_iter_no_change`` if fewer).
    Reaching ``max_iter`` earns a ConvergenceWarning only then: its advice, more
    iterations, would help. Under MLPRegressor's own patience this is every time."""
    recent = min(settings.n_iter_no_change, _RECENT_EPOCHS)
    return record.no_improvement_count <= recent


def _diverged(loss: float, reference_loss: float) -> bool:
    return not np.isfinite(loss) or loss > _EXPLODING_LOSS_FACTOR * max(
        reference_loss, 1e-12
    )


# Inputs or (scaled) targets beyond this magnitude are named in divergence messages
# as the likely cause.
_LARGE_VALUE = 1e3


def _largest(a) -> float:
    """The largest |value| of an array, or of a sparse matrix's stored entries (read
    as they are: scipy's abs() sums duplicate entries in the caller's matrix)."""
    values = a.data if scipy.sparse.issparse(a) else a
    return float(np.max(np.abs(values))) if values.size else 0.0


def _scale_advice(data: Data) -> tuple[str, bool]:
    """What to scale, and whether the data's magnitudes make scale the likely cause."""
    largest_x, largest_y = _largest(data.X), _largest(data.y)
    advice = (
        f"Scale X (for example with StandardScaler in a Pipeline; its largest "
        f"|value| is {largest_x:.3g}) and y (keep target_scaling on, the "
        f"default; the network sees |y| up to {largest_y:.3g})"
    )
    return advice, max(largest_x, largest_y) > _LARGE_VALUE


def _divergence_error(
    settings: Settings,
    record: TrainingRecord,
    loss: float,
    reference_loss: float,
    data: Data,
) -> TrainingDivergedError:
    scale, scale_is_likely = _scale_advice(data)
    rate = f"lower learning_rate_init (now {settings.learning_rate_init})"
    advice = (
        f"{scale}, then if needed {rate}."
        if scale_is_likely
        else f"{rate[0].upper()}{rate[1:]}, or {scale[0].lower()}{scale[1:]}."
    )
    return TrainingDivergedError(
        f"Training diverged in epoch {record.n_iter + 1}: the loss went from "
        f"{reference_loss:.6g} at the start to {loss:.6g}, or the parameters left the "
        "finite range. The model keeps the parameters of the last good epoch. "
        f"{advice}"
    )


def _not_finite_at_start_error(
    reference_loss: float, data: Data
) -> TrainingDivergedError:
    return TrainingDivergedError(
        f"The loss is already {reference_loss} before the first update: the network's "
        "arithmetic overflows on these data at its starting weights, so no learning "
        f"rate can help. {_scale_advice(data)[0]}."
    )


def _with_multipliers(
    settings: Settings, record: TrainingRecord, data: Data, network
) -> Data:
    """For 'lagrangian': the multipliers of these rows, one per network output, kept
    in the training record so that warm starts and partial_fit continue the dual
    ascent."""
    if not settings.lagrangian:
        return data
    multipliers = record.multipliers
    shape = (data.y.shape[0], network.n_outputs)
    if (
        multipliers is None
        or multipliers.shape != shape
        or (multipliers.dtype != data.y.dtype)
    ):
        multipliers = np.zeros(shape, dtype=data.y.dtype)
    record.multipliers = multipliers
    return Data(data.X, data.y, data.sample_weight, multipliers)


# Stopping with the training loss above this share of the starting loss means the
# model learned next to nothing (with a bounded output: the constant model at the mean).
_NOTHING_LEARNED_SHARE = 0.99


def _warn_if_nothing_learned(
    settings: Settings, record: TrainingRecord, reference_loss: float
) -> None:
    """Warns when training stopped at its first chance (no epoch improved on the
    first by tol) within 1% of its starting loss. A fit that improved for a while and
    levelled off near its start has learned what weak data hold: a Gamma model of
    claim sizes whose best deviance is 0.7% below the constant model's was warned
    about before this condition."""
    stopped_at_first_chance = record.n_iter <= settings.n_iter_no_change + 2
    if (
        not stopped_at_first_chance
        or min(record.loss_curve) < _NOTHING_LEARNED_SHARE * reference_loss
    ):
        return
    warnings.warn(
        f"Training stopped after {record.n_iter} epochs with the loss still within 1% "
        "of "
        f"its starting value ({reference_loss:.6g}): the model has learned almost "
        "nothing. Raise learning_rate_init (now "
        f"{settings.learning_rate_init}) or lower tol (now {settings.tol}).",
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


@dataclass
class Training:
    """What a solver trains: the core's network, its parameters (updated in place),
    the training rows, an explicit early-stopping set, L-BFGS-B's bounds on the
    projected parameters, and the random state of the shuffles and hold-outs."""

    network: object
    params: np.ndarray
    data: Data
    validation: Data | None = None
    bounds: scipy.optimize.Bounds | None = None
    rng: np.random.RandomState = field(default_factory=lambda: np.random.RandomState(0))
    apart: MembersApart | None = None


@dataclass
class MembersApart:
    """Members that share no layer stop early apart, as separate networks would:
    each keeps the parameters of its own best epoch, judged by its own validation
    score, and training goes on while any member improves. (Stopping all of them
    at the best epoch of their mean took the 14 data sets of bench_quality.py to
    1.005 with 4 members; apart, 1.000.)"""

    network: object  # a one-member network with the same settings
    positions: list[np.ndarray]  # each member's parameters in the packed vector
    best_scores: list[float] = field(default_factory=list)


def train(
    settings: Settings, record: TrainingRecord, training: Training, n_threads: int = 1
) -> None:
    """Trains ``training.params`` in place with the driver of ``settings.solver``."""
    DRIVERS[settings.solver](settings, record, training, n_threads)


def fit_stochastic(
    settings: Settings, record: TrainingRecord, training: Training, n_threads: int = 1
) -> None:
    """Runs epochs of sgd or adam on ``training.params`` in place, as MLPRegressor
    does: one epoch for ``partial_fit`` (``settings.incremental``), else up to
    ``max_iter``.

    ``training.validation`` is an explicit early-stopping set; when ``settings``
    stop early and no such set is given, ``settings.held_out_rows`` of the data are
    held out.
    Updates the estimator's training record (``loss_curve_``, ``n_iter_``, ``t_``,
    ...) and optimiser state. Ctrl-C stops after the current batch with a warning
    and keeps the model trained so far, as scikit-learn does. A diverging loss raises
    TrainingDivergedError. Large batches are split over up to ``n_threads`` threads.
    """
    network, params, data = training.network, training.params, training.data
    validation, rng = training.validation, training.rng
    log = ProgressLog(settings.verbose, "Epoch")
    state = record.optimizer_state
    if state is None or not state.fits(settings.solver, params):
        state = OptimizerState.fresh(
            settings.solver, params.size, params.dtype, settings.learning_rate_init
        )
    record.optimizer_state = state
    if settings.early_stopping and validation is None:
        data, validation = _split_validation(settings, data, rng)
    data = _with_multipliers(settings, record, data, network)
    n_samples = data.X.shape[0]
    if settings.batch_size_clipped:
        warnings.warn(BATCH_SIZE_CLIPPED)
    trainer = core_for(params.dtype).EpochTrainer(
        network, n_samples, settings.batch_size, n_threads
    )
    options = _epoch_options(settings)
    reference_loss = sample_loss(network, params, data, settings.alpha)
    if not np.isfinite(reference_loss):
        raise _not_finite_at_start_error(reference_loss, data)
    best: dict = {}
    apart = training.apart if validation is not None else None
    # "Learned almost nothing" is judged only in a fit from the starting parameters,
    # whose loss is then the untrained model's. partial_fit runs one epoch per call in
    # a loop the caller owns (MLPRegressor warns nothing there), and a warm start
    # begins at a trained model, which need not improve on itself: against that
    # call's own starting loss, 300 partial_fit calls on a levelled-off loss warned
    # about 250 times.
    judges_learning = not settings.incremental and not record.loss_curve
    record.n_iter = 0
    # Where the last good epoch's state is kept: allocated once, since for a wide
    # first layer (sparse inputs) each copy is as large as the model.
    current = (params, state.first_moment, state.second_moment)
    last_good = tuple(a.copy() for a in current)

    def restore_and_raise(loss: float):
        for target, saved in zip(current, last_good):
            np.copyto(target, saved)
        raise _divergence_error(settings, record, loss, reference_loss, data)

    try:
        for _ in range(1 if settings.incremental else settings.max_iter):
            options.seed = int(rng.randint(np.iinfo(np.int32).max))
            if settings.learning_rate in SCHEDULES:
                state.learning_rate = scheduled_rate(settings, len(record.loss_curve))
            options.optimizer.learning_rate = state.learning_rate
            for saved, source in zip(last_good, current):
                np.copyto(saved, source)
            result = trainer.run_epoch(
                params,
                state.first_moment,
                state.second_moment,
                state.step,
                data.X,
                data.y,
                data.sample_weight,
                data.multipliers,
                options,
            )
            finite = np.all(np.isfinite(params))
            if not finite or _diverged(result.loss, reference_loss):
                restore_and_raise(result.loss)
            state.step = result.step
            record.n_iter += 1
            record.t += n_samples
            record.loss = result.loss
            record.loss_curve.append(result.loss)
            _record_progress(
                settings, record, network, params, validation, best, n_threads, apart
            )
            score = record.validation_scores[-1] if validation is not None else None
            log.step(record.n_iter, result.loss, score)
            if data.multipliers is not None and (
                result.below_threshold > 0 or abs(result.constraint) > settings.tol
            ):
                # infeasible, or multipliers still far from complementary slackness:
                # the dual ascent is not done
                record.no_improvement_count = 0
            _end_of_epoch_learning_rate(settings, record, state)
            if record.no_improvement_count > settings.n_iter_no_change:
                if _stop_or_slow_down(settings, state):
                    if judges_learning:
                        _warn_if_nothing_learned(settings, record, reference_loss)
                    break
                record.no_improvement_count = 0
        else:
            if not settings.incremental and _still_improving(settings, record):
                warnings.warn(
                    "Stochastic Optimizer: Maximum iterations "
                    f"({settings.max_iter}) reached and the optimization hasn't "
                    "converged yet.",
                    ConvergenceWarning,
                )
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")
    if "params" in best:
        params[:] = best["params"]
        if apart is not None:  # the members' best epochs together
            pred = network.predict(params, validation.X, n_threads)
            record.best_validation_score = settings.loss.score(
                validation.y, pred, validation.sample_weight
            )
        return
    # The epoch losses are measured before each batch's update: judge the last
    # update too, so that a fit never returns parameters it has not checked.
    final_loss = sample_loss(network, params, data, settings.alpha)
    if _diverged(final_loss, reference_loss):
        restore_and_raise(final_loss)


def lbfgs_bounds(signs: np.ndarray | None, method: str) -> scipy.optimize.Bounds | None:
    """Lower (upper) bound 0 on non-negative (non-positive) parameters, for
    projection."""
    if signs is None or WEIGHT_METHODS[method].reparametrises:
        return None
    lower = np.where(signs > 0, 0.0, -np.inf)
    upper = np.where(signs < 0, 0.0, np.inf)
    return scipy.optimize.Bounds(lower, upper)


# 'lagrangian' with L-BFGS-B: rounds of a full minimisation with fixed multipliers,
# each followed by one ascent step on them (the method of multipliers), until no
# training prediction is below the threshold.
_MAX_LAGRANGIAN_ROUNDS = 30


def fit_lbfgs(
    settings: Settings, record: TrainingRecord, training: Training, n_threads: int = 1
) -> None:
    """Minimises the full-data loss with scipy's L-BFGS-B, updating
    ``training.params`` in place.

    Loss and gradient come from the C++ core; ``training.bounds`` keeps projected
    parameters on their half-lines. Unlike MLPRegressor, the loss curve is recorded
    and ``verbose`` prints one line per iteration. With
    ``output_constraint='lagrangian'`` the multipliers are updated between rounds of
    minimisation.
    """
    network, params, bounds = training.network, training.params, training.bounds
    data = _with_multipliers(settings, record, training.data, network)
    rounds = _MAX_LAGRANGIAN_ROUNDS if data.multipliers is not None else 1
    record.n_iter = 0
    log = ProgressLog(settings.verbose, "Iteration")
    curve_before = len(record.loss_curve)  # a warm start continues the curve
    for _ in range(rounds):
        if not _minimise_lbfgs(
            settings,
            record,
            network,
            params,
            data,
            bounds,
            n_threads,
            lambda loss: log.step(len(record.loss_curve) - curve_before, loss),
        ):
            return  # interrupted
        if data.multipliers is None:
            return
        if network.update_multipliers(params, data.X, data.multipliers, n_threads) == 0:
            return


def _minimise_lbfgs(
    settings: Settings,
    record: TrainingRecord,
    network,
    params: np.ndarray,
    data: Data,
    bounds: scipy.optimize.Bounds | None,
    n_threads: int,
    report: Callable[[float], None],
) -> bool:
    """One L-BFGS-B run from ``params``; False when Ctrl-C stopped it. ``report``
    is called with the loss after each iteration."""
    grad = np.empty_like(params)

    def loss_and_gradient(x: np.ndarray):
        loss = network.loss_and_gradient(
            x.astype(params.dtype, copy=False),
            data.X,
            data.y,
            data.sample_weight,
            data.multipliers,
            settings.alpha,
            grad,
            n_threads,
        )
        return loss, grad.astype(np.float64)

    last_iterate = params.astype(np.float64)

    def record_iteration(intermediate_result):
        nonlocal last_iterate
        last_iterate = intermediate_result.x.copy()
        record.loss_curve.append(float(intermediate_result.fun))
        report(record.loss_curve[-1])

    try:
        result = scipy.optimize.minimize(
            loss_and_gradient,
            last_iterate,
            method="L-BFGS-B",
            jac=True,
            bounds=bounds,
            callback=record_iteration,
            options={
                "maxfun": settings.max_fun,
                "maxiter": settings.max_iter,
                "gtol": settings.tol,
            },
        )
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")
        params[:] = last_iterate
        record.n_iter = len(record.loss_curve)
        record.loss = record.loss_curve[-1] if record.loss_curve else np.nan
        record.best_loss = min(record.loss_curve, default=np.nan)
        return False
    if not np.isfinite(result.fun):
        raise TrainingDivergedError(
            f"L-BFGS-B ended on a non-finite loss ({result.fun}); scale X and y, or "
            "use a bounded output_activation with a loss that suits the targets."
        )
    params[:] = result.x
    record.n_iter += int(result.nit)
    record.loss = float(result.fun)
    record.best_loss = min(record.loss_curve, default=record.loss)
    if result.status != 0:
        warnings.warn(
            f"lbfgs failed to converge after {result.nit} iteration(s) "
            f"(status={result.status}): {result.message}. Increase the number of "
            "iterations (max_iter) or the function evaluations (max_fun), or scale "
            "the data.",
            ConvergenceWarning,
        )
    return True


# The driver of each solver in positive_mlp._options.SOLVERS.
DRIVERS: dict[str, Callable[[Settings, TrainingRecord, Training, int], None]] = {
    "adam": fit_stochastic,
    "sgd": fit_stochastic,
    "lbfgs": fit_lbfgs,
}
