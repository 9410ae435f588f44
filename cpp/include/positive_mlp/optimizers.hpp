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

// The constants of one update step, fixed before its element loop runs (in one piece or
// split over threads by parameter ranges).
template <class T>
struct UpdateStep {
    Solver solver;
    T learning_rate;  // Adam's includes the bias correction of this step
    T momentum;
    bool nesterov;
    T beta_1, beta_2, epsilon;
};

// Starts an update: counts Adam's step and returns the step's constants.
template <class T>
UpdateStep<T> begin_update(const OptimizerOptions& o, OptimizerState<T>& s) {
    double lr = o.learning_rate;
    if (o.solver == Solver::adam) {
        s.step += 1;
        const double t = static_cast<double>(s.step);
        lr *= std::sqrt(1.0 - std::pow(o.beta_2, t)) / (1.0 - std::pow(o.beta_1, t));
    }
    return UpdateStep<T>{o.solver,
                         static_cast<T>(lr),
                         static_cast<T>(o.momentum),
                         o.nesterov,
                         static_cast<T>(o.beta_1),
                         static_cast<T>(o.beta_2),
                         static_cast<T>(o.epsilon)};
}

// Updates parameters [begin, end) with scikit-learn's rules. The buffers never overlap;
// saying so (restrict) lets the loops vectorise.
template <class T>
void update_range(const UpdateStep<T>& u, T* __restrict params, const T* __restrict grad,
                  const OptimizerState<T>& s, std::int64_t begin, std::int64_t end) {
    T* __restrict first = s.first;
    if (u.solver == Solver::sgd) {
        const T lr = u.learning_rate, mu = u.momentum;
        if (u.nesterov) {
            for (std::int64_t i = begin; i < end; ++i) {
                first[i] = mu * first[i] - lr * grad[i];
                params[i] += mu * first[i] - lr * grad[i];
            }
        } else {
            for (std::int64_t i = begin; i < end; ++i) {
                first[i] = mu * first[i] - lr * grad[i];
                params[i] += first[i];
            }
        }
        return;
    }
    T* __restrict second = s.second;
    const T lr = u.learning_rate, b1 = u.beta_1, b2 = u.beta_2, eps = u.epsilon;
    for (std::int64_t i = begin; i < end; ++i) {
        const T g = grad[i];
        first[i] = b1 * first[i] + (T(1) - b1) * g;
        second[i] = b2 * second[i] + (T(1) - b2) * g * g;
        params[i] -= lr * first[i] / (std::sqrt(second[i]) + eps);
    }
}

}  // namespace pmlp
