// Dense network: parameter layout, forward pass, backward pass, and the full-data loss
// and gradient. Parameters are one packed vector: every layer's weights (fan_in x fan_out,
// row-major, as coefs_), then every layer's biases (as intercepts_).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "positive_mlp/blas.hpp"
#include "positive_mlp/constraints.hpp"
#include "positive_mlp/inputs.hpp"
#include "positive_mlp/interrupt.hpp"
#include "positive_mlp/losses.hpp"
#include "positive_mlp/types.hpp"

namespace pmlp {

// An ensemble of `members` networks runs as one: the first layer's weights are
// fan_in x (members * fan_out), member m's columns [m * fan_out, (m + 1) * fan_out),
// so one product serves every member; from there a batch of `rows` rows is
// rows * members member-rows (row i, member m at i * members + m), which the shared
// middle layers take in one product; the output layer holds one fan_in x fan_out
// block per member (stacked rows). Biases follow their layer's weights.
class Layout {
public:
    explicit Layout(const NetworkSpec& spec);

    std::int64_t n_layers() const { return static_cast<std::int64_t>(sizes_.size()) - 1; }
    std::int64_t fan_in(std::int64_t layer) const { return sizes_[layer]; }
    std::int64_t fan_out(std::int64_t layer) const { return sizes_[layer + 1]; }
    std::int64_t n_inputs() const { return sizes_.front(); }
    std::int64_t n_outputs() const { return sizes_.back(); }
    std::int64_t members() const { return members_; }
    // Whether each member has its own copy of the layer (the first and the last).
    bool per_member(std::int64_t layer) const { return layer == 0 || layer == n_layers() - 1; }
    std::int64_t copies(std::int64_t layer) const { return per_member(layer) ? members_ : 1; }
    std::int64_t weight_count(std::int64_t layer) const {
        return copies(layer) * fan_in(layer) * fan_out(layer);
    }
    std::int64_t bias_count(std::int64_t layer) const {
        return copies(layer) * fan_out(layer);
    }
    std::int64_t weight_offset(std::int64_t layer) const { return weight_offsets_[layer]; }
    std::int64_t bias_offset(std::int64_t layer) const { return bias_offsets_[layer]; }
    std::int64_t n_weights() const { return n_weights_; }  // the L2-penalised block
    std::int64_t n_params() const { return n_params_; }
    const std::vector<std::int64_t>& sizes() const { return sizes_; }
    // The reparametrisation unit of a layer's weights and biases (constraints.hpp).
    double unit(std::int64_t layer) const;
    std::vector<ParameterBlock> blocks() const;

private:
    std::vector<std::int64_t> sizes_, weight_offsets_, bias_offsets_;
    std::int64_t members_ = 1;
    std::int64_t n_weights_ = 0, n_params_ = 0;
};

// Training data: X (n x n_inputs, dense or CSR), Y (n x n_targets: one column per
// group of outputs, which every output of the group reads), optional per-sample weights.
template <class T>
struct Dataset {
    Inputs<T> X;
    ConstMatrix<T> Y;
    const T* sample_weight = nullptr;  // nullptr: every weight is 1

    // Rows [start, start + count), as views.
    Dataset rows(std::int64_t start, std::int64_t count) const {
        return Dataset{X.slice(start, count), ConstMatrix<T>{Y.row(start), count, Y.cols},
                       sample_weight ? sample_weight + start : nullptr};
    }
};

// Weighted sums over rows of the loss and of the output-constraint term.
struct LossSums {
    double loss = 0.0;
    double constraint = 0.0;

    double total() const { return loss + constraint; }

    LossSums& operator+=(const LossSums& other) {
        loss += other.loss;
        constraint += other.constraint;
        return *this;
    }
};

// Throws std::logic_error, before anything is written, when `rows` rows do not fit
// buffers of `capacity` rows: a guard against a caller's sizing error, which would
// otherwise overwrite memory.
inline void check_capacity(std::int64_t capacity, std::int64_t rows) {
    if (rows > capacity)
        throw std::logic_error("internal error: " + std::to_string(rows) +
                               " rows passed to buffers sized for " +
                               std::to_string(capacity));
}

// What a workspace is for: forward passes only (predictions and loss: no hidden
// layer's deltas), or training.
enum class Passes { forward, forward_and_backward };

// Buffers for up to `capacity` rows, allocated once and reused for every batch.
template <class T>
struct Workspace {
    Workspace(const Layout& layout, std::int64_t capacity,
              Passes passes = Passes::forward_and_backward);

