// Dense network: parameter layout, forward pass, backward pass, and the full-data loss
// and gradient. Parameters are one packed vector: every layer's weights (fan_in x fan_out,
// row-major, as coefs_), then every layer's biases (as intercepts_).
#pragma once

#include <cstdint>
#include <vector>

#include "positive_mlp/blas.hpp"
#include "positive_mlp/interrupt.hpp"
#include "positive_mlp/types.hpp"

namespace pmlp {

class Layout {
public:
    explicit Layout(const NetworkSpec& spec);

    std::int64_t n_layers() const { return static_cast<std::int64_t>(sizes_.size()) - 1; }
    std::int64_t fan_in(std::int64_t layer) const { return sizes_[layer]; }
    std::int64_t fan_out(std::int64_t layer) const { return sizes_[layer + 1]; }
    std::int64_t n_inputs() const { return sizes_.front(); }
    std::int64_t n_outputs() const { return sizes_.back(); }
    std::int64_t weight_offset(std::int64_t layer) const { return weight_offsets_[layer]; }
    std::int64_t bias_offset(std::int64_t layer) const { return bias_offsets_[layer]; }
    std::int64_t n_weights() const { return n_weights_; }  // the L2-penalised block
    std::int64_t n_params() const { return n_params_; }
    const std::vector<std::int64_t>& sizes() const { return sizes_; }

private:
    std::vector<std::int64_t> sizes_, weight_offsets_, bias_offsets_;
    std::int64_t n_weights_ = 0, n_params_ = 0;
};

// Training data: X (n x n_inputs), Y (n x n_outputs), optional per-sample weights.
template <class T>
struct Dataset {
    ConstMatrix<T> X;
    ConstMatrix<T> Y;
    const T* sample_weight = nullptr;  // nullptr: every weight is 1
};

// Buffers for up to `capacity` rows, allocated once and reused for every batch.
template <class T>
struct Workspace {
    Workspace(const Layout& layout, std::int64_t capacity);

    std::int64_t capacity;
    std::vector<std::vector<T>> activations;  // [0]: gathered inputs; [L]: predictions
    std::vector<std::vector<T>> deltas;       // dLoss/dz per layer; [0] unused
    std::vector<T> output_z;                  // output pre-activations
    std::vector<T> targets, weights;          // gathered rows of Y and sample_weight
};

template <class T>
class Network {
public:
    // `threshold` holds one lower bound per output: prediction = threshold + g(z).
    Network(const NetworkSpec& spec, const Blas& blas, const T* threshold,
            std::int64_t threshold_size);

    const Layout& layout() const { return layout_; }

    // Predictions for `inputs` into ws.activations.back() (rows x n_outputs).
    void forward(const T* params, ConstMatrix<T> inputs, Workspace<T>& ws) const;

    // After forward on the same rows: the unnormalised gradient of
    // sum_i w_i sum_j loss(y_ij, p_ij) is written (accumulate=false) or added
    // (accumulate=true) to `grad`; returns that weighted loss sum.
    double backward(const T* params, ConstMatrix<T> inputs, ConstMatrix<T> targets,
                    const T* weights, Workspace<T>& ws, T* grad, bool accumulate) const;

    // Turns sums into the mean loss and its gradient, adding the L2 penalty
    // alpha / (2 * weight_sum) * ||W||^2 (scikit-learn's convention).
    double finalize(const T* params, double loss_sum, double weight_sum, double alpha,
                    T* grad) const;

    // Full-data loss and gradient, processed in chunks of rows.
    double loss_and_gradient(const T* params, const Dataset<T>& data, double alpha, T* grad,
                             InterruptCheck& interrupt) const;

    // Predictions for every row of X into `out` (n x n_outputs), in chunks of rows.
    void predict(const T* params, ConstMatrix<T> X, T* out, InterruptCheck& interrupt) const;

    // Throws std::invalid_argument when the shapes do not fit this network.
    void check_inputs(ConstMatrix<T> X, std::int64_t n_params) const;
    void check_dataset(const Dataset<T>& data, std::int64_t n_params) const;

private:
    NetworkSpec spec_;
    Layout layout_;
    Blas blas_;
    std::vector<T> threshold_;
};

// Rows per chunk for full-data passes: large enough for efficient GEMM, small enough that
// the buffers stay O(chunk x width) however many rows there are.
constexpr std::int64_t kChunkRows = 2048;

}  // namespace pmlp
