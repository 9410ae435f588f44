#include "positive_mlp/network.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <mutex>
#include <numeric>
#include <string>
#include <utility>

#include "positive_mlp/activations.hpp"
#include "positive_mlp/float_mode.hpp"
#include "positive_mlp/losses.hpp"
#include "positive_mlp/output_transforms.hpp"
#include "positive_mlp/parallel.hpp"

namespace pmlp {

namespace {

// Which thread takes which chunk: fixed (thread t takes chunks t, t + threads, ...),
// so that a pass summing per thread (loss, gradient) adds in the same order on every
// run, or the next chunk to whichever thread is free, for passes whose chunks write
// their own rows only (predict): the threads then finish together.
enum class ChunkOrder { fixed, first_free };

// Calls chunk(thread, start, rows) for every chunk of `per_chunk` rows of n, in the
// given order; thread 0 polls the interrupt, and the others stop at their next chunk
// once it fires.
template <class ChunkFn>
void for_each_chunk(std::int64_t n, PassPlan plan, InterruptCheck& interrupt, ChunkFn&& chunk,
                    ChunkOrder order = ChunkOrder::fixed) {
    const std::int64_t per_chunk = plan.per_chunk;
    const int threads = plan.threads;
    const std::int64_t n_chunks = (n + per_chunk - 1) / per_chunk;
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> next{0};
    auto work = [&](int t) {
        const bool fixed = order == ChunkOrder::fixed;
        for (std::int64_t c = fixed ? t : next.fetch_add(1); c < n_chunks;
             c = fixed ? c + threads : next.fetch_add(1)) {
            if (t == 0) {
                try {
                    interrupt.check();
                } catch (...) {
                    stop.store(true);
                    throw;
                }
            } else if (stop.load()) {
                return;
            }
            const std::int64_t start = c * per_chunk;
            chunk(t, start, std::min(per_chunk, n - start));
        }
    };
    if (threads <= 1) return work(0);
    PoolLease pool(threads);
    pool->run(threads, work);
}

template <class T>
bool is_finite(T v) {
    return std::isfinite(v);
}

}  // namespace

PassPlan plan_pass(std::int64_t n, const Layout& layout, int n_threads) {
    const std::int64_t full = std::max<std::int64_t>(std::min(n, chunk_rows(layout)), 1);
    std::int64_t n_chunks = (n + full - 1) / full;
    const std::int64_t units = n * layout.n_params() / kMinPassWorkPerThread;
    // The chunks do not depend on the thread count, so that a model predicts the same
    // bits on any machine (a product's rounding may depend on its rows): an even number
    // of them, for two threads, once two could share the pass.
    if (units >= 2) n_chunks = std::min(n_chunks + n_chunks % 2, std::max<std::int64_t>(n, 1));
    const std::int64_t per_chunk = (n + n_chunks - 1) / n_chunks;
    const std::int64_t chunks = (n + per_chunk - 1) / per_chunk;
    const int threads = static_cast<int>(std::clamp<std::int64_t>(
        units, 1, std::min<std::int64_t>(std::max(n_threads, 1), chunks)));
    return {threads, per_chunk};
}

namespace {

// sum x_i^2 in double, in kLanes independent partial sums: a single running sum is a
// chain of dependent additions that cannot vectorise (strict floating-point order).
template <class T>
double sum_of_squares(const T* x, std::int64_t n) {
    constexpr int kLanes = 8;
    double partial[kLanes] = {};
    std::int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int lane = 0; lane < kLanes; ++lane)
            partial[lane] += static_cast<double>(x[i + lane]) * x[i + lane];
    double total = 0.0;
    for (; i < n; ++i) total += static_cast<double>(x[i]) * x[i];
    for (double p : partial) total += p;
    return total;
}

}  // namespace

Layout::Layout(const NetworkSpec& spec) : sizes_(spec.layer_sizes), members_(spec.members) {
    require(sizes_.size() >= 2, "a network needs at least an input and an output layer");
    for (std::int64_t size : sizes_) require(size >= 1, "every layer needs at least one unit");
    require(members_ >= 1, "an ensemble needs at least one member");
    for (std::int64_t l = 0; l < n_layers(); ++l) {
        weight_offsets_.push_back(n_weights_);
        n_weights_ += weight_count(l);
    }
    n_params_ = n_weights_;
    for (std::int64_t l = 0; l < n_layers(); ++l) {
        bias_offsets_.push_back(n_params_);
        n_params_ += bias_count(l);
    }
}

// 1 / sqrt(fan-in), the scale of a Glorot-uniform weight. (Measured on scikit-learn's
// regression check: 1 / fan-in, the mean of a constrained weight's start, learned
// faster at the default learning rate but made 'exp' collapse to the constant model
// at learning rate 0.1; this unit learned at every rate from 1e-3 to 0.1.)
double Layout::unit(std::int64_t layer) const {
    return 1.0 / std::sqrt(static_cast<double>(fan_in(layer)));
}