    // Whether it holds `capacity` rows of `layout` for `passes`.
    bool serves(const Layout& layout, std::int64_t rows, Passes passes) const;
    // Bytes its buffers hold.
    std::size_t bytes() const;

    std::int64_t capacity;
    // Per member-row (see Layout):
    std::vector<std::vector<T>> activations;  // [l]: layer l's output; [L]: predictions
    std::vector<std::vector<T>> deltas;       // dLoss/dz per layer; [0] unused
    std::vector<T> output_z;                  // output pre-activations
    std::vector<T> effective;                 // reparametrised weights (when used)

private:
    std::vector<std::int64_t> sizes_;  // the layout's layer sizes and members
    Passes passes_;
};

// One workspace per thread of a full-data pass, taken from those earlier passes left
// (process-wide, up to a total size) or allocated, and left for later passes when the
// pass ends: allocating, zeroing and faulting in a chunk's megabytes for every call
// took a third of predicting 1,000 rows.
template <class T>
class PassWorkspaces {
public:
    PassWorkspaces(const Layout& layout, std::int64_t rows, int threads, Passes passes);
    ~PassWorkspaces();
    PassWorkspaces(const PassWorkspaces&) = delete;
    PassWorkspaces& operator=(const PassWorkspaces&) = delete;

    Workspace<T>& operator[](int thread) { return workspaces_[thread]; }

private:
    std::vector<Workspace<T>> workspaces_;
};

// How a full-data pass over n rows (loss_and_gradient, loss, predict,
// update_multipliers) is shared out: up to n_threads threads, each taking at least
// kMinPassWorkPerThread rows x parameters, and chunks of near-equal size, at most
// chunk_rows(layout) rows, whatever the thread count.
struct PassPlan {
    int threads;
    std::int64_t per_chunk;
};
PassPlan plan_pass(std::int64_t n, const Layout& layout, int n_threads);

// Least work (rows x parameters) a thread of a full-data pass takes.
constexpr std::int64_t kMinPassWorkPerThread = std::int64_t{1} << 20;

// Least work (multiply-adds) of a block of a layer's columns, the grain of its
// columns, and the most blocks: a block costs the pool's dispatch (about a
// microsecond), and 2^16 multiply-adds take about two at the BLAS's single-core rate.
constexpr std::int64_t kMinColumnWorkPerThread = std::int64_t{1} << 16;
constexpr std::int64_t kColumnBlock = 8;
constexpr int kMaxColumnParts = 4;

// Parameters come in as the optimiser sees them ("free"); with a reparametrising
// WeightMethod the layers use sign * p^2 or sign * exp(p) instead.
template <class T>
class Network {
public:
    // `threshold` holds one lower bound per output: prediction = threshold + g(z).
    // `signs` (nullable) holds one sign constraint per parameter (see constraints.hpp).
    Network(const NetworkSpec& spec, const Blas& blas, const T* threshold,
            std::int64_t threshold_size, const std::int8_t* signs, std::int64_t n_signs);

    const Layout& layout() const { return layout_; }
    const NetworkSpec& spec() const { return spec_; }
    // The columns of y: one per group of outputs_per_group outputs (output
    // t * outputs_per_group + k, target t's level k, reads column t).
    std::int64_t n_targets() const { return layout_.n_outputs() / spec_.outputs_per_group; }
    bool reparametrises() const { return constraints_.reparametrises(); }
    bool has_multipliers() const {
        return spec_.output_constraint == OutputConstraint::lagrangian;
    }

    // The weights the layers use: `params` itself, or its reparametrisation in ws.
    const T* effective_params(const T* params, Workspace<T>& ws) const;
    void effective_params(const T* params, T* out) const;
    void effective_params(const T* params, T* out, std::int64_t begin,
                          std::int64_t end) const;  // parameters [begin, end) only

    // Each member's predictions for `inputs` into ws.activations.back() (rows x
    // members member-rows of n_outputs), with the effective weights.
    void forward(const T* weights, const Inputs<T>& inputs, Workspace<T>& ws) const;

    // Row i's prediction for output j after forward: the members' mean, and at least
    // their least, which keeps it >= the threshold and a group's levels uncrossed
    // whatever the rounding of the mean.
    T prediction(const Workspace<T>& ws, std::int64_t i, std::int64_t j) const;

