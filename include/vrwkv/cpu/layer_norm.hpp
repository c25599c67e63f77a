#pragma once
// LayerNorm on the CPU: two passes per row (mean, then centred variance) in
// the accumulator type, rows in parallel.
#include <cmath>

#include "vrwkv/cpu/executor.hpp"
#include "vrwkv/ops/layer_norm.hpp"

namespace vrwkv {

template <>
struct layer_norm_impl<cpu> {
    template <class T>
    static void run(executor<cpu>& ex, const layer_norm_params& p, const T* x, const T* weight, const T* bias, T* y) {
        using Acc = accumulator_t<T>;
        const index_t n = p.features;
#pragma omp parallel for num_threads(ex.threads()) schedule(static) if (p.rows * n > 16384)
        for (index_t r = 0; r < p.rows; ++r) {
            const T* xr = x + r * n;
            T* yr = y + r * n;
            Acc mean = 0;
            for (index_t c = 0; c < n; ++c) mean += convert<Acc>(xr[c]);
            mean /= static_cast<Acc>(n);
            Acc var = 0;
            for (index_t c = 0; c < n; ++c) {
                const Acc d = convert<Acc>(xr[c]) - mean;
                var += d * d;
            }
            const Acc inv = Acc(1) / std::sqrt(var / static_cast<Acc>(n) + static_cast<Acc>(p.eps));
            for (index_t c = 0; c < n; ++c)
                yr[c] = convert<T>((convert<Acc>(xr[c]) - mean) * inv * convert<Acc>(weight[c]) + convert<Acc>(bias[c]));
        }
    }
};

}  // namespace vrwkv
