// One epoch of mini-batch training: seeded shuffling, batches gathered into reused
// buffers, forward and backward, and an optimiser update per batch. With several
// threads each step is shared: rows for the gradient, parameter ranges for the update.
// Every thread works through its rows in chunks of at most kChunkRows, the rows its
// buffers hold, whatever the batch size and however a batch is split.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "positive_mlp/interrupt.hpp"
#include "positive_mlp/network.hpp"
#include "positive_mlp/optimizers.hpp"
#include "positive_mlp/parallel.hpp"

namespace pmlp {

struct EpochOptions {
    std::int64_t batch_size = 200;
    bool shuffle = true;
    std::uint64_t seed = 0;  // shuffling seed for this epoch
    double alpha = 1e-4;     // L2 penalty
    OptimizerOptions optimizer;
};

struct EpochResult {
    // Means over the epoch's batches, weighted by batch size: the loss with its L2
    // penalty, and the output-constraint term apart.
    double loss = 0.0;
    double constraint = 0.0;
    std::int64_t step = 0;  // the optimiser's update count after the epoch
    // With an output constraint: targets whose prediction (before its batch's update)
    // fell below the threshold.
    std::int64_t below_threshold = 0;
};

// Least work (rows x parameters, about the multiply-adds of one pass) a thread takes
// from a batch; below it one thread does the batch. With the pool's threads spinning
// between steps, a second thread paid from about this much on (benchmarks/
// bench_threads.py: on the 2-core machine, 1.3x to 1.7x from twice this work; no
// change below it), where 2^17, set before the pool was persistent, left batch 32 of
// a (64, 64) network on one thread.
constexpr std::int64_t kMinWorkPerThread = std::int64_t{1} << 15;

// Owns the per-fit buffers and holds a pool of threads: create once per fit, call
// run_epoch once per epoch.
template <class T>
class EpochTrainer {
public:
    EpochTrainer(const Network<T>& network, std::int64_t n_samples, std::int64_t batch_size,
                 int n_threads = 1);

    const Network<T>& network() const { return network_; }

    // Updates params, the optimiser state and (for 'lagrangian') the multipliers
    // (n_samples x n_outputs) in place. The interrupt is polled between chunks of rows,
    // also inside a batch. On Interrupted, the parameters and the optimiser state are
    // as they were after the last complete batch (the multipliers of the interrupted
    // batch's finished chunks have taken their ascent step).
    EpochResult run_epoch(T* params, std::int64_t n_params, OptimizerState<T> state,
                          const Dataset<T>& data, T* multipliers, const EpochOptions& options,
                          InterruptCheck& interrupt);

private:
    // Threads worth using on a batch of `rows` rows.
    int threads_for(std::int64_t rows) const;

    // One thread's rows of a batch: views into the data, or into its gather buffers
    // (CSR inputs are never copied: shuffled rows are read through the order).
    struct Rows {
        Inputs<T> x;
        ConstMatrix<T> y;
        const T* weights;
        T* multipliers;
    };
    // What one thread owns and computes: its rows' buffers and gradient, then the
    // update of its range of parameters.
    struct Shard {
        Shard(const Network<T>& network, std::int64_t capacity);
        std::int64_t capacity;  // rows its buffers hold
        Workspace<T> workspace;
        // Gathered rows (x: dense X only); y holds n_targets columns, multipliers
        // n_outputs.
        std::vector<T> x, y, weights, multipliers;
        std::vector<T> grad;
        // grad is all zeros (the update cleared it): the next batch can add to it.
        bool grad_is_zero = true;
        LossSums sums;
        std::int64_t below_threshold = 0;
        double squared_weights = 0.0;
    };
    // The batch every thread works on.
    struct BatchTask {
        const Dataset<T>* data;
        const T* weights;  // the layers' (effective) weights
        T* multipliers;
        std::int64_t start, rows;
        bool shuffled;
    };
    // The update every thread applies to its range of parameters.
    struct UpdateTask {
        T* params;
        const T* weights;  // as in BatchTask
        OptimizerState<T> state;
        UpdateStep<T> step;
        double weight_sum, alpha;
        // Clear the shards' gradients once read: with CSR inputs the next batch then
        // adds its first layer's gradient over the nonzeros, where clearing a wide
        // layer for every batch took 8% of an epoch.
        bool clear_gradients;
    };

    void shuffle_order(std::uint64_t seed);
    double batch_weight_sum(const Dataset<T>& data, std::int64_t start, std::int64_t rows,
                            bool shuffled) const;
    Rows gather_rows(Shard& shard, const BatchTask& batch, std::int64_t begin,
                     std::int64_t end);
    // The gradient of rows [begin, end) of the batch, chunk by chunk, into shard.grad.
    void process_rows(Shard& shard, const BatchTask& batch, std::int64_t begin,
                      std::int64_t end, const std::function<void()>& between_chunks);
    void process_chunk(Shard& shard, const BatchTask& batch, std::int64_t begin,
                       std::int64_t end, bool accumulate);
    double update_parameters(const UpdateTask& task, int n_shards, std::int64_t begin,
                             std::int64_t end);

    Network<T> network_;
    std::int64_t n_samples_, batch_size_;
    int max_threads_ = 1;
    std::vector<std::int64_t> order_;
    std::vector<T> effective_;  // reparametrised weights (when the network uses them)
    std::vector<Shard> shards_;
    PoolLease pool_;  // for the trainer's lifetime: one fit's epochs
};

}  // namespace pmlp