    // After forward on the same rows: the unnormalised gradient (with respect to the
    // effective weights) of sum_i w_i sum_j [loss(y_ij, p_ij) + constraint term] is
    // written (accumulate=false) or added (accumulate=true) to `grad`; returns the two
    // weighted sums. `targets` is rows x n_targets; `multipliers` (rows x n_outputs) is
    // needed for 'lagrangian'.
    LossSums backward(const T* weights, const Inputs<T>& inputs, ConstMatrix<T> targets,
                      const T* sample_weight, const T* multipliers, Workspace<T>& ws, T* grad,
                      bool accumulate) const;

    // Turns sums into the mean loss and its gradient with respect to the free
    // parameters, adding the L2 penalty alpha / (2 * weight_sum) * ||W||^2 on the
    // effective weights (scikit-learn's convention). Returns the mean loss with the L2
    // penalty, and the mean constraint term apart.
    LossSums finalize(const T* params, const T* weights, LossSums sums, double weight_sum,
                      double alpha, T* grad) const;
    // finalize's gradient part for parameters [begin, end), which threads can share out;
    // returns those parameters' share of ||W||^2 for mean_loss.
    double finalize_range(const T* params, const T* weights, double weight_sum, double alpha,
                          T* grad, std::int64_t begin, std::int64_t end) const;

    // Multiplies the gradient of the members' own parameters (weights and biases of the
    // first and last layers) among [begin, end) by the number of members. The mean
    // objective gives each member 1 / members of its own loss's gradient: SGD's step
    // (unlike Adam's) scales with it, so its members would learn members times slower
    // than one network. No-op with one member.
    void undo_member_share(T* grad, std::int64_t begin, std::int64_t end) const;

    // sum of w^2 over the weights among [begin, end), a member's own ones weighted
    // 1 / members (the L2 penalty's share of each weight; see finalize_range).
    double penalised_squares(const T* weights, std::int64_t begin, std::int64_t end) const;

    // Keeps projected parameters [begin, end) on their half-lines (after every update).
    void project(T* params, std::int64_t begin, std::int64_t end) const {
        constraints_.project(params, begin, end);
    }

    // Dual ascent on the multipliers of the rows whose predictions are in ws.
    void ascend_multipliers(std::int64_t rows, const Workspace<T>& ws, T* multipliers) const;

    // How many of the predictions in ws fall below their threshold.
    std::int64_t count_below_threshold(std::int64_t rows, const Workspace<T>& ws) const;

    // The full-data objective alone (forward passes only), as loss_and_gradient.
    double loss(const T* params, const Dataset<T>& data, const T* multipliers, double alpha,
                InterruptCheck& interrupt, int n_threads = 1) const;

    // Full-data objective (loss, L2 penalty and constraint term) and its gradient,
    // processed in chunks of rows; `multipliers` (n x n_outputs, fixed here) is needed
    // for 'lagrangian'.
    double loss_and_gradient(const T* params, const Dataset<T>& data, const T* multipliers,
                             double alpha, T* grad, InterruptCheck& interrupt,
                             int n_threads = 1) const;

    // Predictions for every row of X into `out` (n x n_outputs), in chunks of rows.
    // Finite for finite inputs and parameters: a row whose pass overflows T (inputs
    // around 1e300, or 1e30 in float32, times the weights) is computed again in long
    // double, whose wider exponent holds such products, and its predictions saturate
    // at T's largest finite value (or the threshold) with the sign the network gives.
    void predict(const T* params, const Inputs<T>& X, T* out, InterruptCheck& interrupt,
                 int n_threads = 1) const;
    // Threads predict takes for n rows (sparse or dense) when offered n_threads: those
    // of plan_pass's row chunks, or for one chunk as many as its layers' column blocks.
    int predict_threads(std::int64_t n, bool sparse, int n_threads) const;

    // One ascent step for every multiplier (n x n_outputs) at the current parameters;
    // returns how many predictions were below their threshold.
    std::int64_t update_multipliers(const T* params, const Inputs<T>& X, T* multipliers,
                                    InterruptCheck& interrupt, int n_threads = 1) const;

