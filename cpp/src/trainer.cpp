#include "positive_mlp/trainer.hpp"

#include <algorithm>
#include <numeric>
#include <random>
#include <string>

namespace pmlp {

template <class T>
EpochTrainer<T>::EpochTrainer(const Network<T>& network, std::int64_t n_samples,
                              std::int64_t batch_size)
    : network_(network),
      n_samples_(n_samples),
      workspace_(network.layout(), std::clamp<std::int64_t>(batch_size, 1, n_samples)),
      order_(n_samples),
      grad_(network.layout().n_params()) {
    require(n_samples >= 1, "the data set has no rows");
    require(batch_size >= 1, "batch_size must be at least 1");
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
ConstMatrix<T> EpochTrainer<T>::gather_rows(ConstMatrix<T> source, const std::int64_t* rows,
                                            std::int64_t count, std::vector<T>& buffer) const {
    for (std::int64_t i = 0; i < count; ++i)
        std::copy_n(source.row(rows[i]), source.cols, buffer.data() + i * source.cols);
    return ConstMatrix<T>{buffer.data(), count, source.cols};
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

    Workspace<T>& ws = workspace_;
    const std::int64_t k = network_.layout().n_outputs();
    const bool count_violations =
        network_.spec().output_constraint != OutputConstraint::none;
    double loss_total = 0.0, constraint_total = 0.0;
    std::int64_t below_threshold = 0;
    for (std::int64_t start = 0; start < n_samples_; start += ws.capacity) {
        interrupt.check();
        const std::int64_t rows = std::min(ws.capacity, n_samples_ - start);
        ConstMatrix<T> x{data.X.row(start), rows, data.X.cols};
        ConstMatrix<T> y{data.Y.row(start), rows, data.Y.cols};
        const T* w = data.sample_weight ? data.sample_weight + start : nullptr;
        const std::int64_t* idx = order_.data() + start;
        T* m = multipliers ? multipliers + start * k : nullptr;
        if (options.shuffle) {
            x = gather_rows(data.X, idx, rows, ws.activations[0]);
            y = gather_rows(data.Y, idx, rows, ws.targets);
            if (w) {
                for (std::int64_t i = 0; i < rows; ++i) ws.weights[i] = w[idx[i]];
                w = ws.weights.data();
            }
            if (m) {
                gather_rows(ConstMatrix<T>{multipliers, n_samples_, k}, idx, rows,
                            ws.multipliers);
                m = ws.multipliers.data();
            }
        }
        double weight_sum = static_cast<double>(rows);
        if (w) weight_sum = std::accumulate(w, w + rows, 0.0);
        if (weight_sum <= 0.0) continue;  // a batch of zero weights carries no information
        const T* effective = network_.effective_params(params, ws);
        network_.forward(effective, x, ws);
        const LossSums sums =
            network_.backward(effective, x, y, w, m, ws, grad_.data(), false);
        const LossSums batch = network_.finalize(params, effective, sums, weight_sum,
                                                 options.alpha, grad_.data());
        loss_total += batch.loss * static_cast<double>(rows);
        constraint_total += batch.constraint * static_cast<double>(rows);
        if (count_violations) below_threshold += network_.count_below_threshold(rows, ws);
        if (m) {  // dual ascent with the predictions this step's gradient used
            network_.ascend_multipliers(rows, ws, m);
            if (options.shuffle)
                for (std::int64_t i = 0; i < rows; ++i)
                    std::copy_n(m + i * k, k, multipliers + idx[i] * k);
        }
        optimizer_update(options.optimizer, params, grad_.data(), state, n_params);
        network_.project(params);
    }
    const double n = static_cast<double>(n_samples_);
    return EpochResult{loss_total / n, constraint_total / n, state.step, below_threshold};
}

template class EpochTrainer<float>;
template class EpochTrainer<double>;

}  // namespace pmlp
