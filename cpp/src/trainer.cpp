#include "positive_mlp/trainer.hpp"

#include <algorithm>
#include <atomic>
#include <numeric>
#include <random>
#include <string>

#include "positive_mlp/float_mode.hpp"

namespace pmlp {

namespace {
// Parameters per cache line, the grain of the threads' parameter ranges.
constexpr std::int64_t kCacheLineBytes = 64;
// Parameters updated in one go: the update's five or six arrays of this many entries
// stay in a 32 KiB L1 cache.
constexpr std::int64_t kUpdateBlock = 512;
}  // namespace

template <class T>
EpochTrainer<T>::Shard::Shard(const Network<T>& network, std::int64_t capacity_rows)
    : capacity(capacity_rows),
      workspace(network.layout(), capacity_rows),
      y(capacity_rows * network.n_targets()),
      weights(capacity_rows),
      multipliers(capacity_rows * network.layout().n_outputs()),
      grad(network.layout().n_params()) {}

template <class T>
EpochTrainer<T>::EpochTrainer(const Network<T>& network, std::int64_t n_samples,
                              std::int64_t batch_size, int n_threads)
    : network_(network),
      n_samples_(n_samples),
      batch_size_(
          std::clamp<std::int64_t>(batch_size, 1, std::max<std::int64_t>(n_samples, 1))),
      max_threads_(n_threads),
      order_(std::max<std::int64_t>(n_samples, 0)),
      pool_(threads_for(batch_size_)) {
    require(n_samples >= 1, "the data set has no rows");
    require(batch_size >= 1, "batch_size must be at least 1");
    require(n_threads >= 1, "n_threads must be at least 1");
    const Layout& layout = network_.layout();
    if (network_.reparametrises()) effective_.resize(layout.n_params());
    // One shard per thread that started (the system may refuse some). Every shard holds
    // one chunk: a thread's share of any batch, however the batch is split, goes
    // through its buffers chunk by chunk.
    const std::int64_t capacity = std::min(batch_size_, chunk_rows(network_.layout()));
    shards_.reserve(pool_->size());
    for (int t = 0; t < pool_->size(); ++t) shards_.emplace_back(network_, capacity);
}

template <class T>
int EpochTrainer<T>::threads_for(std::int64_t rows) const {
    const std::int64_t work = rows * network_.layout().n_params();
    return static_cast<int>(
        std::clamp<std::int64_t>(work / kMinWorkPerThread, 1, std::max(max_threads_, 1)));
}

// Fisher-Yates with our own index draw: std::shuffle's algorithm differs between
// standard libraries, and a seed must give the same order on every platform.
template <class T>
void EpochTrainer<T>::shuffle_order(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (std::int64_t i = n_samples_ - 1; i > 0; --i) {
        const auto j = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(i + 1));
        std::swap(order_[i], order_[j]);
    }
}

template <class T>
double EpochTrainer<T>::batch_weight_sum(const Dataset<T>& data, std::int64_t start,
                                         std::int64_t rows, bool shuffled) const {
    if (!data.sample_weight) return static_cast<double>(rows);
    double sum = 0.0;
    for (std::int64_t i = start; i < start + rows; ++i)
        sum += data.sample_weight[shuffled ? order_[i] : i];
    return sum;
}

