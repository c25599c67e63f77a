#pragma once
// Bi-WKV exact mode for problems whose k and v fit in the shared memory of
// the blocks the device holds at once (on an H100, float up to about 25 MB:
// T = 16384 at C = 192): k and v are read from DRAM once, into shared
// memory, and y is computed from there.
//
// One block per multiprocessor, launched cooperatively so that every block
// is resident. Block (sequence s = (b, 32 channels), part p) holds `part`
// tokens of s; its thread (channel x, warp y) owns `segments` consecutive
// sub-chunks of L tokens. The copy is issued sub-chunk by sub-chunk
// (cp.async), so each warp computes its first sub-chunks' sums while the
// later ones arrive. Then:
//   1. each sub-chunk's forward and backward sums (the fused kernel's fast
//      or anchored path), merged per thread and across the block's warps;
//   2. the part's sums go to global memory; the block waits until all parts
//      of s have arrived (all are resident: no deadlock), and merges the
//      parts before it (forward) and after it (backward) into its carries;
//   3. y, sub-chunk by sub-chunk, from shared memory again.
// The per-sequence arrival words are the fused kernel's (executor words
// [2 + 2s]), counted up to 2 * parts (arrival, then departure) and reset to
// 0 by the last block to depart, as the fused kernel expects them.
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "vrwkv/cuda/biwkv_fused.cuh"
#include "vrwkv/cuda/dependent_launch.cuh"
#include "vrwkv/cuda/device_attributes.cuh"
#include "vrwkv/cuda/error.cuh"
#include "vrwkv/cuda/executor.cuh"
#include "vrwkv/ops/biwkv.hpp"

namespace vrwkv {
namespace cuda_detail {

template <class T>
struct biwkv_resident_args {
    const float* w;
    const float* u;
    const T* k;
    const T* v;
    T* y;
    biwkv_state<float>* part_sums;  // [sequence][part][2][32]: forward, backward
    unsigned* words;                // per sequence s: [2 + 2s] arrivals (executor words)
    int tokens, channels, groups;
    int parts;     // blocks per sequence
    int part;      // tokens per block: warps * segments * L
    int segments;  // sub-chunks of L tokens per thread
};

// 16 bytes global -> shared without registers (cp.async, cached in L2 only).
__device__ __forceinline__ void biwkv_copy16(void* to_shared, const void* from_global) {
    const unsigned to = static_cast<unsigned>(__cvta_generic_to_shared(to_shared));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(to), "l"(from_global) : "memory");
}
__device__ __forceinline__ void biwkv_copy_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }

// Waits until at most `pending` (0-7) of this thread's committed copy groups
// are still in flight (the instruction takes an immediate).
__device__ __forceinline__ void biwkv_copy_wait(int pending) {
    switch (pending) {
        case 0: asm volatile("cp.async.wait_group 0;" ::: "memory"); break;
        case 1: asm volatile("cp.async.wait_group 1;" ::: "memory"); break;
        case 2: asm volatile("cp.async.wait_group 2;" ::: "memory"); break;
        case 3: asm volatile("cp.async.wait_group 3;" ::: "memory"); break;
        case 4: asm volatile("cp.async.wait_group 4;" ::: "memory"); break;
        case 5: asm volatile("cp.async.wait_group 5;" ::: "memory"); break;
        case 6: asm volatile("cp.async.wait_group 6;" ::: "memory"); break;
        default: asm volatile("cp.async.wait_group 7;" ::: "memory"); break;
    }
}

