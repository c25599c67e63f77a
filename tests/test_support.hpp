#pragma once
// Shared helpers for the doctest programs: fixture paths and tolerance checks.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <string>

#include "vrwkv/io/safetensors.hpp"

namespace vrwkv::testing {

inline std::string data_path(const std::string& name) { return std::string(VRWKV_TEST_DATA_DIR) + "/" + name; }
inline std::string shared_fixture(const std::string& name) {
    return std::string(VRWKV_SHARED_FIXTURES_DIR) + "/" + name;
}
inline bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

// Largest |a - b| over two equally sized ranges of values convertible to double.
template <class A, class B>
double max_abs_diff(const A* a, const B* b, index_t n) {
    double m = 0;
    for (index_t i = 0; i < n; ++i) {
        double d = std::fabs(convert<double>(a[i]) - convert<double>(b[i]));
        if (!(d <= m)) m = d;  // propagates NaN as +inf-like
    }
    return m;
}

// Largest |t[i] - ref[i]| where ref is a stored tensor of any float dtype.
template <class T>
double max_abs_diff(const T* t, const stored_tensor& ref) {
    double m = 0;
    for (index_t i = 0; i < ref.numel(); ++i) {
        double d = std::fabs(convert<double>(t[i]) - ref.element(i));
        if (!(d <= m)) m = d;
    }
    return m;
}

// A tensor of N(0, scale^2) values.
template <class T>
tensor<T, cpu> normal_tensor(const shape& s, std::mt19937& rng, double scale) {
    std::normal_distribution<double> normal(0, scale);
    tensor<T, cpu> t(s);
    for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = convert<T>(normal(rng));
    return t;
}

// ||got - want|| / ||want||, or +inf when anything is not finite (unwritten
// outputs are poisoned with NaN).
template <class T>
double relative_error(const tensor<T, cpu>& got, const tensor<double, cpu>& want) {
    double num = 0, den = 0;
    for (index_t i = 0; i < want.numel(); ++i) {
        const double g = convert<double>(got.data()[i]);
        if (!std::isfinite(g)) return std::numeric_limits<double>::infinity();
        num += (g - want.data()[i]) * (g - want.data()[i]);
        den += want.data()[i] * want.data()[i];
    }
    return std::sqrt(num / den);
}

}  // namespace vrwkv::testing
