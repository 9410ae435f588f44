#include "positive_mlp/inputs.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace pmlp {

// The messages are built only on failure: check runs over every entry.
template <class T>
void CsrMatrix<T>::check() const {
    require(rows >= 0 && cols >= 0 && n_entries >= 0, "sparse X has a negative dimension");
    require((indices32 != nullptr) != (indices64 != nullptr),
            "sparse X needs one array of column indices");
    require(indptr[0] == 0, "sparse X's row offsets (indptr) must start at 0");
    for (std::int64_t i = 0; i < rows; ++i)
        if (indptr[i] > indptr[i + 1])
            throw std::invalid_argument(
                "sparse X's row offsets (indptr) must not decrease (row " + std::to_string(i) +
                ")");
    if (indptr[rows] > n_entries)
        throw std::invalid_argument("sparse X's row offsets (indptr) end at " +
                                    std::to_string(indptr[rows]) + ", past its " +
                                    std::to_string(n_entries) + " stored entries");
    for (std::int64_t e = 0; e < indptr[rows]; ++e) {
        const std::int64_t j = column(e);
        if (j < 0 || j >= cols)
            throw std::invalid_argument("sparse X has a column index " + std::to_string(j) +
                                        " outside [0, " + std::to_string(cols) + ")");
    }
}

template <class T>
void multiply_inputs(const Blas& blas, const Inputs<T>& x, const T* w, std::int64_t n_out,
                     T* z) {
    if (!x.sparse) {
        gemm<T>(blas, Trans::no, Trans::no, x.rows, n_out, x.cols, T(1), x.dense.data,
                x.dense.stride, w, n_out, T(0), z, n_out);
        return;
    }
    const CsrMatrix<T>& m = x.csr;
    for (std::int64_t r = 0; r < x.rows; ++r) {
        T* z_row = z + r * n_out;
        std::fill(z_row, z_row + n_out, T(0));
        const std::int64_t i = x.csr_row(r);
        for (std::int64_t e = m.indptr[i]; e < m.indptr[i + 1]; ++e) {
            const T v = m.values[e];
            const T* w_row = w + m.column(e) * n_out;
            for (std::int64_t o = 0; o < n_out; ++o) z_row[o] += v * w_row[o];
        }
    }
}

template <class T>
void multiply_inputs_transposed(const Blas& blas, const Inputs<T>& x, const T* d,
                                std::int64_t n_out, T* grad, bool accumulate) {
    if (!x.sparse) {
        gemm<T>(blas, Trans::yes, Trans::no, x.cols, n_out, x.rows, T(1), x.dense.data,
                x.dense.stride, d, n_out, accumulate ? T(1) : T(0), grad, n_out);
        return;
    }
    if (!accumulate) std::fill(grad, grad + x.cols * n_out, T(0));
    const CsrMatrix<T>& m = x.csr;
    for (std::int64_t r = 0; r < x.rows; ++r) {
        const T* d_row = d + r * n_out;
        const std::int64_t i = x.csr_row(r);
        for (std::int64_t e = m.indptr[i]; e < m.indptr[i + 1]; ++e) {
            const T v = m.values[e];
            T* g_row = grad + m.column(e) * n_out;
            for (std::int64_t o = 0; o < n_out; ++o) g_row[o] += v * d_row[o];
        }
    }
}

template struct CsrMatrix<float>;
template struct CsrMatrix<double>;
template void multiply_inputs(const Blas&, const Inputs<float>&, const float*, std::int64_t,
                              float*);
template void multiply_inputs(const Blas&, const Inputs<double>&, const double*, std::int64_t,
                              double*);
template void multiply_inputs_transposed(const Blas&, const Inputs<float>&, const float*,
                                         std::int64_t, float*, bool);
template void multiply_inputs_transposed(const Blas&, const Inputs<double>&, const double*,
                                         std::int64_t, double*, bool);

}  // namespace pmlp