// A sub-chunk of `count` tokens from shared memory (32 channels per token):
// k, in base-2 units unless RawK, and v; padded slots hold the empty
// exponent and 0. Full: count is L (no predicates).
template <bool Full, bool RawK, int L, class T>
__device__ __forceinline__ void biwkv_resident_read(const T* ks, const T* vs, int count, float (&k2)[L],
                                                    float (&vv)[L]) {
    constexpr float scale = RawK ? 1.0f : static_cast<float>(biwkv_log2e);
#pragma unroll
    for (int j = 0; j < L; ++j) {
        const bool in = Full || j < count;
        k2[j] = in ? biwkv_load<float>(ks + j * biwkv_warp) * scale : biwkv_empty_exponent<float>();
        vv[j] = in ? biwkv_load<float>(vs + j * biwkv_warp) : 0.0f;
    }
}
template <bool RawK, int L, class T>
__device__ __forceinline__ void biwkv_resident_read_any(const T* ks, const T* vs, int count, float (&k2)[L],
                                                        float (&vv)[L]) {
    if (count == L)
        biwkv_resident_read<true, RawK>(ks, vs, L, k2, vv);
    else
        biwkv_resident_read<false, RawK>(ks, vs, count, k2, vv);
}

// The fast path's terms over all L slots, from k in natural units (padded
// slots hold the empty exponent and give 0): e_j = 2^{k_j log2(e) - top} in
// k, e_j v_j in v. Terms below 2^-126 of 2^top flush to zero (they do not
// show in float next to the largest term).
template <int L>
__device__ __forceinline__ void biwkv_resident_terms(float (&k)[L], float (&v)[L], float top) {
#pragma unroll
    for (int j = 0; j < L; ++j) {
        const float e = biwkv_exp2_ftz(fmaf(k[j], static_cast<float>(biwkv_log2e), -top));
        k[j] = e;
        v[j] *= e;
    }
}

// The fast path's output for one sub-chunk, k in natural units: the
// carries' and the tokens' terms are taken relative to 2^top, top the
// largest of their exponents, so the tokens' terms need no rescaling. e^u
// stays out of top: with it (up to 2^60), a token's own term 2^{k - top}
// could flush to zero where e^u times it does not. Every denominator is at
// least 2^-92 (the largest term reaches each other token through at most
// 2^-32 of decay, and its own token through e^u, at least 2^-60), and every
// term at most 2^60, so one reciprocal divides.
template <int L, class T, class Column>
__device__ __forceinline__ void biwkv_resident_fast_output(float (&e)[L], float (&ev)[L], int count, float m,
                                                           float w2, float u2, float d, int s0,
                                                           const biwkv_state<float>& fin,
                                                           const biwkv_state<float>& gin, Column& gn_s, Column& gd_s,
                                                           T* yp, long long C) {
    const float ef = biwkv_exponent_at(fin, s0, w2);
    const float eg = biwkv_exponent_at(gin, s0 + L - 1, -w2);  // from the last slot (padded ones add nothing)
    const float top = fmaxf(fmaxf(m, ef), eg);
    biwkv_resident_terms<L>(e, ev, top);
    {
        const float cg = biwkv_exp2_ftz(eg - top);
        float gn = gin.num * cg, gd = gin.den * cg;
#pragma unroll
        for (int j = L - 1; j >= 0; --j) {
            gn_s[j] = gn, gd_s[j] = gd;
            gn = d * gn + ev[j], gd = d * gd + e[j];
        }
    }
    const float cf = biwkv_exp2_ftz(ef - top);
    biwkv_write_fast_outputs<L, false>(e, ev, count, d, fin.num * cf, fin.den * cf, biwkv_exp2_ftz(u2), gn_s, gd_s, yp,
                                       C);
}

// N values in registers, read and written at a run-time index (a plain
// array would live in local memory, which with this kernel's shared memory
// leaves little L1 to cache it: measured 1.6 us more at T = 16384).
template <int N, class V>
struct biwkv_register_slots {
    V v[N];
    __device__ __forceinline__ V get(int r) const {
        V out = v[0];
#pragma unroll
        for (int i = 1; i < N; ++i)
            if (i == r) out = v[i];
        return out;
    }
    __device__ __forceinline__ void set(int r, const V& x) {
#pragma unroll
        for (int i = 0; i < N; ++i)
            if (i == r) v[i] = x;
    }
};

