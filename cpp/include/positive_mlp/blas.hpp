// The GEMM entry points. The core does not link a BLAS itself: the caller hands it the
// Fortran-convention routines of an optimised BLAS (SciPy's, in the Python package), so
// the extension uses exactly the library NumPy and SciPy already loaded.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "positive_mlp/types.hpp"

namespace pmlp {

template <class T>
using FortranGemm = void (*)(char* transa, char* transb, int* m, int* n, int* k, T* alpha,
                             T* a, int* lda, T* b, int* ldb, T* beta, T* c, int* ldc);

struct Blas {
    FortranGemm<double> dgemm = nullptr;
    FortranGemm<float> sgemm = nullptr;

    template <class T>
    FortranGemm<T> gemm() const {
        if constexpr (std::is_same_v<T, double>) return dgemm;
        else return sgemm;
    }
};

enum class Trans { no, yes };

// Row-major C (m x n) = alpha * op(A) * op(B) + beta * C, where op(A) is m x k.
// A row-major matrix is the column-major transpose, so this computes C^T = op(B)^T op(A)^T
// with the operands swapped: no copies, only the right transposition flags.
template <class T>
void gemm(const Blas& blas, Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n,
          std::int64_t k, T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb,
          T beta, T* c, std::int64_t ldc) {
    if (m == 0 || n == 0) return;
    FortranGemm<T> fn = blas.gemm<T>();
    if (fn == nullptr) throw std::runtime_error("no BLAS routine was provided to the core");
    char ta = trans_b == Trans::yes ? 'T' : 'N';
    char tb = trans_a == Trans::yes ? 'T' : 'N';
    int mi = static_cast<int>(n), ni = static_cast<int>(m), ki = static_cast<int>(k);
    int la = static_cast<int>(ldb), lb = static_cast<int>(lda), lc = static_cast<int>(ldc);
    fn(&ta, &tb, &mi, &ni, &ki, &alpha, const_cast<T*>(b), &la, const_cast<T*>(a), &lb, &beta,
       c, &lc);
}

}  // namespace pmlp
