// PMLP_VECTOR_CLONES: compiles a function for several x86-64 instruction sets and picks
// the best one the CPU has when the module loads (GCC's and Clang's target_clones, an
// ifunc, so glibc only). A wheel's baseline is SSE2, two doubles an instruction; AVX2
// does four, AVX-512 eight, which halves and quarters loops bound by sqrt and division
// such as Adam's update. Only for element-wise loops: each element sees the same IEEE
// operations in every version (and -ffp-contract=off, in CMakeLists.txt, keeps them
// from fusing into FMAs), so results are identical to the bit whichever version runs.
// A reduction's order would change with the width: those stay single-version.
#pragma once

#include <cstdint>  // defines __GLIBC__ on glibc

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define PMLP_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef PMLP_VECTOR_CLONES
#define PMLP_VECTOR_CLONES
#endif