// Merges rows [0, W) of f (forward sums) and of g (backward sums) into their
// row 0, in log2(W) rounds; every thread of the block calls it after
// writing its rows, and may read row 0 when it returns.
template <int W>
__device__ __forceinline__ void biwkv_block_merge(biwkv_state<float>* f, biwkv_state<float>* g, float w2) {
    static_assert(W >= 1 && (W & (W - 1)) == 0, "biwkv (cuda): warps per block must be a power of 2");
    const int x = threadIdx.x, y = threadIdx.y;
#pragma unroll
    for (int h = W / 2; h >= 1; h /= 2) {
        __syncthreads();
        if (y < h) {
            f[y * biwkv_warp + x] = biwkv_merge(f[y * biwkv_warp + x], f[(y + h) * biwkv_warp + x], w2);
            g[y * biwkv_warp + x] = biwkv_merge(g[y * biwkv_warp + x], g[(y + h) * biwkv_warp + x], -w2);
        }
    }
    __syncthreads();
}

template <int L, int Warps, int MaxSegments, class T>
__global__ void __launch_bounds__(Warps * biwkv_warp, 1) biwkv_resident_kernel(const biwkv_resident_args<T> a) {
    extern __shared__ __align__(16) unsigned char biwkv_resident_smem[];
    const int x = threadIdx.x, y = threadIdx.y;
    const bool lead = x == 0 && y == 0;
    const int R = a.segments, span = R * L;
    const int s = static_cast<int>(blockIdx.x) / a.parts, part = static_cast<int>(blockIdx.x) - s * a.parts;
    const int b = s / a.groups, group = s - b * a.groups;
    const int t0 = part * a.part;                   // the part's first token
    const int n = min(a.tokens - t0, a.part);       // its tokens
    const int first = y * span;                     // the thread's first token in the part
    const int mine = max(0, min(n - first, span));  // its tokens
    T* ks = reinterpret_cast<T*>(biwkv_resident_smem);  // [part][32]
    T* vs = ks + static_cast<std::size_t>(a.part) * biwkv_warp;
    auto* st = reinterpret_cast<biwkv_state<float>*>(vs + static_cast<std::size_t>(a.part) * biwkv_warp);  // [2][W][32], then a tree's [2][W][32]
    const long long C = a.channels;
    const long long row0 = static_cast<long long>(b) * a.tokens + t0;  // the part's first token row
    const int c0 = group * biwkv_warp;

    wait_for_previous_grid();
    {
        // warp y copies its own tokens, one commit group per sub-chunk, 16
        // bytes a lane: a token row of 32 channels is `granules` of them, a
        // pass of the warp covers `rows` token rows
        constexpr int per = 16 / static_cast<int>(sizeof(T)), granules = biwkv_warp / per;
        constexpr int rows = biwkv_warp / granules;
        static_assert(L % rows == 0, "biwkv (cuda): L must be a multiple of the token rows a warp copies at once");
        const int lane_row = x / granules, lane_col = (x % granules) * per;
        const long long offset = (row0 + first + lane_row) * C + c0 + lane_col;
        const T* kg = a.k + offset;
        const T* vg = a.v + offset;
        T* kq = ks + (first + lane_row) * biwkv_warp + lane_col;
        T* vq = vs + (first + lane_row) * biwkv_warp + lane_col;
        for (int r = 0; r < R; ++r) {
#pragma unroll
            for (int i = 0; i < L / rows; ++i) {
                if (first + r * L + i * rows + lane_row < n) {
                    biwkv_copy16(kq, kg);
                    biwkv_copy16(vq, vg);
                }
                kg += rows * C, vg += rows * C, kq += rows * biwkv_warp, vq += rows * biwkv_warp;
            }
            biwkv_copy_commit();
        }
    }
    const int c = c0 + x;
    const float w2 = a.w[c] * static_cast<float>(biwkv_log2e), u2 = a.u[c] * static_cast<float>(biwkv_log2e);
    const float d = expf(-a.w[c]);
    const int s0 = t0 + first;  // the thread's first token in the sequence
    const biwkv_state<float> none = biwkv_empty_state<float>();

    // the fast path (one exponent per sub-chunk, no predicates over its
    // tokens) where this channel's w and u allow it for a whole sub-chunk
    const bool fast = biwkv_subchunk_fast(w2, u2, L);

    // 1. sub-chunk sums, as their copies land (kept for step 3: the sums and
    // the fast path's exponent)
    biwkv_register_slots<MaxSegments, biwkv_state<float>> seg_f, seg_g;
    biwkv_register_slots<MaxSegments, float> seg_m;
    biwkv_state<float> own_f = none, own_g = none;
    for (int r = 0; r < R; ++r) {
        biwkv_copy_wait(R - 1 - r);
        __syncwarp();  // the lanes' copies of this warp's rows
        const int count = max(0, min(mine - r * L, L)), at = s0 + r * L;
        const T* kr = ks + (first + r * L) * biwkv_warp + x;
        const T* vr = vs + (first + r * L) * biwkv_warp + x;
        biwkv_state<float> f = none, g = none;
        float m = biwkv_empty_exponent<float>();
        if (count > 0) {
            float k2[L], vv[L];
            if (fast) {
                // k in natural units: its largest, scaled, is the largest of
                // the scaled k (the product rounds monotonically)
                biwkv_resident_read_any<true, L>(kr, vr, count, k2, vv);
#pragma unroll
                for (int j = 0; j < L; ++j) m = fmaxf(m, k2[j]);
                m *= static_cast<float>(biwkv_log2e);
                biwkv_resident_terms<L>(k2, vv, m);
                float fn = 0, fd = 0, gn = 0, gd = 0;
#pragma unroll
                for (int j = 0; j < L; ++j) fn = d * fn + vv[j], fd = d * fd + k2[j];
#pragma unroll
                for (int j = L - 1; j >= 0; --j) gn = d * gn + vv[j], gd = d * gd + k2[j];
                f = biwkv_normalized(fn, fd, m, at + L);
                g = biwkv_normalized(gn, gd, m, at - 1);
            } else {
                biwkv_resident_read_any<false, L>(kr, vr, count, k2, vv);
                biwkv_fused_general_sums<L>(k2, vv, count, d, w2, u2, at, m, &f, &g);
            }
        }
        seg_f.set(r, f), seg_g.set(r, g), seg_m.set(r, m);
        own_f = biwkv_merge(own_f, f, w2), own_g = biwkv_merge(own_g, g, -w2);
    }
    // sub-chunk r's own carries within the thread: the sub-chunks before it
    // (forward) and after it (backward), in place
    {
        biwkv_state<float> acc = none;
#pragma unroll
        for (int r = 0; r < MaxSegments; ++r) {
            const biwkv_state<float> f = seg_f.v[r];
            seg_f.v[r] = acc;
            if (r < R) acc = biwkv_merge(acc, f, w2);
        }
        acc = none;
#pragma unroll
        for (int r = MaxSegments - 1; r >= 0; --r) {
            const biwkv_state<float> g = seg_g.v[r];
            seg_g.v[r] = acc;
            if (r < R) acc = biwkv_merge(acc, g, -w2);
        }
    }
    // the part's sums by a tree over the warps (other blocks wait for them);
    // the warps' own sums stay in `st` for their carries within the block
    biwkv_state<float>* tree = st + 2 * Warps * biwkv_warp;  // [2][W][32]
    st[y * biwkv_warp + x] = own_f;
    st[(Warps + y) * biwkv_warp + x] = own_g;
    biwkv_state<float>* sums = a.part_sums + static_cast<long long>(s) * a.parts * 2 * biwkv_warp + x;
    unsigned* arrivals = a.words + 2 + 2 * s;
    if (a.parts > 1) {
        tree[y * biwkv_warp + x] = own_f;
        tree[(Warps + y) * biwkv_warp + x] = own_g;
        biwkv_block_merge<Warps>(tree, tree + Warps * biwkv_warp, w2);
        if (y == 0) biwkv_store_cg(sums + part * 2 * biwkv_warp, tree[x]);
        if (y == 1 % Warps) biwkv_store_cg(sums + (part * 2 + 1) * biwkv_warp, tree[Warps * biwkv_warp + x]);
        __syncthreads();  // the part's sums written
        if (lead) biwkv_arrive_acq_rel(arrivals);
    } else {
        __syncthreads();  // st written
    }
    // this warp's carries within the block, while the other parts arrive
    biwkv_state<float> fin = none, gin = none;
    for (int i = 0; i < y; ++i) fin = biwkv_merge(fin, st[i * biwkv_warp + x], w2);
    for (int i = Warps - 1; i > y; --i) gin = biwkv_merge(gin, st[(Warps + i) * biwkv_warp + x], -w2);

    // 2. the other parts of the sequence: before this one (forward) and
    // after it (backward), by a tree again
    if (a.parts > 1) {
        if (lead) {
            while (biwkv_load_acquire(arrivals) < static_cast<unsigned>(a.parts)) __nanosleep(32);
        }
        __syncthreads();  // (also: the tree's totals read)
        biwkv_state<float> pf = none, pg = none;
        for (int q = y; q < a.parts; q += Warps) {
            if (q < part) pf = biwkv_merge(pf, biwkv_load_cg(sums + q * 2 * biwkv_warp), w2);
            if (q > part) pg = biwkv_merge(pg, biwkv_load_cg(sums + (q * 2 + 1) * biwkv_warp), -w2);
        }
        tree[y * biwkv_warp + x] = pf;
        tree[(Warps + y) * biwkv_warp + x] = pg;
        biwkv_block_merge<Warps>(tree, tree + Warps * biwkv_warp, w2);
        if (lead && atomicAdd(arrivals, 1u) == 2u * static_cast<unsigned>(a.parts) - 1u)
            atomicExch(arrivals, 0u);  // every block has read the sums: ready for the next launch
        fin = biwkv_merge(tree[x], fin, w2);
        gin = biwkv_merge(tree[Warps * biwkv_warp + x], gin, -w2);
    }

    // 3. y, from the thread's carries and its sub-chunks' own
    T* yp = a.y + (row0 + first) * C + c;
    for (int r = 0; r < R; ++r) {
        const int count = max(0, min(mine - r * L, L)), at = s0 + r * L;
        if (count == 0) break;
        const T* kr = ks + (first + r * L) * biwkv_warp + x;
        const T* vr = vs + (first + r * L) * biwkv_warp + x;
        float k2[L], vv[L];
        if (fast)
            biwkv_resident_read_any<true, L>(kr, vr, count, k2, vv);
        else
            biwkv_resident_read_any<false, L>(kr, vr, count, k2, vv);
        const biwkv_state<float> f_r = biwkv_merge(fin, seg_f.get(r), w2), g_r = biwkv_merge(gin, seg_g.get(r), -w2);
        // the per-token backward sums: for float storage in the sub-chunk's
        // own k and v slots, read above (registers are short: 128 per thread)
        using column = std::conditional_t<sizeof(T) == sizeof(float), biwkv_smem_column, biwkv_register_column<L>>;
        column gn, gd;
        if constexpr (sizeof(T) == sizeof(float)) {
            gn.p = reinterpret_cast<float*>(ks) + (first + r * L) * biwkv_warp + x;
            gd.p = reinterpret_cast<float*>(vs) + (first + r * L) * biwkv_warp + x;
        }
        T* out = yp + static_cast<long long>(r) * L * C;
        if (fast) {
            biwkv_resident_fast_output<L>(k2, vv, count, seg_m.get(r), w2, u2, d, at, f_r, g_r, gn, gd, out, C);
        } else if (biwkv_subchunk_fast(w2, u2, count)) {
            const float m = biwkv_fused_fast_terms<L>(k2, vv, count);
            biwkv_fused_fast_output<L>(k2, vv, count, m, w2, u2, d, at, f_r, g_r, gn, gd, out, C);
        } else {
            biwkv_fused_anchored_output<L>(k2, vv, count, w2, u2, at, f_r, g_r, gn, gd, out, C);
        }
    }
}

