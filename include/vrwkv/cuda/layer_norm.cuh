#pragma once
// LayerNorm on the GPU. Rows up to 128 packets (1024 half/bfloat16 or 512
// float features): one warp per row, the row held in registers, two passes
// over them (mean, then centred variance, as the CPU). Longer rows: one block
// per row re-reading the row (it stays in L1/L2).
#include "vrwkv/cuda/kernels_common.cuh"
#include "vrwkv/ops/layer_norm.hpp"

namespace vrwkv {

namespace cuda_kernels {

inline constexpr int layer_norm_warps = 8;  // rows per block of the warp kernel

// P: packets of N elements per lane.
template <class T, int N, int P>
__global__ void __launch_bounds__(32 * layer_norm_warps)
    layer_norm_warp_kernel(layer_norm_params p, const T* x, const T* weight, const T* bias, T* y) {
    wait_for_previous_grid();
    using Acc = accumulator_t<T>;
    const int lane = threadIdx.x % 32;
    const index_t packets = p.features / N;
    const Acc n = static_cast<Acc>(p.features), eps = static_cast<Acc>(p.eps);
    const index_t stride = static_cast<index_t>(gridDim.x) * layer_norm_warps;
    for (index_t row = static_cast<index_t>(blockIdx.x) * layer_norm_warps + threadIdx.x / 32; row < p.rows;
         row += stride) {
        const T* xr = x + row * p.features;
        Acc v[P][N];
        Acc sum = 0;
#pragma unroll
        for (int k = 0; k < P; ++k) {
            const index_t j = lane + 32 * k;
            if (j < packets) {
                load_acc<N>(xr + j * N, v[k]);
#pragma unroll
                for (int e = 0; e < N; ++e) sum += v[k][e];
            }
        }
        const Acc mean = warp_sum(sum) / n;
        Acc var = 0;
#pragma unroll
        for (int k = 0; k < P; ++k)
            if (lane + 32 * k < packets)
#pragma unroll
                for (int e = 0; e < N; ++e) {
                    const Acc d = v[k][e] - mean;
                    var += d * d;
                }
        const Acc inv = Acc(1) / sqrt(warp_sum(var) / n + eps);
        T* yr = y + row * p.features;
#pragma unroll
        for (int k = 0; k < P; ++k) {
            const index_t j = lane + 32 * k;
            if (j < packets) {
                Acc w[N], b[N];
                load_acc<N>(weight + j * N, w);
                load_acc<N>(bias + j * N, b);
#pragma unroll
                for (int e = 0; e < N; ++e) v[k][e] = (v[k][e] - mean) * inv * w[e] + b[e];
                store_acc<N>(yr + j * N, v[k]);
            }
        }
    }
}

// Any row length: one block per row, three passes over global memory.
template <class T>
__global__ void layer_norm_block_kernel(layer_norm_params p, const T* x, const T* weight, const T* bias, T* y) {
    wait_for_previous_grid();
    using Acc = accumulator_t<T>;
    __shared__ Acc scratch[32];
    const index_t n = p.features;
    const Acc nf = static_cast<Acc>(n), eps = static_cast<Acc>(p.eps);
    for (index_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
        const T* xr = x + row * n;
        T* yr = y + row * n;
        Acc sum = 0;
        for (index_t c = threadIdx.x; c < n; c += blockDim.x) sum += to_acc(xr[c]);
        const Acc mean = block_sum(sum, scratch) / nf;
        Acc var = 0;
        for (index_t c = threadIdx.x; c < n; c += blockDim.x) {
            const Acc d = to_acc(xr[c]) - mean;
            var += d * d;
        }
        const Acc inv = Acc(1) / sqrt(block_sum(var, scratch) / nf + eps);
        for (index_t c = threadIdx.x; c < n; c += blockDim.x)
            yr[c] = from_acc<T>((to_acc(xr[c]) - mean) * inv * to_acc(weight[c]) + to_acc(bias[c]));
    }
}

template <class T, int N>
bool layer_norm_by_warps(executor<cuda>& ex, const layer_norm_params& p, const T* x, const T* w, const T* b, T* y) {
    const index_t per_lane = (p.features / N + 31) / 32;
    const unsigned blocks = grid_for(ex, p.rows * 32, 32 * layer_norm_warps);
    const dim3 threads(32 * layer_norm_warps);
    if (per_lane <= 1)
        launch_dependent<layer_norm_warp_kernel<T, N, 1>>(ex, blocks, threads, 0, "layer_norm_warp_kernel", p, x, w, b, y);
    else if (per_lane <= 2)
        launch_dependent<layer_norm_warp_kernel<T, N, 2>>(ex, blocks, threads, 0, "layer_norm_warp_kernel", p, x, w, b, y);
    else if (per_lane <= 4 && N > 1)
        launch_dependent<layer_norm_warp_kernel<T, N, 4>>(ex, blocks, threads, 0, "layer_norm_warp_kernel", p, x, w, b, y);
    else
        return false;
    return true;
}

}  // namespace cuda_kernels

template <>
struct layer_norm_impl<cuda> {
    template <class T>
    static void run(executor<cuda>& ex, const layer_norm_params& p, const T* x, const T* weight, const T* bias, T* y) {
        using namespace cuda_kernels;
        constexpr int N = packet_size<T>;
        if (p.features % N == 0 && all_aligned16(x, weight, bias, y)) {
            if (layer_norm_by_warps<T, N>(ex, p, x, weight, bias, y)) return;
        } else if (layer_norm_by_warps<T, 1>(ex, p, x, weight, bias, y)) {
            return;
        }
        launch_dependent<layer_norm_block_kernel<T>>(ex, grid_for(ex, p.rows, 1), default_threads, 0,
                                                      "layer_norm_block_kernel", p, x, weight, bias, y);
    }
};

}  // namespace vrwkv
