#include "positive_mlp/parallel.hpp"

#include <algorithm>
#include <cstddef>
#include <exception>
#include <new>
#include <system_error>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

namespace pmlp {

namespace {
// Workers spin this many rounds for the next batch before they sleep: batches follow
// each other within microseconds, epochs are separated by Python's bookkeeping.
constexpr int kSpinRounds = 20000;
// Rounds of busy waiting before a waiting thread yields its core on every round: a
// step's two halves are microseconds apart, and a sched_yield costs about one.
constexpr int kBusyRounds = 2000;
// Rounds a worker of a parked pool spins before it sleeps: the busy ones (a pause
// takes about 25 ns on the development VM, so 50 us) and as many yields, which leave
// the core to any other thread. A service predicting request after request takes the
// pool again within them, and waking a sleeping thread took longer than predicting
// ten rows of a (256, 256) network.
constexpr int kParkedSpinRounds = 2 * kBusyRounds;

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

// The most threads refused to one pool since the last take: a call whose pools
// (training, predicting each member) all asked for n threads reports n - 1, not a sum.
std::atomic<int> refused_starts{0};

// Address space a background thread comes to hold: its stack (8 MiB by default), a
// malloc arena (64 MiB) and OpenBLAS's buffer for its products (32 MiB). OpenBLAS
// retries a refused buffer forever, so a thread started without this room would hang
// the call rather than fail.
constexpr std::size_t kThreadAddressSpace = std::size_t{128} << 20;

// How many of `wanted` background threads fit under an address-space limit (ulimit
// -v): as many as a trial reservation of their room succeeds for.
int threads_with_room(int wanted) {
#if defined(__unix__) || defined(__APPLE__)
    rlimit limit{};
    if (wanted <= 0 || getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return wanted;
    for (int n = wanted; n > 0; --n) {
        const std::size_t bytes = static_cast<std::size_t>(n) * kThreadAddressSpace;
        void* room = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (room != MAP_FAILED) {
            munmap(room, bytes);
            return n;
        }
    }
    return 0;
#else
    return wanted;
#endif
}

// Parked pools, most recently parked last.
struct ParkedPools {
    std::mutex mutex;
    std::vector<std::unique_ptr<WorkerPool>> pools;
};

// Pools kept parked: enough for a few Python threads fitting at once; more are stopped.
constexpr std::size_t kMaxParkedPools = 4;

ParkedPools& parked() {
    return process_wide<ParkedPools>();
}
}  // namespace

long this_process() {
#if defined(__unix__) || defined(__APPLE__)
    return static_cast<long>(getpid());
#else
    return 0;
#endif
}

bool address_space_limited() {
#if defined(__unix__) || defined(__APPLE__)
    rlimit limit{};
    return getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY;
#else
    return false;
#endif
}

int take_refused_thread_starts() {
    return refused_starts.exchange(0);
}

std::pair<int, int> parked_pools() {
    ParkedPools& registry = parked();
    std::lock_guard<std::mutex> lock(registry.mutex);
    int threads = 0;
    for (const auto& pool : registry.pools) threads += pool->size() - 1;
    return {static_cast<int>(registry.pools.size()), threads};
}

PoolLease::PoolLease(int n_threads) {
    const int wanted = std::max(1, n_threads);
    if (wanted > 1) {
        ParkedPools& registry = parked();
        std::lock_guard<std::mutex> lock(registry.mutex);
        auto& pools = registry.pools;
        for (auto it = pools.rbegin(); it != pools.rend(); ++it) {
            if ((*it)->size() != wanted) continue;
            pool_ = std::move(*it);
            pools.erase(std::next(it).base());
            break;
        }
    }
    if (!pool_) pool_ = std::make_unique<WorkerPool>(wanted);
    pool_->unpark();
}

PoolLease::~PoolLease() {
    if (!pool_ || pool_->size() == 1 || !pool_->complete() || address_space_limited())
        return;  // stopped here
    pool_->park();
    std::unique_ptr<WorkerPool> surplus;  // stopped outside the lock
    try {
        ParkedPools& registry = parked();
        std::lock_guard<std::mutex> lock(registry.mutex);
        registry.pools.push_back(std::move(pool_));
        if (registry.pools.size() > kMaxParkedPools) {
            surplus = std::move(registry.pools.front());
            registry.pools.erase(registry.pools.begin());
        }
    } catch (...) {  // no room to park it (std::bad_alloc): the pool is stopped here
    }
}

WorkerPool::WorkerPool(int n_threads)
    : n_threads_(std::max(1, n_threads)),
      wanted_(n_threads_),
      errors_(static_cast<std::size_t>(n_threads_)) {
    const int wanted = n_threads_, with_room = 1 + threads_with_room(wanted - 1);
    // A refused thread (EAGAIN under a process or address-space limit) must not abort:
    // a std::thread left joinable by an exception here would call std::terminate.
    try {
        for (int i = 1; i < with_room; ++i)
            threads_.emplace_back([this, i] { worker_loop(i); });
    } catch (const std::system_error&) {
    } catch (const std::bad_alloc&) {
    }
    n_threads_ = static_cast<int>(threads_.size()) + 1;
    // Back only when every worker has taken its thread-local memory (worker_loop), while
    // threads_with_room's check still holds: the caller's allocations come after.
    while (ready_.load(std::memory_order_acquire) < n_threads_ - 1) std::this_thread::yield();
    const int refused = wanted - n_threads_;
    int most = refused_starts.load();
    while (refused > most && !refused_starts.compare_exchange_weak(most, refused)) {
    }
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
        if (round >= kParkedSpinRounds && parked_.load(std::memory_order_relaxed)) break;
        back_off(round);
    }
    std::unique_lock<std::mutex> lock(mutex_);
    sleepers_.fetch_add(1);
    wake_.wait(lock, [&] { return generation_.load() != seen; });
    sleepers_.fetch_sub(1);
}

void WorkerPool::worker_loop(int index) {
    // The C++ runtime's per-thread exception state lives in thread-local memory that
    // glibc allocates at its first use, and glibc ends the process when it cannot: a
    // first exception thrown here under a memory limit (a std::bad_alloc) would abort
    // the interpreter. Taken now, at the start, it is there for any later throw.
    // (volatile: the library declares the call pure, and an unused result would drop it)
    volatile int in_flight = std::uncaught_exceptions();
    static_cast<void>(in_flight);
    ready_.fetch_add(1, std::memory_order_release);
    std::uint64_t seen = 0;
    while (true) {
        wait_for_work(seen);
        seen = generation_.load(std::memory_order_acquire);
        if (stopping_.load()) return;
        run_share(index);
        remaining_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void WorkerPool::run_share(int index) {
    const FloatModeGuard caller_mode(float_mode_);
    try {
        for (int i = index; i < n_tasks_; i += n_threads_) (*task_)(i);
    } catch (...) {
        errors_[index] = std::current_exception();
    }
}

void WorkerPool::run(int n_tasks, const std::function<void(int)>& task) {
    if (n_tasks <= 1 || n_threads_ == 1) {
        for (int i = 0; i < n_tasks; ++i) task(i);
        return;
    }
    task_ = &task;
    n_tasks_ = n_tasks;
    float_mode_ = float_mode::read();
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
    run_share(0);
    for (int round = 0; remaining_.load(std::memory_order_acquire) != 0; ++round)
        back_off(round);
    for (const std::exception_ptr& error : errors_)
        if (error) std::rethrow_exception(error);
}

}  // namespace pmlp
