#pragma once
// Eigen's Core for the CPU backend. GCC 12 reports "'__Y' may be used
// uninitialized" inside its own AVX-512 intrinsics headers wherever Eigen's
// kernels inline them (GCC bug 105593, fixed in GCC 13): hundreds of false
// warnings per translation unit under -Wall -march=native. GCC decides by
// the diagnostic state at the warning's line, so silencing the two warnings
// while Eigen (and through it the intrinsics) is first included silences
// only what is reported inside those headers, never a warning in our code.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop
#else
#include <Eigen/Core>
#endif
