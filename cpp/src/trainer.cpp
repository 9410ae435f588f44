#include "positive_mlp/trainer.hpp"

#include <algorithm>
#include <numeric>
#include <random>
#include <string>

namespace pmlp {

template <class T>
EpochTrainer<T>::Shard::Shard(const Layout& layout, std::int64_t capacity)
    : workspace(layout, capacity), grad(layout.n_params()) {}

template <class T>
EpochTrainer<T>::EpochTrainer(const Network<T>& network, std::int64_t n_samples,
                              std::int64_t batch_size, int n_threads)
    : network_(network),
      n_samples_(n_samples),
      batch_size_(std::clamp<std::int64_t>(batch_size, 1, std::max<std::int64_t>(n_samples, 1))),
      max_threads_(n_threads),
      order_(n_samples) {
    require(n_samples >= 1, "the data set has no rows");
    require(batch_size >= 1, "batch_size must be at least 1");
    require(n_threads >= 1, "n_threads must be at least 1");
    const Layout& layout = network_.layout();
    batch_x_.resize(batch_size_ * layout.n_inputs());
    batch_y_.resize(batch_size_ * layout.n_outputs());
    batch_w_.resize(batch_size_);
    batch_m_.resize(batch_size_ * layout.n_outputs());
    effective_.resize(layout.n_params());
    const int useful = threads_for(batch_size_);
    const std::int64_t rows_per_shard = (batch_size_ + useful - 1) / useful;
    shards_.reserve(useful);
    for (int t = 0; t < useful; ++t) shards_.emplace_back(layout, rows_per_shard);
    pool_ = std::make_unique<WorkerPool>(useful);
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
typename EpochTrainer<T>::Batch EpochTrainer<T>::batch_at(const Dataset<T>& data,
                                                          T* multipliers, std::int64_t start,
                                                          std::int64_t rows, bool shuffled) {
    const std::int64_t k = network_.layout().n_outputs();
    Batch b{ConstMatrix<T>{data.X.row(start), rows, data.X.cols},
            ConstMatrix<T>{data.Y.row(start), rows, data.Y.cols},
            data.sample_weight ? data.sample_weight + start : nullptr,
            multipliers ? multipliers + start * k : nullptr};
    if (!shuffled) return b;
    const std::int64_t* idx = order_.data() + start;
    auto gather = [&](const T* source, std::int64_t cols, std::vector<T>& buffer) {
        for (std::int64_t i = 0; i < rows; ++i)
            std::copy_n(source + idx[i] * cols, cols, buffer.data() + i * cols);
        return buffer.data();
    };
    b.x = ConstMatrix<T>{gather(data.X.data, data.X.cols, batch_x_), rows, data.X.cols};
    b.y = ConstMatrix<T>{gather(data.Y.data, data.Y.cols, batch_y_), rows, data.Y.cols};
    if (b.weights) b.weights = gather(data.sample_weight, 1, batch_w_);
    if (b.multipliers) b.multipliers = gather(multipliers, k, batch_m_);
    return b;
}

template <class T>
void EpochTrainer<T>::process_rows(Shard& shard, const T* effective, const Batch& batch,
                                   std::int64_t begin, std::int64_t end) const {
    const std::int64_t rows = end - begin, k = network_.layout().n_outputs();
    ConstMatrix<T> x{batch.x.row(begin), rows, batch.x.cols};
    ConstMatrix<T> y{batch.y.row(begin), rows, batch.y.cols};
    const T* w = batch.weights ? batch.weights + begin : nullptr;
    T* m = batch.multipliers ? batch.multipliers + begin * k : nullptr;
    Workspace<T>& ws = shard.workspace;
    network_.forward(effective, x, ws);
    shard.sums = network_.backward(effective, x, y, w, m, ws, shard.grad.data(), false);
    shard.below_threshold = network_.spec().output_constraint != OutputConstraint::none
                                ? network_.count_below_threshold(rows, ws)
                                : 0;
    // Dual ascent with the predictions this step's gradient used.
    if (m) network_.ascend_multipliers(rows, ws, m);
}

template <class T>
LossSums EpochTrainer<T>::combine_shards(int n_shards, std::int64_t& below_threshold) {
    LossSums sums = shards_[0].sums;
    below_threshold += shards_[0].below_threshold;
    T* grad = shards_[0].grad.data();
    const std::int64_t n = network_.layout().n_params();
    for (int t = 1; t < n_shards; ++t) {
        sums += shards_[t].sums;
        below_threshold += shards_[t].below_threshold;
        const T* other = shards_[t].grad.data();
        for (std::int64_t i = 0; i < n; ++i) grad[i] += other[i];
    }
    return sums;
}

template <class T>
EpochResult EpochTrainer<T>::run_epoch(T* params, std::int64_t n_params,
                                       OptimizerState<T> state, const Dataset<T>& data,
                                       T* multipliers, const EpochOptions& options,
                                       InterruptCheck& interrupt) {
    network_.check_dataset(data, n_params, multipliers);
    require(data.X.rows == n_samples_,
            "the trainer was built for " + std::to_string(n_samples_) + " rows, got " +
                std::to_string(data.X.rows));
    std::iota(order_.begin(), order_.end(), std::int64_t{0});
    if (options.shuffle) shuffle_order(options.seed);

    const std::int64_t k = network_.layout().n_outputs();
    T* grad = shards_[0].grad.data();
    double loss_total = 0.0, constraint_total = 0.0;
    std::int64_t below_threshold = 0;
    for (std::int64_t start = 0; start < n_samples_; start += batch_size_) {
        interrupt.check();
        const std::int64_t rows = std::min(batch_size_, n_samples_ - start);
        const Batch batch = batch_at(data, multipliers, start, rows, options.shuffle);
        const double weight_sum =
            batch.weights ? std::accumulate(batch.weights, batch.weights + rows, 0.0)
                          : static_cast<double>(rows);
        if (weight_sum <= 0.0) continue;  // a batch of zero weights carries no information
        const T* effective = params;
        if (network_.reparametrises()) {
            network_.effective_params(params, effective_.data());
            effective = effective_.data();
        }
        const int n_shards = std::min(threads_for(rows), static_cast<int>(shards_.size()));
        pool_->run(n_shards, [&](int t) {
            const auto [begin, end] = split_rows(rows, n_shards, t);
            process_rows(shards_[t], effective, batch, begin, end);
        });
        const LossSums sums = combine_shards(n_shards, below_threshold);
        const LossSums batch_loss =
            network_.finalize(params, effective, sums, weight_sum, options.alpha, grad);
        loss_total += batch_loss.loss * static_cast<double>(rows);
        constraint_total += batch_loss.constraint * static_cast<double>(rows);
        if (batch.multipliers && options.shuffle) {  // scatter the updated multipliers
            const std::int64_t* idx = order_.data() + start;
            for (std::int64_t i = 0; i < rows; ++i)
                std::copy_n(batch.multipliers + i * k, k, multipliers + idx[i] * k);
        }
        optimizer_update(options.optimizer, params, grad, state, n_params);
        network_.project(params);
    }
    const double n = static_cast<double>(n_samples_);
    return EpochResult{loss_total / n, constraint_total / n, state.step, below_threshold};
}

template class EpochTrainer<float>;
template class EpochTrainer<double>;

}  // namespace pmlp
