#pragma once
// VRWKV6 ops on the GPU (SPEC 8).
// - lerp, decay: element-wise, packets of 16 bytes.
// - mix_slot: one cuBLAS GEMM on a strided view of the slot's 32 columns.
// - wkv6 (Bi-WKV6): a block of 64 threads per (batch, head); thread i owns
//   value column i and keeps its column of the 64 x 64 state in registers.
//   Per token, r, k and the decay of the head's 64 key channels are read
//   from shared memory (staged a chunk of tokens at a time). A backward scan
//   stores r_t . G_t; a forward scan adds r_t . (u k_t v_t^T + F_t). T is
//   not limited. The backward partial sums live in y when y is float or
//   double (exact, as the CPU), else in a float scratch from the stream's
//   memory pool, so 16-bit outputs are rounded once.
// - group_norm: a warp per (token, group).
#include "vrwkv/cuda/kernels_common.cuh"
#include "vrwkv/cuda/linear.cuh"
#include "vrwkv/ops/vrwkv6.hpp"

namespace vrwkv {

namespace cuda_kernels {

// out = x + xx * (base[c] + dyn), dyn nullable.
template <class T, int N, class I>
__global__ void vrwkv6_lerp_kernel(I total, I packets_per_row, const T* x, const T* xx, const T* base, const T* dyn,
                                   T* out) {
    wait_for_previous_grid();
    using Acc = accumulator_t<T>;
    for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
         i += static_cast<I>(gridDim.x) * blockDim.x) {
        const I c = (i % packets_per_row) * N;
        const index_t o = static_cast<index_t>(i) * N;
        Acc xv[N], dv[N], m[N];
        load_acc<N>(x + o, xv);
        load_acc<N>(xx + o, dv);
        load_acc<N>(base + c, m);
        if (dyn) {
            Acc d[N];
            load_acc<N>(dyn + o, d);
#pragma unroll
            for (int e = 0; e < N; ++e) m[e] += d[e];
        }
#pragma unroll
        for (int e = 0; e < N; ++e) xv[e] += dv[e] * m[e];
        store_acc<N>(out + o, xv);
    }
}

__device__ __forceinline__ float exp_acc(float x) { return expf(x); }
__device__ __forceinline__ double exp_acc(double x) { return exp(x); }

// out = exp(-exp(time_decay[c] + part)), in the accumulator type.
template <class T, class Acc, int N, class I>
__global__ void vrwkv6_decay_kernel(I total, I packets_per_row, const T* part, const T* time_decay, Acc* out) {
    wait_for_previous_grid();
    for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
         i += static_cast<I>(gridDim.x) * blockDim.x) {
        const I c = (i % packets_per_row) * N;
        const index_t o = static_cast<index_t>(i) * N;
        Acc pv[N], tv[N];
        load_acc<N>(part + o, pv);
        load_acc<N>(time_decay + c, tv);
#pragma unroll
        for (int e = 0; e < N; ++e) out[o + e] = exp_acc(-exp_acc(tv[e] + pv[e]));
    }
}

inline constexpr int wkv6_max_head = 64;   // threads per block = state columns
inline constexpr int wkv6_chunk = 16;      // tokens staged in shared memory at a time

// Stages r, k and decay of tokens [t0, t0 + n) of one head as Acc [t][j].
template <class T, class Acc>
__device__ __forceinline__ void wkv6_stage(const vrwkv6_params& p, index_t base, index_t t0, int n, const T* r,
                                           const T* k, const Acc* decay, Acc (*sr)[wkv6_max_head],
                                           Acc (*sk)[wkv6_max_head], Acc (*sd)[wkv6_max_head]) {
    const int N = static_cast<int>(p.head_size);
    for (int e = threadIdx.x; e < wkv6_chunk * wkv6_max_head; e += blockDim.x) {
        const int t = e / wkv6_max_head, j = e % wkv6_max_head;
        Acc rv = 0, kv = 0, dv = 0;
        if (t < n && j < N) {
            const index_t o = base + (t0 + t) * p.channels + j;
            rv = to_acc(r[o]), kv = to_acc(k[o]), dv = decay[o];
        }
        sr[t][j] = rv, sk[t][j] = kv, sd[t][j] = dv;
    }
}

