// Sign constraints on parameters and constraints on the output.
//
// Every parameter has a sign: 0 (free), +1 (must stay >= 0) or -1 (must stay <= 0).
// A WeightMethod says how the constrained ones are kept in place:
//   projection: the optimiser works on the weights, which are clipped after each update;
//   square/exp: the optimiser works on a free p, and the weight is sign * p^2 or
//               sign * exp(p) (reparametrisation, with the chain rule in the gradient).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "positive_mlp/output_transforms.hpp"
#include "positive_mlp/types.hpp"

namespace pmlp {

class SignConstraints {
public:
    SignConstraints() = default;
    SignConstraints(WeightMethod method, const std::int8_t* signs, std::int64_t n)
        : method_(signs ? method : WeightMethod::none) {
        if (signs) signs_.assign(signs, signs + n);
        for (std::int64_t i = 0; i < static_cast<std::int64_t>(signs_.size()); ++i) {
            const std::int8_t s = signs_[i];
            require(s >= -1 && s <= 1, "signs must be -1, 0 or 1");
            if (s == 0) continue;
            if (!runs_.empty() && runs_.back().end == i && runs_.back().sign == s)
                runs_.back().end = i + 1;
            else
                runs_.push_back(SignRun{i, i + 1, s});
        }
    }

    bool active() const { return method_ != WeightMethod::none; }
    bool reparametrises() const {
        return method_ == WeightMethod::square || method_ == WeightMethod::exp;
    }
    std::int64_t size() const { return static_cast<std::int64_t>(signs_.size()); }

    // The weights the layers use, from the parameters the optimiser updates, for
    // parameters [begin, end).
    template <class T>
    void effective(const T* free, T* out, std::int64_t begin, std::int64_t end) const {
        for (std::int64_t i = begin; i < end; ++i) {
            const std::int8_t s = signs_[i];
            out[i] = s == 0 ? free[i] : T(s) * map(free[i]);
        }
    }

    // grad (with respect to the effective weights) becomes the gradient with respect
    // to the free parameters, for parameters [begin, end).
    template <class T>
    void chain_rule(const T* free, T* grad, std::int64_t begin, std::int64_t end) const {
        for (std::int64_t i = begin; i < end; ++i)
            if (signs_[i] != 0) grad[i] *= T(signs_[i]) * map_derivative(free[i]);
    }

    // Clips constrained parameters among [begin, end) onto their half-line (exactly 0
    // at the boundary).
    template <class T>
    void project(T* params, std::int64_t begin, std::int64_t end) const {
        if (method_ != WeightMethod::projection) return;
        // Over contiguous runs of one sign, so that the loops vectorise: this runs
        // after every update.
        for (const SignRun& run : runs_) {
            const std::int64_t first = std::max(run.begin, begin);
            const std::int64_t last = std::min(run.end, end);
            if (first >= last) continue;
            T* p = params + first;
            const std::int64_t length = last - first;
            if (run.sign > 0)
                for (std::int64_t i = 0; i < length; ++i) p[i] = std::max(p[i], T(0));
            else
                for (std::int64_t i = 0; i < length; ++i) p[i] = std::min(p[i], T(0));
        }
    }

private:
    // Capped at T's largest value: a free parameter beyond its square root (one
    // diverging update) must not make an infinite weight.
    template <class T>
    T map(T p) const {
        if (method_ == WeightMethod::square)
            return std::min(p * p, std::numeric_limits<T>::max());
        return std::exp(std::min(p, max_exp_argument<T>()));
    }
    template <class T>
    T map_derivative(T p) const {
        if (method_ == WeightMethod::square) return T(2) * p;
        return p <= max_exp_argument<T>() ? std::exp(p) : T(0);
    }

    struct SignRun {
        std::int64_t begin, end;
        std::int8_t sign;
    };

    WeightMethod method_ = WeightMethod::none;
    std::vector<std::int8_t> signs_;
    std::vector<SignRun> runs_;  // maximal runs of one non-zero sign
};

// Training-time constraint prediction >= threshold on a linear output, per element:
// penalty:    strength * relu(threshold - p)^2
// lagrangian: (max(0, m + strength * c)^2 - m^2) / (2 * strength), c = threshold - p,
//             with multiplier m >= 0 (the augmented Lagrangian of c <= 0).
struct OutputConstraintTerm {
    double value;
    double derivative;  // with respect to p
};

template <class T>
inline OutputConstraintTerm output_constraint_term(OutputConstraint kind, double strength,
                                                   T threshold, T p, T multiplier) {
    const double c = static_cast<double>(threshold) - static_cast<double>(p);
    switch (kind) {
        case OutputConstraint::none: return {0.0, 0.0};
        case OutputConstraint::penalty: {
            const double r = std::max(c, 0.0);
            return {strength * r * r, -2.0 * strength * r};
        }
        case OutputConstraint::lagrangian: {
            const double m = static_cast<double>(multiplier);
            const double shifted = std::max(m + strength * c, 0.0);
            return {(shifted * shifted - m * m) / (2.0 * strength), -shifted};
        }
    }
    return {0.0, 0.0};
}

// Dual ascent on one multiplier: m <- max(0, m + strength * (threshold - p)).
template <class T>
inline T ascend_multiplier(double strength, T threshold, T p, T multiplier) {
    const double c = static_cast<double>(threshold) - static_cast<double>(p);
    return static_cast<T>(std::max(static_cast<double>(multiplier) + strength * c, 0.0));
}

}  // namespace pmlp
