#pragma once
// Element-wise activations and gates on the CPU.
#include "vrwkv/cpu/executor.hpp"
#include "vrwkv/ops/activation.hpp"

namespace vrwkv {

template <>
struct activation_impl<cpu> {
    template <class T>
    static void activate(executor<cpu>& ex, const activation_params& p, const T* x, T* y) {
        using Acc = accumulator_t<T>;
#pragma omp parallel for num_threads(ex.threads()) schedule(static) if (p.count > 65536)
        for (index_t i = 0; i < p.count; ++i) y[i] = convert<T>(apply_activation(p.kind, convert<Acc>(x[i])));
    }
    template <class T>
    static void gate(executor<cpu>& ex, const activation_params& p, const T* a, const T* b, T* out) {
        using Acc = accumulator_t<T>;
#pragma omp parallel for num_threads(ex.threads()) schedule(static) if (p.count > 65536)
        for (index_t i = 0; i < p.count; ++i)
            out[i] = convert<T>(apply_activation(p.kind, convert<Acc>(a[i])) * convert<Acc>(b[i]));
    }
};

}  // namespace vrwkv
