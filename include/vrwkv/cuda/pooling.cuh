#pragma once
// Token mean and the channels-first layout on the GPU.
// mean_tokens: a block per (32 channels, image); 32 rows of threads stride
//   over the tokens with independent partial sums, then reduce in shared
//   memory (deterministic, no atomics).
// to_channels_first: a 32 x 32 tiled transpose through shared memory, so
//   both the token-major reads and the channel-major writes are coalesced.
#include "vrwkv/cuda/kernels_common.cuh"
#include "vrwkv/ops/pooling.hpp"

namespace vrwkv {

namespace cuda_kernels {

inline constexpr int pool_tile = 32;

template <class T>
__global__ void __launch_bounds__(pool_tile * pool_tile)
    mean_tokens_kernel(token_layout_params p, const T* x, T* out) {
    wait_for_previous_grid();
    using Acc = accumulator_t<T>;
    __shared__ Acc partial[pool_tile][pool_tile + 1];
    const index_t c = static_cast<index_t>(blockIdx.x) * pool_tile + threadIdx.x;
    const index_t b = blockIdx.y;
    Acc sum[4] = {0, 0, 0, 0};  // independent chains: several loads in flight
    if (c < p.channels) {
        const T* xb = x + b * p.tokens * p.channels + c;
        index_t t = threadIdx.y;
        for (; t + 3 * pool_tile < p.tokens; t += 4 * pool_tile)
#pragma unroll
            for (int k = 0; k < 4; ++k) sum[k] += to_acc(xb[(t + k * pool_tile) * p.channels]);
        for (; t < p.tokens; t += pool_tile) sum[0] += to_acc(xb[t * p.channels]);
    }
    partial[threadIdx.y][threadIdx.x] = (sum[0] + sum[1]) + (sum[2] + sum[3]);
    __syncthreads();
    if (threadIdx.y == 0 && c < p.channels) {
        Acc total = 0;
        for (int r = 0; r < pool_tile; ++r) total += partial[r][threadIdx.x];
        out[b * p.channels + c] = from_acc<T>(total / static_cast<Acc>(p.tokens));
    }
}

// R: raw bits of the element type (the transpose only moves elements).
template <class R>
__global__ void to_channels_first_kernel(token_layout_params p, const R* x, R* out) {
    wait_for_previous_grid();
    __shared__ R tile[pool_tile][pool_tile + 1];
    const index_t b = blockIdx.z;
    const index_t t0 = static_cast<index_t>(blockIdx.x) * pool_tile, c0 = static_cast<index_t>(blockIdx.y) * pool_tile;
    const R* xb = x + b * p.tokens * p.channels;
    R* ob = out + b * p.channels * p.tokens;
    for (int r = threadIdx.y; r < pool_tile; r += blockDim.y) {
        const index_t t = t0 + r, c = c0 + threadIdx.x;
        if (t < p.tokens && c < p.channels) tile[r][threadIdx.x] = xb[t * p.channels + c];
    }
    __syncthreads();
    for (int r = threadIdx.y; r < pool_tile; r += blockDim.y) {
        const index_t c = c0 + r, t = t0 + threadIdx.x;
        if (t < p.tokens && c < p.channels) ob[c * p.tokens + t] = tile[threadIdx.x][r];
    }
}

}  // namespace cuda_kernels

template <>
struct pooling_impl<cuda> {
    template <class T>
    static void mean_tokens(executor<cuda>& ex, const token_layout_params& p, const T* x, T* out) {
        using namespace cuda_kernels;
        if (p.batch == 0 || p.channels == 0) return;
        require(p.tokens >= 1, "mean_tokens: no tokens to average");
        require(p.batch <= 65535, "mean_tokens: batch above 65535 is not supported on the GPU");
        const dim3 grid(static_cast<unsigned>((p.channels + pool_tile - 1) / pool_tile), static_cast<unsigned>(p.batch));
        launch_dependent<mean_tokens_kernel<T>>(ex, grid, dim3(pool_tile, pool_tile), 0, "mean_tokens_kernel", p, x, out);
    }

    template <class T>
    static void to_channels_first(executor<cuda>& ex, const token_layout_params& p, const T* x, T* out) {
        using namespace cuda_kernels;
        if (p.batch == 0 || p.channels == 0 || p.tokens == 0) return;
        const index_t channel_tiles = (p.channels + pool_tile - 1) / pool_tile;
        require(p.batch <= 65535 && channel_tiles <= 65535,
                "to_channels_first: batch and channels/32 must be at most 65535 on the GPU");
        const dim3 grid(static_cast<unsigned>((p.tokens + pool_tile - 1) / pool_tile),
                        static_cast<unsigned>(channel_tiles), static_cast<unsigned>(p.batch));
        using R = raw_bits_t<T>;
        launch_dependent<to_channels_first_kernel<R>>(ex, grid, dim3(pool_tile, 8), 0, "to_channels_first_kernel", p,
                                                       reinterpret_cast<const R*>(x), reinterpret_cast<R*>(out));
    }
};

}  // namespace vrwkv