// The weights, then the biases, of each layer, in the parameters' order.
std::vector<ParameterBlock> Layout::blocks() const {
    std::vector<ParameterBlock> blocks;
    for (std::int64_t l = 0; l < n_layers(); ++l)
        blocks.push_back({weight_offset(l), weight_offset(l) + weight_count(l), unit(l)});
    for (std::int64_t l = 0; l < n_layers(); ++l)
        blocks.push_back({bias_offset(l), bias_offset(l) + bias_count(l), unit(l)});
    return blocks;
}

namespace {

SignConstraints checked_constraints(const Layout& layout, WeightMethod method,
                                    const std::int8_t* signs, std::int64_t n_signs) {
    require(!signs || n_signs == layout.n_params(),
            "expected one sign per parameter (" + std::to_string(layout.n_params()) +
                "), got " + std::to_string(n_signs));
    return SignConstraints(method, signs, n_signs, layout.blocks());
}

}  // namespace

template <class T>
Workspace<T>::Workspace(const Layout& layout, std::int64_t capacity_rows, Passes passes)
    : capacity(capacity_rows), sizes_(layout.sizes()), passes_(passes) {
    sizes_.push_back(layout.members());
    const std::int64_t L = layout.n_layers(), member_rows = capacity * layout.members();
    activations.resize(L + 1);
    deltas.resize(L + 1);
    for (std::int64_t l = 1; l <= L; ++l) {
        activations[l].resize(member_rows * layout.sizes()[l]);
        if (passes == Passes::forward_and_backward || l == L)
            deltas[l].resize(member_rows * layout.sizes()[l]);
    }
    output_z.resize(member_rows * layout.n_outputs());
}

template <class T>
Network<T>::Network(const NetworkSpec& spec, const Blas& blas, const T* threshold,
                    std::int64_t threshold_size, const std::int8_t* signs,
                    std::int64_t n_signs)
    : spec_(spec),
      layout_(spec),
      blas_(blas),
      loss_(ElementLoss<T>::make(spec)),
      constraints_(checked_constraints(layout_, spec.weight_method, signs, n_signs)) {
    require(threshold_size == layout_.n_outputs(),
            "expected one threshold per output (" + std::to_string(layout_.n_outputs()) +
                "), got " + std::to_string(threshold_size));
    require(spec.constraint_strength > 0.0, "constraint_strength must be > 0");
    require(
        spec.loss != Loss::tweedie || spec.tweedie_power == 0.0 || spec.tweedie_power >= 1.0,
        "the Tweedie power must be 0 or >= 1");
    require(spec.loss != Loss::quantile ||
                static_cast<std::int64_t>(spec.quantile_levels.size()) == threshold_size,
            "expected one quantile level per output");
    for (double level : spec.quantile_levels)
        require(level > 0.0 && level < 1.0, "quantile levels must lie in (0, 1)");
    require(spec.outputs_per_group >= 1 && threshold_size % spec.outputs_per_group == 0,
            "the outputs must split into groups of outputs_per_group");
    require(spec.constraint_margin.empty() ||
                static_cast<std::int64_t>(spec.constraint_margin.size()) == threshold_size,
            "expected one constraint margin per output");
    threshold_.assign(threshold, threshold + threshold_size);
    constraint_threshold_ = threshold_;
    for (std::size_t j = 0; j < spec.constraint_margin.size(); ++j)
        constraint_threshold_[j] += static_cast<T>(spec.constraint_margin[j]);
}

template <class T>
void Network<T>::effective_params(const T* params, T* out) const {
    const CoreFloatMode float_mode;
    effective_params(params, out, 0, layout_.n_params());
}

template <class T>
void Network<T>::effective_params(const T* params, T* out, std::int64_t begin,
                                  std::int64_t end) const {
    if (constraints_.reparametrises())
        constraints_.effective(params, out, begin, end);
    else
        std::copy(params + begin, params + end, out + begin);
}

template <class T>
const T* Network<T>::effective_params(const T* params, Workspace<T>& ws) const {
    if (!constraints_.reparametrises()) return params;
    ws.effective.resize(layout_.n_params());
    effective_params(params, ws.effective.data());
    return ws.effective.data();
}

template <class T>
void Network<T>::forward(const T* weights, const Inputs<T>& inputs, Workspace<T>& ws) const {
    check_capacity(ws.capacity, inputs.rows);
    for (std::int64_t l = 0; l < layout_.n_layers(); ++l)
        forward_layer(weights, inputs, ws, l, 0, layer_width(l));
    transform_outputs(ws, inputs.rows);
}

template <class T>
std::int64_t Network<T>::layer_width(std::int64_t l) const {
    return layout_.copies(l) * layout_.fan_out(l);
}

