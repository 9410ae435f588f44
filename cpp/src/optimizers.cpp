#include "positive_mlp/optimizers.hpp"

#include <cmath>

#include "positive_mlp/vector_clones.hpp"

namespace pmlp {

namespace {
// The loops, inlined into each instruction set's version of update_range. The buffers
// never overlap; saying so (restrict) lets the loops vectorise.
template <class T>
inline void update_elements(const UpdateStep<T>& u, T* __restrict params,
                            const T* __restrict grad, const OptimizerState<T>& s,
                            std::int64_t begin, std::int64_t end) {
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
}  // namespace

PMLP_VECTOR_CLONES
void update_range(const UpdateStep<float>& u, float* params, const float* grad,
                  const OptimizerState<float>& s, std::int64_t begin, std::int64_t end) {
    update_elements(u, params, grad, s, begin, end);
}

PMLP_VECTOR_CLONES
void update_range(const UpdateStep<double>& u, double* params, const double* grad,
                  const OptimizerState<double>& s, std::int64_t begin, std::int64_t end) {
    update_elements(u, params, grad, s, begin, end);
}

}  // namespace pmlp
