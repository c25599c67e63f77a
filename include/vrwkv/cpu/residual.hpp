#pragma once
// Residual and broadcast adds on the CPU.
#include "vrwkv/cpu/executor.hpp"
#include "vrwkv/ops/residual.hpp"

namespace vrwkv {

template <>
struct residual_impl<cpu> {
    template <class T>
    static void add(executor<cpu>& ex, const residual_params& p, T* x, const T* y, const T* scale) {
        using Acc = accumulator_t<T>;
        const index_t C = p.channels;
#pragma omp parallel for num_threads(ex.threads()) schedule(static) if (p.rows * C > 65536)
        for (index_t r = 0; r < p.rows; ++r) {
            const T* yr = y + (p.period > 0 ? r % p.period : r) * C;
            T* xr = x + r * C;
            for (index_t c = 0; c < C; ++c) {
                const Acc s = scale ? convert<Acc>(scale[c]) : Acc(1);
                xr[c] = convert<T>(convert<Acc>(xr[c]) + s * convert<Acc>(yr[c]));
            }
        }
    }
};

}  // namespace vrwkv
