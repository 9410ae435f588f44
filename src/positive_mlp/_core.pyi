"""Type stubs of the compiled core (cpp/bindings/module.cpp)."""

from enum import Enum
from types import ModuleType

from numpy.typing import ArrayLike, NDArray
from scipy.sparse import sparray, spmatrix

# Inputs: an array (converted to C-contiguous) or a CSR matrix or array, read as it is.
Inputs = ArrayLike | spmatrix | sparray

def take_refused_thread_starts() -> int: ...
def _parked_pools() -> tuple[int, int]: ...
def _set_flush_subnormals(flush: bool) -> bool: ...

class Activation(Enum):
    identity = ...
    logistic = ...
    tanh = ...
    relu = ...

class OutputTransform(Enum):
    identity = ...
    relu = ...
    softplus = ...
    exp = ...

class Loss(Enum):
    squared_error = ...
    poisson = ...
    gamma = ...
    tweedie = ...
    quantile = ...

class Solver(Enum):
    sgd = ...
    adam = ...

class WeightMethod(Enum):
    none = ...
    projection = ...
    square = ...
    exp = ...

class OutputConstraint(Enum):
    none = ...
    penalty = ...
    lagrangian = ...

class NetworkSpec:
    def __init__(
        self,
        layer_sizes: list[int],
        activation: Activation,
        output_transform: OutputTransform,
        loss: Loss,
        tweedie_power: float = ...,
        quantile_levels: list[float] = ...,
        outputs_per_group: int = ...,
        weight_method: WeightMethod = ...,
        output_constraint: OutputConstraint = ...,
        constraint_strength: float = ...,
        constraint_margin: list[float] = ...,
        members: int = ...,
    ) -> None: ...

class OptimizerOptions:
    solver: Solver
    learning_rate: float
    momentum: float
    nesterov: bool
    beta_1: float
    beta_2: float
    epsilon: float
    def __init__(self) -> None: ...

class EpochOptions:
    batch_size: int
    shuffle: bool
    seed: int
    alpha: float
    optimizer: OptimizerOptions
    def __init__(self) -> None: ...

class EpochResult:
    @property
    def loss(self) -> float: ...
    @property
    def constraint(self) -> float: ...
    @property
    def step(self) -> int: ...
    @property
    def below_threshold(self) -> int: ...

class Network:
    """One precision's network (``f64.Network`` or ``f32.Network``). ``y`` is
    (n_samples, n_targets), one column per target, which every output of the
    target's group of ``outputs_per_group`` reads (never repeated per level);
    ``multipliers`` are (n_samples, n_outputs)."""

    def __init__(
        self, spec: NetworkSpec, threshold: ArrayLike, signs: ArrayLike | None = None
    ) -> None: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def n_targets(self) -> int: ...  # n_outputs // outputs_per_group: y's columns
    def predict(self, params: ArrayLike, X: Inputs, n_threads: int = 1) -> NDArray: ...
    def effective_params(self, params: ArrayLike) -> NDArray: ...
    def predict_threads(self, n_rows: int, sparse: bool, n_threads: int) -> int: ...
    def loss(
        self,
        params: ArrayLike,
        X: Inputs,
        y: ArrayLike,
        sample_weight: ArrayLike | None,
        multipliers: NDArray | None,
        alpha: float,
        n_threads: int = 1,
    ) -> float: ...
    def loss_and_gradient(
        self,
        params: ArrayLike,
        X: Inputs,
        y: ArrayLike,
        sample_weight: ArrayLike | None,
        multipliers: NDArray | None,
        alpha: float,
        grad: NDArray,
        n_threads: int = 1,
    ) -> float: ...
    def update_multipliers(
        self,
        params: ArrayLike,
        X: Inputs,
        multipliers: NDArray | None,
        n_threads: int = 1,
    ) -> int: ...

class EpochTrainer:
    def __init__(
        self, network: Network, n_samples: int, batch_size: int, n_threads: int = 1
    ) -> None: ...
    def run_epoch(
        self,
        params: NDArray,
        first_moment: NDArray,
        second_moment: NDArray,
        step: int,
        X: Inputs,
        y: ArrayLike,
        sample_weight: ArrayLike | None,
        multipliers: NDArray | None,
        options: EpochOptions,
    ) -> EpochResult: ...

f64: ModuleType  # Network and EpochTrainer in float64
f32: ModuleType  # Network and EpochTrainer in float32