template <class T>
void Network<T>::forward_layer(const T* weights, const Inputs<T>& inputs, Workspace<T>& ws,
                               std::int64_t l, std::int64_t begin, std::int64_t end) const {
    const std::int64_t rows = inputs.rows, M = layout_.members();
    const std::int64_t n_in = layout_.fan_in(l), n_out = layout_.fan_out(l);
    const std::int64_t width = layer_width(l), cols = end - begin;
    const bool is_output = l == layout_.n_layers() - 1, whole = begin == 0 && end == width;
    require(whole || splits_columns(l, inputs.sparse), "this layer is computed whole");
    T* z = is_output ? ws.output_z.data() : ws.activations[l + 1].data();
    const T* a_prev = l == 0 ? nullptr : ws.activations[l].data();
    const T* w = weights + layout_.weight_offset(l);
    if (l == 0 && whole)
        multiply_inputs(blas_, inputs, w, width, z);
    else if (l == 0)  // dense rows times columns [begin, end) of the weights
        gemm<T>(blas_, Trans::no, Trans::no, rows, cols, n_in, T(1), inputs.dense.data,
                inputs.dense.stride, w + begin, width, T(0), z + begin, width);
    else if (layout_.per_member(l))  // member m's rows of a_prev times its block
        for (std::int64_t m = 0; m < M; ++m)
            gemm<T>(blas_, Trans::no, Trans::no, rows, n_out, n_in, T(1), a_prev + m * n_in,
                    M * n_in, w + m * n_in * n_out, n_out, T(0), z + m * n_out, M * n_out);
    else
        gemm<T>(blas_, Trans::no, Trans::no, rows * M, cols, n_in, T(1), a_prev, n_in,
                w + begin, n_out, T(0), z + begin, n_out);
    // A per-member layer's biases run along rows of M * n_out, a shared one's along
    // member-rows of n_out: either way one bias per column of z's rows of `width`.
    const Activation activation = is_output ? Activation::identity : spec_.activation;
    const T* bias = weights + layout_.bias_offset(l);
    const std::int64_t bias_rows = rows * M / layout_.copies(l);
    if (whole) return add_bias_and_activate(activation, z, bias, bias_rows, width);
    for (std::int64_t r = 0; r < bias_rows; ++r)
        add_bias_and_activate(activation, z + r * width + begin, bias + begin, 1, cols);
}

template <class T>
void Network<T>::transform_outputs(Workspace<T>& ws, std::int64_t rows) const {
    const std::int64_t k = layout_.n_outputs(), group = spec_.outputs_per_group;
    T* pred = ws.activations[layout_.n_layers()].data();
    for (std::int64_t i = 0; i < rows * layout_.members(); ++i)
        for (std::int64_t j = 0; j < k; ++j) {
            const T base = j % group == 0 ? threshold_[j] : pred[i * k + j - 1];
            pred[i * k + j] = base + transform(spec_.output_transform, ws.output_z[i * k + j]);
        }
}

template <class T>
bool Network<T>::splits_columns(std::int64_t l, bool sparse) const {
    return l == 0 ? !sparse : !layout_.per_member(l);
}

template <class T>
int Network<T>::column_parts(std::int64_t l, std::int64_t rows, bool sparse) const {
    if (!splits_columns(l, sparse)) return 1;
    const std::int64_t product_rows = rows * layout_.members() / layout_.copies(l);
    const std::int64_t work = product_rows * layout_.fan_in(l) * layer_width(l);
    const std::int64_t most = std::min<std::int64_t>(
        {work / kMinColumnWorkPerThread, layer_width(l) / kColumnBlock, kMaxColumnParts});
    int parts = 1;
    while (parts * 2 <= most) parts *= 2;
    return parts;
}

template <class T>
int Network<T>::most_column_parts(std::int64_t n, bool sparse) const {
    if (plan_pass(n, layout_, 1).per_chunk < n) return 1;  // several chunks of rows
    int parts = 1;
    for (std::int64_t l = 0; l < layout_.n_layers(); ++l)
        parts = std::max(parts, column_parts(l, n, sparse));
    return parts;
}

template <class T>
int Network<T>::predict_threads(std::int64_t n, bool sparse, int n_threads) const {
    const int parts = most_column_parts(n, sparse);
    if (parts > 1) return std::min(parts, std::max(n_threads, 1));
    return plan_pass(n, layout_, n_threads).threads;
}

template <class T>
T Network<T>::prediction(const Workspace<T>& ws, std::int64_t i, std::int64_t j) const {
    const std::int64_t M = layout_.members(), k = layout_.n_outputs();
    const T* member = ws.activations.back().data() + i * M * k + j;
    if (M == 1) return member[0];
    // A sum of shares: a sum of members near T's largest value would overflow.
    T mean = 0, least = member[0];
    for (std::int64_t m = 0; m < M; ++m) {
        mean += member[m * k] / static_cast<T>(M);
        least = std::min(least, member[m * k]);
    }
    return std::max(mean, least);
}

