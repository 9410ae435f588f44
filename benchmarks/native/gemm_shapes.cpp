// GFLOP/s of one BLAS thread on the products of one training step, against the same
// thread's rate on a large square product. Driven by ../bench_gemm_shapes.py, which
// compiles it and passes the path of the BLAS that SciPy loaded.
//
//     gemm_shapes <libblas.so> <symbol prefix> <d|s> <repeats> <m,n,k,ta,tb>...
//
// Prints one line per shape and round: m n k ta tb round gflops. Each round starts
// with the square (m = n = k = 1024).
#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

template <class T>
using Gemm = void (*)(const char*, const char*, const int*, const int*, const int*, const T*,
                      const T*, const int*, const T*, const int*, const T*, T*, const int*);
using SetThreads = void (*)(int);

static double seconds() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Row-major C (m x n) = op(A) op(B), as the core calls the Fortran routine: operands
// swapped, leading dimensions those of the row-major arrays.
template <class T>
static double rate(Gemm<T> gemm, int m, int n, int k, char ta, char tb) {
    std::vector<T> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(k) * n),
        c(static_cast<size_t>(m) * n);
    for (size_t i = 0; i < a.size(); ++i) a[i] = T((i * 7919 % 1000) / 1000.0 - 0.5);
    for (size_t i = 0; i < b.size(); ++i) b[i] = T((i * 104729 % 1000) / 1000.0 - 0.5);
    const int lda = ta == 'N' ? k : m, ldb = tb == 'N' ? n : k;
    const T one = 1, zero = 0;
    auto call = [&] {
        gemm(&tb, &ta, &n, &m, &k, &one, b.data(), &ldb, a.data(), &lda, &zero, c.data(), &n);
    };
    const double flops = 2.0 * m * n * k;
    long calls = 1;
    for (;;) {  // grow the run until it lasts 50 ms: hot caches, no timer resolution
        const double start = seconds();
        for (long i = 0; i < calls; ++i) call();
        const double elapsed = seconds() - start;
        if (elapsed > 0.05) return flops * calls / elapsed / 1e9;
        calls *= 2;
    }
}

template <class T>
static int run(void* lib, const std::string& prefix, int repeats, int argc, char** argv) {
    auto gemm = reinterpret_cast<Gemm<T>>(
        dlsym(lib, (prefix + (sizeof(T) == 8 ? "dgemm_" : "sgemm_")).c_str()));
    if (gemm == nullptr) {
        std::fprintf(stderr, "no gemm in the library\n");
        return 2;
    }
    std::vector<int> m(argc), n(argc), k(argc);
    std::vector<char> ta(argc), tb(argc);
    for (int s = 0; s < argc; ++s)
        if (std::sscanf(argv[s], "%d,%d,%d,%c,%c", &m[s], &n[s], &k[s], &ta[s], &tb[s]) != 5)
            return 2;
    // Rounds: the square, then every shape, so that a slower spell of a shared machine
    // affects a round's peak and its shapes alike.
    for (int r = 0; r < repeats; ++r) {
        std::printf("1024 1024 1024 N N %d %.3f\n", r,
                    rate<T>(gemm, 1024, 1024, 1024, 'N', 'N'));
        for (int s = 0; s < argc; ++s)
            std::printf("%d %d %d %c %c %d %.3f\n", m[s], n[s], k[s], ta[s], tb[s], r,
                        rate<T>(gemm, m[s], n[s], k[s], ta[s], tb[s]));
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 5) return 2;
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
        std::fprintf(stderr, "%s\n", dlerror());
        return 2;
    }
    const std::string prefix = argv[2];
    for (const char* name : {"openblas_set_num_threads", "set_num_threads"}) {
        auto set = reinterpret_cast<SetThreads>(dlsym(lib, (prefix + name).c_str()));
        if (set) {
            set(1);  // the core's BLAS runs single-threaded
            break;
        }
    }
    const int repeats = std::atoi(argv[4]);
    if (argv[3][0] == 'd') return run<double>(lib, prefix, repeats, argc - 5, argv + 5);
    return run<float>(lib, prefix, repeats, argc - 5, argv + 5);
}