// A launch configuration: L tokens per sub-chunk, Warps warps per block, up
// to MaxSegments sub-chunks per thread.
template <int L, int Warps, int MaxSegments>
struct biwkv_resident_config {
    static constexpr int len = L;
    static constexpr int warps = Warps;
    static constexpr int max_segments = MaxSegments;
};
using biwkv_resident_default = biwkv_resident_config<16, 16, 4>;

// How a problem splits over resident blocks; parts == 0 when it does not
// fit (then the fused kernel runs).
struct biwkv_resident_plan {
    int parts = 0, part = 0, segments = 0;
    std::size_t smem = 0;
};

template <class Config, class T>
biwkv_resident_plan biwkv_resident_split(const biwkv_params& p, int multiprocessors, std::size_t smem_limit) {
    constexpr int L = Config::len, W = Config::warps;
    biwkv_resident_plan plan;
    if (p.channels % biwkv_warp != 0 || p.tokens <= index_t{224}) return plan;
    const index_t sequences = p.batch * (p.channels / biwkv_warp);
    if (sequences > multiprocessors) return plan;
    const index_t parts = multiprocessors / sequences;
    const index_t per_part = (p.tokens + parts - 1) / parts;
    const index_t segments = (per_part + index_t{L} * W - 1) / (index_t{L} * W);
    if (segments > Config::max_segments) return plan;
    const index_t part = segments * L * W;
    const std::size_t smem = static_cast<std::size_t>(part) * biwkv_warp * 2 * sizeof(T) +
                             4 * static_cast<std::size_t>(W) * biwkv_warp * sizeof(biwkv_state<float>);
    if (smem > smem_limit) return plan;
    plan.parts = static_cast<int>((p.tokens + part - 1) / part);
    plan.part = static_cast<int>(part);
    plan.segments = static_cast<int>(segments);
    plan.smem = smem;
    return plan;
}