template <class T>
LossSums Network<T>::output_deltas(ConstMatrix<T> targets, const T* sample_weight,
                                   const T* multipliers, Workspace<T>& ws) const {
    const std::int64_t L = layout_.n_layers(), k = layout_.n_outputs(), M = layout_.members();
    const std::int64_t group = spec_.outputs_per_group;
    const T* pred = ws.activations[L].data();
    T* delta = ws.deltas[L].data();
    LossSums sums;
    // The objective is the mean of the members' losses: member-row i is row i / M.
    const T member_share = T(1) / static_cast<T>(M);
    for (std::int64_t i = 0; i < targets.rows * M; ++i) {
        const std::int64_t row = i / M;
        const T w = (sample_weight ? sample_weight[row] : T(1)) * member_share;
        const T* y = targets.row(row);
        double row_loss = 0.0, row_constraint = 0.0;
        for (std::int64_t j = 0; j < k; ++j) {
            const T p = pred[i * k + j], target = y[j / group];  // every level, one target
            const auto term = output_constraint_term(
                spec_.output_constraint, spec_.constraint_strength, constraint_threshold_[j],
                p, multipliers ? multipliers[row * k + j] : T(0));
            row_loss += loss_.value(j, target, p);
            row_constraint += term.value;
            const T dloss = loss_.derivative(j, target, p) + static_cast<T>(term.derivative);
            delta[i * k + j] = w * dloss;
        }
        // Output j of a group moves the predictions j, j + 1, ... of its group.
        if (group > 1)
            for (std::int64_t j = k - 2; j >= 0; --j)
                if ((j + 1) % group != 0) delta[i * k + j] += delta[i * k + j + 1];
        for (std::int64_t j = 0; j < k; ++j)
            delta[i * k + j] *=
                transform_derivative(spec_.output_transform, ws.output_z[i * k + j]);
        sums.loss += static_cast<double>(w) * row_loss;
        sums.constraint += static_cast<double>(w) * row_constraint;
    }
    return sums;
}

template <class T>
LossSums Network<T>::backward(const T* params, const Inputs<T>& inputs, ConstMatrix<T> targets,
                              const T* sample_weight, const T* multipliers, Workspace<T>& ws,
                              T* grad, bool accumulate) const {
    check_capacity(ws.capacity, inputs.rows);
    const LossSums sums = output_deltas(targets, sample_weight, multipliers, ws);
    const std::int64_t rows = inputs.rows, L = layout_.n_layers(), M = layout_.members();
    const T beta = accumulate ? T(1) : T(0);
    for (std::int64_t l = L - 1; l >= 0; --l) {
        const std::int64_t n_in = layout_.fan_in(l), n_out = layout_.fan_out(l);
        const T* d = ws.deltas[l + 1].data();
        const T* w = params + layout_.weight_offset(l);
        const T* a = ws.activations[l].data();
        T* grad_w = grad + layout_.weight_offset(l);
        const bool own = layout_.per_member(l);
        if (l == 0)
            multiply_inputs_transposed(blas_, inputs, d, M * n_out, grad_w, accumulate);
        else if (own)
            for (std::int64_t m = 0; m < M; ++m)
                gemm<T>(blas_, Trans::yes, Trans::no, n_in, n_out, rows, T(1), a + m * n_in,
                        M * n_in, d + m * n_out, M * n_out, beta, grad_w + m * n_in * n_out,
                        n_out);
        else
            gemm<T>(blas_, Trans::yes, Trans::no, n_in, n_out, rows * M, T(1), a, n_in, d,
                    n_out, beta, grad_w, n_out);
        // As in forward: rows of copies * n_out deltas.
        const std::int64_t bias_rows = rows * M / layout_.copies(l);
        const std::int64_t n_bias = layout_.bias_count(l);
        T* grad_bias = grad + layout_.bias_offset(l);
        if (!accumulate) std::fill(grad_bias, grad_bias + n_bias, T(0));
        for (std::int64_t i = 0; i < bias_rows; ++i)
            for (std::int64_t j = 0; j < n_bias; ++j) grad_bias[j] += d[i * n_bias + j];
        if (l == 0) break;
        T* d_prev = ws.deltas[l].data();
        if (own)
            for (std::int64_t m = 0; m < M; ++m)
                gemm<T>(blas_, Trans::no, Trans::yes, rows, n_in, n_out, T(1), d + m * n_out,
                        M * n_out, w + m * n_in * n_out, n_out, T(0), d_prev + m * n_in,
                        M * n_in);
        else
            gemm<T>(blas_, Trans::no, Trans::yes, rows * M, n_in, n_out, T(1), d, n_out, w,
                    n_out, T(0), d_prev, n_in);
        multiply_by_derivative(spec_.activation, a, d_prev, rows * M * n_in);
    }
    return sums;
}

