// Plain views of caller-owned buffers and the enums that select the numerics.
// Nothing here knows about Python.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pmlp {

// Row-major matrix view: element (i, j) is data[i * stride + j].
template <class T>
struct Matrix {
    T* data = nullptr;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    std::int64_t stride = 0;

    Matrix() = default;
    Matrix(T* d, std::int64_t r, std::int64_t c) : data(d), rows(r), cols(c), stride(c) {}
    T* row(std::int64_t i) const { return data + i * stride; }
};

template <class T>
using ConstMatrix = Matrix<const T>;

enum class Activation { identity, logistic, tanh, relu };
enum class OutputTransform { identity, relu, softplus, exp };
enum class Loss { squared_error, poisson, gamma, tweedie, quantile };
enum class Solver { sgd, adam };
// How sign-constrained parameters stay in place (see constraints.hpp).
enum class WeightMethod { none, projection, square, exp };
// Parameters [begin, end) of one layer's weights or biases, whose reparametrisation
// has this unit (see constraints.hpp).
struct ParameterBlock {
    std::int64_t begin, end;
    double unit;
};
// A training-time constraint prediction >= threshold (see constraints.hpp).
enum class OutputConstraint { none, penalty, lagrangian };

// Architecture and training objective of a dense network:
// layer_sizes = {n_features, hidden..., n_outputs}, per member of an in-model ensemble.
struct NetworkSpec {
    std::vector<std::int64_t> layer_sizes;
    // Members of the ensemble (see Layout): each has its own first layer and its own
    // output layer, and shares the layers between; the prediction is their mean.
    std::int64_t members = 1;
    Activation activation = Activation::relu;
    OutputTransform output_transform = OutputTransform::softplus;
    Loss loss = Loss::squared_error;
    double tweedie_power = 1.5;  // Loss::tweedie only
    // Loss::quantile: the level of each output, in (0, 1).
    std::vector<double> quantile_levels;
    // Outputs come in groups of this many consecutive outputs (the levels of one
    // target, rising): within a group each prediction is the one before plus g(z), the
    // first threshold + g(z), so that with a bounded g the predictions of a group
    // never decrease (quantiles never cross).
    std::int64_t outputs_per_group = 1;
    WeightMethod weight_method = WeightMethod::none;
    OutputConstraint output_constraint = OutputConstraint::none;
    double constraint_strength = 1.0;
    // Per output: the constraint asks for prediction >= threshold + margin, so that
    // predictions converging onto the boundary land on its feasible side.
    std::vector<double> constraint_margin;
};

// Raised between batches when the caller's interrupt poll asks to stop.
// The parameters are left as they were after the last complete update.
class Interrupted : public std::exception {
public:
    const char* what() const noexcept override { return "interrupted"; }
};

// Throws std::invalid_argument (a user error) unless `condition` holds.
inline void require(bool condition, const std::string& message) {
    if (!condition) throw std::invalid_argument(message);
}

}  // namespace pmlp
