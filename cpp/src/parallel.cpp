#include "positive_mlp/parallel.hpp"

#include <algorithm>

namespace pmlp {

namespace {
// Workers spin this many rounds for the next batch before they sleep: batches follow
// each other within microseconds, epochs are separated by Python's bookkeeping.
constexpr int kSpinRounds = 20000;
// Rounds of busy waiting before a waiting thread yields its core on every round: a
// step's two halves are microseconds apart, and a sched_yield costs about one.
constexpr int kBusyRounds = 2000;

// Tells the core we are spinning (saves power, frees the sibling hyperthread).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

inline void back_off(int round) {
    if (round < kBusyRounds)
        cpu_relax();
    else
        std::this_thread::yield();
}
}  // namespace

WorkerPool::WorkerPool(int n_threads)
    : n_threads_(std::max(1, n_threads)), errors_(static_cast<std::size_t>(n_threads_)) {
    for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker_loop(i); });
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_.store(true);
        generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
}

void WorkerPool::wait_for_work(std::uint64_t seen) {
    for (int round = 0; round < kSpinRounds; ++round) {
        if (generation_.load(std::memory_order_acquire) != seen) return;
        back_off(round);
    }
    std::unique_lock<std::mutex> lock(mutex_);
    sleepers_.fetch_add(1);
    wake_.wait(lock, [&] { return generation_.load() != seen; });
    sleepers_.fetch_sub(1);
}

void WorkerPool::worker_loop(int index) {
    std::uint64_t seen = 0;
    while (true) {
        wait_for_work(seen);
        seen = generation_.load(std::memory_order_acquire);
        if (stopping_.load()) return;
        if (index < n_tasks_) {
            try {
                (*task_)(index);
            } catch (...) {
                errors_[index] = std::current_exception();
            }
        }
        remaining_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void WorkerPool::run(int n_tasks, const std::function<void(int)>& task) {
    if (n_tasks <= 1 || n_threads_ == 1) {
        if (n_tasks >= 1) task(0);
        return;
    }
    task_ = &task;
    n_tasks_ = std::min(n_tasks, n_threads_);
    std::fill(errors_.begin(), errors_.end(), nullptr);
    remaining_.store(n_threads_ - 1, std::memory_order_release);
    bool anyone_asleep = false;
    {
        // Sleepers register under the mutex before they wait, so under it the count
        // is exact and no wake-up is lost; spinning workers need no notification.
        std::lock_guard<std::mutex> lock(mutex_);
        generation_.fetch_add(1, std::memory_order_acq_rel);
        anyone_asleep = sleepers_.load() > 0;
    }
    if (anyone_asleep) wake_.notify_all();
    try {
        task(0);
    } catch (...) {
        errors_[0] = std::current_exception();
    }
    for (int round = 0; remaining_.load(std::memory_order_acquire) != 0; ++round)
        back_off(round);
    for (const std::exception_ptr& error : errors_)
        if (error) std::rethrow_exception(error);
}

}  // namespace pmlp