// The objective is the mean of the members' objectives, each with its own L2 penalty:
// a shared weight counts once, a member's own weight 1 / members times (else a
// member's weights would decay members times faster than alone, against a loss
// gradient scaled by 1 / members).
template <class T>
template <class F>
void Network<T>::for_own_weights(std::int64_t begin, std::int64_t end, F&& f) const {
    if (layout_.members() == 1) return;
    for (std::int64_t l = 0; l < layout_.n_layers(); ++l) {
        if (!layout_.per_member(l)) continue;
        const std::int64_t first = std::max(begin, layout_.weight_offset(l));
        const std::int64_t last =
            std::min(end, layout_.weight_offset(l) + layout_.weight_count(l));
        if (first < last) f(first, last);
    }
}

template <class T>
void Network<T>::undo_member_share(T* grad, std::int64_t begin, std::int64_t end) const {
    if (layout_.members() == 1) return;
    const T members = static_cast<T>(layout_.members());
    for (std::int64_t l = 0; l < layout_.n_layers(); ++l) {
        if (!layout_.per_member(l)) continue;
        const std::pair<std::int64_t, std::int64_t> blocks[] = {
            {layout_.weight_offset(l), layout_.weight_count(l)},
            {layout_.bias_offset(l), layout_.bias_count(l)}};
        for (const auto& [offset, count] : blocks) {
            const std::int64_t first = std::max(begin, offset);
            const std::int64_t last = std::min(end, offset + count);
            for (std::int64_t i = first; i < last; ++i) grad[i] *= members;
        }
    }
}

template <class T>
double Network<T>::penalised_squares(const T* weights, std::int64_t begin,
                                     std::int64_t end) const {
    const std::int64_t weights_end = std::min(end, layout_.n_weights());
    double total =
        sum_of_squares(weights + begin, std::max<std::int64_t>(weights_end - begin, 0));
    const double dropped = 1.0 - 1.0 / static_cast<double>(layout_.members());
    for_own_weights(begin, weights_end, [&](std::int64_t first, std::int64_t last) {
        total -= dropped * sum_of_squares(weights + first, last - first);
    });
    return total;
}

template <class T>
double Network<T>::finalize_range(const T* params, const T* weights, double weight_sum,
                                  double alpha, T* grad, std::int64_t begin,
                                  std::int64_t end) const {
    const T scale = static_cast<T>(1.0 / weight_sum);
    const T decay = static_cast<T>(alpha / weight_sum);
    const std::int64_t weights_end = std::min(end, layout_.n_weights());
    for (std::int64_t i = begin; i < weights_end; ++i)
        grad[i] = grad[i] * scale + decay * weights[i];
    const T own_decay = static_cast<T>(alpha / weight_sum / layout_.members());
    for_own_weights(begin, weights_end, [&](std::int64_t first, std::int64_t last) {
        for (std::int64_t i = first; i < last; ++i)
            grad[i] += (own_decay - decay) * weights[i];
    });
    for (std::int64_t i = std::max(begin, layout_.n_weights()); i < end; ++i) grad[i] *= scale;
    if (constraints_.reparametrises()) constraints_.chain_rule(params, grad, begin, end);
    return penalised_squares(weights, begin, end);
}

LossSums mean_loss(LossSums sums, double squared_weights, double weight_sum, double alpha) {
    return LossSums{(sums.loss + 0.5 * alpha * squared_weights) / weight_sum,
                    sums.constraint / weight_sum};
}

template <class T>
LossSums Network<T>::finalize(const T* params, const T* weights, LossSums sums,
                              double weight_sum, double alpha, T* grad) const {
    const double squared_weights =
        finalize_range(params, weights, weight_sum, alpha, grad, 0, layout_.n_params());
    return mean_loss(sums, squared_weights, weight_sum, alpha);
}

template <class T>
void Network<T>::ascend_multipliers(std::int64_t rows, const Workspace<T>& ws,
                                    T* multipliers) const {
    const std::int64_t k = layout_.n_outputs();
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < k; ++j)
            multipliers[i * k + j] =
                ascend_multiplier(spec_.constraint_strength, constraint_threshold_[j],
                                  prediction(ws, i, j), multipliers[i * k + j]);
}

template <class T>
std::int64_t Network<T>::count_below_threshold(std::int64_t rows,
                                               const Workspace<T>& ws) const {
    const std::int64_t k = layout_.n_outputs();
    std::int64_t count = 0;
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < k; ++j) count += prediction(ws, i, j) < threshold_[j];
    return count;
}

template <class T>
bool Workspace<T>::serves(const Layout& layout, std::int64_t rows, Passes passes) const {
    return capacity >= rows &&
        (passes_ == passes || passes_ == Passes::forward_and_backward) &&
        sizes_.size() == layout.sizes().size() + 1 && sizes_.back() == layout.members() &&
        std::equal(layout.sizes().begin(), layout.sizes().end(), sizes_.begin());
}

template <class T>
std::size_t Workspace<T>::bytes() const {
    std::size_t count = output_z.capacity() + effective.capacity();
    for (const auto& a : activations) count += a.capacity();
    for (const auto& d : deltas) count += d.capacity();
    return count * sizeof(T);
}

