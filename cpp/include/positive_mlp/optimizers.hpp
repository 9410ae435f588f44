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

// Updates parameters [begin, end) with scikit-learn's rules (optimizers.cpp), with the
// widest vector instructions the CPU has.
void update_range(const UpdateStep<float>& u, float* params, const float* grad,
                  const OptimizerState<float>& s, std::int64_t begin, std::int64_t end);
void update_range(const UpdateStep<double>& u, double* params, const double* grad,
                  const OptimizerState<double>& s, std::int64_t begin, std::int64_t end);

}  // namespace pmlp