    // Throws std::invalid_argument when the shapes do not fit this network, or a CSR
    // matrix's structure is malformed.
    void check_inputs(const Inputs<T>& X, std::int64_t n_params) const;
    void check_dataset(const Dataset<T>& data, std::int64_t n_params,
                       const T* multipliers) const;

private:
    // Columns [begin, end) of layer l's output, activated, for every row of `inputs`
    // from the previous layer's output in ws (the whole layer: 0 and layer_width(l)).
    // Only layers that splits_columns take part of theirs.
    void forward_layer(const T* weights, const Inputs<T>& inputs, Workspace<T>& ws,
                       std::int64_t l, std::int64_t begin, std::int64_t end) const;
    // Columns of a row of layer l's output: its members' outputs side by side for the
    // first and last layers, one member-row's for the shared ones.
    std::int64_t layer_width(std::int64_t l) const;
    // Whether layer l can be computed a range of columns at a time: the first on dense
    // inputs, and the shared middle layers (the last is one product per member).
    bool splits_columns(std::int64_t l, bool sparse) const;
    // Blocks of columns layer l is computed in for a one-chunk prediction of `rows`
    // rows: a power of two, each of at least kMinColumnWorkPerThread multiply-adds, at
    // most kMaxColumnParts; whatever the threads, so that the bits do not depend on them.
    int column_parts(std::int64_t l, std::int64_t rows, bool sparse) const;
    // The most blocks a layer of a prediction of n rows is computed in: 1 where the
    // rows make several chunks, or no layer is worth splitting.
    int most_column_parts(std::int64_t n, bool sparse) const;
    // Predictions from the output layer's pre-activations in ws, after every layer.
    void transform_outputs(Workspace<T>& ws, std::int64_t rows) const;
    // predict for one chunk of rows, its layers shared out by columns.
    void predict_by_columns(const T* params, const Inputs<T>& X, T* out,
                            InterruptCheck& interrupt, int n_threads) const;
    // The predictions of the rows in ws (after forward) into out (rows x n_outputs),
    // overflowed rows computed again in long double.
    void write_predictions(const T* weights, const Inputs<T>& rows, Workspace<T>& ws,
                           T* out) const;
    // Row r of X's predictions computed in long double, into pred (n_outputs),
    // saturated to T's finite range: for rows whose pass in T overflowed (see predict).
    void predict_row_extended(const T* weights, const Inputs<T>& X, std::int64_t r,
                              T* pred) const;
    // loss_and_gradient (grad given) or loss (grad nullptr: forward passes only).
    double objective(const T* params, const Dataset<T>& data, const T* multipliers,
                     double alpha, T* grad, InterruptCheck& interrupt, int n_threads) const;
    // After forward on the same rows: the weighted loss and constraint sums, and
    // dObjective/dz of the output layer into ws.deltas.back().
    LossSums output_deltas(ConstMatrix<T> targets, const T* sample_weight,
                           const T* multipliers, Workspace<T>& ws) const;
    // f(first, last) for the members' own weights among [begin, end), if members > 1.
    template <class F>
    void for_own_weights(std::int64_t begin, std::int64_t end, F&& f) const;
    // The sum of the sample weights (n without them); throws when it is not > 0.
    double total_weight(const Dataset<T>& data) const;
    // One chunk-sized workspace per thread of a full-data pass.
    PassWorkspaces<T> chunk_workspaces(PassPlan plan, Passes passes) const;

    NetworkSpec spec_;
    Layout layout_;
    Blas blas_;
    ElementLoss<T> loss_;
    std::vector<T> threshold_;
    std::vector<T> constraint_threshold_;  // threshold + margin
    SignConstraints constraints_;
};

// The mean loss with its L2 penalty (alpha / 2 * ||W||^2), and the mean constraint term,
// from weighted sums over rows.
LossSums mean_loss(LossSums sums, double squared_weights, double weight_sum, double alpha);

// Rows per chunk of the full-data passes (loss_and_gradient, loss, predict,
// update_multipliers), which spread their chunks over up to n_threads threads. Their
// buffers are allocated for each call, and megabytes of fresh memory cost page faults on
// every call: with 2048-row chunks a (64, 64) network predicted 1024 rows in 2.5 ms, with
// 512-row chunks in 0.4 ms, and large sets no slower. Buffers stay O(chunk x width)
// however many rows there are.
constexpr std::int64_t kChunkRows = 512;

// Rows per chunk of a network: kChunkRows member-rows, so that a chunk's work, and the
// wait for Ctrl-C between chunks, do not grow with the members of an ensemble.
inline std::int64_t chunk_rows(const Layout& layout) {
    return std::max<std::int64_t>(1, kChunkRows / layout.members());
}

}  // namespace pmlp
