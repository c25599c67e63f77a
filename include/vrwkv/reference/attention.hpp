#pragma once
// Oracle for multi-head softmax attention (ops/attention.hpp): the definition
// summed directly in double, largest score factored out. Slow and obviously
// correct; for tests only.
#include <algorithm>
#include <cmath>
#include <vector>

#include "vrwkv/core/tensor_view.hpp"
#include "vrwkv/ops/attention.hpp"

namespace vrwkv::reference {

template <class T>
void attention(tensor_view<const T> q, tensor_view<const T> k, tensor_view<const T> v, tensor_view<double> o) {
    const index_t B = q.size(0), T_ = q.size(1), C = q.size(2), D = attention_head_dim;
    require(C % D == 0, "reference attention: C must be a multiple of 64");
    require_shape(k.dims(), q.dims(), "reference attention: k");
    require_shape(v.dims(), q.dims(), "reference attention: v");
    require_shape(o.dims(), q.dims(), "reference attention: o");
    const double scale = 1.0 / std::sqrt(static_cast<double>(D));
    std::vector<double> s(static_cast<std::size_t>(T_));
    for (index_t b = 0; b < B; ++b)
        for (index_t h = 0; h < C / D; ++h)
            for (index_t t = 0; t < T_; ++t) {
                double m = -INFINITY;
                for (index_t i = 0; i < T_; ++i) {
                    double dot = 0;
                    for (index_t d = h * D; d < (h + 1) * D; ++d)
                        dot += convert<double>(q(b, t, d)) * convert<double>(k(b, i, d));
                    s[i] = dot * scale;
                    m = std::max(m, s[i]);
                }
                double den = 0;
                for (index_t i = 0; i < T_; ++i) den += (s[i] = std::exp(s[i] - m));
                for (index_t d = h * D; d < (h + 1) * D; ++d) {
                    double num = 0;
                    for (index_t i = 0; i < T_; ++i) num += s[i] * convert<double>(v(b, i, d));
                    o(b, t, d) = num / den;
                }
            }
}

}  // namespace vrwkv::reference
