#pragma once
// O(T^2) oracle for Bi-WKV: the definition of SPEC 5 summed directly in
// double, with the largest exponent factored out. Slow and obviously correct.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "vrwkv/core/tensor_view.hpp"

namespace vrwkv::reference {

template <class T, class W>
void biwkv(tensor_view<const W> w, tensor_view<const W> u, tensor_view<const T> k, tensor_view<const T> v,
           tensor_view<double> y) {
    const index_t B = k.size(0), T_ = k.size(1), C = k.size(2);
    std::vector<double> s(static_cast<std::size_t>(T_));
    for (index_t b = 0; b < B; ++b)
        for (index_t c = 0; c < C; ++c)
            for (index_t t = 0; t < T_; ++t) {
                double m = -INFINITY;
                for (index_t i = 0; i < T_; ++i) {
                    const double ki = static_cast<double>(k(b, i, c));
                    s[i] = i == t ? static_cast<double>(u(c)) + ki
                                  : -static_cast<double>(std::abs(t - i) - 1) * static_cast<double>(w(c)) + ki;
                    m = std::max(m, s[i]);
                }
                double num = 0, den = 0;
                for (index_t i = 0; i < T_; ++i) {
                    const double e = std::exp(s[i] - m);
                    num += e * static_cast<double>(v(b, i, c));
                    den += e;
                }
                y(b, t, c) = num / den;
            }
}

}  // namespace vrwkv::reference
