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
                                       const EpochOptions& options, InterruptCheck& interrupt) {
    network_.check_dataset(data, n_params);
    require(data.X.rows == n_samples_,
            "the trainer was built for " + std::to_string(n_samples_) + " rows, got " +
                std::to_string(data.X.rows));
    std::iota(order_.begin(), order_.end(), std::int64_t{0});
    if (options.shuffle) shuffle_order(options.seed);

    Workspace<T>& ws = workspace_;
    double loss_total = 0.0;
    for (std::int64_t start = 0; start < n_samples_; start += ws.capacity) {
        interrupt.check();
        const std::int64_t rows = std::min(ws.capacity, n_samples_ - start);
        ConstMatrix<T> x{data.X.row(start), rows, data.X.cols};
        ConstMatrix<T> y{data.Y.row(start), rows, data.Y.cols};
        const T* w = data.sample_weight ? data.sample_weight + start : nullptr;
        if (options.shuffle) {
            const std::int64_t* idx = order_.data() + start;
            x = gather_rows(data.X, idx, rows, ws.activations[0]);
            y = gather_rows(data.Y, idx, rows, ws.targets);
            if (w) {
                for (std::int64_t i = 0; i < rows; ++i) ws.weights[i] = w[idx[i]];
                w = ws.weights.data();
            }
        }
        double weight_sum = static_cast<double>(rows);
        if (w) weight_sum = std::accumulate(w, w + rows, 0.0);
        if (weight_sum <= 0.0) continue;  // a batch of zero weights carries no information
        network_.forward(params, x, ws);
        const double loss_sum = network_.backward(params, x, y, w, ws, grad_.data(), false);
        const double batch_loss =
            network_.finalize(params, loss_sum, weight_sum, options.alpha, grad_.data());
        loss_total += batch_loss * static_cast<double>(rows);
        optimizer_update(options.optimizer, params, grad_.data(), state, n_params);
    }
    return EpochResult{loss_total / static_cast<double>(n_samples_), state.step};
}

template class EpochTrainer<float>;
template class EpochTrainer<double>;

}  // namespace pmlp
