#pragma once
// Element-wise activations and gates on the GPU: packets of 16 bytes, a
// grid-stride loop, arithmetic in the accumulator type.
#include "vrwkv/cuda/kernels_common.cuh"
#include "vrwkv/ops/activation.hpp"

namespace vrwkv {

namespace cuda_kernels {

__device__ __forceinline__ float exp_of(float x) { return expf(x); }
__device__ __forceinline__ double exp_of(double x) { return exp(x); }
__device__ __forceinline__ float tanh_of(float x) { return tanhf(x); }
__device__ __forceinline__ double tanh_of(double x) { return tanh(x); }

// The same functions as apply_activation (ops/activation.hpp), with the
// device's float/double math.
template <class Acc>
__device__ __forceinline__ Acc activation_value(activation kind, Acc x) {
    switch (kind) {
        case activation::squared_relu: return x > Acc(0) ? x * x : Acc(0);
        case activation::tanh: return tanh_of(x);
        case activation::silu: return x / (Acc(1) + exp_of(-x));
        case activation::sigmoid: return Acc(1) / (Acc(1) + exp_of(-x));
        case activation::gelu_tanh:
            return Acc(0.5) * x * (Acc(1) + tanh_of(Acc(0.7978845608028654) * (x + Acc(0.044715) * x * x * x)));
        case activation::identity: return x;
    }
    return x;
}

// b == nullptr: y = f(a); else y = f(a) * b. Counts are in packets of N.
template <class T, int N>
__global__ void activation_kernel(activation kind, index_t packets, const T* a, const T* b, T* y) {
    wait_for_previous_grid();
    using Acc = accumulator_t<T>;
    for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < packets;
         i += static_cast<index_t>(gridDim.x) * blockDim.x) {
        Acc av[N], bv[N];
        load_acc<N>(a + i * N, av);
        if (b) {
            load_acc<N>(b + i * N, bv);
#pragma unroll
            for (int e = 0; e < N; ++e) av[e] = activation_value(kind, av[e]) * bv[e];
        } else {
#pragma unroll
            for (int e = 0; e < N; ++e) av[e] = activation_value(kind, av[e]);
        }
        store_acc<N>(y + i * N, av);
    }
}

template <class T>
void launch_activation(executor<cuda>& ex, const activation_params& p, const T* a, const T* b, T* y) {
    constexpr int N = packet_size<T>;
    if (p.count % N == 0 && all_aligned16(a, b, y)) {
        const index_t packets = p.count / N;
        launch_dependent<activation_kernel<T, N>>(ex, grid_for(ex, packets), default_threads, 0, "activation_kernel",
                                                   p.kind, packets, a, b, y);
    } else {
        launch_dependent<activation_kernel<T, 1>>(ex, grid_for(ex, p.count), default_threads, 0, "activation_kernel",
                                                   p.kind, p.count, a, b, y);
    }
}

}  // namespace cuda_kernels

template <>
struct activation_impl<cuda> {
    template <class T>
    static void activate(executor<cuda>& ex, const activation_params& p, const T* x, T* y) {
        cuda_kernels::launch_activation<T>(ex, p, x, static_cast<const T*>(nullptr), y);
    }
    template <class T>
    static void gate(executor<cuda>& ex, const activation_params& p, const T* a, const T* b, T* out) {
        cuda_kernels::launch_activation<T>(ex, p, a, b, out);
    }
};

}  // namespace vrwkv
