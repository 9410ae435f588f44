// One epoch of mini-batch training: seeded shuffling, batches gathered into reused
// buffers, forward, backward and an optimiser update per batch.
#pragma once

#include <cstdint>
#include <vector>

#include "positive_mlp/interrupt.hpp"
#include "positive_mlp/network.hpp"
#include "positive_mlp/optimizers.hpp"

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

// Owns the per-fit buffers: create once per fit, call run_epoch once per epoch.
template <class T>
class EpochTrainer {
public:
    EpochTrainer(const Network<T>& network, std::int64_t n_samples, std::int64_t batch_size);

    const Network<T>& network() const { return network_; }

    // Updates params, the optimiser state and (for 'lagrangian') the multipliers
    // (n_samples x n_outputs) in place. On Interrupted, all are as they were after the
    // last complete batch.
    EpochResult run_epoch(T* params, std::int64_t n_params, OptimizerState<T> state,
                          const Dataset<T>& data, T* multipliers,
                          const EpochOptions& options, InterruptCheck& interrupt);

private:
    void shuffle_order(std::uint64_t seed);
    ConstMatrix<T> gather_rows(ConstMatrix<T> source, const std::int64_t* rows,
                               std::int64_t count, std::vector<T>& buffer) const;

    Network<T> network_;
    std::int64_t n_samples_;
    Workspace<T> workspace_;
    std::vector<std::int64_t> order_;
    std::vector<T> grad_;
};

}  // namespace pmlp
