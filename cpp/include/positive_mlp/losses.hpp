// Per-element losses l(y, p) and their derivatives dl/dp. The training loss is the
// weighted mean over samples of the sum over outputs, plus the L2 penalty.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "positive_mlp/types.hpp"

namespace pmlp {

// Poisson and Gamma deviances need p > 0; a prediction that underflowed to 0 is read
// as the smallest positive number so that the loss stays finite.
template <class T>
inline T positive_floor(T p) {
    return std::max(p, std::numeric_limits<T>::min());
}

// One element's loss l(y, p) and dl/dp: the kind, the Tweedie power for
// Loss::tweedie and the outputs' levels for Loss::quantile. Tweedie powers 0, 1 and 2 are the
// squared error, Poisson and Gamma losses and computed as those (see make).
template <class T>
struct ElementLoss {
    Loss kind = Loss::squared_error;
    T power = T(0);
    std::vector<T> levels;  // Loss::quantile: one per output

    static ElementLoss make(const NetworkSpec& spec) {
        if (spec.loss == Loss::quantile)
            return ElementLoss{
                Loss::quantile, T(0),
                std::vector<T>(spec.quantile_levels.begin(), spec.quantile_levels.end())};
        if (spec.loss != Loss::tweedie) return ElementLoss{spec.loss, T(0), {}};
        if (spec.tweedie_power == 0.0) return ElementLoss{Loss::squared_error, T(0), {}};
        if (spec.tweedie_power == 1.0) return ElementLoss{Loss::poisson, T(0), {}};
        if (spec.tweedie_power == 2.0) return ElementLoss{Loss::gamma, T(0), {}};
        return ElementLoss{Loss::tweedie, static_cast<T>(spec.tweedie_power), {}};
    }

    // Output j's loss at target y and prediction p.
    T value(std::int64_t j, T y, T p) const {
        switch (kind) {
            case Loss::squared_error: {
                const T r = p - y;
                return T(0.5) * r * r;
            }
            case Loss::poisson: {
                // Half Poisson deviance: y log(y / p) - y + p, with the logarithms
                // apart: y / p can underflow to 0 (log -inf) where their difference is
                // finite.
                p = positive_floor(p);
                const T ylogy = y > T(0) ? y * (std::log(y) - std::log(p)) : T(0);
                return ylogy - y + p;
            }
            case Loss::gamma: {
                // Half Gamma deviance: log(p / y) + y / p - 1 (logarithms apart).
                p = positive_floor(p);
                return std::log(p) - std::log(y) + y / p - T(1);
            }
            case Loss::tweedie: {
                // Half Tweedie deviance (scikit-learn's HalfTweedieLoss, half of
                // mean_tweedie_deviance's terms), power not 0, 1 or 2:
                // y^(2-r) / ((1-r)(2-r)) - y p^(1-r) / (1-r) + p^(2-r) / (2-r),
                // p^(1-r) as exp((1-r) log p), so that tiny p overflows only to inf.
                p = positive_floor(p);
                const T r = power, log_p = std::log(p);
                const T y_term = y > T(0)
                    ? std::exp((T(2) - r) * std::log(y)) / ((T(1) - r) * (T(2) - r))
                    : T(0);
                return y_term - y * std::exp((T(1) - r) * log_p) / (T(1) - r) +
                    std::exp((T(2) - r) * log_p) / (T(2) - r);
            }
            case Loss::quantile: {
                // Pinball loss: level * (y - p) above the prediction, (1 - level) *
                // (p - y) below it.
                const T r = y - p, level = levels[j];
                return r >= T(0) ? level * r : (level - T(1)) * r;
            }
        }
        return T(0);
    }

    // dl/dp of output j (for the pinball loss, 0 where y = p).
    T derivative(std::int64_t j, T y, T p) const {
        switch (kind) {
            case Loss::squared_error: return p - y;
            case Loss::poisson: return T(1) - y / positive_floor(p);
            case Loss::gamma: {
                p = positive_floor(p);
                return (p - y) / (p * p);
            }
            case Loss::tweedie: {
                // p^(-r) (p - y): the derivative of every power's half deviance.
                p = positive_floor(p);
                return (p - y) * std::exp(-power * std::log(p));
            }
            case Loss::quantile: {
                const T level = levels[j];
                return y > p ? -level : (y < p ? T(1) - level : T(0));
            }
        }
        return T(0);
    }
};

}  // namespace pmlp