namespace {

// Workspaces that full-data passes left for later ones, most recent last, up to
// kKeptWorkspaceBytes in all: a larger network's passes are long enough for their
// allocation not to matter.
constexpr std::size_t kKeptWorkspaceBytes = std::size_t{64} << 20;

template <class T>
struct KeptWorkspaces {
    std::mutex mutex;
    std::vector<Workspace<T>> kept;
    std::size_t bytes = 0;
};

}  // namespace

template <class T>
PassWorkspaces<T>::PassWorkspaces(const Layout& layout, std::int64_t rows, int threads,
                                  Passes passes) {
    workspaces_.reserve(threads);
    {
        KeptWorkspaces<T>& store = process_wide<KeptWorkspaces<T>>();
        std::lock_guard<std::mutex> lock(store.mutex);
        for (auto it = store.kept.end();
             it != store.kept.begin() && static_cast<int>(workspaces_.size()) < threads;) {
            --it;
            if (!it->serves(layout, rows, passes)) continue;
            store.bytes -= it->bytes();
            workspaces_.push_back(std::move(*it));
            it = store.kept.erase(it);
        }
    }
    while (static_cast<int>(workspaces_.size()) < threads)
        workspaces_.emplace_back(layout, rows, passes);
}

template <class T>
PassWorkspaces<T>::~PassWorkspaces() {
    std::vector<Workspace<T>> evicted;    // freed outside the lock
    if (address_space_limited()) return;  // freed here
    try {
        KeptWorkspaces<T>& store = process_wide<KeptWorkspaces<T>>();
        std::lock_guard<std::mutex> lock(store.mutex);
        for (Workspace<T>& ws : workspaces_) {
            if (ws.bytes() > kKeptWorkspaceBytes) continue;
            store.kept.push_back(std::move(ws));
            store.bytes += store.kept.back().bytes();
        }
        auto first_kept = store.kept.begin();
        while (store.bytes > kKeptWorkspaceBytes) {
            store.bytes -= first_kept->bytes();
            ++first_kept;
        }
        evicted.reserve(first_kept - store.kept.begin());
        std::move(store.kept.begin(), first_kept, std::back_inserter(evicted));
        store.kept.erase(store.kept.begin(), first_kept);
    } catch (...) {  // no room to keep them (std::bad_alloc): they are freed here
    }
}

template <class T>
PassWorkspaces<T> Network<T>::chunk_workspaces(PassPlan plan, Passes passes) const {
    return PassWorkspaces<T>(layout_, plan.per_chunk, plan.threads, passes);
}

template <class T>
double Network<T>::loss_and_gradient(const T* params, const Dataset<T>& data,
                                     const T* multipliers, double alpha, T* grad,
                                     InterruptCheck& interrupt, int n_threads) const {
    require(grad != nullptr, "loss_and_gradient needs a gradient buffer");
    return objective(params, data, multipliers, alpha, grad, interrupt, n_threads);
}

template <class T>
double Network<T>::loss(const T* params, const Dataset<T>& data, const T* multipliers,
                        double alpha, InterruptCheck& interrupt, int n_threads) const {
    return objective(params, data, multipliers, alpha, nullptr, interrupt, n_threads);
}

template <class T>
double Network<T>::objective(const T* params, const Dataset<T>& data, const T* multipliers,
                             double alpha, T* grad, InterruptCheck& interrupt,
                             int n_threads) const {
    const CoreFloatMode float_mode;
    check_dataset(data, layout_.n_params(), multipliers);
    const std::int64_t n = data.X.rows, k = layout_.n_outputs();
    const double weight_sum = total_weight(data);
    const PassPlan plan = plan_pass(n, layout_, n_threads);
    const int threads = plan.threads;
    PassWorkspaces<T> ws =
        chunk_workspaces(plan, grad ? Passes::forward_and_backward : Passes::forward);
    const T* weights = effective_params(params, ws[0]);
    // Thread 0 accumulates into grad, the others into their own buffers.
    std::vector<std::vector<T>> other_grads(grad ? threads - 1 : 0,
                                            std::vector<T>(layout_.n_params()));
    std::vector<LossSums> sums(threads);
    // One flag per thread, each its own byte: std::vector<bool> packs them into one word,
    // whose concurrent updates by two threads could lose one (a thread's gradient then
    // overwritten by its next chunk instead of added to).
    std::vector<char> started(threads, 0);
    for_each_chunk(n, plan, interrupt, [&](int t, std::int64_t start, std::int64_t rows) {
        const Dataset<T> chunk = data.rows(start, rows);
        const T* m = multipliers ? multipliers + start * k : nullptr;
        forward(weights, chunk.X, ws[t]);
        if (!grad) {
            sums[t] += output_deltas(chunk.Y, chunk.sample_weight, m, ws[t]);
            return;
        }
        T* g = t == 0 ? grad : other_grads[t - 1].data();
        sums[t] +=
            backward(weights, chunk.X, chunk.Y, chunk.sample_weight, m, ws[t], g, started[t]);
        started[t] = true;
    });
    for (int t = 1; t < threads; ++t) sums[0] += sums[t];
    if (!grad)
        return mean_loss(sums[0], penalised_squares(weights, 0, layout_.n_weights()),
                         weight_sum, alpha)
            .total();
    for (const std::vector<T>& other : other_grads)
        for (std::int64_t i = 0; i < layout_.n_params(); ++i) grad[i] += other[i];
    return finalize(params, weights, sums[0], weight_sum, alpha, grad).total();
}

