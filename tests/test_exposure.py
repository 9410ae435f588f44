"""Exposure, as scikit-learn models frequencies: y = counts / exposure and
sample_weight = exposure. With the Poisson loss and an exp output this is the model
of the counts with log(exposure) as an offset, since
sum_i E_i d(N_i / E_i, mu_i) = sum_i d(N_i, E_i mu_i) for the Poisson deviance d."""

from __future__ import annotations

import numpy as np
import pytest

from positive_mlp import PositiveMLPRegressor


def _policies(n=3000, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    exposure = rng.uniform(0.05, 1.0, size=n)
    rate = np.exp(-1.0 + 0.5 * X[:, 0] - 0.3 * X[:, 1] + 0.2 * X[:, 2])
    counts = rng.poisson(exposure * rate)
    return X, exposure, counts


def _poisson_glm_with_offset(X, counts, offset):
    """The maximum-likelihood GLM, log E[N] = offset + b0 + X b, by Newton's method."""
    design = np.column_stack([np.ones(len(X)), X])
    beta = np.zeros(design.shape[1])
    beta[0] = np.log(counts.sum() / np.exp(offset).sum())
    for _ in range(50):
        mu = np.exp(offset + design @ beta)
        hessian = design.T @ (mu[:, None] * design)
        step = np.linalg.solve(hessian, design.T @ (mu - counts))
        beta -= step
        if np.max(np.abs(step)) < 1e-13:
            return beta[0], beta[1:]
    raise AssertionError("Newton's method did not converge")


@pytest.mark.parametrize("target_scaling", [None, "auto"])
def test_rate_with_exposure_weights_is_the_glm_with_a_log_exposure_offset(
    target_scaling,
):
    X, exposure, counts = _policies()
    intercept, coefs = _poisson_glm_with_offset(X, counts, np.log(exposure))
    reg = PositiveMLPRegressor(
        hidden_layer_sizes=(),  # one layer: a GLM with the log link
        loss="poisson",
        output_activation="exp",
        solver="lbfgs",
        alpha=0.0,
        tol=1e-12,
        max_iter=2000,
        target_scaling=target_scaling,
        # Centring X by its means (about 0.02) changes L-BFGS-B's path: it stopped
        # an iteration earlier, on its relative loss decrease, 5e-5 from the GLM.
        input_scaling=None,
    ).fit(X, counts / exposure, sample_weight=exposure)
    # The rate the offset model predicts, and the expected counts.
    expected_rate = np.exp(intercept + X @ coefs)
    np.testing.assert_allclose(reg.predict(X), expected_rate, rtol=1e-5)
    if target_scaling is None:  # the coefficients themselves
        np.testing.assert_allclose(reg.coefs_[0].ravel(), coefs, rtol=1e-5, atol=1e-7)
        assert reg.intercepts_[0][0] == pytest.approx(intercept, rel=1e-5)
    # Balance, as for any Poisson GLM with an intercept: predicted counts add up.
    assert np.sum(reg.predict(X) * exposure) == pytest.approx(counts.sum(), rel=1e-6)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_exposure_weighting_is_not_the_same_as_fitting_the_counts():
    """Without the convention, a model of counts learns exposure as noise: its rate
    (counts per unit exposure) is biased on short policies."""
    X, exposure, counts = _policies(seed=1)
    common = dict(
        hidden_layer_sizes=(),
        loss="poisson",
        output_activation="exp",
        solver="lbfgs",
        alpha=0.0,
        max_iter=500,
    )
    rate = PositiveMLPRegressor(**common).fit(
        X, counts / exposure, sample_weight=exposure
    )
    count = PositiveMLPRegressor(**common).fit(X, counts)
    true_rate = np.exp(-1.0 + 0.5 * X[:, 0] - 0.3 * X[:, 1] + 0.2 * X[:, 2])
    rate_error = np.mean(np.abs(np.log(rate.predict(X) / true_rate)))
    count_error = np.mean(np.abs(np.log(count.predict(X) / true_rate)))
    assert rate_error < 0.1 < count_error
