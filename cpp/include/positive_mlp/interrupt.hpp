// Cooperative cancellation: long loops call check() between units of work; the caller's
// poll (in Python: "has Ctrl-C been pressed?") runs at most every few milliseconds.
#pragma once

#include <chrono>
#include <functional>

#include "positive_mlp/types.hpp"

namespace pmlp {

class InterruptCheck {
public:
    using Poll = std::function<bool()>;

    explicit InterruptCheck(Poll poll) : poll_(std::move(poll)), last_(Clock::now()) {}

    // Throws Interrupted when the poll says so.
    void check() {
        if (!poll_) return;
        const auto now = Clock::now();
        if (now - last_ < kInterval) return;
        last_ = now;
        if (poll_()) throw Interrupted();
    }

private:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds kInterval{20};
    Poll poll_;
    Clock::time_point last_;
};

}  // namespace pmlp
