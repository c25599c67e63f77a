#pragma once
// Residual update x += scale * y and the broadcast add of a (T, C) table on
// the GPU: one pass, packets of 16 bytes.
#include "vrwkv/cuda/kernels_common.cuh"
#include "vrwkv/ops/residual.hpp"

namespace vrwkv {

namespace cuda_kernels {

template <class T, int N, class I>
__global__ void residual_kernel(residual_params p, I total, T* x, const T* y, const T* scale) {
    wait_for_previous_grid();
    using Acc = accumulator_t<T>;
    const I packets_per_row = static_cast<I>(p.channels / N);
    for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
         i += static_cast<I>(gridDim.x) * blockDim.x) {
        const I row = i / packets_per_row;
        const I c = (i - row * packets_per_row) * N;
        const I yrow = p.period > 0 ? row % static_cast<I>(p.period) : row;
        Acc xv[N], yv[N];
        T* xp = x + static_cast<index_t>(row) * p.channels + c;
        load_acc<N>(xp, xv);
        load_acc<N>(y + static_cast<index_t>(yrow) * p.channels + c, yv);
        if (scale) {
            Acc sv[N];
            load_acc<N>(scale + c, sv);
#pragma unroll
            for (int e = 0; e < N; ++e) xv[e] += sv[e] * yv[e];
        } else {
#pragma unroll
            for (int e = 0; e < N; ++e) xv[e] += yv[e];
        }
        store_acc<N>(xp, xv);
    }
}

template <class T, int N>
void launch_residual(executor<cuda>& ex, const residual_params& p, T* x, const T* y, const T* scale) {
    const index_t total = p.rows * (p.channels / N);
    if (total == 0) return;
    with_index_type(total, [&](auto index) {
        using I = decltype(index);
        launch_dependent<residual_kernel<T, N, I>>(ex, grid_for(ex, total), default_threads, 0, "residual_kernel", p,
                                                    static_cast<I>(total), x, y, scale);
    });
}

}  // namespace cuda_kernels

template <>
struct residual_impl<cuda> {
    template <class T>
    static void add(executor<cuda>& ex, const residual_params& p, T* x, const T* y, const T* scale) {
        using namespace cuda_kernels;
        constexpr int N = packet_size<T>;
        if (p.channels % N == 0 && all_aligned16(x, y, scale))
            launch_residual<T, N>(ex, p, x, y, scale);
        else
            launch_residual<T, 1>(ex, p, x, y, scale);
    }
};

}  // namespace vrwkv
