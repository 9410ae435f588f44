// Sign constraints on parameters and constraints on the output.
//
// Every parameter has a sign: 0 (free), +1 (must stay >= 0) or -1 (must stay <= 0).
// A WeightMethod says how the constrained ones are kept in place:
//   projection: the optimiser works on the weights, which are clipped after each update;
//   square/exp: the optimiser works on a free p, and the weight is
//               sign * p^2 / (4 u) or sign * exp(p / u) (reparametrisation, with the
//               chain rule in the gradient).
// The unit u of a parameter is its layer's weight scale, 1 / sqrt(fan-in) (see
// Layout::unit). Both maps have slope 1 where the weight equals u, so a step of the
// optimiser moves a weight of that size as far as under projection. (Unscaled, exp(p)
// moved every weight by a factor exp(learning_rate) per step: from its start near
// 1 / fan-in it hardly left the constant model at the default rate.)
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
    // `blocks` cover [0, n) in order, each with the unit of its parameters.
    SignConstraints(WeightMethod method, const std::int8_t* signs, std::int64_t n,
                    const std::vector<ParameterBlock>& blocks)
        : method_(signs ? method : WeightMethod::none) {
        if (!signs) return;
        std::int64_t covered = 0;
        for (const ParameterBlock& block : blocks) {
            require(block.begin == covered && block.end >= block.begin && block.unit > 0.0,
                    "parameter blocks must cover the parameters in order");
            covered = block.end;
            add_runs(signs, block);
        }
        require(covered == n, "parameter blocks must cover the parameters in order");
    }

    bool active() const { return method_ != WeightMethod::none; }
    bool reparametrises() const {
        return method_ == WeightMethod::square || method_ == WeightMethod::exp;
    }

    // The weights the layers use, from the parameters the optimiser updates, for
    // parameters [begin, end).
    template <class T>
    void effective(const T* free, T* out, std::int64_t begin, std::int64_t end) const {
        std::copy(free + begin, free + end, out + begin);
        for_runs(begin, end, [&](const SignRun& run, std::int64_t first, std::int64_t last) {
            const T sign = T(run.sign), unit = T(run.unit);
            for (std::int64_t i = first; i < last; ++i) out[i] = sign * map(free[i], unit);
        });
    }

    // grad (with respect to the effective weights) becomes the gradient with respect
    // to the free parameters, for parameters [begin, end).
    template <class T>
    void chain_rule(const T* free, T* grad, std::int64_t begin, std::int64_t end) const {
        for_runs(begin, end, [&](const SignRun& run, std::int64_t first, std::int64_t last) {
            const T sign = T(run.sign), unit = T(run.unit);
            for (std::int64_t i = first; i < last; ++i)
                grad[i] *= sign * map_derivative(free[i], unit);
        });
    }

    // Clips constrained parameters among [begin, end) onto their half-line (exactly 0
    // at the boundary).
    template <class T>
    void project(T* params, std::int64_t begin, std::int64_t end) const {
        if (method_ != WeightMethod::projection) return;
        for_runs(begin, end, [&](const SignRun& run, std::int64_t first, std::int64_t last) {
            T* p = params + first;
            const std::int64_t length = last - first;
            if (run.sign > 0)
                for (std::int64_t i = 0; i < length; ++i) p[i] = std::max(p[i], T(0));
            else
                for (std::int64_t i = 0; i < length; ++i) p[i] = std::min(p[i], T(0));
        });
    }

private:
    struct SignRun {
        std::int64_t begin, end;
        std::int8_t sign;
        double unit;
    };

    // Maximal runs of one non-zero sign within a block.
    void add_runs(const std::int8_t* signs, const ParameterBlock& block) {
        for (std::int64_t i = block.begin; i < block.end; ++i) {
            const std::int8_t s = signs[i];
            require(s >= -1 && s <= 1, "signs must be -1, 0 or 1");
            if (s == 0) continue;
            if (!runs_.empty() && runs_.back().end == i && runs_.back().sign == s &&
                runs_.back().unit == block.unit)
                runs_.back().end = i + 1;
            else
                runs_.push_back(SignRun{i, i + 1, s, block.unit});
        }
    }

    // f(run, first, last) for each run's share of [begin, end): loops over runs of
    // one sign and unit vectorise, and these run after every update.
    template <class F>
    void for_runs(std::int64_t begin, std::int64_t end, F&& f) const {
        for (const SignRun& run : runs_) {
            const std::int64_t first = std::max(run.begin, begin);
            const std::int64_t last = std::min(run.end, end);
            if (first < last) f(run, first, last);
        }
    }

    // Capped at T's largest value: one diverging update must not make an infinite
    // weight or slope.
    template <class T>
    T map(T p, T unit) const {
        if (method_ == WeightMethod::square)
            return std::min(p * (p / (T(4) * unit)), std::numeric_limits<T>::max());
        return std::exp(std::min(p / unit, max_exp_argument<T>()));
    }
    template <class T>
    T map_derivative(T p, T unit) const {
        if (method_ == WeightMethod::square)
            return std::clamp(p / (T(2) * unit), std::numeric_limits<T>::lowest(),
                              std::numeric_limits<T>::max());
        const T x = p / unit;
        return x <= max_exp_argument<T>()
            ? std::min(std::exp(x) / unit, std::numeric_limits<T>::max())
            : T(0);
    }

    WeightMethod method_ = WeightMethod::none;
    std::vector<SignRun> runs_;
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
