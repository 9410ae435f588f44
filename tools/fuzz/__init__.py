"""Seeded random fuzzer for PositiveMLPRegressor.

Usage (``python -m fuzz`` from tools/ does the same)::

    python tools/fuzz --seconds 600 --seed 1 [--cases K] [--out failures.jsonl]
                      [--workers 2] [--timeout 60]
    python tools/fuzz --replay '<case json>'          # in-process, with traceback
    python tools/fuzz --replay-file failures.jsonl [--index I]
    python tools/fuzz --shrink-file failures.jsonl [--index I]   # simplify a failure

or, with tools/ on ``sys.path``, ``import fuzz`` (as tests/test_fuzz.py does): the
names below are the public surface; the modules are ``options`` (the package's
option tables, with the draw weights), ``draw``, ``draw_losses`` and
``draw_edges`` (the cases), ``data`` and ``sparse`` (their arrays), ``calls``,
``run`` and ``twins`` (running a case and classifying what it did), ``forward``
and ``properties`` (the checks of a fitted model), ``supervise`` (the processes),
``campaign``, ``shrink`` and ``cli``. The options drawn (solvers, activations,
output activations, weight methods, output constraints, losses) are the names of
the package's tables; the fuzzer keeps only their weights, and refuses to import
when a table has a name it has no weight for.

A *case* is a JSON dict drawn from ``(seed, index)``:

* ``data``: a recipe for the arrays (row, feature and output counts, dtype, memory
  order, strided views, read-only flags, pandas or list containers, column scales
  from 1e-30 to 1e30, constant columns, target kind and per-output scale from
  1e-300 to 1e150 with exact zeros, always inside the loss's domain unless the case
  is meant to be rejected), with its own data seed; in about 30% of the cases
  ``data.sparse``: X, X_val and the predict inputs as scipy.sparse (csr_matrix,
  csr_array, csc_matrix or coo_matrix; the case's X with entries dropped down to a
  density of 0.01, all-zero rows, stored values split into duplicate entries,
  explicit stored zeros, indices unsorted within rows, 64-bit indices), drawn from a
  random stream of their own so that the dense cases of a seed stay as they were;
* ``params``: estimator parameters (every solver, output activation, threshold
  form, loss, weight constraint and method, monotonic constraint, output
  constraint, target scaling, network shape, batch size, schedule, early stopping,
  warm start, thread count ...). About 13% of the cases each get
  ``loss='tweedie'`` (``power`` 0, 1, 1.0001 ... 1.9999, 2, 2.5, 3 or 5; targets
  with exact zeros and compound Poisson-Gamma ones, y > 0 from power 2 on) or
  ``loss='quantile'`` (``quantile`` one level, near 0 and 1 too, or a list of 1 to
  6; an adam or sgd solver, a bounding output, no output constraint; later fits may
  set other levels), drawn from a random stream of their own after every other
  draw, so that the other cases of a seed stay as they were; about 25% get
  ``n_members`` (1, 2, 3, 4, 8 or 'auto', an in-model ensemble), from a stream of
  its own too: the forward pass computes each member (``n_members_``; the first
  layer's columns and the output layer's rows in blocks, the middle layers
  shared) and their max(mean, min), within the rounding bound of each member's
  and of the mean; about 25% get ``input_scaling`` ('auto', 'standard', 'rms' or
  None; 'standard' with sparse X must be refused), from a stream of its own (the
  forward pass reads the folded ``coefs_``, in the units of X);
* ``calls``: ``fit`` / ``partial_fit`` / ``predict`` calls, each with its row count,
  sample weights (often with many zeros), an explicit validation set, and
  ``set_params`` changes between calls (warm starts); about 30% of the Tweedie and
  quantile cases end with ``score(X, y, sample_weight)`` on fresh rows (weights
  often zero, sometimes all of them; a quarter of these calls get a NaN in y, y
  with twice the rows or a weight too many, and must be refused);
* ``expect_error``: set on the cases built to be invalid (bad loss/activation
  pairs, targets outside a domain, non-integer layer sizes, NaN in X, wrong
  shapes, Tweedie powers in (0, 1) or below 0, quantile levels unsorted, repeated,
  outside (0, 1) or none, quantiles with lbfgs, an identity output or an output
  constraint, score with an invalid y or weights ...); such a case must be refused
  with a ValueError or TypeError. A few
  sparse cases (``"malformed_csr"``) give one call (predict, score, fit or its
  X_val) a CSR whose arrays were broken after construction (a column index past
  the end or negative, indptr decreasing or negative, too long or short, not
  starting at 0, ending past the entries; indices and data of different
  lengths): any Python exception will do, returning or crashing will not.

Each case runs in a forked child of a supervisor process (``--supervise``; the
supervisors are started with ``subprocess`` and import the package once), so a
crash or a hang of one case is reported without disturbing the others, and no case
sees memory another case corrupted. Failures are of four kinds:

* ``crash``: the child died from a signal or exited without a result;
* ``hang``: the case ran longer than ``--timeout`` (a Python traceback of the
  moment is in the record);
* ``violation``: a property failed (below);
* ``unexpected``: an exception other than ValueError/TypeError with a message or
  TrainingDivergedError, or sklearn's "Input contains NaN/infinity" on finite
  input (a non-finite value made inside the estimator), or NumPy's read-only
  error on read-only input (the estimator wrote into the caller's arrays).

Properties checked after every call that returns (and after a TrainingDivergedError,
which promises to keep the last good weights): finite ``coefs_``, ``intercepts_``
and ``loss_``; predictions on the training X, on 1000 X and on -1000 X of the right
shape, finite, ``>= output_threshold`` for a bounding output activation and equal to
a float64 NumPy forward pass of ``coefs_`` within a rounding-error bound (rows whose
arithmetic in the network would overflow the dtype are exempt, as the README
allows); constrained layers' weights (and biases) ``>= 0``; monotone predictions
along each constrained feature; no RuntimeWarning, FutureWarning or
DeprecationWarning. Other warnings (ConvergenceWarning, UserWarning) are fine. For
loss='quantile' the forward pass builds each target's levels as the core does
(threshold + g(z_1), then + g(z_k)) and predict's shape has the level axis of a list
of levels ((n, K) or (n, T, K)); predictions also on X scaled to a quarter of the
dtype's largest value (and its negative); on every row, overflowing ones included,
each predicted quantile is finite, ``>= output_threshold_`` and a target's levels
never decrease (exactly); ``quantiles_`` is the levels asked for (and absent for
other losses); ``validation_scores_`` are never NaN or +inf; with a list of levels
``score(X, y)`` (and score calls, weighted) is minus the mean pinball loss summed
over targets and levels. With sparse inputs, also: predictions on sparse X (as
given, 1000 X, -1000 X) within twice the rounding bound of those on X densified (the
bound counts each stored entry, duplicates included); the caller's sparse arrays
unchanged by every call, even one that raises; and for ``compare_dense`` cases
(float64, about a third of them; sgd and adam only, as rounding decides L-BFGS-B's
line searches and bounds, and not Adam at beta_2=0, whose steps divide by the
current gradient alone) the same calls on X densified and on X densified with each
nonzero moved by one ulp: the sparse fit's loss curve and weights no farther from
the dense fit's than 1000 times the jittered fit's (rounding alone), or than 1e-9
(curve, relative) and 1e-6 (weights, share of a layer's largest |weight|).

Two more draws come from random streams of their own, after all the others (the
other cases of a seed stay as they were):

* ``edges`` (about 10% of the cases; the list names what was drawn): the
  neighbourhoods of inputs that once gave bare errors or silent surprises. A
  quantile case's levels as a tuple, an ndarray, a 0-d array or a float32 scalar
  (``params.quantile_container``), or as a set or dict, which must be refused;
  targets of 1e-46 to 1e39 with float32 X (float64 y), 1e-320 to 1e308 with
  float64 X (``data.y_extreme``), mostly with a Poisson, Gamma or Tweedie loss;
  rows of zero weight (often all but a few) with early stopping and a held-out
  share from 0 to 0.95; explicit validation sets of 0 to 5 rows, constant y_val,
  sample_weight_val with zeros; a 1-D sparse X (fit, predict, X_val) or a sparse y
  or y_val (``sparse_fault``), which must be refused;
* ``limit`` (about 4% of the cases): ``{"address_space_mib": h}``, h from 0 to
  1024: each call of the case runs with the soft RLIMIT_AS at the address space in
  use plus h MiB, restored after the call (the property checks run without it:
  the fitted model must still satisfy every property). Under a limit, a
  MemoryError with a message (not a bare ``std::bad_alloc``) is an allowed error,
  and the core's RuntimeWarning that the system refused to start threads is no
  violation; a crash or a hang still is.

Children run with OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=1, on a simulated machine
of at least 8 cores: the package clips n_threads to the usable cores (with a
warning), so the children report 8, as tests/conftest.py's ``eight_cores`` does
(wherever the package keeps ``available_cores``), and cases that set ``n_threads``
(up to 8) get that many core threads on any machine. Random states are always
integers, so a replay repeats the case (up to thread timing).
"""

