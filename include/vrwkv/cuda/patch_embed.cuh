#pragma once
// im2col for the patch embedding on the GPU: each thread writes a packet of
// consecutive patch pixels (one image row segment), so reads and writes are
// both coalesced; pixels outside the image (corner padding) are zero.
#include "vrwkv/cuda/kernels_common.cuh"
#include "vrwkv/ops/patch_embed.hpp"

namespace vrwkv {

namespace cuda_kernels {

template <class T, int N, class I>
__global__ void im2col_kernel(im2col_params p, I total, const T* image, T* patches) {
    wait_for_previous_grid();
    const I P = static_cast<I>(p.patch), area = P * P;
    const I packets_per_row = static_cast<I>(p.channels) * area / N;
    const I gw = static_cast<I>(p.grid.width), tokens = static_cast<I>(p.grid.height) * gw;
    const I H = static_cast<I>(p.height), W = static_cast<I>(p.width);
    for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
         i += static_cast<I>(gridDim.x) * blockDim.x) {
        const I row = i / packets_per_row;
        const I col = (i - row * packets_per_row) * N;
        const I ch = col / area, rem = col - ch * area, dy = rem / P, dx = rem - dy * P;
        const I b = row / tokens, t = row - b * tokens, gy = t / gw, gx = t - gy * gw;
        const I y = gy * P + dy, x = gx * P + dx;
        packet<T, N> v;
        if (y < H && x < W) {  // with N > 1, W and x are multiples of N: the packet is all inside
            v = load_packet<N>(image + ((static_cast<index_t>(b) * p.channels + ch) * H + y) * W + x);
        } else {
#pragma unroll
            for (int e = 0; e < N; ++e) v.v[e] = T(0.0f);
        }
        store_packet<N>(patches + static_cast<index_t>(i) * N, v);
    }
}

template <class T, int N>
void launch_im2col(executor<cuda>& ex, const im2col_params& p, const T* image, T* patches) {
    const index_t total = p.batch * p.grid.tokens() * p.channels * p.patch * p.patch / N;
    if (total == 0) return;
    with_index_type(total, [&](auto index) {
        using I = decltype(index);
        launch_dependent<im2col_kernel<T, N, I>>(ex, grid_for(ex, total), default_threads, 0, "im2col_kernel", p,
                                                  static_cast<I>(total), image, patches);
    });
}

}  // namespace cuda_kernels

template <>
struct im2col_impl<cuda> {
    template <class T>
    static void run(executor<cuda>& ex, const im2col_params& p, const T* image, T* patches) {
        using namespace cuda_kernels;
        constexpr int N = packet_size<T>;
        if (p.patch % N == 0 && p.width % N == 0 && all_aligned16(image, patches))
            launch_im2col<T, N>(ex, p, image, patches);
        else
            launch_im2col<T, 1>(ex, p, image, patches);
    }
};

}  // namespace vrwkv
