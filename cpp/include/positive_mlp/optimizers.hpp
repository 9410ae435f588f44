// Stochastic optimisers with scikit-learn's update rules. Their state lives in
// caller-owned buffers (NumPy arrays on the estimator), so it survives pickling.
#pragma once

#include <cmath>
#include <cstdint>

#include "positive_mlp/types.hpp"

namespace pmlp {

struct OptimizerOptions {
    Solver solver = Solver::adam;
    double learning_rate = 1e-3;  // the current rate; schedules are applied by the caller
    double momentum = 0.9;        // sgd
    bool nesterov = true;         // sgd
    double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-8;  // adam
};

// first: Adam's first moment or SGD's velocity; second: Adam's second moment.
// step: Adam's update count (for the bias correction).
template <class T>
struct OptimizerState {
    T* first = nullptr;
    T* second = nullptr;
    std::int64_t step = 0;
};

template <class T>
void sgd_update(const OptimizerOptions& o, T* params, const T* grad, T* velocity,
                std::int64_t n) {
    const T lr = static_cast<T>(o.learning_rate), mu = static_cast<T>(o.momentum);
    for (std::int64_t i = 0; i < n; ++i) {
        velocity[i] = mu * velocity[i] - lr * grad[i];
        params[i] += o.nesterov ? mu * velocity[i] - lr * grad[i] : velocity[i];
    }
}

template <class T>
void adam_update(const OptimizerOptions& o, T* params, const T* grad, OptimizerState<T>& s,
                 std::int64_t n) {
    s.step += 1;
    const double t = static_cast<double>(s.step);
    const T lr = static_cast<T>(o.learning_rate * std::sqrt(1.0 - std::pow(o.beta_2, t)) /
                                (1.0 - std::pow(o.beta_1, t)));
    const T b1 = static_cast<T>(o.beta_1), b2 = static_cast<T>(o.beta_2);
    const T eps = static_cast<T>(o.epsilon);
    for (std::int64_t i = 0; i < n; ++i) {
        const T g = grad[i];
        s.first[i] = b1 * s.first[i] + (T(1) - b1) * g;
        s.second[i] = b2 * s.second[i] + (T(1) - b2) * g * g;
        params[i] -= lr * s.first[i] / (std::sqrt(s.second[i]) + eps);
    }
}

template <class T>
void optimizer_update(const OptimizerOptions& o, T* params, const T* grad,
                      OptimizerState<T>& s, std::int64_t n) {
    switch (o.solver) {
        case Solver::sgd: return sgd_update(o, params, grad, s.first, n);
        case Solver::adam: return adam_update(o, params, grad, s, n);
    }
}

}  // namespace pmlp