from .calls import estimator_params, run_call
from .campaign import Summary, format_summary, run_campaign, signature
from .cli import load_cases, main
from .data import CallData, make_call_data
from .draw import MALFORMED_MODES, draw_case
from .draw_edges import EDGE_SHARES
from .forward import reference_forward
from .properties import check_fitted
from .run import (
    FAILURE_KINDS,
    Outcome,
    PropertyViolation,
    address_space_limit,
    classify_error,
    run_case,
    with_warnings,
)
from .shrink import shrink
from .sparse import sparse_input
from .supervise import (
    DEFAULT_TIMEOUT,
    run_isolated,
    run_parallel,
    simulate_cores,
    thread_policy_module,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "EDGE_SHARES",
    "FAILURE_KINDS",
    "MALFORMED_MODES",
    "CallData",
    "Outcome",
    "PropertyViolation",
    "Summary",
    "address_space_limit",
    "check_fitted",
    "classify_error",
    "draw_case",
    "estimator_params",
    "format_summary",
    "load_cases",
    "main",
    "make_call_data",
    "reference_forward",
    "run_call",
    "run_campaign",
    "run_case",
    "run_isolated",
    "run_parallel",
    "shrink",
    "signature",
    "simulate_cores",
    "sparse_input",
    "thread_policy_module",
    "with_warnings",
]