// partial: where the backward sums go (row stride p.channels, like y).
template <class T, class Acc, class P>
__global__ void __launch_bounds__(wkv6_max_head)
    wkv6_kernel(vrwkv6_params p, const T* r, const T* k, const T* v, const Acc* decay, const T* u, T* y, P* partial) {
    wait_for_previous_grid();
    __shared__ Acc sr[wkv6_chunk][wkv6_max_head], sk[wkv6_chunk][wkv6_max_head], sd[wkv6_chunk][wkv6_max_head];
    __shared__ Acc su[wkv6_max_head];
    const int N = static_cast<int>(p.head_size);
    const int i = threadIdx.x;  // value column
    const bool active = i < N;
    const index_t b = blockIdx.x / p.heads, h = blockIdx.x % p.heads;
    const index_t base = b * p.tokens * p.channels + h * p.head_size;
    su[i] = active ? to_acc(u[h * p.head_size + i]) : Acc(0);
    Acc state[wkv6_max_head];

    // backward: G_{T-1} = 0; partial_t = r_t . G_t; G_{t-1} = decay_t * G_t + k_t v_t^T
#pragma unroll
    for (int j = 0; j < wkv6_max_head; ++j) state[j] = 0;
    for (index_t end = p.tokens; end > 0; end -= wkv6_chunk) {
        const index_t t0 = end > wkv6_chunk ? end - wkv6_chunk : 0;
        const int n = static_cast<int>(end - t0);
        __syncthreads();
        wkv6_stage<T, Acc>(p, base, t0, n, r, k, decay, sr, sk, sd);
        __syncthreads();
        for (int t = n - 1; t >= 0; --t) {
            const index_t o = base + (t0 + t) * p.channels + i;
            const Acc vi = active ? to_acc(v[o]) : Acc(0);
            Acc acc = 0;
#pragma unroll
            for (int j = 0; j < wkv6_max_head; ++j) {
                acc += sr[t][j] * state[j];
                state[j] = sd[t][j] * state[j] + sk[t][j] * vi;
            }
            if (active) partial[o] = static_cast<P>(acc);
        }
    }
    // forward: F_0 = 0; y_t = partial_t + r_t . (u k_t v_t^T + F_t); F_{t+1} = decay_t * F_t + k_t v_t^T
#pragma unroll
    for (int j = 0; j < wkv6_max_head; ++j) state[j] = 0;
    for (index_t t0 = 0; t0 < p.tokens; t0 += wkv6_chunk) {
        const int n = static_cast<int>(p.tokens - t0 < wkv6_chunk ? p.tokens - t0 : wkv6_chunk);
        __syncthreads();
        wkv6_stage<T, Acc>(p, base, t0, n, r, k, decay, sr, sk, sd);
        __syncthreads();
        for (int t = 0; t < n; ++t) {
            const index_t o = base + (t0 + t) * p.channels + i;
            const Acc vi = active ? to_acc(v[o]) : Acc(0);
            Acc acc = active ? static_cast<Acc>(partial[o]) : Acc(0);
#pragma unroll
            for (int j = 0; j < wkv6_max_head; ++j) {
                const Acc kv = sk[t][j] * vi;
                acc += sr[t][j] * state[j] + sr[t][j] * su[j] * kv;
                state[j] = sd[t][j] * state[j] + kv;
            }
            if (active) y[o] = from_acc<T>(acc);
        }
    }
}

// A warp per (token, group); two passes over the group's values (L1-cached).
template <class T>
__global__ void group_norm_kernel(vrwkv6_params p, const T* x, const T* weight, const T* bias, T* y) {
    wait_for_previous_grid();
    using Acc = accumulator_t<T>;
    const int lane = threadIdx.x % 32;
    const index_t groups = p.batch * p.tokens * p.heads, n = p.head_size;
    const Acc nf = static_cast<Acc>(n), eps = static_cast<Acc>(p.eps);
    const index_t stride = static_cast<index_t>(gridDim.x) * (blockDim.x / 32);
    for (index_t g = static_cast<index_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; g < groups;
         g += stride) {
        const index_t c0 = (g % p.heads) * n;
        const T* xg = x + g * n;
        T* yg = y + g * n;
        Acc sum = 0;
        for (index_t e = lane; e < n; e += 32) sum += to_acc(xg[e]);
        const Acc mean = warp_sum(sum) / nf;
        Acc var = 0;
        for (index_t e = lane; e < n; e += 32) {
            const Acc d = to_acc(xg[e]) - mean;
            var += d * d;
        }
        const Acc inv = Acc(1) / sqrt(warp_sum(var) / nf + eps);
        for (index_t e = lane; e < n; e += 32)
            yg[e] = from_acc<T>((to_acc(xg[e]) - mean) * inv * to_acc(weight[c0 + e]) + to_acc(bias[c0 + e]));
    }
}

// Device scratch on the stream's memory pool, freed in stream order.
class pool_scratch {
public:
    pool_scratch(std::size_t bytes, cudaStream_t stream) : stream_(stream) {
        cuda_check(cudaMallocAsync(&data_, bytes, stream_),
                   ("cudaMallocAsync of " + std::to_string(bytes) + " bytes of Bi-WKV6 scratch").c_str());
    }
    pool_scratch(const pool_scratch&) = delete;
    pool_scratch& operator=(const pool_scratch&) = delete;
    ~pool_scratch() { cudaFreeAsync(data_, stream_); }
    void* data() const { return data_; }

private:
    void* data_ = nullptr;
    cudaStream_t stream_;
};

}  // namespace cuda_kernels

