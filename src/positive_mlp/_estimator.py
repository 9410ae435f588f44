"""PositiveMLPRegressor: scikit-learn's MLP regressor with a floor on its output."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.metrics import mean_pinball_loss as sklearn_pinball_loss
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_monotonic_cst,
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from positive_mlp._constraints import (
    constrained_layers,
    parameter_signs,
)
from positive_mlp._encoding import (
    InputBins,
    encodable_features,
    encode,
    encoded_monotonic_cst,
    fit_bins,
)
from positive_mlp._input_scaling import InputScaling, fit_scaling
from positive_mlp._losses import (
    LOSSES,
    PREDICTION_ONLY,
    Loss,
    is_mlp_regressor_loss,
    resolve_loss,
)
from positive_mlp._members import member_positions
from positive_mlp._network import ParameterLayout, build_network, core_input
from positive_mlp._options import (
    ACTIVATIONS,
    BOUNDED_TRANSFORMS,
    OUTPUT_CONSTRAINTS,
    OUTPUT_TRANSFORMS,
    SOLVERS,
    WEIGHT_METHODS,
    names,
)
from positive_mlp._persistence import (
    VERSION_KEY,
    current_version,
    warn_if_other_version,
)
from positive_mlp._quantiles import (
    levels_per_output,
    per_output,
    shaped_predictions,
)
from positive_mlp._scaling import (
    float64,
    in_user_units,
    saturated_scaled,
    target_scale,
    to_scaled,
)
from positive_mlp._settings import (
    Data,
    input_bins,
    input_scaling,
    is_plain_mlp,
    members,
    resolve,
    target_scaling,
)
from positive_mlp._solvers import (
    SCHEDULES,
    MembersApart,
    Training,
    TrainingRecord,
    lbfgs_bounds,
    train,
)
from positive_mlp._start import initial_params, to_free
from positive_mlp._threads import core_call, thread_budget
from positive_mlp._validation import (
    check_dense_targets,
    check_loss_settings,
    check_sparse_structure,
    check_targets,
    check_training_settings,
    check_validation_targets,
    targets_in_dtype,
    threshold_per_output,
    warn_if_threshold_too_far,
    warn_if_validation_off_scale,
)

_FLOAT_DTYPES = (np.float64, np.float32)
# 'lagrangian' constrains predictions to threshold + this share of the targets' RMS
# distance from the threshold (per output).
_LAGRANGIAN_MARGIN = 1e-3


def _weights_or_none(sample_weight, X: np.ndarray, dtype=None) -> np.ndarray | None:
    """The validated weights (X's dtype unless ``dtype``), or None."""
    if sample_weight is None:
        return None
    weights = _check_sample_weight(
        sample_weight, X, dtype=dtype or X.dtype, ensure_non_negative=True
    )
    if len(weights) and not np.any(weights > 0):  # scikit-learn >= 1.7 says so too
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weights


def _drop_zero_weights(data: Data) -> Data:
    """Rows of zero weight contribute nothing; dropping them makes that exact, even for
    mini-batches (which they would otherwise pad)."""
    if data.sample_weight is None:
        return data
    keep = data.sample_weight > 0
    if keep.all():
        return data
    return Data(data.X[keep], data.y[keep], data.sample_weight[keep])


@dataclass(frozen=True)
class _Prepared:
    """A fit call's rows as the network trains on them: validated and scaled, one
    column of y per target (every quantile level of a target reads its column)."""

    data: Data
    validation: Data | None
    threshold: np.ndarray  # per target, scaled
    layout: ParameterLayout
    n_outputs: int  # of y
    dropped: int  # rows of zero weight taken out of the data

    @property
    def dtype(self):
        return self.data.X.dtype


def _violation(pred: np.ndarray, threshold: np.ndarray) -> dict[str, float]:
    shortfall = threshold - pred
    return {
        "share_below": float(np.mean(shortfall > 0)),
        "max_violation": float(max(shortfall.max(), 0.0)),
    }


class PositiveMLPRegressor(RegressorMixin, BaseEstimator):
    """Multi-layer perceptron regressor whose predictions never fall below a floor.

    A drop-in for :class:`sklearn.neural_network.MLPRegressor` (same parameters, same
    meanings, same fitted attributes) whose output layer ends in a bounding transform:
    ``prediction = output_threshold + g(z)`` with ``g`` in {softplus, exp, relu}, so
    every prediction is ``>= output_threshold`` for any finite input. The forward pass,
    the backward pass, the optimisers and the epoch loop run in a C++ core with the GIL
    released; matrix products go through SciPy's BLAS.

    The contract: a ``fit`` that returns leaves finite parameters (otherwise it raises
    :class:`TrainingDivergedError`, judged on every epoch and after the last update);
    ``predict`` returns finite values for every finite input, ``>= output_threshold``
    with a bounding output, saturating at the largest finite value of the dtype
    instead of overflowing to inf (rows whose arithmetic overflows are recomputed in
    extended precision); target scales are computed without overflow for any finite
    ``y`` and threshold.

    Parameters
    ----------
    loss : str, default='squared_error'
        The loss minimised, summed over outputs and averaged over samples:
        'squared_error' (half the squared error), 'poisson', 'gamma' or 'tweedie'
        (half the deviance, 'tweedie' with ``power``; as scikit-learn's
        ``mean_*_deviance`` and ``TweedieRegressor`` define them), or 'quantile'
        (the pinball loss of the levels in ``quantile``). The deviances need
        strictly positive predictions: a bounding ``output_activation`` with
        ``output_threshold >= 0`` ('relu' needs
        ``output_threshold > 0``, as it reaches its threshold exactly). 'poisson'
        and 'tweedie' with ``1 <= power < 2`` need ``y >= 0``; 'gamma' and 'tweedie'
        with ``power >= 2`` need ``y > 0``.

    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.

    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Activation of the hidden layers.

    power : float, default=1.5
        The Tweedie power of ``loss='tweedie'`` (ignored by the other losses): 0 is
        the squared error, 1 Poisson, between 1 and 2 compound Poisson-Gamma (counts
        of events with positive amounts, so exact zeros and a skewed positive part,
        as insurance claims), 2 Gamma, 3 inverse Gaussian; any power >= 1 works.
        Powers in (0, 1) and below 0 are rejected.

    quantile : float, or list, tuple or ndarray of floats, default=0.5
        The level(s) of ``loss='quantile'`` (ignored by the other losses), each in
        (0, 1), a list strictly increasing. The loss is the pinball loss, summed over
        levels. The model predicts every level for every target; each target's levels
        are built as ``output_threshold + g(z_1)``, then each next level as the one
        before plus ``g(z_k)``, so every predicted quantile is ``>= output_threshold``
        and the levels never cross, for any input. A float (or a 0-d array) gives
        predictions shaped as for any loss; a list adds a last axis of levels:
        ``(n_samples, n_levels)`` for one target, ``(n_samples, n_targets,
        n_levels)`` for several. Needs a bounding ``output_activation`` and solver
        'adam' or 'sgd'; with a list of levels ``score`` is minus the mean pinball
        loss (summed over levels and targets) instead of R2.

    output_activation : {'softplus', 'exp', 'relu', 'identity'}, default='softplus'
        The output transform ``g`` in ``prediction = output_threshold + g(z)``.
        'softplus' (``log(1 + e^z)``, computed stably) is smooth and close to linear
        above the threshold; 'exp' is the canonical link of the Poisson loss (clipped
        before it overflows); 'relu' clips at the threshold, with zero gradient where
        it clips. 'identity' gives an unbounded output, as MLPRegressor has.

    output_threshold : float or array-like of shape (n_outputs,), default=0.0
        The lower bound of the predictions, one value for all outputs or one per
        output. With a bounding ``output_activation``, ``y`` below it is an error.
        Ignored (only added) with ``output_activation='identity'``.

    nonneg_weights : {'all', 'output', 'hidden'}, list of int or None, default=None
        Weight layers whose weights are kept ``>= 0``: every layer, the last one, all
        but the last one, or the layers at these indices (0 is the layer fed by the
        inputs; negative indices count from the output). ``coefs_`` of these layers
        are ``>= 0`` exactly after every fit, ``partial_fit`` and warm start.
        Constrained weights start at ``U(0, 2 / fan_in)``, so that each unit's weights
        sum to about 1 and a layer passes on the scale of its inputs.

    nonneg_bias : bool, default=False
        Whether the biases of the constrained layers are kept ``>= 0`` too.

    nonneg_method : {'projection', 'square', 'exp'}, default='projection'
        How constrained weights stay non-negative. 'projection' clips them to 0
        after every optimiser update (projected gradient; Keras' ``NonNeg``); with
        ``solver='lbfgs'`` they are given to L-BFGS-B as lower bounds 0 instead, so
        the optimiser itself respects them. 'square' and 'exp' reparametrise: the
        optimiser works on a free ``p`` and the weight is ``p**2 / (4 u)`` or
        ``exp(p / u)`` (strictly positive), with the chain rule in the C++ backward
        pass. The unit ``u`` is ``1 / sqrt(fan_in)`` of the weight's layer, where
        both maps have slope 1: near that size an optimiser step moves a weight as
        far as under projection, at the same ``learning_rate_init``.

    monotonic_cst : array-like of int of shape (n_features,), dict or None, \
            default=None
        Monotonic constraint per feature, as in HistGradientBoostingRegressor:
        1 (non-decreasing), -1 (non-increasing), 0 (none); a dict maps feature names
        (X as a DataFrame) to constraints. Guaranteed by construction: the first
        layer's weights of constrained features take the constraint's sign, all later
        layers' weights are non-negative (by ``nonneg_method``), and every
        ``activation`` and ``output_activation`` offered is non-decreasing.

    output_constraint : {'penalty', 'lagrangian'} or None, default=None
        A training-time constraint ``prediction >= output_threshold``, meant for
        ``output_activation='identity'``. 'penalty' adds
        ``constraint_strength * relu(threshold - prediction)**2`` per target to the
        loss. 'lagrangian' runs the augmented-Lagrangian method: one multiplier per
        training sample and output, raised by dual ascent after every batch
        (``m <- max(0, m + constraint_strength * (threshold - prediction))``) while
        the weights descend; training predictions converge to the feasible set. It
        aims at ``threshold + 0.001 * rms(y - threshold)`` (per output), since its
        iterates approach the boundary from below, and keeps training (up to
        ``max_iter``) while any training prediction is below the threshold.
        Neither guarantees anything at predict time (``predict`` does not clip):
        ``constraint_violation_`` reports how the training data fare. With a bounding
        ``output_activation`` the constraint is always met and adds nothing.

    constraint_strength : float, default=1.0
        The penalty's factor, or the augmented Lagrangian's penalty parameter.

    target_scaling : {'auto', 'std', 'mean', 'rms'}, array-like of shape \
            (n_outputs,) or None, default='auto'
        Per-output scales ``s`` of the targets. The network is trained on
        ``y / s`` with thresholds ``output_threshold / s`` and its predictions are
        multiplied back by ``s``: you always see your own units, and every prediction
        stays ``>= output_threshold`` (unlike centring, which StandardScaler in a
        TransformedTargetRegressor does, scaling alone keeps the bound). 'std' uses
        each output's (weighted) standard deviation, 'mean' and 'rms' the mean or root
        mean square of ``|y - output_threshold|``; an array gives the scales. 'auto'
        (the default) is 'std', except for the plain MLPRegressor model
        (``output_activation='identity'``, squared error, no ``output_constraint``),
        where it is None so that both follow the same path.

        Why 'std' by default: with several outputs of different size, one unscaled
        squared error hardly counts a small output (a parameter around 0.04 next to
        ones around 1); dividing by the spread makes every output count by its share
        of explained variance, as R2 does. And a target far from its threshold
        (1000 +- 5) keeps its variation (the start at the mean covers the distance),
        where 'mean' or 'rms' would squeeze it to 1 +- 0.005. Scaling weights output
        ``j``'s squared error by ``1 / s_j**2`` and its Poisson deviance by ``1 / s_j``
        (the deviance is homogeneous of degree 1); the Gamma deviance is scale-free,
        so there it only changes the network's parametrisation. ``alpha``, ``loss_``
        and ``loss_curve_`` are in the scaled units. The scales are fixed at the first
        ``fit`` (or ``partial_fit``) and kept by warm starts and later ``partial_fit``.

    input_bins : int >= 2, 'auto' or None, default='auto'
        A piecewise-linear encoding of the features (Gorishniy et al., NeurIPS
        2022): each feature is also given one column per bin between its training
        quantiles, ``clip((x - left edge) / bin width, 0, 1)``, which lets the first
        layer bend the response at each edge (as a tree splits) while the raw feature,
        kept in front, still extrapolates. Every column is bounded and
        non-decreasing in its feature, so ``monotonic_cst`` keeps naming your
        features and keeps holding. Features with fewer than 3 distinct edges
        (binary, one-hot, constant) are not encoded. An int gives the bins per
        feature; None feeds the features as they are. 'auto' (the default) is 32
        bins from 4,000 training rows on (fewer where the encoded columns would
        pass 2**25 values, 256 MiB in float64, and none below 2 bins; binary and
        one-hot columns, never encoded, do not count), else None,
        and None for the plain MLPRegressor model, for sparse ``X`` and for a model
        whose first call is ``partial_fit`` (a stream's first batch is no sample of
        the rest to take edges from, and each batch would be encoded afresh). The edges
        (``bin_edges_``) are fixed at the first ``fit`` or ``partial_fit`` and kept
        by warm starts and later ``partial_fit``. ``coefs_[0]`` has a row per
        network input: the features, then the encoded columns in feature order.
        Needs dense ``X`` (an int with sparse ``X`` is refused).

    input_scaling : {'auto', 'standard', 'rms'} or None, default='auto'
        How the features are scaled for training. 'standard' centres each feature
        at its (sample-weighted) training mean and divides it by its standard
        deviation; 'rms' divides it by its root mean square and does not centre
        (for sparse ``X``); None feeds the features as they are. Two-valued
        columns (binary, one-hot) go onto [0, 1] instead ('standard': minimum to 0,
        maximum to 1; 'rms': divided by the largest ``|value|``), constant ones
        are left alone, and every scale is rounded to a power of two, so scaling is
        exact in floating point and a 0/1 column is not touched at all. The scaling
        is folded into the first layer after training: ``coefs_[0]`` and
        ``intercepts_[0]`` are in the units of your ``X``, and ``predict`` (like
        the ONNX export) has no step of its own. Raw features of very different
        sizes (prices of 1e5 next to 0/1 flags) otherwise slow Adam down or make
        it diverge. 'auto' (the default) is 'standard' for the features off the
        unit scale only (a largest ``|value|`` above 16 or below 1/16; standardised
        features and columns in [0, 1] such as splines stay as they are), but None
        for the plain
        MLPRegressor model and for sparse ``X`` (centring would make it dense),
        and 'rms' when ``nonneg_bias`` constrains the first layer's biases (folding
        a centring into them would move them); 'standard' is refused in those two
        cases. With ``input_bins`` only the raw features are scaled (the encoded
        columns are in [0, 1]). The scaling (``input_mean_``, ``input_scale_``)
        is fixed at the first ``fit`` or ``partial_fit`` and kept by warm starts
        and later ``partial_fit``.

    n_members : int >= 1 or 'auto', default='auto'
        Members of an ensemble trained inside one network (as TabM, Gorishniy et
        al., ICLR 2025): each member has its own first layer and its own output
        layer, the hidden layers between are shared, training minimises the mean of
        the members' objectives (each its loss and its own L2 penalty), and the
        prediction is the mean of their predictions (at least their least). Every
        member's prediction passes the output transform, so the mean keeps the
        floor, quantile levels stay uncrossed, and
        ``monotonic_cst`` and ``nonneg_weights`` constrain every member. The members
        run as one product for the first layer and for each shared layer, so an
        epoch costs less than ``n_members`` separate networks. ``coefs_[0]`` is
        ``(n_inputs, n_members * hidden_layer_sizes[0])``, member m's columns
        ``m * h:(m + 1) * h``; ``coefs_[-1]`` stacks the members' output layers by
        rows, and ``intercepts_`` follow. Members that share no layer (one hidden
        layer or none) stop early apart: each keeps its own best epoch on the
        validation rows, and training goes on while any member improves
        (``best_validation_score_`` is then the returned model's score). 'auto' is
        4 members with ``solver='adam'`` (where they were measured), and one
        member for the other solvers, for MLPRegressor's model (identity output,
        squared error, no output constraint), for a model without hidden layers
        (a convex one for most losses, whose members would agree) and for a
        first ``partial_fit``. Warm starts
        and later ``partial_fit`` under 'auto' keep the fitted number.

    n_threads : int or None, default=None
        Threads of the C++ core. None uses as many as the BLAS would here, which
        follows OMP_NUM_THREADS / OPENBLAS_NUM_THREADS, ``threadpoolctl`` limits, and
        the limits joblib sets in parallel workers (so ``GridSearchCV(n_jobs=-1)``
        does not oversubscribe the cores), and never more than the cores this process
        may use (its CPU affinity and a container's CPU quota). An explicit count is
        used up to those cores; a larger one is clipped to them with a warning (each
        thread has its own buffers, so extra threads cost memory and time). If the
        system refuses to start a thread (a memory or process limit), the work runs
        on the threads that started, with a RuntimeWarning. The threads start once
        per process and sleep between calls. Each mini-batch step is shared out when
        each thread gets at least 2**17 rows x parameters (for example 24 rows of a
        20-64-64-1 network, 2 of 100-256-256-1): the threads split the batch's rows
        for the gradient and the parameters for the update. Full-data passes
        ('lbfgs', ``predict``) are shared out when each thread gets at least 2**20,
        by chunks of at most 512 rows. Each thread's matrix products use one BLAS
        thread: on small products OpenBLAS's own threads cost more than they save.
        Predictions do not depend on the thread count; fitted models depend on it
        only through the order of a sum (rounding), and are repeatable for a given
        count. When other processes keep the cores busy, ``n_threads=1`` avoids
        waiting for a thread that is not scheduled.

    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'adam' and 'sgd' run mini-batch epochs in the C++ core; 'lbfgs' runs
        :func:`scipy.optimize.minimize` (L-BFGS-B) on the full-data loss and gradient
        computed by the core.

    alpha : float, default=0.0001
        Strength of the L2 penalty on the weights (not the biases), added to the loss
        as ``alpha / (2 * n_samples) * ||W||^2``, as in MLPRegressor.

    batch_size : int or 'auto', default='auto'
        Mini-batch size for 'sgd' and 'adam'; 'auto' is ``min(200, n_samples)``.

    learning_rate : {'constant', 'invscaling', 'adaptive', 'cosine', \
            'cosine_restarts'}, default='constant'
        Schedule of the step size. As in MLPRegressor, for 'sgd' only: 'invscaling'
        uses ``learning_rate_init / (t + 1) ** power_t`` (``t`` counts samples
        seen), 'adaptive' divides the rate by 5 whenever ``n_iter_no_change`` epochs
        fail to improve by ``tol``. For 'sgd' and 'adam' alike, over ``max_iter``
        epochs (each epoch at the factor of its middle, counted over the model's
        life, so that ``partial_fit`` calls and warm starts continue the schedule;
        past ``max_iter`` epochs the last rate stays): 'cosine' decays
        ``learning_rate_init`` to 0 along a half cosine; 'cosine_restarts' runs
        four cycles of rise and fall, each twice as long as the one before
        (RealMLP's 'coslog4': ``0.5 - 0.5 cos(2 pi log2(1 + 15 t))``). Early
        stopping may end either before the rate has come down.

    learning_rate_init : float, default=0.001
        Initial step size ('sgd', 'adam').

    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.

    max_iter : int, default=200
        Maximum number of epochs ('sgd', 'adam') or iterations ('lbfgs').

    shuffle : bool, default=True
        Whether to shuffle the samples at each epoch ('sgd', 'adam').

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the validation split. An int gives
        identical models from identical calls.

    tol : float, default=1e-4
        Tolerance of the stopping criterion (and ``gtol`` of L-BFGS-B).

    verbose : bool, default=False
        Whether to print one line per epoch ('sgd', 'adam') or L-BFGS-B iteration:
        its number, the training loss (as in ``loss_curve_``), the validation score
        when early stopping runs (as in ``validation_scores_``) and the seconds since
        training started, e.g. ``Epoch 12: loss 0.0412, validation score 0.8731,
        0.53 s``. Stopping and learning-rate changes get a line of their own.

    warm_start : bool, default=False
        Whether ``fit`` continues from the current weights (and optimiser state)
        instead of starting afresh.

    momentum : float, default=0.9
        Momentum of 'sgd'.

    nesterovs_momentum : bool, default=True
        Whether 'sgd' uses Nesterov's momentum.

    early_stopping : bool or 'auto', default='auto'
        Whether ``fit`` with 'sgd' or 'adam' holds out ``validation_fraction`` of the
        data, stops when its score fails to improve by ``tol`` for
        ``n_iter_no_change`` epochs, and restores the best weights. The score is R2;
        with 'poisson', 'gamma' and 'tweedie' it is D2, the share of the constant
        model's deviance explained (``sklearn.metrics.d2_tweedie_score``); with
        'quantile' minus the mean pinball loss.

        'auto' (the default) turns it on, except for the plain MLPRegressor model
        (``output_activation='identity'``, squared error, no ``output_constraint``;
        off, as MLPRegressor's default) and where the held-out share would have
        fewer than 30 rows (too few to judge by: fits under about 300 rows at the
        default ``validation_fraction``); the documentation's fit-quality page has
        the measurements behind it. ``partial_fit`` never stops early. Reaching
        ``max_iter`` warns (``ConvergenceWarning``) only when the score improved by
        ``tol`` within the last 10 epochs (or ``n_iter_no_change``, if fewer): when
        more iterations would help.

    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.

    beta_1 : float, default=0.9
        Decay of Adam's first moment.

    beta_2 : float, default=0.999
        Decay of Adam's second moment.

    epsilon : float, default=1e-8
        Adam's numerical-stability constant.

    n_iter_no_change : int or 'auto', default='auto'
        Epochs without improvement of at least ``tol`` before stopping ('sgd', 'adam').
        'auto' is 10 (MLPRegressor's) for the plain MLPRegressor model. Otherwise it
        is 20, and with early stopping at least enough epochs for 300 optimiser
        steps (an epoch of 450 rows is 3 batches of 200, so 100 epochs there). A
        validation score is noisier than the training loss (the documentation's
        fit-quality page has the measurements).

    max_fun : int, default=15000
        Maximum number of loss evaluations ('lbfgs').

    Attributes
    ----------
    loss_ : float
        The loss at the end of training (for 'sgd' and 'adam', the mean over the last
        epoch's batches).

    best_loss_ : float or None
        The lowest loss seen; None with early stopping, where the validation score
        decides.

    loss_curve_ : list of float
        The loss after each epoch ('sgd', 'adam') or iteration ('lbfgs').

    validation_scores_ : list of float or None
        The held-out data's score after each epoch, with ``early_stopping=True``:
        R2, D2 for the deviance losses, minus the mean pinball loss for quantiles
        (see ``early_stopping``).

    best_validation_score_ : float or None
        The best of ``validation_scores_``; for members that stop apart (see
        ``n_members``), the score of the model returned.

    t_ : int
        Number of training samples seen by the stochastic solvers.

    coefs_ : list of ndarray of shape (n_fan_in, n_fan_out)
        Weight matrices, one per layer, in the dtype of the training data.

    intercepts_ : list of ndarray of shape (n_fan_out,)
        Bias vectors, one per layer.

    output_threshold_ : ndarray of shape (n_outputs,)
        The lower bound of each output.

    target_scale_ : ndarray of shape (n_outputs,)
        The scale ``s`` of each output (all 1 without scaling); see ``target_scaling``.

    bin_edges_ : list of ndarray
        Per feature, the edges of its piecewise-linear encoding (an empty array for
        a feature not encoded, and for every feature without ``input_bins``).

    input_mean_ : ndarray of shape (`n_features_in_`,)
        The shift subtracted from each feature for training (its mean, a
        two-valued feature's minimum, 0 when not centred); see ``input_scaling``.

    input_scale_ : ndarray of shape (`n_features_in_`,)
        The power of two each feature was divided by for training (all 1 without
        scaling); the fitted ``coefs_`` and ``intercepts_`` take both in.

    quantiles_ : ndarray of shape (n_levels,)
        With ``loss='quantile'``: the levels predicted, in the order of the last axis
        of ``predict``'s output.

    constraint_violation_ : dict
        With ``output_constraint``: ``'share_below'``, the share of training targets
        (samples x outputs) whose prediction is below the threshold, and
        ``'max_violation'``, the largest shortfall.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when X has string column names.

    n_iter_ : int
        Number of epochs ('sgd', 'adam') or iterations ('lbfgs') run.

    n_members_ : int
        Members of the ensemble the network holds (``n_members`` resolved).

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of outputs.

    out_activation_ : str
        The output transform (``output_activation``).

    See Also
    --------
    sklearn.neural_network.MLPRegressor : The unbounded original.
    sklearn.linear_model.PoissonRegressor : A linear model for counts.

    Notes
    -----
    The loss is summed over outputs and averaged over samples. For the plain
    MLPRegressor model (``output_activation='identity'``, squared error, no
    ``output_constraint``, hence no target scaling) and the same ``random_state``,
    training starts from the same weights and, without shuffling, follows the same
    path: ``loss_`` equals MLPRegressor's for one output, and for several outputs the
    'adam' and 'sgd' updates match while ``loss_`` is ``n_outputs`` times its value
    (MLPRegressor reports a mean over outputs but steps along their sum; its 'lbfgs'
    therefore sees a loss and a gradient that disagree, and takes another path). With
    a bounded output the targets are scaled by default (``target_scaling``), so
    ``loss_``, ``tol`` and ``alpha`` refer to the scaled targets.

    With a bounding transform (or an ``output_constraint``), training starts from the
    constant model that predicts the targets' mean: the output weights start at 0 and
    the output bias at ``g^-1(mean(y) - threshold)``, so a target far from the
    threshold costs no epochs. Hidden layers start Glorot-uniform, as in MLPRegressor
    (and so does everything with ``output_activation='identity'`` and no
    ``output_constraint``, so that both follow the same path).

    Ctrl-C during ``fit`` stops training within a few milliseconds (after the current
    batch, or between chunks of rows), warns ``"Training interrupted by user."`` and
    keeps the model trained so far, as MLPRegressor does.

    Examples
    --------
    >>> import numpy as np
    >>> from positive_mlp import PositiveMLPRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-2, 2, size=(200, 3))
    >>> y = np.exp(X[:, 0])
    >>> reg = PositiveMLPRegressor(hidden_layer_sizes=(16,), max_iter=500,
    ...                            random_state=0).fit(X, y)
    >>> bool((reg.predict(100 * X) >= 0).all())
    True
    """

    # The "?" of the HTML repr (scikit-learn's documented hook) opens the API page.
    _doc_link_module = "positive_mlp"
    _doc_link_template = (
        "https://positive-mlp.readthedocs.io/en/stable/generated/"
        "{estimator_module}.{estimator_name}.html"
    )

    _parameter_constraints: ClassVar[dict] = {
        "loss": [StrOptions(names(LOSSES))],
        "power": [Interval(Real, None, None, closed="neither")],
        "quantile": [Interval(Real, 0, 1, closed="neither"), list, tuple, np.ndarray],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(names(ACTIVATIONS))],
        "output_activation": [StrOptions(names(OUTPUT_TRANSFORMS))],
        "output_threshold": [Real, "array-like"],
        "nonneg_weights": [None, StrOptions({"all", "output", "hidden"}), "array-like"],
        "nonneg_bias": ["boolean"],
        "nonneg_method": [StrOptions(names(WEIGHT_METHODS))],
        "monotonic_cst": [None, "array-like", dict],
        "output_constraint": [None, StrOptions(names(OUTPUT_CONSTRAINTS))],
        "constraint_strength": [Interval(Real, 0, None, closed="neither")],
        "target_scaling": [
            None,
            StrOptions({"auto", "std", "mean", "rms"}),
            "array-like",
        ],
        "input_bins": [
            None,
            StrOptions({"auto"}),
            Interval(Integral, 2, None, closed="left"),
        ],
        "input_scaling": [None, StrOptions({"auto", "standard", "rms"})],
        "n_members": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "n_threads": [None, Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions(names(SOLVERS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [
            StrOptions({"constant", "invscaling", "adaptive", *SCHEDULES})
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
            StrOptions({"auto"}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        power=1.5,
        quantile=0.5,
        output_activation="softplus",
        output_threshold=0.0,
        nonneg_weights=None,
        nonneg_bias=False,
        nonneg_method="projection",
        monotonic_cst=None,
        output_constraint=None,
        constraint_strength=1.0,
        target_scaling="auto",
        input_bins="auto",
        input_scaling="auto",
        n_members="auto",
        n_threads=None,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping="auto",
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change="auto",
        max_fun=15000,
    ):
        self.loss = loss
        self.power = power
        self.quantile = quantile
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.output_threshold = output_threshold
        self.nonneg_weights = nonneg_weights
        self.nonneg_bias = nonneg_bias
        self.nonneg_method = nonneg_method
        self.monotonic_cst = monotonic_cst
        self.output_constraint = output_constraint
        self.constraint_strength = constraint_strength
        self.target_scaling = target_scaling
        self.input_bins = input_bins
        self.input_scaling = input_scaling
        self.n_members = n_members
        self.n_threads = n_threads
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Fit the model to data X and targets y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. float32 data is trained in float32; other numbers are
            converted to float64.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets; with a bounding ``output_activation``, all ``>= output_threshold``.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the loss (and in the validation
            score when early stopping carves its set out of the training data). Rows
            of zero weight are dropped, so they act as if absent.

        X_val : array-like of shape (n_val, n_features), default=None
            An explicit validation set for early stopping (which must be on), used
            instead of holding out ``validation_fraction`` of the training data, as
            in HistGradientBoostingRegressor. It must be preprocessed as X is. A
            :class:`~sklearn.pipeline.Pipeline` passes it on untransformed unless
            metadata routing is enabled, the model requests it with
            ``set_fit_request(X_val=True, y_val=True)`` and the pipeline is built
            with ``transform_input=["X_val"]`` (scikit-learn >= 1.6); then its
            fitted transformers transform X_val as they do X. A ``UserWarning``
            flags an X_val that looks unprocessed: a column whose median lies
            more than 10 times the training column's range (or largest ``|value|``,
            whichever is larger) below its minimum or above its maximum.

        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            Targets of ``X_val``.

        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation samples in the R2 score.

        Returns
        -------
        self : PositiveMLPRegressor
            The fitted estimator.

        Raises
        ------
        TrainingDivergedError
            When the loss becomes non-finite or grows by orders of magnitude (for
            example with too large a learning rate), or the parameters leave the
            finite range, judged after every epoch and after the last update; the
            model keeps the parameters of the last good epoch. Also when the loss
            overflows before any update (data too large for the arithmetic); the
            message says whether to scale the data or lower the learning rate.
            A subclass of both ``ValueError`` (what MLPRegressor users catch) and
            ``FloatingPointError``.

        ValueError
            When ``y`` is outside what the model can represent (below
            ``output_threshold`` with a bounding ``output_activation``, or outside
            the domain of ``loss``), or the parameters do not go together; the
            message says which targets or settings.

        See Also
        --------
        partial_fit : One epoch on the data given, for data that arrive in chunks.
        predict : Predict with the fitted network.

        Examples
        --------
        >>> import numpy as np
        >>> from positive_mlp import PositiveMLPRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.uniform(-1, 1, size=(100, 2))
        >>> y = X[:, 0] ** 2 + 0.1
        >>> reg = PositiveMLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs",
        ...                            max_iter=1000, random_state=0)
        >>> reg.fit(X, y)
        PositiveMLPRegressor(hidden_layer_sizes=(8,), max_iter=1000, random_state=0,
                             solver='lbfgs')
        >>> [W.shape for W in reg.coefs_]
        [(2, 8), (8, 1)]

        An explicit validation set for early stopping, instead of a share of the
        training rows:

        >>> X_val = rng.uniform(-1, 1, size=(50, 2))
        >>> y_val = X_val[:, 0] ** 2 + 0.1
        >>> reg = PositiveMLPRegressor(hidden_layer_sizes=(8,), early_stopping=True,
        ...                            learning_rate_init=0.01, max_iter=1000,
        ...                            random_state=0)
        >>> reg = reg.fit(X, y, X_val=X_val, y_val=y_val)
        >>> len(reg.validation_scores_) == reg.n_iter_
        True

        Targets the model cannot represent are refused:

        >>> PositiveMLPRegressor().fit(X, y - 1)
        Traceback (most recent call last):
        ...
        ValueError: ...
        """
        loss = self._resolved_loss()
        validation = self._validation_data(X_val, y_val, sample_weight_val, loss)
        return self._fit(X, y, sample_weight, validation, False, loss)

    @available_if(lambda est: est._check_partial_fit_applies())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over the given data, starting or continuing training.

        Only for the stochastic solvers ('sgd', 'adam'): the optimiser's state
        (Adam's moments, SGD's velocity, the step count ``t_``) carries over between
        calls. ``max_iter`` does not apply. Not available with ``solver='lbfgs'`` or
        ``early_stopping=True`` (``hasattr(est, "partial_fit")`` is then False).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : PositiveMLPRegressor
            The updated estimator.

        Raises
        ------
        TrainingDivergedError
            When the epoch's loss or parameters stop being finite, as in ``fit``.

        See Also
        --------
        fit : Train for up to ``max_iter`` epochs (or with early stopping).

        Examples
        --------
        >>> import numpy as np
        >>> from positive_mlp import PositiveMLPRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.uniform(-1, 1, size=(100, 2))
        >>> y = X[:, 0] ** 2 + 0.1
        >>> reg = PositiveMLPRegressor(hidden_layer_sizes=(8,), random_state=0)
        >>> for X_chunk, y_chunk in zip(np.array_split(X, 4), np.array_split(y, 4)):
        ...     reg = reg.partial_fit(X_chunk, y_chunk)
        >>> reg.t_, len(reg.loss_curve_)  # samples seen, epochs run
        (100, 4)
        >>> hasattr(PositiveMLPRegressor(solver="lbfgs"), "partial_fit")
        False
        """
        return self._fit(X, y, sample_weight, None, True, self._resolved_loss())

    def _check_partial_fit_applies(self) -> bool:
        """partial_fit exists only where one call means one epoch."""
        if not SOLVERS[self.solver].stochastic:
            raise AttributeError(
                "partial_fit is only available for the stochastic solvers 'sgd' and "
                f"'adam', which train one epoch per call; solver={self.solver!r} "
                "optimises the full data set. Use fit."
            )
        if self.early_stopping is True:
            raise AttributeError(
                "partial_fit is not available with early_stopping=True: one epoch per "
                "call leaves nothing to stop early. Use fit, or early_stopping=False."
            )
        return True

    def _resolved_loss(self) -> Loss:
        """The loss at this estimator's ``power`` and ``quantile``."""
        return resolve_loss(self.loss, self.power, self.quantile)

    def _fit(
        self,
        X,
        y,
        sample_weight,
        validation: Data | None,
        incremental: bool,
        loss: Loss,
    ):
        """validate -> resolve -> start -> build -> the solver's driver -> publish."""
        continuing = self._is_fitted() and (incremental or self.warm_start)
        prepared = self._validated(
            X, y, sample_weight, validation, incremental, continuing, loss
        )
        settings = resolve(
            self.get_params(),
            prepared.data,
            loss,
            prepared.validation,
            incremental,
            dropped=prepared.dropped,
        )
        signs = self._parameter_signs(prepared.layout)
        rng = check_random_state(self.random_state)
        params = self._start(prepared, signs, rng, continuing, loss)
        self.n_layers_ = len(prepared.layout.layer_sizes)
        self.n_outputs_ = prepared.n_outputs
        self.out_activation_ = self.output_activation
        self._set_levels(loss)
        network = self._training_network(prepared, signs, loss)
        n_threads = self._thread_count()
        if continuing:
            record = self._record
            record.follow(settings.early_stopping)
        else:
            record = TrainingRecord.fresh(settings.early_stopping)
        training = Training(
            network,
            params,
            prepared.data,
            prepared.validation,
            lbfgs_bounds(signs, self.nonneg_method),
            rng,
            self._members_apart(prepared, signs, loss),
        )
        try:
            with core_call():
                train(settings, record, training, n_threads)
        finally:  # also after a divergence: keep the last good parameters
            trained = network.effective_params(params)  # for the scaled inputs
            folded = self._fitted_input_scaling().fold(trained, prepared.layout)
            self._set_weights(prepared.layout, folded)
            self._publish(record)
        if self.output_constraint is not None:
            train_pred = self._predict_network_inputs(prepared.data.X, trained)
            self.constraint_violation_ = _violation(train_pred, self.output_threshold_)
        return self

    def _validated(
        self,
        X,
        y,
        sample_weight,
        validation: Data | None,
        incremental: bool,
        continuing: bool,
        loss: Loss,
    ) -> _Prepared:
        """The training (and validation) rows checked and scaled; sets
        ``target_scale_`` and ``output_threshold_`` (and on a first fit the inputs'
        encoding and scaling)."""
        check_sparse_structure(X)
        check_dense_targets(y)
        X, y = validate_data(
            self,
            X,
            y,
            reset=not (incremental and continuing),
            accept_sparse="csr",
            dtype=_FLOAT_DTYPES,
            multi_output=True,
            y_numeric=True,
        )
        X = core_input(X, X.dtype)
        y = y.reshape(X.shape[0], -1)
        data = _drop_zero_weights(Data(X, y, _weights_or_none(sample_weight, X)))
        if not continuing:
            self._set_input_bins(data.X, loss, incremental)
            self._set_input_scaling(data, loss)
        data = Data(encode(data.X, self._input_bins), data.y, data.sample_weight)
        threshold = threshold_per_output(self.output_threshold, y.shape[1])
        check_loss_settings(loss, self.output_activation, threshold)
        data = Data(data.X, targets_in_dtype(data.y, X.dtype, loss), data.sample_weight)
        check_training_settings(loss, self.solver, self.output_constraint)
        n_levels = loss.n_levels  # the levels parsed (and checked) here
        check_targets(data.y, loss, self.output_activation, threshold)
        warn_if_threshold_too_far(data.y, threshold)
        layout = ParameterLayout(
            (data.X.shape[1], *self._hidden_sizes(), y.shape[1] * n_levels),
            self._members(continuing, incremental, loss),
        )
        if continuing:
            self._check_continuable(layout, incremental, loss)
        # The features scaled (in place where rows were dropped or encoded).
        inputs = self._fitted_input_scaling().apply(data.X, copy=data.X is X)
        data = Data(inputs, data.y, data.sample_weight)
        scale = (
            self.target_scale_
            if continuing
            else self._target_scale(data, threshold, loss)
        )
        self.target_scale_ = scale
        self.output_threshold_ = threshold
        # From here on the network sees scaled targets: y / scale, threshold / scale.
        if np.any(scale != 1.0):
            data = Data(
                data.X, self._scaled_targets(data.y, scale, loss), data.sample_weight
            )
        to_scaled(
            threshold, scale, X.dtype, "output_threshold / target_scale_"
        )  # checks
        threshold = threshold / scale  # kept in float64
        if validation is not None:
            validation = self._cast_validation(validation, X.shape[1], X.dtype, scale)
            validation = Data(
                self._network_inputs(validation.X),
                validation.y,
                validation.sample_weight,
            )
            warn_if_validation_off_scale(data.X, validation.X)
        return _Prepared(
            data,
            validation,
            threshold,
            layout,
            y.shape[1],
            X.shape[0] - data.y.shape[0],
        )

    def _training_network(self, prepared: _Prepared, signs, loss: Loss):
        """The core's network that trains: with the loss, the scaled threshold and
        the constraints (thresholds and margins per output: a target's, for each of
        its levels)."""
        levels, n_levels = loss.levels, loss.n_levels
        margin = self._constraint_margin(prepared.data, prepared.threshold)
        return build_network(
            prepared.layout,
            self.activation,
            self.output_activation,
            loss,
            per_output(prepared.threshold, n_levels),
            prepared.dtype,
            quantile_levels=(
                None
                if levels is None
                else levels_per_output(levels, prepared.n_outputs)
            ),
            outputs_per_group=n_levels,
            signs=signs,
            weight_method=self.nonneg_method,
            output_constraint=self.output_constraint,
            constraint_strength=self.constraint_strength,
            constraint_margin=None if margin is None else per_output(margin, n_levels),
        )

    def _members_apart(
        self, prepared: _Prepared, signs, loss: Loss
    ) -> MembersApart | None:
        """Members that share no layer stop early apart (``MembersApart``), with a
        one-member network of the same settings to score each."""
        positions = member_positions(prepared.layout)
        if positions is None:
            return None
        one = dataclasses.replace(
            prepared, layout=ParameterLayout(prepared.layout.layer_sizes)
        )
        one_signs = None if signs is None else signs[positions[0]]
        return MembersApart(self._training_network(one, one_signs, loss), positions)

    def _set_weights(self, layout: ParameterLayout, packed: np.ndarray) -> None:
        """``coefs_`` and ``intercepts_`` as views of one packed vector, which predict
        then uses as it is (packing a (256, 256) network's weights took half of a
        one-row predict)."""
        self._packed = packed
        self.coefs_, self.intercepts_ = layout.unpack(packed)
        self.n_members_ = layout.members
        # Built once per fit (and after unpickling): a build took 10 us of a one-row
        # predict. predict builds its own if the settings changed since.
        key = self._predict_network_key(layout, packed.dtype)
        self._predict_network = (key, self._build_predict_network(*key))

    def _predict_network_key(self, layout: ParameterLayout, dtype) -> tuple:
        """What the network predict uses depends on."""
        return layout, self.activation, self.out_activation_, self._n_levels(), dtype

    def _build_predict_network(
        self, layout: ParameterLayout, activation, output, n_levels: int, dtype
    ):
        # It predicts g(z) (threshold 0): threshold + scale * g(z), in predict, keeps
        # the bound exactly, where scale * (threshold / scale + g(z)) could round under.
        return build_network(
            layout,
            activation,
            output,
            PREDICTION_ONLY,
            np.zeros(layout.layer_sizes[-1]),
            dtype,
            outputs_per_group=n_levels,
        )

    def _packed_weights(self, layout: ParameterLayout, dtype) -> np.ndarray:
        """The vector ``coefs_`` and ``intercepts_`` are views of, or, if they were
        replaced, their values packed afresh."""
        packed = getattr(self, "_packed", None)
        views = packed is not None and packed.dtype == dtype
        if views and all(a.base is packed for a in self.coefs_ + self.intercepts_):
            return packed
        return layout.pack(self.coefs_, self.intercepts_, dtype)

    def __getstate__(self):
        # A copy: BaseEstimator hands on the instance's own __dict__ (Python >= 3.11),
        # which the pops below would strip of its cached network.
        state = dict(super().__getstate__())
        state.pop("_packed", None)  # pickled once, as coefs_ and intercepts_
        state.pop("_predict_network", None)  # the core's object: rebuilt
        if "_record" in state:  # builtins and arrays: nothing more for skops to trust
            state["_record"] = state["_record"].as_plain()
        if state.get("_input_bins") is not None:  # the same: a dict of arrays
            state["_input_bins"] = dataclasses.asdict(state["_input_bins"])
        state[VERSION_KEY] = current_version()
        return state

    def __setstate__(self, state):
        state = dict(state)
        warn_if_other_version(state.pop(VERSION_KEY, None), type(self).__name__)
        if isinstance(state.get("_record"), dict):
            state["_record"] = TrainingRecord.from_plain(state["_record"])
        if isinstance(state.get("_input_bins"), dict):
            state["_input_bins"] = InputBins(**state["_input_bins"])
        if "coefs_" in state:  # models saved before the encoding have none
            state.setdefault("_input_bins", None)
            state.setdefault("n_members_", 1)  # nor before the ensemble
            n_features = state["n_features_in_"]  # nor before the input scaling
            state.setdefault("input_mean_", np.zeros(n_features))
            state.setdefault("input_scale_", np.ones(n_features))
        super().__setstate__(state)
        if self._is_fitted():
            layout = self._fitted_layout()
            dtype = self.coefs_[0].dtype
            self._set_weights(layout, layout.pack(self.coefs_, self.intercepts_, dtype))

    def _publish(self, record: TrainingRecord) -> None:
        """The training record as the fitted attributes (MLPRegressor's names)."""
        self._record = record
        self.n_iter_ = record.n_iter
        self.t_ = record.t
        if record.loss is not None:
            self.loss_ = record.loss
        self.loss_curve_ = record.loss_curve
        self.best_loss_ = record.best_loss
        self.validation_scores_ = record.validation_scores
        self.best_validation_score_ = record.best_validation_score

    def _thread_count(self) -> int:
        return thread_budget(self.n_threads)

    def _scaled_targets(
        self, y: np.ndarray, scale: np.ndarray, loss: Loss
    ) -> np.ndarray:
        """``y / scale`` in y's dtype, checked: no target the loss needs > 0 may
        underflow to 0 (targets spanning more orders of magnitude than the dtype)."""
        scaled = to_scaled(y, scale, y.dtype, "y / target_scale_")
        float32 = y.dtype == np.float32
        loss.check_targets_kept(
            y,
            scaled,
            "after target scaling (y / target_scale_, with target_scale_="
            f"{np.array2string(scale, precision=3)}): y spans more orders of "
            f"magnitude than {y.dtype} holds",
            "Set target_scaling=None, "
            + ("fit float64 X (X.astype(np.float64)), " if float32 else "")
            + "or rescale y to a narrower range (for example, clip its tiniest "
            "values).",
        )
        return scaled

    def _target_scale(
        self, data: Data, threshold: np.ndarray, loss: Loss
    ) -> np.ndarray:
        """The per-output scales chosen by ``target_scaling``."""
        setting = target_scaling(self.get_params(), loss)
        return target_scale(setting, data, threshold)

    def _starts_at_target_mean(self) -> bool:
        """Bounded or constrained outputs start at the mean; a free linear output starts
        as MLPRegressor's does (so that the two follow the same path)."""
        return (
            self.output_activation in BOUNDED_TRANSFORMS
            or self.output_constraint is not None
        )

    def _constraint_margin(
        self, data: Data, threshold: np.ndarray
    ) -> np.ndarray | None:
        """'lagrangian' aims slightly above the threshold: its iterates approach the
        boundary from the infeasible side, and the margin makes them end on it."""
        if self.output_constraint != "lagrangian":
            return None
        squared = (data.y.astype(np.float64) - threshold) ** 2
        rms = np.sqrt(np.average(squared, axis=0, weights=float64(data.sample_weight)))
        return _LAGRANGIAN_MARGIN * rms

    def _parameter_signs(self, layout: ParameterLayout) -> np.ndarray | None:
        layers = constrained_layers(self.nonneg_weights, len(layout.shapes))
        monotonic = None
        if self.monotonic_cst is not None:
            monotonic = _check_monotonic_cst(self, self.monotonic_cst).astype(np.int8)
            monotonic = encoded_monotonic_cst(monotonic, self._input_bins)
        return parameter_signs(layout, layers, self.nonneg_bias, monotonic)

    def _set_input_bins(self, X, loss: Loss, incremental: bool) -> None:
        """Fits the piecewise-linear encoding's edges on the training rows (or
        none): ``bin_edges_``, and the encoding predict applies."""
        sparse = scipy.sparse.issparse(X)
        encodable = X.shape[1]
        if not sparse and isinstance(self.input_bins, str):  # 'auto' caps by them
            encodable = encodable_features(X)
        n_bins = input_bins(
            self.get_params(), loss, X.shape[0], encodable, sparse, incremental
        )
        if n_bins is not None and sparse:
            raise ValueError(
                f"input_bins={n_bins} encodes dense features, but X is sparse: "
                "its encoded columns would be dense. Pass a dense X, or set "
                "input_bins=None (or 'auto', which is None for sparse X)."
            )
        bins: InputBins | None = None if n_bins is None else fit_bins(X, n_bins)
        self._input_bins = bins
        self.bin_edges_ = [np.empty(0)] * X.shape[1] if bins is None else bins.edges()

    def _set_input_scaling(self, data: Data, loss: Loss) -> None:
        """Fits the inputs' scaling on the training rows (of non-zero weight):
        ``input_mean_`` and ``input_scale_``."""
        method = input_scaling(
            self.get_params(),
            loss,
            scipy.sparse.issparse(data.X),
            self._first_biases_constrained(),
        )
        off_scale_only = self.input_scaling == "auto"
        scaling = fit_scaling(data.X, data.sample_weight, method, off_scale_only)
        self.input_mean_, self.input_scale_ = scaling.shift, scaling.scale

    def _first_biases_constrained(self) -> bool:
        """Whether ``nonneg_bias`` keeps the first layer's biases >= 0."""
        n_layers = len(self._hidden_sizes()) + 1
        return self.nonneg_bias and 0 in constrained_layers(
            self.nonneg_weights, n_layers
        )

    def _fitted_input_scaling(self) -> InputScaling:
        """The fitted scaling, checked against the first layer's constraints: a
        centring folded into biases kept >= 0 would move them below 0."""
        scaling = InputScaling(self.input_mean_, self.input_scale_)
        if np.any(scaling.shift) and self._first_biases_constrained():
            raise ValueError(
                "nonneg_bias keeps the first layer's biases >= 0, but the model was "
                "fitted with its features centred (input_mean_ is not 0), which "
                "folding moves the biases by. Set warm_start=False and refit (the "
                "scaling is then 'rms'), or leave nonneg_bias as it was fitted."
            )
        return scaling

    def _network_inputs(self, X):
        """The rows as the network trains on them: encoded (``input_bins``), then
        the features scaled (``input_scaling``)."""
        encoded = encode(X, self._input_bins)  # a new array if anything is encoded
        return self._fitted_input_scaling().apply(encoded, copy=encoded is X)

    def _validation_data(
        self, X_val, y_val, sample_weight_val, loss: Loss
    ) -> Data | None:
        if X_val is None and y_val is None:
            if sample_weight_val is not None:
                raise ValueError("sample_weight_val is given without X_val and y_val.")
            return None
        if X_val is None or y_val is None:
            raise ValueError("X_val and y_val must be given together.")
        if self.early_stopping is False or (
            self.early_stopping == "auto" and is_plain_mlp(self.get_params(), loss)
        ):
            raise ValueError(
                f"X_val and y_val are passed to fit while early_stopping="
                f"{self.early_stopping!r} (off for the plain MLPRegressor model); they "
                "are only used for early stopping. Set early_stopping=True."
            )
        if not SOLVERS[self.solver].stochastic:
            raise ValueError(
                "X_val and y_val need solver='sgd' or 'adam'; 'lbfgs' "
                "does not use early stopping."
            )
        check_sparse_structure(X_val, "X_val")
        check_dense_targets(y_val, "y_val")
        X_val, y_val = validate_data(
            self,
            X_val,
            y_val,
            reset=False,
            accept_sparse="csr",
            dtype=_FLOAT_DTYPES,
            multi_output=True,
            y_numeric=True,
        )
        sample_weight_val = _weights_or_none(sample_weight_val, X_val)
        check_validation_targets(y_val, sample_weight_val, loss)
        return Data(X_val, y_val, sample_weight_val)

    @staticmethod
    def _cast_validation(
        validation: Data, n_features: int, dtype, scale: np.ndarray
    ) -> Data:
        """The validation set in the network's dtype and scaled units."""
        if validation.X.shape[1] != n_features:
            raise ValueError(
                f"X_val has {validation.X.shape[1]} feature(s), X has {n_features}."
            )
        y_val = validation.y.reshape(validation.X.shape[0], -1)
        if y_val.shape[1] != scale.size:
            raise ValueError(
                f"y_val has {y_val.shape[1]} output(s), y has {scale.size}."
            )
        return Data(
            core_input(validation.X, dtype),
            saturated_scaled(y_val, scale),
            validation.sample_weight,
        )

    def predict(self, X):
        """Predict using the fitted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,), (n_samples, n_outputs) or \
                (n_samples, n_outputs, n_levels)
            Predictions, every one ``>= output_threshold_`` with a bounding
            ``output_activation``; without the outputs' axis when the model has
            one output. With ``loss='quantile'`` and a list of levels, a last axis
            holds the levels ``quantiles_``, in increasing order.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            When the model has not been fitted yet.

        See Also
        --------
        score : R2 of the predictions.

        Examples
        --------
        >>> import numpy as np
        >>> from positive_mlp import PositiveMLPRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.uniform(-1, 1, size=(100, 2))
        >>> y = 1 + X[:, 0] ** 2
        >>> reg = PositiveMLPRegressor(hidden_layer_sizes=(8,), output_threshold=1.0,
        ...                            solver="lbfgs", max_iter=1000,
        ...                            random_state=0).fit(X, y)
        >>> reg.predict(X).shape
        (100,)

        The floor holds far outside the training data too:

        >>> bool(reg.predict(1e6 * X).min() >= 1.0)
        True

        Several quantile levels add an axis, one column per level, in order:

        >>> bands = PositiveMLPRegressor(loss="quantile", quantile=[0.1, 0.5, 0.9],
        ...                              hidden_layer_sizes=(8,), max_iter=1000,
        ...                              learning_rate_init=0.01,
        ...                              random_state=0).fit(X, y)
        >>> pred = bands.predict(X)
        >>> pred.shape
        (100, 3)
        >>> bool(np.all(np.diff(pred, axis=1) >= 0))
        True
        """
        check_is_fitted(self)
        y_pred = self._predict_validated(self._validated_for_predict(X))
        return shaped_predictions(
            y_pred,
            self.n_outputs_,
            self._n_levels(),
            getattr(self, "_level_axis", False),
        )

    def _validated_for_predict(self, X) -> np.ndarray:
        """``validate_data(reset=False)``, with a shortcut where it would return X
        unchanged: a finite 2-D float ndarray with rows and the fitted width, for a
        model fitted without feature names. (A one-row predict spent 70 of its 200 us
        in scikit-learn's validation, a 1000-row one 190 of 600.)"""
        plain = (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype in _FLOAT_DTYPES
            and X.shape[0] >= 1
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
        )
        # A finite sum means finite entries (NaN and inf propagate); only a sum that
        # overflows needs the entries checked one by one, as scikit-learn does.
        if plain:
            with np.errstate(over="ignore", invalid="ignore"):
                finite_sum = np.isfinite(np.sum(X))
            if finite_sum or np.isfinite(X).all():
                return X
        check_sparse_structure(X)
        return validate_data(
            self, X, reset=False, accept_sparse="csr", dtype=_FLOAT_DTYPES
        )

    def _predict_validated(self, X: np.ndarray) -> np.ndarray:
        """Predictions (n_samples, n_outputs) in the users' units."""
        X = core_input(X, self.coefs_[0].dtype)
        if self._input_bins is not None:
            X = X.toarray() if scipy.sparse.issparse(X) else X
            X = encode(X, self._input_bins)
        return self._predict_network_inputs(X)

    def _predict_network_inputs(self, X, params: np.ndarray | None = None):
        """Predictions for the network's inputs (the features, encoded if
        ``input_bins``), in the model's dtype, with the fitted weights or the
        packed ``params`` given."""
        dtype = self.coefs_[0].dtype
        layout = self._fitted_layout()
        key = self._predict_network_key(layout, dtype)
        cached = getattr(self, "_predict_network", None)
        if cached is not None and cached[0] == key:
            network = cached[1]
        else:
            network = self._build_predict_network(*key)
        if params is None:
            params = self._packed_weights(layout, dtype)
        # Too few rows for a second thread: skip asking for the thread budget.
        one_thread = (
            network.predict_threads(X.shape[0], scipy.sparse.issparse(X), 2) == 1
        )
        n_threads = 1 if one_thread else self._thread_count()
        with core_call():
            raw = network.predict(params, X, n_threads)
        n_levels = self._n_levels()
        return in_user_units(
            raw,
            per_output(self.output_threshold_, n_levels),
            per_output(self.target_scale_, n_levels),
            bounded=self.out_activation_ in BOUNDED_TRANSFORMS,
        )

    def score(self, X, y, sample_weight=None) -> float:
        """Return the R2 of the predictions, or minus the pinball loss for quantiles.

        R2 as scikit-learn's regressors compute it (averaged uniformly over
        outputs). For a model of several quantile levels (``quantile`` a list),
        minus the mean pinball loss summed over levels and targets: higher is
        better, as for R2.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Test samples.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True values for ``X``.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            R2 of ``self.predict(X)`` against ``y`` (at most 1), or minus the
            pinball loss (at most 0; -inf where predictions saturated near the
            largest float make it overflow).

        See Also
        --------
        predict : The predictions scored.
        sklearn.metrics.r2_score : The score of a single-level model.
        sklearn.metrics.mean_pinball_loss : The loss of each level.

        Examples
        --------
        >>> import numpy as np
        >>> from positive_mlp import PositiveMLPRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.uniform(-1, 1, size=(100, 2))
        >>> y = 1 + X[:, 0] ** 2
        >>> reg = PositiveMLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs",
        ...                            max_iter=1000, random_state=0).fit(X, y)
        >>> bool(reg.score(X, y) > 0.9)
        True

        With several quantile levels the score is minus the pinball loss:

        >>> bands = PositiveMLPRegressor(loss="quantile", quantile=[0.1, 0.9],
        ...                              hidden_layer_sizes=(8,), max_iter=1000,
        ...                              learning_rate_init=0.01,
        ...                              random_state=0).fit(X, y)
        >>> bool(-0.1 < bands.score(X, y) <= 0)
        True
        """
        if not getattr(self, "_level_axis", False):
            return super().score(X, y, sample_weight=sample_weight)
        pred = self.predict(X).reshape(-1, self.n_outputs_, self.quantiles_.size)
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        check_consistent_length(pred, y)
        y = y.reshape(y.shape[0], -1)
        if y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y.shape[1]} target(s), the model {self.n_outputs_}."
            )
        sample_weight = _weights_or_none(sample_weight, pred, dtype=np.float64)
        # Saturated predictions (near 1.8e308, from inputs far outside the training
        # range) overflow the weighted mean: the score is then -inf, without numpy's
        # warning.
        with np.errstate(over="ignore"):
            return -sum(
                sklearn_pinball_loss(
                    y[:, t], pred[:, t, k], alpha=level, sample_weight=sample_weight
                )
                for t in range(self.n_outputs_)
                for k, level in enumerate(self.quantiles_)
            )

    def _set_levels(self, loss: Loss) -> None:
        """``quantiles_`` for a loss with levels (and no stale one otherwise), and
        whether predictions carry a level axis."""
        if loss.levels is not None:
            self.quantiles_ = loss.levels
        elif hasattr(self, "quantiles_"):
            del self.quantiles_
        self._level_axis = loss.level_axis

    def _n_levels(self) -> int:
        return self.quantiles_.size if hasattr(self, "quantiles_") else 1

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.target_tags.positive_only = (
            self.output_activation in BOUNDED_TRANSFORMS
            or not is_mlp_regressor_loss(self.loss)
            or self.output_constraint is not None  # it asks predictions to stay above
        )
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return self._is_fitted()

    def _is_fitted(self) -> bool:
        return hasattr(self, "coefs_")

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if np.iterable(sizes) else [sizes]
        if not all(
            isinstance(size, Integral) and not isinstance(size, bool) for size in sizes
        ):
            raise ValueError(
                f"hidden_layer_sizes must hold whole numbers of units, got {sizes}."
            )
        if any(size <= 0 for size in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(size) for size in sizes]

    def _fitted_layout(self) -> ParameterLayout:
        return ParameterLayout.of(self.coefs_, self.intercepts_, self.n_members_)

    def _members(self, continuing: bool, incremental: bool, loss: Loss) -> int:
        """The ensemble's members: the fitted model's when it continues under
        'auto', else ``n_members`` resolved."""
        if continuing and self.n_members == "auto":
            return self.n_members_
        hidden_layers = len(self._hidden_sizes())
        return members(self.get_params(), loss, hidden_layers, incremental)

    def _check_continuable(
        self, layout: ParameterLayout, incremental: bool, loss: Loss
    ) -> None:
        fitted = self._fitted_layout()
        if fitted == layout:
            return
        if incremental:
            refit = (
                "set warm_start=False and call fit" if self.warm_start else "call fit"
            )
            raise ValueError(
                f"partial_fit cannot continue training: {self._changes(layout, loss)}. "
                "Every partial_fit call continues the model of the first one: keep "
                "its number of outputs of y, its quantile levels, its "
                f"hidden_layer_sizes and n_members, or {refit} to start afresh with "
                "the new ones."
            )
        raise ValueError(
            "warm_start=True cannot continue training: the network was "
            f"{list(fitted.layer_sizes)} with {fitted.members} member(s), and these "
            "data, hidden_layer_sizes and n_members need "
            f"{list(layout.layer_sizes)} with {layout.members}. Set "
            "warm_start=False to start afresh."
        )

    def _changes(self, layout: ParameterLayout, loss: Loss) -> str:
        """How the network that ``layout`` describes differs from the fitted one,
        for a partial_fit (which keeps the features)."""
        fitted = self._fitted_layout()
        changes = []
        if layout.members != fitted.members:
            changes.append(
                f"n_members={self.n_members!r} asks for {layout.members} "
                f"member(s), the fitted model has {fitted.members}"
            )
        if layout.layer_sizes[1:-1] != fitted.layer_sizes[1:-1]:
            changes.append(
                f"hidden_layer_sizes={self.hidden_layer_sizes!r} needs hidden layers "
                f"{list(layout.layer_sizes[1:-1])}, the fitted network has "
                f"{list(fitted.layer_sizes[1:-1])}"
            )
        n_levels = loss.n_levels
        n_targets = layout.layer_sizes[-1] // n_levels
        if n_targets != self.n_outputs_:
            changes.append(
                f"y has {n_targets} output(s), the fitted model {self.n_outputs_}"
            )
        if n_levels != self._n_levels():
            fitted_levels = getattr(self, "quantiles_", np.ones(1)).tolist()
            changes.append(
                f"loss={self.loss!r} with quantile={self.quantile!r} asks for "
                f"{n_levels} level(s) per output, the fitted model has "
                f"{self._n_levels()}"
                + (f" ({fitted_levels})" if hasattr(self, "quantiles_") else "")
            )
        return "; ".join(changes)

    def _start(
        self,
        prepared: _Prepared,
        signs: np.ndarray | None,
        rng,
        continuing: bool,
        loss: Loss,
    ) -> np.ndarray:
        """The free parameters training starts from: the fitted ones when it
        continues, else fresh ones."""
        layout, dtype = prepared.layout, prepared.dtype
        if continuing:
            weights = layout.pack(self.coefs_, self.intercepts_, dtype)
            weights = self._fitted_input_scaling().unfold(weights, layout)
            return to_free(weights, signs, self.nonneg_method, layout)
        return initial_params(
            layout,
            self.activation,
            self.output_activation if self._starts_at_target_mean() else None,
            self.nonneg_method,
            signs,
            prepared.data,
            prepared.threshold,
            rng,
            dtype,
            loss,
        )
