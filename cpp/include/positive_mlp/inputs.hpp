// The network's inputs: a dense row-major matrix or a sparse one in compressed sparse
// rows (CSR), and views of some of their rows. Only the first layer reads them:
// forward X W, backward X^T delta (the gradient with respect to X is never needed), so
// sparse inputs are never densified: their products run over the nonzeros.
#pragma once

#include <cstdint>

#include "positive_mlp/blas.hpp"
#include "positive_mlp/types.hpp"

namespace pmlp {

// Row i holds values[indptr[i] .. indptr[i + 1]) at columns indices[...], the indices
// 32- or 64-bit as scipy.sparse gives them (exactly one of the two is set). Duplicate
// entries of a row add up; the columns of a row need not be sorted.
template <class T>
struct CsrMatrix {
    const T* values = nullptr;
    const std::int32_t* indices32 = nullptr;
    const std::int64_t* indices64 = nullptr;
    const std::int64_t* indptr = nullptr;  // rows + 1 offsets
    std::int64_t rows = 0, cols = 0;
    std::int64_t n_entries = 0;  // length of values and indices

    std::int64_t column(std::int64_t entry) const {
        return indices32 ? indices32[entry] : indices64[entry];
    }

    // Throws std::invalid_argument unless the offsets rise from 0 to at most n_entries
    // and every column index lies in [0, cols): anything else would read or write out
    // of bounds. O(entries), once per call into the core.
    void check() const;
};

// Rows of a dense or CSR matrix: the first `rows` rows of `dense`, or rows of `csr`:
// selection[0], ..., selection[rows - 1] when a selection is given, else first, first + 1,
// ... Views: the caller owns the data.
template <class T>
struct Inputs {
    ConstMatrix<T> dense;  // used when !sparse
    CsrMatrix<T> csr;      // used when sparse
    bool sparse = false;
    const std::int64_t* selection = nullptr;
    std::int64_t first = 0;
    std::int64_t rows = 0, cols = 0;

    static Inputs from_dense(ConstMatrix<T> x) {
        return Inputs{x, {}, false, nullptr, 0, x.rows, x.cols};
    }
    static Inputs from_csr(const CsrMatrix<T>& x) {
        return Inputs{{}, x, true, nullptr, 0, x.rows, x.cols};
    }

    // Rows [start, start + count) of these rows.
    Inputs slice(std::int64_t start, std::int64_t count) const {
        Inputs part = *this;
        part.rows = count;
        if (!sparse)
            part.dense = ConstMatrix<T>{dense.row(start), count, cols};
        else if (selection)
            part.selection = selection + start;
        else
            part.first = first + start;
        return part;
    }
    // For CSR inputs: the rows at positions index[0..count) of these rows' matrix.
    Inputs select(const std::int64_t* index, std::int64_t count) const {
        Inputs part = *this;
        part.selection = index;
        part.rows = count;
        return part;
    }
    // Row r's row in the CSR matrix.
    std::int64_t csr_row(std::int64_t r) const { return selection ? selection[r] : first + r; }
};

// z (rows x n_out, row-major) = x w, for the inputs' rows and w (cols x n_out).
template <class T>
void multiply_inputs(const Blas& blas, const Inputs<T>& x, const T* w, std::int64_t n_out,
                     T* z);

// grad (cols x n_out) = x^T d (accumulate=false) or grad += x^T d (accumulate=true), for
// d (rows x n_out). With CSR inputs only the rows of grad that the nonzeros touch are
// added to (after zeroing all of it when not accumulating).
template <class T>
void multiply_inputs_transposed(const Blas& blas, const Inputs<T>& x, const T* d,
                                std::int64_t n_out, T* grad, bool accumulate);

}  // namespace pmlp