// Rows [begin, end) of the batch: views into the data when it is not shuffled, else
// gathered (by the shuffled order) into the shard's buffers.
template <class T>
typename EpochTrainer<T>::Rows EpochTrainer<T>::gather_rows(Shard& shard,
                                                            const BatchTask& batch,
                                                            std::int64_t begin,
                                                            std::int64_t end) {
    const Dataset<T>& data = *batch.data;
    const std::int64_t k = network_.layout().n_outputs(), first = batch.start + begin;
    const std::int64_t rows = end - begin;
    check_capacity(shard.capacity, rows);
    if (!batch.shuffled) {
        const Dataset<T> view = data.rows(first, rows);
        return Rows{view.X, view.Y, view.sample_weight,
                    batch.multipliers ? batch.multipliers + first * k : nullptr};
    }
    const std::int64_t* idx = order_.data() + first;
    auto gather = [&](const T* source, std::int64_t cols, std::vector<T>& buffer) {
        for (std::int64_t i = 0; i < rows; ++i)
            std::copy_n(source + idx[i] * cols, cols, buffer.data() + i * cols);
        return buffer.data();
    };
    Inputs<T> x = data.X.select(idx, rows);
    if (!data.X.sparse) {
        shard.x.resize(shard.capacity * data.X.cols);  // allocated at the first batch
        x = Inputs<T>::from_dense(ConstMatrix<T>{
            gather(data.X.dense.data, data.X.cols, shard.x), rows, data.X.cols});
    }
    return Rows{x,
                ConstMatrix<T>{gather(data.Y.data, data.Y.cols, shard.y), rows, data.Y.cols},
                data.sample_weight ? gather(data.sample_weight, 1, shard.weights) : nullptr,
                batch.multipliers ? gather(batch.multipliers, k, shard.multipliers) : nullptr};
}

template <class T>
void EpochTrainer<T>::process_rows(Shard& shard, const BatchTask& batch, std::int64_t begin,
                                   std::int64_t end,
                                   const std::function<void()>& between_chunks) {
    require(end > begin, "a thread's share of a batch has no rows");
    shard.sums = LossSums{};
    shard.below_threshold = 0;
    for (std::int64_t first = begin; first < end; first += shard.capacity) {
        if (first > begin) between_chunks();
        process_chunk(shard, batch, first, std::min(first + shard.capacity, end),
                      first > begin || shard.grad_is_zero);
        shard.grad_is_zero = false;
    }
}

template <class T>
void EpochTrainer<T>::process_chunk(Shard& shard, const BatchTask& batch, std::int64_t begin,
                                    std::int64_t end, bool accumulate) {
    const Rows rows = gather_rows(shard, batch, begin, end);
    const std::int64_t n = end - begin;
    Workspace<T>& ws = shard.workspace;
    network_.forward(batch.weights, rows.x, ws);
    shard.sums += network_.backward(batch.weights, rows.x, rows.y, rows.weights,
                                    rows.multipliers, ws, shard.grad.data(), accumulate);
    if (network_.spec().output_constraint != OutputConstraint::none)
        shard.below_threshold += network_.count_below_threshold(n, ws);
    if (!rows.multipliers) return;
    // Dual ascent with the predictions this step's gradient used.
    network_.ascend_multipliers(n, ws, rows.multipliers);
    if (!batch.shuffled) return;  // updated in place
    const std::int64_t k = network_.layout().n_outputs();
    const std::int64_t* idx = order_.data() + batch.start + begin;
    for (std::int64_t i = 0; i < n; ++i)
        std::copy_n(rows.multipliers + i * k, k, batch.multipliers + idx[i] * k);
}

// Sums the shards' gradients over parameters [begin, end) into shard 0's and applies
// the update to them, so that threads share this part of the step too; returns the
// range's share of ||W||^2. Block by block: a large network's parameters, gradients and
// moments overflow the caches, and every pass over them would stream them all again.
template <class T>
double EpochTrainer<T>::update_parameters(const UpdateTask& task, int n_shards,
                                          std::int64_t begin, std::int64_t end) {
    T* grad = shards_[0].grad.data();
    double squared_weights = 0.0;
    for (std::int64_t first = begin; first < end; first += kUpdateBlock) {
        const std::int64_t last = std::min(first + kUpdateBlock, end);
        for (int s = 1; s < n_shards; ++s) {
            T* other = shards_[s].grad.data();
            for (std::int64_t i = first; i < last; ++i) grad[i] += other[i];
            if (task.clear_gradients) std::fill(other + first, other + last, T(0));
        }
        squared_weights += network_.finalize_range(task.params, task.weights, task.weight_sum,
                                                   task.alpha, grad, first, last);
        if (task.step.solver == Solver::sgd) network_.undo_member_share(grad, first, last);
        update_range(task.step, task.params, grad, task.state, first, last);
        if (task.clear_gradients) std::fill(grad + first, grad + last, T(0));
        network_.project(task.params, first, last);
        if (network_.reparametrises())  // the next batch's weights
            network_.effective_params(task.params, effective_.data(), first, last);
    }
    return squared_weights;
}

