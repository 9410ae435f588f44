// Per-element losses l(y, p) and their derivatives dl/dp. The training loss is the
// weighted mean over samples of the sum over outputs, plus the L2 penalty.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "positive_mlp/types.hpp"

namespace pmlp {

// Poisson and Gamma deviances need p > 0; a prediction that underflowed to 0 is read
// as the smallest positive number so that the loss stays finite.
template <class T>
inline T positive_floor(T p) {
    return std::max(p, std::numeric_limits<T>::min());
}

template <class T>
inline T element_loss(Loss loss, T y, T p) {
    switch (loss) {
        case Loss::squared_error: {
            const T r = p - y;
            return T(0.5) * r * r;
        }
        case Loss::poisson: {
            // Half Poisson deviance: y log(y / p) - y + p, with the logarithms apart:
            // y / p can underflow to 0 (log -inf) where their difference is finite.
            p = positive_floor(p);
            const T ylogy = y > T(0) ? y * (std::log(y) - std::log(p)) : T(0);
            return ylogy - y + p;
        }
        case Loss::gamma: {
            // Half Gamma deviance: log(p / y) + y / p - 1 (logarithms apart, as above).
            p = positive_floor(p);
            return std::log(p) - std::log(y) + y / p - T(1);
        }
    }
    return T(0);
}

template <class T>
inline T element_loss_derivative(Loss loss, T y, T p) {
    switch (loss) {
        case Loss::squared_error: return p - y;
        case Loss::poisson: return T(1) - y / positive_floor(p);
        case Loss::gamma: {
            p = positive_floor(p);
            return (p - y) / (p * p);
        }
    }
    return T(0);
}

}  // namespace pmlp
