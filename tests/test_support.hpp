#pragma once
// Shared helpers for the doctest programs: fixture paths and tolerance checks.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
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

}  // namespace vrwkv::testing