template <>
struct vrwkv6_impl<cuda> {
    template <class T>
    static void lerp(executor<cuda>& ex, const vrwkv6_params& p, const T* x, const T* xx, const T* base, const T* dyn,
                     T* out) {
        using namespace cuda_kernels;
        constexpr int N = packet_size<T>;
        if (p.channels % N == 0 && all_aligned16(x, xx, base, dyn, out))
            launch_lerp<T, N>(ex, p, x, xx, base, dyn, out);
        else
            launch_lerp<T, 1>(ex, p, x, xx, base, dyn, out);
    }

    template <class T>
    static void mix_slot(executor<cuda>& ex, const vrwkv6_params& p, const T* m, const T* w2, T* out) {
        const index_t R = vrwkv6_mix_rank;
        cuda_kernels::gemm_rows<T>(ex, p.batch * p.tokens, R, p.channels, m + p.slot * R, vrwkv6_mix_slots * R,
                                   w2 + p.slot * R * p.channels, true, p.channels, out, p.channels, false);
    }

    template <class T, class Acc>
    static void decay(executor<cuda>& ex, const vrwkv6_params& p, const T* part, const T* time_decay, Acc* out) {
        using namespace cuda_kernels;
        constexpr int N = packet_size<T>;
        if (p.channels % N == 0 && all_aligned16(part, time_decay))
            launch_decay<T, Acc, N>(ex, p, part, time_decay, out);
        else
            launch_decay<T, Acc, 1>(ex, p, part, time_decay, out);
    }

    template <class T, class Acc>
    static void wkv6(executor<cuda>& ex, const vrwkv6_params& p, const T* r, const T* k, const T* v, const Acc* decay,
                     const T* u, T* y) {
        using namespace cuda_kernels;
        require(p.head_size >= 1 && p.head_size <= wkv6_max_head,
                "biwkv6 on the GPU supports head sizes 1.." + std::to_string(wkv6_max_head) + ", got " +
                    std::to_string(p.head_size));
        require(p.heads * p.head_size == p.channels, "biwkv6: heads * head_size must equal the channels");
        const index_t blocks = p.batch * p.heads;
        if (blocks == 0 || p.tokens == 0) return;
        require(blocks <= INT_MAX, "biwkv6: batch * heads above INT_MAX");
        if constexpr (std::is_same_v<T, Acc>) {
            launch_dependent<wkv6_kernel<T, Acc, T>>(ex, static_cast<unsigned>(blocks), wkv6_max_head, 0, "wkv6_kernel",
                                                      p, r, k, v, decay, u, y, y);
        } else {
            const pool_scratch scratch(static_cast<std::size_t>(p.batch * p.tokens * p.channels) * sizeof(Acc),
                                       ex.stream());
            launch_dependent<wkv6_kernel<T, Acc, Acc>>(ex, static_cast<unsigned>(blocks), wkv6_max_head, 0,
                                                        "wkv6_kernel", p, r, k, v, decay, u, y,
                                                        static_cast<Acc*>(scratch.data()));
        }
    }

    template <class T>
    static void group_norm(executor<cuda>& ex, const vrwkv6_params& p, const T* x, const T* weight, const T* bias,
                           T* y) {
        using namespace cuda_kernels;
        const index_t groups = p.batch * p.tokens * p.heads;
        if (groups == 0) return;
        launch_dependent<cuda_kernels::group_norm_kernel<T>>(ex, grid_for(ex, groups * 32), default_threads, 0,
                                                              "group_norm_kernel", p, x, weight, bias, y);
    }

private:
    template <class T, int N>
    static void launch_lerp(executor<cuda>& ex, const vrwkv6_params& p, const T* x, const T* xx, const T* base,
                            const T* dyn, T* out) {
        using namespace cuda_kernels;
        const index_t total = p.batch * p.tokens * p.channels / N;
        if (total == 0) return;
        with_index_type(total, [&](auto index) {
            using I = decltype(index);
            launch_dependent<vrwkv6_lerp_kernel<T, N, I>>(ex, grid_for(ex, total), default_threads, 0,
                                                           "vrwkv6_lerp_kernel", static_cast<I>(total),
                                                           static_cast<I>(p.channels / N), x, xx, base, dyn, out);
        });
    }

    template <class T, class Acc, int N>
    static void launch_decay(executor<cuda>& ex, const vrwkv6_params& p, const T* part, const T* time_decay,
                             Acc* out) {
        using namespace cuda_kernels;
        const index_t total = p.batch * p.tokens * p.channels / N;
        if (total == 0) return;
        with_index_type(total, [&](auto index) {
            using I = decltype(index);
            launch_dependent<vrwkv6_decay_kernel<T, Acc, N, I>>(ex, grid_for(ex, total), default_threads, 0,
                                                                 "vrwkv6_decay_kernel", static_cast<I>(total),
                                                                 static_cast<I>(p.channels / N), part, time_decay, out);
        });
    }
};

}  // namespace vrwkv
