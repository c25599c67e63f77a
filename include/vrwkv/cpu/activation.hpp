#pragma once
// Element-wise activations and gates on the CPU. float and double go through
// Eigen array expressions, which vectorise exp and tanh; 16-bit storage is
// widened element by element.
#include <algorithm>
#include <type_traits>

#include "vrwkv/cpu/eigen.hpp"
#include "vrwkv/cpu/executor.hpp"
#include "vrwkv/ops/activation.hpp"

namespace vrwkv {

template <>
struct activation_impl<cpu> {
    template <class T>
    static void activate(executor<cpu>& ex, const activation_params& p, const T* x, T* y) {
        for_chunks(ex, p.count, [&](index_t begin, index_t n) {
            if constexpr (std::is_floating_point_v<T>) {
                const cmap<T> xs(x + begin, n);
                map<T> ys(y + begin, n);
                switch (p.kind) {
                    case activation::squared_relu: ys = xs.max(T(0)).square(); break;
                    case activation::tanh: ys = xs.tanh(); break;
                    case activation::silu: ys = xs / (T(1) + (-xs).exp()); break;
                    case activation::sigmoid: ys = T(1) / (T(1) + (-xs).exp()); break;
                    case activation::gelu_tanh:
                        ys = T(0.5) * xs * (T(1) + (T(0.7978845608028654) * (xs + T(0.044715) * xs.cube())).tanh());
                        break;
                    case activation::identity: ys = xs; break;
                }
            } else {
                using Acc = accumulator_t<T>;
                for (index_t i = begin; i < begin + n; ++i) y[i] = convert<T>(apply_activation(p.kind, convert<Acc>(x[i])));
            }
        });
    }

    template <class T>
    static void gate(executor<cpu>& ex, const activation_params& p, const T* a, const T* b, T* out) {
        for_chunks(ex, p.count, [&](index_t begin, index_t n) {
            if constexpr (std::is_floating_point_v<T>) {
                const cmap<T> as(a + begin, n), bs(b + begin, n);
                map<T> os(out + begin, n);
                switch (p.kind) {
                    case activation::sigmoid: os = bs / (T(1) + (-as).exp()); break;
                    case activation::silu: os = as * bs / (T(1) + (-as).exp()); break;
                    case activation::tanh: os = as.tanh() * bs; break;
                    case activation::squared_relu: os = as.max(T(0)).square() * bs; break;
                    case activation::gelu_tanh:
                        os = T(0.5) * as * (T(1) + (T(0.7978845608028654) * (as + T(0.044715) * as.cube())).tanh()) * bs;
                        break;
                    case activation::identity: os = as * bs; break;
                }
            } else {
                using Acc = accumulator_t<T>;
                for (index_t i = begin; i < begin + n; ++i)
                    out[i] = convert<T>(apply_activation(p.kind, convert<Acc>(a[i])) * convert<Acc>(b[i]));
            }
        });
    }

private:
    template <class S> using map = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>;
    template <class S> using cmap = Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>;

    // Calls f(begin, count) on chunks of [0, n), in parallel when large.
    template <class F>
    static void for_chunks(executor<cpu>& ex, index_t n, F&& f) {
        constexpr index_t chunk = 16384;
        const index_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for num_threads(ex.threads()) schedule(static) if (chunks > 1)
        for (index_t i = 0; i < chunks; ++i) f(i * chunk, std::min(chunk, n - i * chunk));
    }
};

}  // namespace vrwkv
