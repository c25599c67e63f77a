#pragma once
// Q-Shift fused with up to three mixes on the GPU: one pass over x; each
// thread handles a packet of channels of one token, so the neighbour's
// packet is one more coalesced read (it is in L2: the rows above and below
// were just read by other blocks).
#include "vrwkv/cuda/kernels_common.cuh"
#include "vrwkv/ops/token_shift.hpp"

namespace vrwkv {

namespace cuda_kernels {

template <class T>
struct shift_pointers {
    const T* mix[max_shift_outputs];
    T* out[max_shift_outputs];
};

// I: index type of the packet loop (32-bit when the packet count allows).
template <class T, int N, class I>
__global__ void token_shift_kernel(token_shift_params p, const T* x, shift_pointers<T> ptr, I total) {
    wait_for_previous_grid();
    using Acc = accumulator_t<T>;
    const I packets_per_token = static_cast<I>(p.channels / N);
    const I width = static_cast<I>(p.width), height = static_cast<I>(p.height), s = static_cast<I>(p.shift);
    const I plane = width * height;
    const bool shifts = p.shift > 0 && p.quarter > 0;
    for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
         i += static_cast<I>(gridDim.x) * blockDim.x) {
        const I row = i / packets_per_token;
        const I c = (i - row * packets_per_token) * N;
        const I yx = row % plane, py = yx / width, px = yx - py * width;
        // Same rule as token_shift_direction, in the loop's index type.
        int dir = -1;
        if (shifts) {
            const I local = p.head_size > 0 ? c % static_cast<I>(p.head_size) : c;
            const I q = local / static_cast<I>(p.quarter);
            dir = q < 4 ? static_cast<int>(q) : -1;
        }
        index_t src = static_cast<index_t>(row);  // token the shifted value comes from; -1: zero
        switch (dir) {
            case 0: src = px >= s ? src - static_cast<index_t>(s) : -1; break;
            case 1: src = px + s < width ? src + static_cast<index_t>(s) : -1; break;
            case 2: src = py >= s ? src - static_cast<index_t>(s * width) : -1; break;
            case 3: src = py + s < height ? src + static_cast<index_t>(s * width) : -1; break;
            default: break;
        }
        const index_t offset = static_cast<index_t>(row) * p.channels + c;
        Acc xv[N], sv[N];
        load_acc<N>(x + offset, xv);
        if (src >= 0) {
            load_acc<N>(x + src * p.channels + c, sv);
        } else {
#pragma unroll
            for (int e = 0; e < N; ++e) sv[e] = Acc(0);
        }
        if (p.output == token_shift_output::delta) {
            Acc o[N];
#pragma unroll
            for (int e = 0; e < N; ++e) o[e] = sv[e] - xv[e];
            store_acc<N>(ptr.out[0] + offset, o);
            continue;
        }
#pragma unroll
        for (int j = 0; j < max_shift_outputs; ++j) {
            if (j >= p.outputs) break;
            Acc m[N], o[N];
            load_acc<N>(ptr.mix[j] + c, m);
#pragma unroll
            for (int e = 0; e < N; ++e) o[e] = xv[e] * m[e] + sv[e] * (Acc(1) - m[e]);
            store_acc<N>(ptr.out[j] + offset, o);
        }
    }
}

template <class T, int N>
void launch_token_shift(executor<cuda>& ex, const token_shift_params& p, const T* x, const shift_pointers<T>& ptr) {
    const index_t total = p.batch * p.height * p.width * (p.channels / N);
    if (total == 0) return;
    with_index_type(total, [&](auto index) {
        using I = decltype(index);
        launch_dependent<token_shift_kernel<T, N, I>>(ex, grid_for(ex, total), default_threads, 0, "token_shift_kernel",
                                                       p, x, ptr, static_cast<I>(total));
    });
}

}  // namespace cuda_kernels

template <>
struct token_shift_impl<cuda> {
    template <class T>
    static void run(executor<cuda>& ex, const token_shift_params& p, const T* x, const T* const* mixes,
                    T* const* outs) {
        using namespace cuda_kernels;
        require(p.outputs >= 1 && p.outputs <= max_shift_outputs, "token_shift: 1 to 3 outputs");
        shift_pointers<T> ptr{};
        bool aligned = aligned16(x);
        const index_t used = p.output == token_shift_output::delta ? 1 : p.outputs;
        for (index_t j = 0; j < used; ++j) {
            ptr.out[j] = outs[j];
            aligned = aligned && aligned16(outs[j]);
            if (p.output == token_shift_output::lerp) {
                ptr.mix[j] = mixes[j];
                aligned = aligned && aligned16(mixes[j]);
            }
        }
        // Packets must not straddle a change of direction.
        constexpr int N = packet_size<T>;
        const bool packed = aligned && p.channels % N == 0 && p.quarter % N == 0 && p.head_size % N == 0;
        if (packed)
            launch_token_shift<T, N>(ex, p, x, ptr);
        else
            launch_token_shift<T, 1>(ex, p, x, ptr);
    }
};

}  // namespace vrwkv
