// Output transforms g with prediction = threshold + g(z). Every transform but identity
// is bounded below by 0, so predictions never fall below the threshold.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "positive_mlp/activations.hpp"
#include "positive_mlp/types.hpp"

namespace pmlp {

// Largest z for which exp(z) is finite, with a margin so that sums of a few stay finite.
template <class T>
constexpr T max_exp_argument() {
    return std::numeric_limits<T>::max_exponent * T(0.6931471805599453) - T(2);
}

template <class T>
inline T softplus(T z) {
    // log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large |z|.
    return std::max(z, T(0)) + std::log1p(std::exp(-std::abs(z)));
}

template <class T>
inline T transform(OutputTransform g, T z) {
    switch (g) {
        case OutputTransform::identity: return z;
        case OutputTransform::relu: return std::max(z, T(0));
        case OutputTransform::softplus: return softplus(z);
        case OutputTransform::exp: return std::exp(std::min(z, max_exp_argument<T>()));
    }
    return z;
}

// dg/dz. For relu the gradient is masked to 0 where z < 0; for exp it is 0 beyond the
// overflow guard, where the transform is constant.
template <class T>
inline T transform_derivative(OutputTransform g, T z) {
    switch (g) {
        case OutputTransform::identity: return T(1);
        case OutputTransform::relu: return z > T(0) ? T(1) : T(0);
        case OutputTransform::softplus: return logistic(z);
        case OutputTransform::exp: return z <= max_exp_argument<T>() ? std::exp(z) : T(0);
    }
    return T(1);
}

}  // namespace pmlp