// Runs exact Bi-WKV with the resident kernel when the problem fits it
// (C a multiple of 32, k and v 16-byte aligned, the split above); returns
// false, having done nothing, when it does not.
template <class Config, class T>
bool biwkv_resident_launch(executor<cuda>& ex, const biwkv_params& p, const float* w, const float* u, const T* k,
                           const T* v, T* y) {
    biwkv_check_sizes(p);
    const auto misaligned = [](const void* q) { return reinterpret_cast<std::uintptr_t>(q) % 16 != 0; };
    if (misaligned(k) || misaligned(v)) return false;
    const int device = ex.device();
    const auto smem_limit =
        static_cast<std::size_t>(device_attribute<cudaDevAttrMaxSharedMemoryPerBlockOptin>(device));
    const biwkv_resident_plan plan = biwkv_resident_split<Config, T>(
        p, device_attribute<cudaDevAttrMultiProcessorCount>(device), smem_limit);
    if (plan.parts == 0) return false;
    biwkv_resident_args<T> a{w, u, k, v, y, nullptr, nullptr, static_cast<int>(p.tokens), static_cast<int>(p.channels),
                             static_cast<int>(p.channels / biwkv_warp), plan.parts, plan.part, plan.segments};
    const index_t sequences = p.batch * a.groups;
    a.words = ex.persistent_words(2 + 2 * static_cast<std::size_t>(sequences));
    a.part_sums = static_cast<biwkv_state<float>*>(ex.persistent_scratch(
        static_cast<std::size_t>(sequences) * plan.parts * 2 * biwkv_warp * sizeof(biwkv_state<float>)));
    constexpr auto kernel = biwkv_resident_kernel<Config::len, Config::warps, Config::max_segments, T>;
    // (the attribute is set once per device: to the most any plan takes)
    static std::atomic<std::uint64_t> smem_done{0};
    biwkv_allow_smem(kernel, device, smem_limit, smem_done);
    launch_kernel<kernel>(ex, dim3(static_cast<unsigned>(sequences * plan.parts)), dim3(biwkv_warp, Config::warps),
                          plan.smem, "biwkv_resident_kernel", /*cooperative=*/true, a);
    return true;
}

}  // namespace cuda_detail
}  // namespace vrwkv