template <class T>
EpochResult EpochTrainer<T>::run_epoch(T* params, std::int64_t n_params,
                                       OptimizerState<T> state, const Dataset<T>& data,
                                       T* multipliers, const EpochOptions& options,
                                       InterruptCheck& interrupt) {
    const CoreFloatMode float_mode;
    network_.check_dataset(data, n_params, multipliers);
    require(data.X.rows == n_samples_,
            "the trainer was built for " + std::to_string(n_samples_) + " rows, got " +
                std::to_string(data.X.rows));
    std::iota(order_.begin(), order_.end(), std::int64_t{0});
    if (options.shuffle) shuffle_order(options.seed);
    // The weights the layers use: the parameters themselves, or their reparametrisation.
    const T* weights = params;
    if (network_.reparametrises()) {
        network_.effective_params(params, effective_.data());
        weights = effective_.data();
    }

    const std::int64_t block = std::max<std::int64_t>(1, kCacheLineBytes / sizeof(T));
    double loss_total = 0.0, constraint_total = 0.0;
    std::int64_t below_threshold = 0;
    for (std::int64_t start = 0; start < n_samples_; start += batch_size_) {
        interrupt.check();
        const std::int64_t rows = std::min(batch_size_, n_samples_ - start);
        const double weight_sum = batch_weight_sum(data, start, rows, options.shuffle);
        if (weight_sum <= 0.0) continue;  // a batch of zero weights carries no information
        const int n_shards = static_cast<int>(std::min<std::int64_t>(
            {threads_for(rows), static_cast<std::int64_t>(shards_.size()), rows}));
        const BatchTask batch{&data, weights, multipliers, start, rows, options.shuffle};
        std::atomic<bool> stop{false};
        pool_->run(n_shards, [&](int t) {
            const auto [begin, end] = split_rows(rows, n_shards, t);
            // Thread 0 polls the interrupt between its chunks; the others follow it.
            process_rows(shards_[t], batch, begin, end, [&] {
                if (t != 0) {
                    if (stop.load()) throw Interrupted();
                    return;
                }
                try {
                    interrupt.check();
                } catch (...) {
                    stop.store(true);
                    throw;
                }
            });
        });
        const UpdateTask update{
            params,     weights,       state,        begin_update<T>(options.optimizer, state),
            weight_sum, options.alpha, data.X.sparse};
        pool_->run(n_shards, [&](int t) {
            const auto [begin, end] = split_blocks(n_params, n_shards, t, block);
            shards_[t].squared_weights = update_parameters(update, n_shards, begin, end);
        });
        for (int t = 0; t < n_shards; ++t) shards_[t].grad_is_zero = update.clear_gradients;
        LossSums sums;
        double squared_weights = 0.0;
        for (int t = 0; t < n_shards; ++t) {
            sums += shards_[t].sums;
            below_threshold += shards_[t].below_threshold;
            squared_weights += shards_[t].squared_weights;
        }
        const LossSums batch_loss =
            mean_loss(sums, squared_weights, weight_sum, options.alpha);
        loss_total += batch_loss.loss * static_cast<double>(rows);
        constraint_total += batch_loss.constraint * static_cast<double>(rows);
    }
    const double n = static_cast<double>(n_samples_);
    return EpochResult{loss_total / n, constraint_total / n, state.step, below_threshold};
}

template class EpochTrainer<float>;
template class EpochTrainer<double>;

}  // namespace pmlp
