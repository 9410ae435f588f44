// Persistent worker threads for data-parallel work. A WorkerPool runs tasks on its
// threads, the calling thread taking part as worker 0, so n threads mean n - 1
// background threads. Pools are lent (PoolLease) for one computation (a fit's epochs,
// one full-data pass) and parked between them: threads start once per process, when a
// computation first needs them, and sleep while parked. A thread the system refuses to
// start (a memory or process limit) is done without: the pool runs on the threads that
// did start, refused_thread_starts() counts the refusals, and a pool that came up short
// is not parked, so that the next computation asks again.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "positive_mlp/float_mode.hpp"

namespace pmlp {

class WorkerPool {
public:
    // Starts up to n_threads - 1 background threads; size() tells how many run.
    explicit WorkerPool(int n_threads);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    int size() const { return n_threads_; }
    // Whether every thread asked for started.
    bool complete() const { return n_threads_ == wanted_; }

    // Parked workers stop spinning for work and sleep until the next run: the threads
    // of a pool nobody uses take no processor time from whatever runs next.
    void park() { parked_.store(true); }
    void unpark() { parked_.store(false); }

    // Runs task(i) for every i in [0, n_tasks), thread t taking tasks t, t + size(),
    // ... (task 0 on the calling thread), and returns when all are done; rethrows a
    // task's exception.
    void run(int n_tasks, const std::function<void(int)>& task);

private:
    void worker_loop(int index);
    void run_share(int index);
    void wait_for_work(std::uint64_t seen);

    int n_threads_, wanted_;
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<int> remaining_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stopping_{false};
    std::atomic<bool> parked_{false};
    std::atomic<int> ready_{0};  // workers past their start-up (worker_loop)
    int n_tasks_ = 0;
    const std::function<void(int)>* task_ = nullptr;
    float_mode::Register float_mode_{};  // the caller's, which the workers take on
    std::vector<std::exception_ptr> errors_;
};

// This process's id (0 where unknown).
long this_process();

// Whether the process runs under an address-space limit (ulimit -v). Then nothing is
// kept between computations (no parked threads, no kept buffers): what a computation
// held is given back, as room for whatever the process allocates next.
bool address_space_limited();

// The process-wide R, created on first use and never destroyed (threads may use it until
// the process ends). A child forked from the process gets a fresh R instead of its
// parent's, whose threads it does not have and whose mutexes a vanished thread may hold.
template <class R>
R& process_wide() {
    struct Owned {
        R value;
        long process = 0;
    };
    static std::atomic<Owned*> owned{nullptr};
    const long process = this_process();
    Owned* current = owned.load();
    if (current != nullptr && current->process == process) return current->value;
    auto fresh = std::make_unique<Owned>();
    fresh->process = process;
    if (owned.compare_exchange_strong(current, fresh.get())) return fresh.release()->value;
    return current->value;  // another thread registered first
}

// A pool of n_threads threads lent for one computation: a parked pool of that size if
// there is one, else a new one; parked again when the lease ends (at most a few are
// kept). In a child process forked while pools were parked, their threads do not
// exist: the child starts its own.
class PoolLease {
public:
    explicit PoolLease(int n_threads);
    ~PoolLease();
    PoolLease(PoolLease&&) noexcept = default;
    PoolLease& operator=(PoolLease&&) = delete;

    WorkerPool& operator*() const { return *pool_; }
    WorkerPool* operator->() const { return pool_.get(); }

private:
    std::unique_ptr<WorkerPool> pool_;
};

// The most threads the system refused to start for one pool since the last call (and
// resets the count).
int take_refused_thread_starts();

// Pools parked now and threads they hold (for tests and benchmarks).
std::pair<int, int> parked_pools();

// Rows [begin, end) of `rows` rows for part `part` of `parts` near-equal parts.
inline std::pair<std::int64_t, std::int64_t> split_rows(std::int64_t rows, int parts,
                                                        int part) {
    const std::int64_t base = rows / parts, extra = rows % parts;
    const std::int64_t begin = part * base + std::min<std::int64_t>(part, extra);
    return {begin, begin + base + (part < extra ? 1 : 0)};
}

// Like split_rows, with every boundary a multiple of `block` (but the last): threads
// updating neighbouring parameter ranges then never write to one cache line.
inline std::pair<std::int64_t, std::int64_t> split_blocks(std::int64_t n, int parts, int part,
                                                          std::int64_t block) {
    const std::int64_t n_blocks = (n + block - 1) / block;
    const auto [first, last] = split_rows(n_blocks, parts, part);
    return {std::min(first * block, n), std::min(last * block, n)};
}

}  // namespace pmlp
