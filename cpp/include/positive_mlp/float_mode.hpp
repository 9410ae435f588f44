// Subnormal numbers (below 2.2e-308 in double, 1.2e-38 in float) cost the processor a
// slow path on every operation that reads or writes one: weights, Adam moments and
// activations that decay towards 0 over tens of thousands of steps made an epoch 7x
// slower. The core's loops therefore run with subnormals flushed to zero (x86: MXCSR's
// flush-to-zero and denormals-are-zero bits; AArch64: FPCR's FZ bit), set on entry and
// restored on exit so that the caller's floating-point state is never changed; the pool's
// workers take on the caller's mode, and the BLAS's products, which run on these threads
// (the package limits the BLAS to one thread around core calls), follow it. Results
// differ from exact IEEE arithmetic only where a value was subnormal: read as, or
// rounded to, 0.
#pragma once

#include <atomic>
#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <xmmintrin.h>
#define PMLP_FLOAT_MODE_X86 1
#elif defined(__aarch64__)
#define PMLP_FLOAT_MODE_ARM64 1
#endif

namespace pmlp {

namespace float_mode {

// The bits that flush subnormals, in this processor's control register.
#if defined(PMLP_FLOAT_MODE_X86)
using Register = unsigned int;
constexpr Register kFlushBits = 0x8040;  // FTZ (bit 15) | DAZ (bit 6)
inline Register read() {
    return _mm_getcsr();
}
inline void write(Register value) {
    _mm_setcsr(value);
}
#elif defined(PMLP_FLOAT_MODE_ARM64)
using Register = std::uint64_t;
constexpr Register kFlushBits = Register{1} << 24;  // FZ
inline Register read() {
    Register value;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(value));
    return value;
}
inline void write(Register value) {
    __asm__ __volatile__("msr fpcr, %0" : : "r"(value));
}
#else
using Register = unsigned int;
constexpr Register kFlushBits = 0;
inline Register read() {
    return 0;
}
inline void write(Register) {}
#endif

// Whether the core flushes subnormals (on by default); a switch for benchmarks and
// tests that compare with exact IEEE arithmetic.
inline std::atomic<bool>& enabled() {
    static std::atomic<bool> flag{true};
    return flag;
}

}  // namespace float_mode

// Sets this thread's control register to `wanted` for the guard's lifetime, then restores
// what it was. Cheap (two register moves), so it goes around every entry point.
class FloatModeGuard {
public:
    explicit FloatModeGuard(float_mode::Register wanted) : saved_(float_mode::read()) {
        if (wanted != saved_) float_mode::write(wanted);
    }
    ~FloatModeGuard() {
        if (float_mode::read() != saved_) float_mode::write(saved_);
    }
    FloatModeGuard(const FloatModeGuard&) = delete;
    FloatModeGuard& operator=(const FloatModeGuard&) = delete;

private:
    float_mode::Register saved_;
};

// The core's floating-point mode on this thread while it lives: the caller's, with
// subnormals flushed (unless switched off).
class CoreFloatMode : public FloatModeGuard {
public:
    CoreFloatMode()
        : FloatModeGuard(float_mode::read() |
                         (float_mode::enabled().load(std::memory_order_relaxed)
                              ? float_mode::kFlushBits
                              : float_mode::Register{0})) {}
};

}  // namespace pmlp
