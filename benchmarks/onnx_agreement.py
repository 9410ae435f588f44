"""How closely the ONNX graph of ``positive_mlp.onnx`` agrees with ``predict``.

For every output activation x hidden activation x target scaling (default, none) x
dtype and ``--seeds`` seeds: a 3-output model with thresholds 0, 0.7 and -1.5,
``hidden_layer_sizes=(16, 16)``, 30 epochs of Adam on 500 generated rows, converted
with skl2onnx and run by onnxruntime on the training inputs and on them times 1000.

Reported per dtype and input range, the largest of:

* ``vs terms``: |onnx - predict| / (|threshold| + |predict - threshold|), the size of
  the terms of ``threshold + scale * g`` (for 'relu' and 'identity' outputs, whose
  ``g = z`` passes 0, the output's largest such size): what tests/test_onnx.py
  bounds by 1e-6 (float64) and 1e-5 (float32);
* ``vs prediction``: |onnx - predict| / |predict|, bounded outputs only, and the
  prediction where it is largest.

Needs the onnx extra: ``pip install ".[onnx]"``; then
``python benchmarks/onnx_agreement.py``.
"""

from __future__ import annotations

import argparse
import itertools
import warnings

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx

import positive_mlp.onnx  # noqa: F401  (registers the converter)
from positive_mlp import PositiveMLPRegressor
from positive_mlp._options import ACTIVATIONS, BOUNDED_TRANSFORMS, OUTPUT_TRANSFORMS

THRESHOLDS = np.array([0.0, 0.7, -1.5])
FAR = 1e3
# Outputs whose g = z passes 0, where a rounding of z is a large share of g.
LINEAR_NEAR_ZERO = frozenset({"relu", "identity"})


def measure(seed: int, output: str, activation: str, scaling, dtype, worst: dict):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(500, 4))
    y = np.exp(0.6 * X[:, :3]) + np.array([0.1, 1.0, 0.3])
    model = PositiveMLPRegressor(
        hidden_layer_sizes=(16, 16),
        activation=activation,
        output_activation=output,
        output_threshold=THRESHOLDS,
        target_scaling=scaling,
        max_iter=30,
        random_state=seed,
    ).fit(X.astype(dtype), y)
    session = ort.InferenceSession(
        to_onnx(model, X[:1].astype(dtype)).SerializeToString(),
        providers=["CPUExecutionProvider"],
    )
    for scale in (1.0, FAR):
        inputs = (scale * X).astype(dtype)
        expected = model.predict(inputs).astype(np.float64)
        got = session.run(None, {"X": inputs})[0].astype(np.float64)
        difference = np.abs(got - expected)
        terms = np.abs(THRESHOLDS) + np.abs(expected - THRESHOLDS)
        if output in LINEAR_NEAR_ZERO:
            terms = np.broadcast_to(terms.max(axis=0), terms.shape)
        key = (np.dtype(dtype).name, scale)
        entry = worst.setdefault(key, {"vs terms": 0.0, "vs prediction": (0.0, 0.0)})
        entry["vs terms"] = max(entry["vs terms"], float(np.max(difference / terms)))
        if output in BOUNDED_TRANSFORMS:
            relative = np.where(expected != 0, difference / np.abs(expected), 0.0)
            at = np.unravel_index(np.argmax(relative), relative.shape)
            if relative[at] > entry["vs prediction"][0]:
                entry["vs prediction"] = (float(relative[at]), float(expected[at]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # ConvergenceWarning after 30 epochs
    worst: dict = {}
    grid = itertools.product(
        range(args.seeds),
        sorted(OUTPUT_TRANSFORMS),
        sorted(ACTIVATIONS),
        ["auto", None],
        [np.float32, np.float64],
    )
    for case in grid:
        measure(*case, worst)
    print(f"onnxruntime {ort.__version__}")
    print("dtype    inputs   vs terms   vs prediction (at prediction)")
    for (dtype, scale), entry in sorted(worst.items()):
        relative, at = entry["vs prediction"]
        print(
            f"{dtype:8} x{scale:<7g} {entry['vs terms']:9.2g}   "
            f"{relative:.2g} (at {at:.3g})"
        )


if __name__ == "__main__":
    main()
