// The GEMM entry points. The core does not link a BLAS itself: the caller hands it the
// Fortran-convention routines of an optimised BLAS (SciPy's, in the Python package), so
// the extension uses exactly the library NumPy and SciPy already loaded.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "positive_mlp/types.hpp"

namespace pmlp {

template <class T>
using FortranGemm = void (*)(char* transa, char* transb, int* m, int* n, int* k, T* alpha,
                             T* a, int* lda, T* b, int* ldb, T* beta, T* c, int* ldc);
template <class T>
using FortranGemv = void (*)(char* trans, int* m, int* n, T* alpha, T* a, int* lda, T* x,
                             int* incx, T* beta, T* y, int* incy);
template <class T>
using FortranGer = void (*)(int* m, int* n, T* alpha, T* x, int* incx, T* y, int* incy, T* a,
                            int* lda);

// The BLAS routines the core calls. gemv and ger are optional: without them, products
// with a dimension of 1 go through gemm too.
struct Blas {
    FortranGemm<double> dgemm = nullptr;
    FortranGemm<float> sgemm = nullptr;
    FortranGemv<double> dgemv = nullptr;
    FortranGemv<float> sgemv = nullptr;
    FortranGer<double> dger = nullptr;
    FortranGer<float> sger = nullptr;

    template <class T>
    FortranGemm<T> gemm() const {
        if constexpr (std::is_same_v<T, double>)
            return dgemm;
        else
            return sgemm;
    }
    template <class T>
    FortranGemv<T> gemv() const {
        if constexpr (std::is_same_v<T, double>)
            return dgemv;
        else
            return sgemv;
    }
    template <class T>
    FortranGer<T> ger() const {
        if constexpr (std::is_same_v<T, double>)
            return dger;
        else
            return sger;
    }
};

enum class Trans { no, yes };

namespace detail {

// y (m entries, stride incy) = alpha * op(A) x + beta * y for a row-major A with leading
// dimension lda, op(A) being m x k.
template <class T>
void row_major_gemv(FortranGemv<T> fn, Trans trans, std::int64_t m, std::int64_t k, T alpha,
                    const T* a, std::int64_t lda, const T* x, std::int64_t incx, T beta, T* y,
                    std::int64_t incy) {
    // Row-major A (m x k) is column-major A^T (k x m): op(A) x = (A^T)^T x.
    char t = trans == Trans::no ? 'T' : 'N';
    int rows = static_cast<int>(trans == Trans::no ? k : m);
    int cols = static_cast<int>(trans == Trans::no ? m : k);
    int la = static_cast<int>(lda), ix = static_cast<int>(incx), iy = static_cast<int>(incy);
    fn(&t, &rows, &cols, &alpha, const_cast<T*>(a), &la, const_cast<T*>(x), &ix, &beta, y,
       &iy);
}

}  // namespace detail

// Row-major C (m x n) = alpha * op(A) * op(B) + beta * C, where op(A) is m x k.
// A row-major matrix is the column-major transpose, so this computes C^T = op(B)^T op(A)^T
// with the operands swapped: no copies, only the right transposition flags.
// Products with a dimension of 1 (a network's single output) go to gemv or ger, which
// skip gemm's packing: several times faster at the sizes of a batch.
template <class T>
void gemm(const Blas& blas, Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n,
          std::int64_t k, T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb,
          T beta, T* c, std::int64_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {  // C = beta * C; gemv would return without touching C
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < n; ++j)
                c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
        return;
    }
    FortranGemv<T> gemv = blas.gemv<T>();
    if (gemv && n == 1) {  // C's column = op(A) times op(B)'s column
        const std::int64_t inc_b = trans_b == Trans::no ? ldb : 1;
        return detail::row_major_gemv(gemv, trans_a, m, k, alpha, a, lda, b, inc_b, beta, c,
                                      ldc);
    }
    if (gemv && m == 1) {  // C's row = op(B)^T times op(A)'s row
        const std::int64_t inc_a = trans_a == Trans::no ? 1 : lda;
        const Trans flipped = trans_b == Trans::no ? Trans::yes : Trans::no;
        return detail::row_major_gemv(gemv, flipped, n, k, alpha, b, ldb, a, inc_a, beta, c,
                                      1);
    }
    FortranGer<T> ger = blas.ger<T>();
    if (ger && k == 1 && (beta == T(0) || beta == T(1))) {  // an outer product
        if (beta == T(0))
            for (std::int64_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, T(0));
        // Column-major C^T (n x m) += alpha * b a^T.
        int mi = static_cast<int>(n), ni = static_cast<int>(m), lc = static_cast<int>(ldc);
        int inc_b = static_cast<int>(trans_b == Trans::no ? 1 : ldb);
        int inc_a = static_cast<int>(trans_a == Trans::no ? lda : 1);
        return ger(&mi, &ni, &alpha, const_cast<T*>(b), &inc_b, const_cast<T*>(a), &inc_a, c,
                   &lc);
    }
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
