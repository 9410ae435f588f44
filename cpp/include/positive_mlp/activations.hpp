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

// One value's activation; add_bias_and_activate applies the same functions row by row.
template <class T>
inline T activate(Activation activation, T v) {
    switch (activation) {
        case Activation::identity: return v;
        case Activation::logistic: return logistic(v);
        case Activation::tanh: return std::tanh(v);
        case Activation::relu: return std::max(v, T(0));
    }
    return v;
}

// z <- f(z + bias) for every row of z (rows x cols, row-major): one pass over the
// layer's output instead of a bias copy before the GEMM and an activation pass after.
template <class T, class F>
void map_rows_plus_bias(T* z, const T* bias, std::int64_t rows, std::int64_t cols, F f) {
    for (std::int64_t i = 0; i < rows; ++i) {
        T* __restrict row = z + i * cols;
        for (std::int64_t j = 0; j < cols; ++j) row[j] = f(row[j] + bias[j]);
    }
}

template <class T>
void add_bias_and_activate(Activation activation, T* z, const T* bias, std::int64_t rows,
                           std::int64_t cols) {
    switch (activation) {
        case Activation::identity:
            return map_rows_plus_bias(z, bias, rows, cols, [](T v) { return v; });
        case Activation::logistic:
            return map_rows_plus_bias(z, bias, rows, cols, [](T v) { return logistic(v); });
        case Activation::tanh:
            return map_rows_plus_bias(z, bias, rows, cols, [](T v) { return std::tanh(v); });
        case Activation::relu:
            return map_rows_plus_bias(z, bias, rows, cols,
                                      [](T v) { return std::max(v, T(0)); });
    }
}

// delta *= f'(z), with f'(z) computed from a = f(z).
template <class T>
void multiply_by_derivative(Activation activation, const T* a, T* delta, std::int64_t n) {
    switch (activation) {
        case Activation::identity: return;
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
