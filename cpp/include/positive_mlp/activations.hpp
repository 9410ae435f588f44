// Hidden-layer activations, applied in place; derivatives expressed through the
// activation's output (as scikit-learn does), so pre-activations need not be kept.
#pragma once

#include <algorithm>
#include <cmath>

#include "positive_mlp/types.hpp"

namespace pmlp {

template <class T>
inline T logistic(T z) {
    // Written so that exp never overflows.
    if (z >= T(0)) return T(1) / (T(1) + std::exp(-z));
    const T e = std::exp(z);
    return e / (T(1) + e);
}

template <class T>
void apply_activation(Activation activation, T* values, std::int64_t n) {
    switch (activation) {
        case Activation::identity:
            return;
        case Activation::logistic:
            for (std::int64_t i = 0; i < n; ++i) values[i] = logistic(values[i]);
            return;
        case Activation::tanh:
            for (std::int64_t i = 0; i < n; ++i) values[i] = std::tanh(values[i]);
            return;
        case Activation::relu:
            for (std::int64_t i = 0; i < n; ++i) values[i] = std::max(values[i], T(0));
            return;
    }
}

// delta *= f'(z), with f'(z) computed from a = f(z).
template <class T>
void multiply_by_derivative(Activation activation, const T* a, T* delta, std::int64_t n) {
    switch (activation) {
        case Activation::identity:
            return;
        case Activation::logistic:
            for (std::int64_t i = 0; i < n; ++i) delta[i] *= a[i] * (T(1) - a[i]);
            return;
        case Activation::tanh:
            for (std::int64_t i = 0; i < n; ++i) delta[i] *= T(1) - a[i] * a[i];
            return;
        case Activation::relu:
            for (std::int64_t i = 0; i < n; ++i) delta[i] = a[i] > T(0) ? delta[i] : T(0);
            return;
    }
}

}  // namespace pmlp