template <class T>
double Network<T>::total_weight(const Dataset<T>& data) const {
    const std::int64_t n = data.X.rows;
    if (!data.sample_weight) return static_cast<double>(n);
    const double sum = std::accumulate(data.sample_weight, data.sample_weight + n, 0.0);
    require(sum > 0.0, "the sample weights sum to zero");
    return sum;
}

template <class T>
void Network<T>::predict(const T* params, const Inputs<T>& X, T* out,
                         InterruptCheck& interrupt, int n_threads) const {
    const CoreFloatMode float_mode;
    check_inputs(X, layout_.n_params());
    const std::int64_t n = X.rows;
    if (most_column_parts(n, X.sparse) > 1)
        return predict_by_columns(params, X, out, interrupt, n_threads);
    const PassPlan plan = plan_pass(n, layout_, n_threads);
    PassWorkspaces<T> ws = chunk_workspaces(plan, Passes::forward);
    const T* weights = effective_params(params, ws[0]);
    for_each_chunk(
        n, plan, interrupt,
        [&](int t, std::int64_t start, std::int64_t rows) {
            const Inputs<T> chunk = X.slice(start, rows);
            forward(weights, chunk, ws[t]);
            write_predictions(weights, chunk, ws[t], out + start * layout_.n_outputs());
        },
        ChunkOrder::first_free);
}

// One chunk of rows whose wide layers are computed in blocks of columns, which the
// threads share out: row chunks would each pack every weight matrix (the products'
// set-up, most of their time on a few rows), and rows this few make one chunk. The
// blocks depend on the rows and the network only (a block's product may round
// otherwise than the whole layer's), so one thread computes the same bits as many.
template <class T>
void Network<T>::predict_by_columns(const T* params, const Inputs<T>& X, T* out,
                                    InterruptCheck& interrupt, int n_threads) const {
    interrupt.check();
    const std::int64_t n = X.rows;
    PassWorkspaces<T> ws(layout_, n, 1, Passes::forward);
    const T* weights = effective_params(params, ws[0]);
    PoolLease pool(predict_threads(n, X.sparse, n_threads));
    for (std::int64_t l = 0; l < layout_.n_layers(); ++l) {
        const int parts = column_parts(l, n, X.sparse);
        pool->run(parts, [&](int part) {
            const auto [begin, end] = split_blocks(layer_width(l), parts, part, kColumnBlock);
            if (begin < end) forward_layer(weights, X, ws[0], l, begin, end);
        });
    }
    transform_outputs(ws[0], n);
    write_predictions(weights, X, ws[0], out);
}

template <class T>
void Network<T>::write_predictions(const T* weights, const Inputs<T>& rows, Workspace<T>& ws,
                                   T* out) const {
    const std::int64_t k = layout_.n_outputs(), member_outputs = layout_.members() * k;
    const T* pred = ws.activations.back().data();
    for (std::int64_t i = 0; i < rows.rows; ++i) {
        T* row_out = out + i * k;
        for (std::int64_t j = 0; j < k; ++j) row_out[j] = prediction(ws, i, j);
        const T* z = ws.output_z.data() + i * member_outputs;
        const T* p = pred + i * member_outputs;
        const bool finite = std::all_of(z, z + member_outputs, is_finite<T>) &&
            std::all_of(p, p + member_outputs, is_finite<T>) &&
            std::all_of(row_out, row_out + k, is_finite<T>);
        if (!finite) predict_row_extended(weights, rows, i, row_out);
    }
}

