"""The demo: a never-negative target, MLPRegressor and PositiveMLPRegressor.
==========================================================================

What ``python -m positive_mlp.demo`` runs and prints: the *worst concavity* of a
tumour (the breast-cancer data bundled with scikit-learn; never negative, 13 of 569
values exactly 0) predicted from the 27 other measurements, by MLPRegressor and by
PositiveMLPRegressor with the same shared settings (``hidden_layer_sizes=(16,)``,
adam, ``max_iter=3000``, ``random_state=0``, StandardScaler in a Pipeline) and each
its own defaults otherwise. The table gives the test R2, the mean absolute error,
the predictions below 0 and the lowest prediction. It runs offline in seconds.
"""

from positive_mlp.demo import main

main([])