template <class T>
void Network<T>::predict_row_extended(const T* weights, const Inputs<T>& X, std::int64_t r,
                                      T* pred) const {
    using Wide = long double;
    std::vector<Wide> a(layout_.n_inputs(), Wide(0)), next;
    if (!X.sparse) {
        std::copy_n(X.dense.row(r), layout_.n_inputs(), a.begin());
    } else {
        const CsrMatrix<T>& m = X.csr;
        const std::int64_t i = X.csr_row(r);
        for (std::int64_t e = m.indptr[i]; e < m.indptr[i + 1]; ++e)
            a[m.column(e)] += m.values[e];
    }
    // a holds the row's input, then each layer's output per member (member m's at
    // [m * width, (m + 1) * width)): the first layer is one fan_in x (M * fan_out)
    // product, the others one product per member, with a shared or an own block.
    const std::int64_t L = layout_.n_layers(), M = layout_.members();
    for (std::int64_t l = 0; l < L; ++l) {
        const std::int64_t n_in = layout_.fan_in(l), n_out = layout_.fan_out(l);
        const T* w = weights + layout_.weight_offset(l);
        const T* bias = weights + layout_.bias_offset(l);
        const bool own = layout_.per_member(l);
        next.assign(M * n_out, Wide(0));
        for (std::int64_t m = 0; m < M; ++m) {
            Wide* out = next.data() + m * n_out;
            const T* b = bias + (own ? m * n_out : 0);
            std::copy(b, b + n_out, out);
            // Layer 0: input i to column m * n_out + j; later layers: their member's inputs.
            const Wide* in = a.data() + (l == 0 ? 0 : m * n_in);
            const std::int64_t w_stride = l == 0 ? M * n_out : n_out;
            const T* w_m = l == 0 ? w + m * n_out : w + (own ? m * n_in * n_out : 0);
            for (std::int64_t i = 0; i < n_in; ++i) {
                if (in[i] == 0) continue;  // most of a sparse row
                for (std::int64_t j = 0; j < n_out; ++j)
                    out[j] += in[i] * w_m[i * w_stride + j];
            }
        }
        if (l < L - 1)
            for (Wide& v : next) v = activate(spec_.activation, v);
        a.swap(next);
    }
    const std::int64_t k = layout_.n_outputs();
    for (std::int64_t m = 0; m < M; ++m) {
        Wide previous = 0;
        for (std::int64_t j = 0; j < k; ++j) {
            Wide& v = a[m * k + j];
            const Wide base =
                j % spec_.outputs_per_group == 0 ? Wide(threshold_[j]) : previous;
            v = previous = base + transform(spec_.output_transform, v);
        }
    }
    // As prediction(): the members' mean, at least their least; long double's range
    // holds the sum of M values of T's.
    constexpr Wide largest = std::numeric_limits<T>::max();
    for (std::int64_t j = 0; j < k; ++j) {
        Wide sum = 0, least = a[j];
        for (std::int64_t m = 0; m < M; ++m) {
            sum += a[m * k + j];
            least = std::min(least, a[m * k + j]);
        }
        const Wide mean = std::max(sum / static_cast<Wide>(M), least);
        pred[j] = static_cast<T>(std::clamp(mean, -largest, largest));
    }
}

template <class T>
std::int64_t Network<T>::update_multipliers(const T* params, const Inputs<T>& X,
                                            T* multipliers, InterruptCheck& interrupt,
                                            int n_threads) const {
    const CoreFloatMode float_mode;
    check_inputs(X, layout_.n_params());
    const std::int64_t n = X.rows, k = layout_.n_outputs();
    const PassPlan plan = plan_pass(n, layout_, n_threads);
    const int threads = plan.threads;
    PassWorkspaces<T> ws = chunk_workspaces(plan, Passes::forward);
    const T* weights = effective_params(params, ws[0]);
    std::vector<std::int64_t> below(threads, 0);
    for_each_chunk(
        n, plan, interrupt,
        [&](int t, std::int64_t start, std::int64_t rows) {
            forward(weights, X.slice(start, rows), ws[t]);
            below[t] += count_below_threshold(rows, ws[t]);
            ascend_multipliers(rows, ws[t], multipliers + start * k);
        },
        ChunkOrder::first_free);  // integer counts: any order gives the same sum
    return std::accumulate(below.begin(), below.end(), std::int64_t{0});
}

template <class T>
void Network<T>::check_inputs(const Inputs<T>& X, std::int64_t n_params) const {
    require(n_params == layout_.n_params(),
            "expected " + std::to_string(layout_.n_params()) + " parameters, got " +
                std::to_string(n_params));
    require(X.cols == layout_.n_inputs(),
            "X has " + std::to_string(X.cols) + " features, but the network expects " +
                std::to_string(layout_.n_inputs()));
    if (X.sparse) X.csr.check();
}

template <class T>
void Network<T>::check_dataset(const Dataset<T>& data, std::int64_t n_params,
                               const T* multipliers) const {
    require(!has_multipliers() || multipliers != nullptr,
            "output_constraint='lagrangian' needs one multiplier per output");
    check_inputs(data.X, n_params);
    require(data.X.rows >= 1, "the data set has no rows");
    require(data.Y.rows == data.X.rows,
            "X has " + std::to_string(data.X.rows) + " rows but y has " +
                std::to_string(data.Y.rows));
    require(data.Y.cols == n_targets(),
            "y has " + std::to_string(data.Y.cols) + " column(s), but the network reads " +
                std::to_string(n_targets()) + ", one per target (its " +
                std::to_string(layout_.n_outputs()) + " output(s) in groups of " +
                std::to_string(spec_.outputs_per_group) + ")");
}

template struct Workspace<float>;
template struct Workspace<double>;
template class PassWorkspaces<float>;
template class PassWorkspaces<double>;
template class Network<float>;
template class Network<double>;

}  // namespace pmlp
