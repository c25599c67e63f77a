#pragma once
// Bi-WKV exact mode in one kernel, for float accumulation (float, half and
// bfloat16 storage). It reads k and v once from DRAM when one tile covers T,
// and otherwise twice, the second time mostly from L2.
//
// A tile is 32 channels x S sub-chunks of `len` tokens (one thread each, held
// in registers; block 32 x S). When T fits one tile, each block is a whole
// sequence (b, 32 channels): load, sub-chunk sums, carries within the block,
// output. When it does not, the kernel runs two kinds of work items, one per
// block in block order:
//   sums(s, t):   the tile's summed forward and backward terms, stored; the
//                 last tile of sequence s to finish scans all of s's tile
//                 sums into carries and raises s's ready flag;
//   output(s, t): waits for s's flag (after issuing its loads), then writes y.
// Blocks run sums(0), sums(1), output(0), sums(2), output(1), ...: outputs
// lag one sequence, so the scan of s overlaps the loads of s + 1, and an
// output's second read of k and v finds them in L2. An item only waits for
// items of lower block index, which never wait themselves; blocks are
// launched in increasing index order (the assumption CUB's single-pass scan
// makes, cub/agent/agent_scan.cuh), so those are running or done, and the
// kernel cannot deadlock, whatever the grid's residency. (Earlier versions
// drew the item from a ticket counter, which needs no such assumption, but
// each block then waited for an atomic before it could load: on an H100
// 100.2-100.7 against 99.1-99.4 us at (1, 65536, 192), 27.8 against 26.5 at
// 16384, 1509 against 1502 at 2^20.)
//
// Each block still draws from a counter, for the launch's epoch only, and
// uses the result late: arrival counts and ready flags live in executor
// words that stay between launches; the block that draws last resets the
// counter and advances the epoch, and a flag is valid when it holds epoch +
// 1, so flags never need clearing, and graph replays stay correct. Tile
// sums live in executor scratch, also kept between launches (no allocation
// per launch).
//
// The arithmetic is that of the tiled kernels (biwkv_tiled.cuh): a fast path
// that scales each sub-chunk by one exponent, an anchored log-sum-exp path
// for sub-chunks outside its range, and carried sums in anchored form.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <limits>
#include <string>

#include "vrwkv/cuda/biwkv_tiled.cuh"
#include "vrwkv/cuda/dependent_launch.cuh"
#include "vrwkv/cuda/device_attributes.cuh"
#include "vrwkv/cuda/error.cuh"
#include "vrwkv/cuda/executor.cuh"
#include "vrwkv/ops/biwkv.hpp"

namespace vrwkv {
namespace cuda_detail {

inline constexpr int biwkv_fused_rows = 32;  // sub-chunks (warps) per tile at most (S)
inline constexpr int biwkv_fused_batch = 2;  // tile sums loaded ahead of a scan's chain

template <class T>
struct biwkv_fused_args {
    const float* w;
    const float* u;
    const T* k;
    const T* v;
    T* y;
    biwkv_state<float>* tile_sums;  // [sequence][tile][2][32]: sums, then carries (several tiles only)
    unsigned* words;  // [0, 2): draw counter and epoch (one 64-bit word); per sequence s: [2 + 2s] arrivals, [3 + 2s] ready
    int tokens, channels, groups;
    int sequences;  // batch * groups
    int tiles;      // per sequence
    int lag;        // sequences whose sums run ahead of the outputs (1 .. sequences)
    int kept;       // with L2 hints: sums items of the first `kept` tiles (sequence-major) load k and v to stay in L2
};

// 2^x on the special-function unit, flushing results below 2^-126 to zero
// (terms that small next to the tile's largest term do not show in float).
__device__ __forceinline__ float biwkv_exp2_ftz(float x) {
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}

// Release / acquire between the blocks of one launch (cheaper than
// __threadfence's sequentially consistent fence).
__device__ __forceinline__ void biwkv_fence() { asm volatile("fence.acq_rel.gpu;" ::: "memory"); }

// One thread's release and acquire for its whole block: called after a
// barrier, the release covers what every thread of the block wrote before
// it; a barrier after an acquire passes it on to the block (the pattern of
// CUTLASS's grid barriers). Measured on an H100 against a fence in each
// writing row and a fence after the wait: 30.3 against 31.5 us at
// (1, 16384, 192), 110 against 113 at (1, 65536, 192).
__device__ __forceinline__ unsigned biwkv_arrive_acq_rel(unsigned* count) {
    unsigned before;
    asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], 1;" : "=r"(before) : "l"(count) : "memory");
    return before;
}
__device__ __forceinline__ unsigned biwkv_load_acquire(const unsigned* p) {
    unsigned seen;
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(seen) : "l"(p) : "memory");
    return seen;
}

// Tile sums are written and read by different blocks of one launch: through
// L2 (L1 is not coherent).
__device__ __forceinline__ biwkv_state<float> biwkv_load_cg(const biwkv_state<float>* p) {
    const float4 q = __ldcg(reinterpret_cast<const float4*>(p));
    return {q.x, q.y, q.z, __float_as_int(q.w)};
}
__device__ __forceinline__ void biwkv_store_cg(biwkv_state<float>* p, const biwkv_state<float>& s) {
    __stcg(reinterpret_cast<float4*>(p), make_float4(s.num, s.den, s.ka, __int_as_float(s.pos)));
}

// Sequence s's block of tile sums, at channel lane x: entry (tile, dir) is
// at [(tile * 2 + dir) * 32].
template <class T>
__device__ __forceinline__ biwkv_state<float>* biwkv_fused_sums_of(const biwkv_fused_args<T>& a, int s, int x) {
    return a.tile_sums + static_cast<long long>(s) * a.tiles * 2 * biwkv_warp + x;
}

// The last block to finish sequence s's sums: tile sums -> exclusive carries
// in place (forward: sum of every tile before; backward: every tile after).
// Row y of the block walks a range of tiles; ranges join in shared memory.
template <class T>
__device__ void biwkv_fused_scan(const biwkv_fused_args<T>& a, int s, float w2, bool active,
                                 biwkv_state<float>* rows_s) {
    constexpr int batch = biwkv_fused_batch;
    const int x = threadIdx.x, y = threadIdx.y, S = blockDim.y, n = a.tiles;
    const int per = (n + S - 1) / S;
    const int lo = min(y * per, n), hi = min(lo + per, n);
    biwkv_state<float>* base = biwkv_fused_sums_of(a, s, x);
    auto at = [&](int t, int dir) { return base + (t * 2 + dir) * biwkv_warp; };
    const biwkv_state<float> none = biwkv_empty_state<float>();
    biwkv_state<float> f = none, g = none;
    if (active)
        for (int t0 = lo; t0 < hi; t0 += batch) {
            biwkv_state<float> fs[batch], gs[batch];
#pragma unroll
            for (int i = 0; i < batch; ++i)
                if (t0 + i < hi) fs[i] = biwkv_load_cg(at(t0 + i, 0)), gs[i] = biwkv_load_cg(at(t0 + i, 1));
#pragma unroll
            for (int i = 0; i < batch; ++i)
                if (t0 + i < hi) f = biwkv_merge(f, fs[i], w2), g = biwkv_merge(g, gs[i], -w2);
        }
    rows_s[y * biwkv_warp + x] = f;
    rows_s[(S + y) * biwkv_warp + x] = g;
    __syncthreads();
    if (!active) return;
    biwkv_state<float> fc = none, gc = none;
    for (int r = 0; r < y; ++r) fc = biwkv_merge(fc, rows_s[r * biwkv_warp + x], w2);
    for (int r = S - 1; r > y; --r) gc = biwkv_merge(gc, rows_s[(S + r) * biwkv_warp + x], -w2);
    for (int t0 = lo; t0 < hi; t0 += batch) {
        biwkv_state<float> fs[batch];
#pragma unroll
        for (int i = 0; i < batch; ++i)
            if (t0 + i < hi) fs[i] = biwkv_load_cg(at(t0 + i, 0));
#pragma unroll
        for (int i = 0; i < batch; ++i)
            if (t0 + i < hi) {
                biwkv_store_cg(at(t0 + i, 0), fc);
                fc = biwkv_merge(fc, fs[i], w2);
            }
    }
    for (int t1 = hi; t1 > lo; t1 -= batch) {
        biwkv_state<float> gs[batch];
#pragma unroll
        for (int i = 0; i < batch; ++i)
            if (t1 - 1 - i >= lo) gs[i] = biwkv_load_cg(at(t1 - 1 - i, 1));
#pragma unroll
        for (int i = 0; i < batch; ++i)
            if (t1 - 1 - i >= lo) {
                biwkv_store_cg(at(t1 - 1 - i, 1), gc);
                gc = biwkv_merge(gc, gs[i], -w2);
            }
    }
}

// A work item: sequence s (batch b, channel group), tile, and its kind.
struct biwkv_fused_item {
    int s, tile;
    bool output;
};

// Block index -> item. Items come in runs of `tiles`: the sums of sequences
// 0 .. lag-1, then the sums of sequence s + lag alternating with the outputs
// of s, then the last outputs. With lag 1: sums(0), sums(1), output(0),
// sums(2), output(1), ..., output(n-1).
__device__ __forceinline__ biwkv_fused_item biwkv_fused_decode(unsigned index, int tiles, int sequences, int lag) {
    const unsigned block = index / static_cast<unsigned>(tiles);
    biwkv_fused_item it{0, static_cast<int>(index - block * static_cast<unsigned>(tiles)), true};
    const unsigned n = static_cast<unsigned>(sequences), g = static_cast<unsigned>(lag);
    if (block < g) {
        it.s = static_cast<int>(block), it.output = false;
    } else if (block < 2 * n - g) {
        const unsigned q = block - g;
        if (q & 1u)
            it.s = static_cast<int>(q / 2);
        else
            it.s = static_cast<int>(g + q / 2), it.output = false;
    } else {
        it.s = static_cast<int>(block - n);
    }
    return it;
}

// A thread's column of per-token partial sums for the output functions
// below: in shared memory (32 channels apart), or in registers.
struct biwkv_smem_column {
    float* p;
    __device__ __forceinline__ float& operator[](int j) const { return p[j * biwkv_warp]; }
};
template <int L>
struct biwkv_register_column {
    float v[L];
    __device__ __forceinline__ float& operator[](int j) { return v[j]; }
};

// Whether a sub-chunk of `count` tokens takes the fast path (one exponent
// for all its terms) rather than the anchored one.
__device__ __forceinline__ bool biwkv_subchunk_fast(float w2, float u2, int count) {
    return fabsf(w2) * static_cast<float>(count) <= static_cast<float>(biwkv_fast_span) &&
           fabsf(u2) <= static_cast<float>(biwkv_fast_u);
}

// The fast path's terms: m = the largest k2, then e_j = 2^{k2_j - m} in k2
// and e_j v_j in ev (0 past count).
template <int L>
__device__ __forceinline__ float biwkv_fused_fast_terms(float (&k2)[L], float (&ev)[L], int count) {
    float m = biwkv_empty_exponent<float>();
#pragma unroll
    for (int j = 0; j < L; ++j)
        if (j < count) m = fmaxf(m, k2[j]);
#pragma unroll
    for (int j = 0; j < L; ++j) {
        const float e = j < count ? exp2f(k2[j] - m) : 0.0f;
        k2[j] = e;
        ev[j] *= e;
    }
    return m;
}

// Fast path sums (see biwkv_fast_sums): leaves e_j = 2^{k2_j - m} in k2 and
// e_j v_j in ev.
template <int L>
__device__ __forceinline__ void biwkv_fused_fast_sums(float (&k2)[L], float (&ev)[L], int count, float d, int s0,
                                                      float& m, biwkv_state<float>& fwd, biwkv_state<float>& bwd) {
    m = biwkv_fused_fast_terms<L>(k2, ev, count);
    float fn = 0, fd = 0, gn = 0, gd = 0;
#pragma unroll
    for (int j = 0; j < L; ++j)
        if (j < count) fn = d * fn + ev[j], fd = d * fd + k2[j];
#pragma unroll
    for (int j = L - 1; j >= 0; --j)
        if (j < count) gn = d * gn + ev[j], gd = d * gd + k2[j];
    fwd = biwkv_normalized(fn, fd, m, s0 + count);
    bwd = biwkv_normalized(gn, gd, m, s0 - 1);
}

// Anchored path sums (see biwkv_anchored_sums), from registers.
template <int L>
__device__ __forceinline__ void biwkv_fused_anchored_sums(const float (&k2)[L], const float (&vv)[L], int count,
                                                          float w2, int s0, biwkv_state<float>& fwd,
                                                          biwkv_state<float>& bwd) {
    biwkv_run<float> f = biwkv_empty_run<float>(), g = f;
#pragma unroll
    for (int j = 0; j < L; ++j)
        if (j < count) biwkv_absorb(f, k2[j] + w2 * static_cast<float>(j + 1), vv[j]);
#pragma unroll
    for (int j = L - 1; j >= 0; --j)
        if (j < count) biwkv_absorb(g, k2[j] - w2 * static_cast<float>(j - 1), vv[j]);
    fwd = biwkv_to_state(f, s0);
    bwd = biwkv_to_state(g, s0);
}

// Fast path output (see biwkv_fast_output); e in k2, e v in ev.
template <int L, class T, class Column>
__device__ __forceinline__ void biwkv_fused_fast_output(float (&e)[L], float (&ev)[L], int count, float m, float w2,
                                                        float u2, float d, int s0, const biwkv_state<float>& fin,
                                                        const biwkv_state<float>& gin, Column& gn_s, Column& gd_s,
                                                        T* yp, long long C) {
    const float ef = biwkv_exponent_at(fin, s0, w2);
    const float eg = biwkv_exponent_at(gin, s0 + count - 1, -w2);
    const float top = fmaxf(fmaxf(m + fmaxf(u2, 0.0f), ef), eg);
    const float scale = exp2f(m - top);
    {
        const float cg = exp2f(eg - top);
        float gn = gin.num * cg, gd = gin.den * cg;
#pragma unroll
        for (int j = L - 1; j >= 0; --j)
            if (j < count) {
                gn_s[j] = gn, gd_s[j] = gd;
                e[j] *= scale, ev[j] *= scale;
                gn = d * gn + ev[j], gd = d * gd + e[j];
            }
    }
    const float cf = exp2f(ef - top), eu = exp2f(u2);
    float fn = fin.num * cf, fd = fin.den * cf;
#pragma unroll
    for (int j = 0; j < L; ++j)
        if (j < count) {
            const float out = __fdividef(fn + gn_s[j] + eu * ev[j], fd + gd_s[j] + eu * e[j]);
            biwkv_store<float>(yp + j * C, out);
            fn = d * fn + ev[j], fd = d * fd + e[j];
        }
}

// Anchored path output (see biwkv_anchored_output), from registers.
template <int L, class T, class Column>
__device__ __forceinline__ void biwkv_fused_anchored_output(const float (&k2)[L], const float (&vv)[L], int count,
                                                            float w2, float u2, int s0, const biwkv_state<float>& fin,
                                                            const biwkv_state<float>& gin, Column& gn_s, Column& gd_s,
                                                            T* yp, long long C) {
    {
        biwkv_run<float> g = biwkv_to_run(gin, s0, -w2);
#pragma unroll
        for (int j = L - 1; j >= 0; --j)
            if (j < count) {
                const bool empty = !(g.d > 0);
                gn_s[j] = empty ? 0.0f : g.n / g.d;
                gd_s[j] =
                    empty ? biwkv_empty_exponent<float>() : g.eb + w2 * static_cast<float>(j) + log2f(g.d);
                biwkv_absorb(g, k2[j] - w2 * static_cast<float>(j - 1), vv[j]);
            }
    }
    biwkv_run<float> f = biwkv_to_run(fin, s0, w2);
#pragma unroll
    for (int j = 0; j < L; ++j)
        if (j < count) {
            const float fe = f.eb - w2 * static_cast<float>(j), ge = gd_s[j], se = u2 + k2[j];
            const float top = fmaxf(fmaxf(fe, ge), se);
            const float xf = exp2f(fe - top), xg = exp2f(ge - top), xs = exp2f(se - top);
            const float out = (f.n * xf + gn_s[j] * xg + vv[j] * xs) / (f.d * xf + xg + xs);
            biwkv_store<float>(yp + j * C, out);
            biwkv_absorb(f, k2[j] + w2 * static_cast<float>(j + 1), vv[j]);
        }
}

// The general path (a tile outside the tile-wide fast range): per sub-chunk
// the fast path or, outside its range, the anchored one; sums into shared
// memory. (Out of line it would force the register arrays into local
// memory on every path: measured 1.6x slower.)
template <int L>
__device__ __forceinline__ void biwkv_fused_general_sums(float (&k2)[L], float (&ev)[L], int count, float d, float w2,
                                                      float u2, int s0, float& m, biwkv_state<float>* fwd,
                                                      biwkv_state<float>* bwd) {
    biwkv_state<float> f, g;
    if (biwkv_subchunk_fast(w2, u2, count))
        biwkv_fused_fast_sums<L>(k2, ev, count, d, s0, m, f, g);
    else
        biwkv_fused_anchored_sums<L>(k2, ev, count, w2, s0, f, g);
    *fwd = f, *bwd = g;
}

// The general path's output: this sub-chunk's carries from the tile's and
// the other rows' sums, then y.
template <int L, class T, class Column>
__device__ __forceinline__ void biwkv_fused_general_output(float (&k2)[L], float (&ev)[L], int count, float m, float w2,
                                                        float u2, float d, int s0, biwkv_state<float> fin,
                                                        biwkv_state<float> gin, const biwkv_state<float>* sums,
                                                        Column& gn_s, Column& gd_s, T* yp, long long C) {
    const int x = threadIdx.x, y = threadIdx.y, S = blockDim.y, stride = S * biwkv_warp;
    for (int i = 0; i < y; ++i) fin = biwkv_merge(fin, sums[i * biwkv_warp + x], w2);
    for (int i = S - 1; i > y; --i) gin = biwkv_merge(gin, sums[stride + i * biwkv_warp + x], -w2);
    if (biwkv_subchunk_fast(w2, u2, count))
        biwkv_fused_fast_output<L>(k2, ev, count, m, w2, u2, d, s0, fin, gin, gn_s, gd_s, yp, C);
    else
        biwkv_fused_anchored_output<L>(k2, ev, count, w2, u2, s0, fin, gin, gn_s, gd_s, yp, C);
}

// Tile-wide fast path. When the decay over the whole tile stays within 2^32
// (|w| * tile tokens) and e^u within 2^60, every token of the tile is scaled
// by one exponent M (the tile's largest k), so that the sub-chunks combine
// as plain sums: F_y = D F_{y-1} + F_local, D = e^{-w len}, two fused
// multiply-adds per row instead of a log-sum-exp merge. Terms this scaling
// flushes to zero are below 2^-90 of the tile's largest term.
inline constexpr double biwkv_tile_fast_span = 32;

// The row sums of the fast path in shared memory: (forward num, den, backward num, den).
__device__ __forceinline__ float4& biwkv_row_sums(float4* rows, int y) {
    return rows[y * biwkv_warp + threadIdx.x];
}

// Fast path, forward and backward sums of the rows before / after row y
// (exclusive), in the tile's scale: forward seen from row y's first token,
// backward from its last.
struct biwkv_row_carries {
    float fn, fd, gn, gd;
};
__device__ __forceinline__ biwkv_row_carries biwkv_rows_around(const float4* rows, int y, int S, float D) {
    biwkv_row_carries r{0, 0, 0, 0};
    for (int i = 0; i < y; ++i) {
        const float4 q = rows[i * biwkv_warp + threadIdx.x];
        r.fn = D * r.fn + q.x, r.fd = D * r.fd + q.y;
    }
    for (int i = S - 1; i > y; --i) {
        const float4 q = rows[i * biwkv_warp + threadIdx.x];
        r.gn = D * r.gn + q.z, r.gd = D * r.gd + q.w;
    }
    return r;
}

// a / b for b at least 2^-126: one reciprocal (__fdividef also rescales b
// below that, 3 more instructions per token).
__device__ __forceinline__ float biwkv_divide_normal(float a, float b) {
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(b));
    return a * r;
}

// L2 eviction hints, for when k and v exceed the L2 cache and every
// sequence's sums run before the outputs (lag = sequences): in plain LRU
// order the outputs, which read the sequences in the order the sums did,
// then find none of them in L2. With hints the sums items of the first
// `kept` tiles load k and v as evict_normal, the other sums items and the y
// stores as evict_first, so the kept lines outlive the others and the first
// outputs read their k and v from L2; the outputs load as evict_normal.
// (evict_last for the kept lines measured 0.6 us faster at (1, 65536, 192)
// on an H100, but its lines stay prioritised after the kernel: the next
// shape ran 3-7% slower. Outputs loading as evict_first measured 1.3 us
// slower there, 54 us slower at 2^20, and the fused kernel after it at
// T = 16384 2 us slower.) The loads are not volatile: their addresses come
// from biwkv_block_index, read after wait_for_previous_grid.
__device__ __forceinline__ unsigned long long biwkv_l2_policy(bool keep) {
    unsigned long long policy;
    if (keep)
        asm("createpolicy.fractional.L2::evict_normal.b64 %0, 1.0;" : "=l"(policy));
    else
        asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
    return policy;
}
__device__ __forceinline__ float biwkv_load_hinted(const float* p, unsigned long long policy) {
    float r;
    asm("ld.global.L2::cache_hint.f32 %0, [%1], %2;" : "=f"(r) : "l"(p), "l"(policy));
    return r;
}
__device__ __forceinline__ unsigned short biwkv_load_bits_hinted(const void* p, unsigned long long policy) {
    unsigned short r;
    asm("ld.global.L2::cache_hint.b16 %0, [%1], %2;" : "=h"(r) : "l"(p), "l"(policy));
    return r;
}
__device__ __forceinline__ float biwkv_load_hinted(const half* p, unsigned long long policy) {
    return __half2float(__ushort_as_half(biwkv_load_bits_hinted(p, policy)));
}
__device__ __forceinline__ float biwkv_load_hinted(const bfloat16* p, unsigned long long policy) {
    return __bfloat162float(__ushort_as_bfloat16(biwkv_load_bits_hinted(p, policy)));
}
__device__ __forceinline__ void biwkv_store_hinted(float* p, float x, unsigned long long policy) {
    asm volatile("st.global.L2::cache_hint.f32 [%0], %1, %2;" ::"l"(p), "f"(x), "l"(policy) : "memory");
}
__device__ __forceinline__ void biwkv_store_bits_hinted(void* p, unsigned short bits, unsigned long long policy) {
    asm volatile("st.global.L2::cache_hint.b16 [%0], %1, %2;" ::"l"(p), "h"(bits), "l"(policy) : "memory");
}
__device__ __forceinline__ void biwkv_store_hinted(half* p, float x, unsigned long long policy) {
    biwkv_store_bits_hinted(p, __half_as_ushort(__float2half_rn(x)), policy);
}
__device__ __forceinline__ void biwkv_store_hinted(bfloat16* p, float x, unsigned long long policy) {
    biwkv_store_bits_hinted(p, __bfloat16_as_ushort(__float2bfloat16_rn(x)), policy);
}
template <bool Hints, class T>
__device__ __forceinline__ float biwkv_fused_load(const T* p, unsigned long long policy) {
    if constexpr (Hints)
        return biwkv_load_hinted(p, policy);
    else
        return biwkv_load<float>(p);
}

// The fast paths' last step (this tile kernel's and the resident
// kernel's): with the backward sums per token in gn_s / gd_s and the
// forward carry fn / fd, all scaled alike, y_j = (forward + backward + e^u
// e_j v_j) / (the same for the denominators), every denominator normal (see
// the callers). Hints: y stored evict_first (see biwkv_l2_policy).
template <int L, bool Hints, class T, class Column>
__device__ __forceinline__ void biwkv_write_fast_outputs(const float (&e)[L], const float (&ev)[L], int count, float d,
                                                         float fn, float fd, float eu, Column& gn_s, Column& gd_s,
                                                         T* yp, long long C) {
    auto out = [&](int j) {
        return biwkv_divide_normal(fn + gn_s[j] + eu * ev[j], fd + gd_s[j] + eu * e[j]);
    };
    unsigned long long policy = 0;
    if constexpr (Hints) policy = biwkv_l2_policy(false);
    auto store = [&](T* at, float value) {
        if constexpr (Hints)
            biwkv_store_hinted(at, value, policy);
        else
            biwkv_store<float>(at, value);
    };
    if (count == L) {
        // a running pointer: one 64-bit add per token, not a multiply
#pragma unroll
        for (int j = 0; j < L; ++j, yp += C) {
            store(yp, out(j));
            fn = d * fn + ev[j], fd = d * fd + e[j];
        }
    } else {
#pragma unroll
        for (int j = 0; j < L; ++j) {
            if (j < count) store(yp + j * C, out(j));
            fn = d * fn + ev[j], fd = d * fd + e[j];
        }
    }
}

// Fast path output: the tile carries (anchored) and the rows' sums, all
// rescaled to 2^top, top the largest exponent among them and e^u 2^M.
template <int L, bool Hints, class T, class Column>
__device__ __forceinline__ void biwkv_tile_fast_output(float (&e)[L], float (&ev)[L], int count, float M, float w2,
                                                       float u2, float d, int s0, const biwkv_state<float>& fin,
                                                       const biwkv_state<float>& gin, const biwkv_row_carries& r,
                                                       Column& gn_s, Column& gd_s, T* yp, long long C) {
    // the backward sums are seen from the row's last slot (L - 1; padded
    // slots past T add nothing)
    const float ef = biwkv_exponent_at(fin, s0, w2);
    const float eg = biwkv_exponent_at(gin, s0 + L - 1, -w2);
    const float top = fmaxf(fmaxf(M + fmaxf(u2, 0.0f), ef), eg);
    const float scale = biwkv_exp2_ftz(M - top), eu = biwkv_exp2_ftz(u2);
    {
        const float cg = biwkv_exp2_ftz(eg - top);
        float gn = gin.num * cg + r.gn * scale, gd = gin.den * cg + r.gd * scale;
#pragma unroll
        for (int j = L - 1; j >= 0; --j) {
            gn_s[j] = gn, gd_s[j] = gd;
            e[j] *= scale, ev[j] *= scale;
            gn = d * gn + ev[j], gd = d * gd + e[j];
        }
    }
    const float cf = biwkv_exp2_ftz(ef - top);
    float fn = fin.num * cf + r.fn * scale, fd = fin.den * cf + r.fd * scale;
    // Every denominator is at least 2^-92: the term of the largest exponent
    // (2^0 after scaling; 2^-60 at most below it when it is e^u's) reaches
    // every token of the tile through at most 2^-32 of decay.
    biwkv_write_fast_outputs<L, Hints>(e, ev, count, d, fn, fd, eu, gn_s, gd_s, yp, C);
}

// Shared memory: sub-chunk sums [2][S][32] (the fast path's row sums and
// the scan reuse it), the rows' largest k [S][32], then backward sums per
// token [2][S][L][32]: a row's tokens side by side, so that each token's
// slot is a constant offset from the thread's first (no address arithmetic
// per token).
template <int L>
__host__ __device__ constexpr std::size_t biwkv_fused_smem(int rows) {
    return static_cast<std::size_t>(rows) * biwkv_warp *
           (2 * sizeof(biwkv_state<float>) + sizeof(float) + 2 * L * sizeof(float));
}

// blockIdx.x, read where it stands (volatile, with a memory clobber): the
// hinted loads (asm without one) take their addresses from it, so the
// compiler cannot move them above wait_for_previous_grid.
__device__ __forceinline__ unsigned biwkv_block_index() {
    unsigned index;
    asm volatile("mov.u32 %0, %%ctaid.x;" : "=r"(index)::"memory");
    return index;
}

// One draw from the launch's counter: one 64-bit word, epoch (high half)
// and draws so far (low), so a draw reads both at once. Volatile with a
// memory clobber so that it is issued before the item's loads; its result
// is first used after them.
__device__ __forceinline__ unsigned long long biwkv_fused_draw(unsigned* words) {
    unsigned long long drawn;
    asm volatile("atom.relaxed.gpu.global.add.u64 %0, [%1], 1;" : "=l"(drawn) : "l"(words) : "memory");
    return drawn;
}

// A float as an int that orders like the float (for an integer atomic max);
// the map is its own inverse.
__device__ __forceinline__ int biwkv_ordered_bits(int bits) { return bits ^ ((bits >> 31) & 0x7FFFFFFF); }

// One work item. k and v go straight into registers, k in base-2 units
// (RawK: in natural units until the tile's largest is known, so that each
// exponent is one FMA); padded slots past T hold e^k = 0 and v = 0. `smem`
// is the compute area (biwkv_fused_smem). With RawK the rows' largest k meet
// in `max_key` by a shared atomic max, which the caller has set to INT_MIN
// behind a barrier. Threads may return early only after the last barrier.
// several: T spans several tiles (from biwkv_fused_kernel, where it is a
// compile-time false in the one-tile kernel); then `drawn` is the lead
// thread's draw (biwkv_fused_draw), still in flight.
template <int L, bool RawK, bool Hints, class T>
__device__ __forceinline__ void biwkv_fused_body(const biwkv_fused_args<T>& a, const biwkv_fused_item& it,
                                                 bool several, unsigned long long drawn, unsigned char* smem,
                                                 int* max_key) {
    __shared__ unsigned last_s, epoch_s;
    const int x = threadIdx.x, y = threadIdx.y, S = blockDim.y;
    const bool lead = x == 0 && y == 0;
    const int stride = S * biwkv_warp;
    auto* sums = reinterpret_cast<biwkv_state<float>*>(smem);   // [2][S][32]
    auto* rows = reinterpret_cast<float4*>(sums);               // fast path: [S][32]
    float* maxes = reinterpret_cast<float*>(sums + 2 * stride);  // [S][32] (without RawK)
    biwkv_smem_column gn_s{maxes + stride + y * L * biwkv_warp + x};  // [S][L][32]
    biwkv_smem_column gd_s{gn_s.p + L * stride};
    // per sequence, arrival count and ready flag side by side: a launch with
    // another sequence count then finds its counts at zero and only stale
    // flags, never a flag where it counts
    unsigned* arrivals = a.words + 2;
    unsigned* ready = a.words + 3;
    const int b = it.s / a.groups, group = it.s - b * a.groups;
    const int c = group * biwkv_warp + x;
    const bool active = c < a.channels;
    const long long tile0 = static_cast<long long>(it.tile) * S * L;  // the tile's first token
    const long long s0_wide = tile0 + static_cast<long long>(y) * L;
    const int s0 = static_cast<int>(s0_wide < a.tokens ? s0_wide : a.tokens);
    const int count = active ? min(a.tokens - s0, L) : 0;
    // this tile's two sums (forward, backward) at this channel (several tiles)
    biwkv_state<float>* const mine = several ? biwkv_fused_sums_of(a, it.s, x) + it.tile * 2 * biwkv_warp : nullptr;

    float w2 = 0, u2 = 0, d = 1;
    if (active) {
        const float w = a.w[c];
        w2 = w * static_cast<float>(biwkv_log2e);
        u2 = a.u[c] * static_cast<float>(biwkv_log2e);
        d = expf(-w);
    }

    const long long C = a.channels;
    const long long row0 = (static_cast<long long>(b) * a.tokens + s0) * C + c;
    constexpr float k_scale = RawK ? 1.0f : static_cast<float>(biwkv_log2e);
    float k2[L], ev[L];
    {
        const T* kp = a.k + row0;
        const T* vp = a.v + row0;
        unsigned long long policy = 0;
        if constexpr (Hints) policy = biwkv_l2_policy(it.output || it.s * a.tiles + it.tile < a.kept);
        if (count == L) {  // the common case, without per-token predicates
            // running pointers (with j * C the compiler keeps more
            // addresses live and spills)
            const T* kq = kp;
            const T* vq = vp;
#pragma unroll
            for (int j = 0; j < L; ++j, kq += C, vq += C) {
                k2[j] = biwkv_fused_load<Hints>(kq, policy) * k_scale;
                ev[j] = biwkv_fused_load<Hints>(vq, policy);
            }
        } else {
#pragma unroll
            for (int j = 0; j < L; ++j) {
                const bool in = j < count;
                k2[j] = in ? biwkv_fused_load<Hints>(kp + j * C, policy) * k_scale : biwkv_empty_exponent<float>();
                ev[j] = in ? biwkv_fused_load<Hints>(vp + j * C, policy) : 0.0f;
            }
        }
    }
    // the draw's result, first needed here, once k and v are in flight; the
    // barrier below passes the epoch on
    if (several && lead) {
        const unsigned t = static_cast<unsigned>(drawn), e = static_cast<unsigned>(drawn >> 32);
        if (t == gridDim.x - 1)  // every block has drawn: reset for the next launch
            atomicExch(reinterpret_cast<unsigned long long*>(a.words), static_cast<unsigned long long>(e + 1) << 32);
        epoch_s = e;
    }
    float m = biwkv_empty_exponent<float>();  // padded slots hold the empty exponent
#pragma unroll
    for (int j = 0; j < L; ++j) m = fmaxf(m, k2[j]);
    if constexpr (RawK)
        atomicMax(max_key + x, biwkv_ordered_bits(__float_as_int(m)));
    else
        maxes[y * biwkv_warp + x] = m;
    const bool tile_fast = __syncthreads_and(
        fabsf(w2) * static_cast<float>(S * L) <= static_cast<float>(biwkv_tile_fast_span) &&
        fabsf(u2) <= static_cast<float>(biwkv_fast_u));

    if (tile_fast) {
        // padded tokens (past T) hold e^k = 0 and v = 0, so every row runs
        // all L tokens without predicates; only the stores check count
        float M = biwkv_empty_exponent<float>();
        if constexpr (RawK) {
            // (the product rounds monotonically: the largest k, scaled, is
            // the largest of the scaled k)
            M = __int_as_float(biwkv_ordered_bits(max_key[x])) * static_cast<float>(biwkv_log2e);
        } else {
            for (int i = 0; i < S; ++i) M = fmaxf(M, maxes[i * biwkv_warp + x]);
        }
        float fn = 0, fd = 0, gn = 0, gd = 0;
#pragma unroll
        for (int j = 0; j < L; ++j) {
            const float e = RawK ? biwkv_exp2_ftz(fmaf(k2[j], static_cast<float>(biwkv_log2e), -M))
                                 : biwkv_exp2_ftz(k2[j] - M);
            k2[j] = e;
            ev[j] *= e;
        }
#pragma unroll
        for (int j = 0; j < L; ++j) fn = d * fn + ev[j], fd = d * fd + k2[j];
#pragma unroll
        for (int j = L - 1; j >= 0; --j) gn = d * gn + ev[j], gd = d * gd + k2[j];
        biwkv_row_sums(rows, y) = make_float4(fn, fd, gn, gd);
        __syncthreads();
        const float D = biwkv_exp2_ftz(-w2 * static_cast<float>(L));  // decay over one row
        if (!it.output) {
            // the tile's sums, forward seen from the token after the tile,
            // backward from the token before it
            if (active && y == 0) {
                const biwkv_row_carries r = biwkv_rows_around(rows, -1, S, D);  // every row, backward
                biwkv_store_cg(mine + biwkv_warp, biwkv_normalized(r.gn, r.gd, M, static_cast<int>(tile0) - 1));
            }
            if (active && y == (S > 1 ? 1 : 0)) {
                const biwkv_row_carries r = biwkv_rows_around(rows, S, S, D);  // every row, forward
                biwkv_store_cg(mine, biwkv_normalized(r.fn, r.fd, M, static_cast<int>(tile0 + S * L)));
            }
        }
        m = M;  // the output continues below, once the tile carries are in
    } else {
        if constexpr (RawK) {
#pragma unroll
            for (int j = 0; j < L; ++j) k2[j] *= static_cast<float>(biwkv_log2e);
        }
        biwkv_fused_general_sums<L>(k2, ev, count, d, w2, u2, s0, m, sums + y * biwkv_warp + x,
                                    sums + stride + y * biwkv_warp + x);
        __syncthreads();
        if (!it.output) {
            // the tile's sums: row 0 folds the forward ones, row 1 the backward
            if (active && y == 0) {
                biwkv_state<float> acc = biwkv_empty_state<float>();
                for (int i = 0; i < S; ++i) acc = biwkv_merge(acc, sums[i * biwkv_warp + x], w2);
                biwkv_store_cg(mine, acc);
            }
            if (active && y == (S > 1 ? 1 : 0)) {
                biwkv_state<float> acc = biwkv_empty_state<float>();
                for (int i = 0; i < S; ++i) acc = biwkv_merge(acc, sums[stride + i * biwkv_warp + x], -w2);
                biwkv_store_cg(mine + biwkv_warp, acc);
            }
        }
    }

    if (!it.output) {
        __syncthreads();  // rows 0 and 1 wrote the tile's sums
        if (lead) last_s = biwkv_arrive_acq_rel(arrivals + 2 * it.s) == static_cast<unsigned>(a.tiles - 1);
        __syncthreads();
        if (!last_s) return;
        biwkv_fused_scan(a, it.s, w2, active, sums);
        biwkv_fence();
        __syncthreads();
        if (lead) {
            atomicExch(arrivals + 2 * it.s, 0u);
            biwkv_fence();
            atomicExch(ready + 2 * it.s, epoch_s + 1);
        }
        return;
    }

    // the rows' carries within the tile before the wait for the sequence's
    // flag: they need only shared memory, and fill the wait (the row decay
    // is computed again here: kept from the tile-fast block, it measured
    // slower through spills)
    const biwkv_row_carries r =
        tile_fast ? biwkv_rows_around(rows, y, S, biwkv_exp2_ftz(-w2 * static_cast<float>(L))) : biwkv_row_carries{};
    biwkv_state<float> fin = biwkv_empty_state<float>(), gin = fin;
    if (several) {
        if (lead) {
            const unsigned epoch = epoch_s;
            while (biwkv_load_acquire(ready + 2 * it.s) != epoch + 1) __nanosleep(64);
        }
        __syncthreads();
        if (active) {
            fin = biwkv_load_cg(mine);
            gin = biwkv_load_cg(mine + biwkv_warp);
        }
    }
    if (count == 0) return;
    T* yp = a.y + row0;
    if (tile_fast) {
        biwkv_tile_fast_output<L, Hints>(k2, ev, count, m, w2, u2, d, s0, fin, gin, r, gn_s, gd_s, yp, C);
        return;
    }
    biwkv_fused_general_output<L>(k2, ev, count, m, w2, u2, d, s0, fin, gin, sums, gn_s, gd_s, yp, C);
}

// The kernel: one work item per block (see the top of this file). Any C and
// alignment. Several: T spans several tiles (a.tiles > 1); a separate
// kernel, so that the one-tile code carries none of the carry handling's
// registers and branches. L2Hints: loads and stores with L2 eviction hints
// (see biwkv_l2_policy; several tiles only).
template <int L, int MaxThreads, int MinBlocks, bool Several, class T, bool L2Hints = false>
__global__ void __launch_bounds__(MaxThreads, MinBlocks) biwkv_fused_kernel(const biwkv_fused_args<T> a) {
    extern __shared__ __align__(16) unsigned char biwkv_smem_raw[];
    // The one-tile kernel takes k in natural units and the rows' largest k
    // by a shared atomic max: 15.1-15.3 against 18.2-18.3 us at
    // (64, 196, 192) on an H100. In the several-tile kernel the FMA pushes
    // its 72 registers into spills (2-5% slower at T = 16384 and 65536) and
    // the atomic max alone measured 1% slower at 65536.
    constexpr bool raw_k = !Several;
    __shared__ int max_key[biwkv_warp];
    if constexpr (raw_k) {
        if (threadIdx.y == 0) max_key[threadIdx.x] = INT_MIN;
        __syncthreads();
    }
    // a dependent launch: no global memory (inputs, or the words a previous
    // launch left) before the kernel before it is done
    wait_for_previous_grid();
    // (a runtime test in the several-tile kernel too: a compile-time one
    // there measured 4% slower, through different register allocation)
    const bool several = Several && a.tiles > 1;
    const unsigned index = biwkv_block_index();
    unsigned long long drawn = 0;
    if (several && threadIdx.x == 0 && threadIdx.y == 0) drawn = biwkv_fused_draw(a.words);
    const biwkv_fused_item it = several ? biwkv_fused_decode(index, a.tiles, a.sequences, a.lag)
                                        : biwkv_fused_item{static_cast<int>(index), 0, true};
    biwkv_fused_body<L, raw_k, Several && L2Hints>(a, it, several, drawn, biwkv_smem_raw, max_key);
}

// A launch configuration: L tokens per thread at most, at most MaxThreads
// threads (S = MaxThreads / 32 rows) and MinBlocks resident blocks per
// multiprocessor (caps registers).
template <int L, int MaxThreads, int MinBlocks>
struct biwkv_fused_config {
    static constexpr int len = L;
    static constexpr int max_threads = MaxThreads;
    static constexpr int min_blocks = MinBlocks;
    static constexpr int max_rows = MaxThreads / biwkv_warp;
};

// The share of L2 (percent) that the first sums items' k and v may keep
// when the kernel loads with L2 hints (see biwkv_l2_policy). On an H100
// (bench_biwkv_cuda, means of 3), with 20 / 30 / 40 / 50 / 70%: 101.7 /
// 101.65 / 102.1 / 102.3 / 102.9 us at (1, 65536, 192) and 1520 / 1519 /
// 1515 / 1513 / 1515 us at 2^20 (C = 192, float).
inline constexpr int biwkv_fused_l2_keep_percent = 30;

// Sequences whose sums run ahead of the outputs (several tiles), for
// `tiles` tiles per sequence, `sequences` sequences of `sequence_bytes` of
// k and v each, `wave` blocks resident at once and an L2 of `l2` bytes.
//  - Sequences of half a wave of tiles or more: 6 to 12 (12 while their k
//    and v stay within 32 MB). Their scans are long, and a long lag (fewer
//    outputs waiting on one) gains more than the L2 hits a short one keeps.
//    On an H100: 152 / 135 / 117 us at lag 1 / 2 / 6 for (1, 65536, 192);
//    at (1, 32768, 384) 123 / 117 / 107 / 106 us at lag 1 / 2 / 4 / 6.
//  - Shorter ones: about a wave of tiles, so that an output's sequence was
//    summed a wave of blocks before it; and where k and v exceed half of
//    L2, at most a fifth of L2 of them (at least 2 sequences), so that the
//    outputs' second read finds them there. On an H100, against the 6-12
//    rule above, float: 156-158 against 164 us at (8, 4096, 768), 84.4
//    against 97.6 at (4, 8192, 384), 85.8 against 98.6 at (16, 1024, 768),
//    94.0 against 101.1 at (2, 16384, 384), 25.1 against 25.7 at (4, 4096,
//    192); bfloat16: 83.2 against 86.8 at (4, 8192, 384), 90.2 against 104.8
//    at (16, 1024, 768); of 13 shapes per type, none over 0.5% slower.
inline index_t biwkv_fused_auto_lag(index_t tiles, index_t sequences, std::size_t sequence_bytes, index_t wave,
                                    std::size_t l2) {
    if (2 * tiles >= wave)
        return std::clamp<index_t>(static_cast<index_t>((std::size_t{32} << 20) / sequence_bytes), 6, 12);
    index_t lag = (wave + tiles - 1) / tiles;
    if (static_cast<std::size_t>(sequences) * sequence_bytes > l2 / 2)
        lag = std::min(lag, std::max<index_t>(2, static_cast<index_t>(l2 / 5 / sequence_bytes)));
    return lag;
}

// Runs exact Bi-WKV with the fused kernel. Tuning knobs: `rows`, sub-chunks
// per tile when T spans several tiles (0: the configuration's most); `lag`,
// sequences whose sums run ahead of the outputs (0: automatic); `keep`, the
// share of L2 in percent for the first items' k and v with L2 hints (0: the
// default above).
template <class Config, class T>
void biwkv_fused_launch(executor<cuda>& ex, const biwkv_params& p, const float* w, const float* u, const T* k,
                        const T* v, T* y, int rows = 0, int lag = 0, int keep = 0) {
    constexpr int L = Config::len, max_rows = Config::max_rows;
    static_assert(max_rows >= 1 && max_rows <= biwkv_fused_rows, "biwkv (cuda): 1 to 32 rows per tile");
    constexpr index_t int_max = std::numeric_limits<int>::max();
    biwkv_check_sizes(p);
    if (rows == 0) rows = max_rows;
    require(rows >= 1 && rows <= max_rows,
            "biwkv (cuda): rows per tile must be in [1, " + std::to_string(max_rows) + "], got " +
                std::to_string(rows));
    require(keep >= 0 && keep <= 100,
            "biwkv (cuda): the L2 share to keep must be in [0, 100] percent, got " + std::to_string(keep));
    biwkv_fused_args<T> a{w, u, k, v, y, nullptr, nullptr, static_cast<int>(p.tokens), static_cast<int>(p.channels),
                          0, 0, 0, 1};
    a.groups = static_cast<int>((p.channels + biwkv_warp - 1) / biwkv_warp);
    const index_t sequences = p.batch * a.groups;
    require(sequences < int_max / 4, "biwkv (cuda): B * ceil(C / 32) must be below 2^29");
    a.sequences = static_cast<int>(sequences);
    int S = rows;
    // every row holds L tokens (the last ones of T fewer): the kernel pads them
    if (p.tokens <= index_t{L} * max_rows) {  // one tile: as many rows as T needs
        S = static_cast<int>((p.tokens + L - 1) / L);
        a.tiles = 1;
    } else {
        a.tiles = static_cast<int>((p.tokens + index_t{L} * S - 1) / (index_t{L} * S));
    }
    const std::size_t sequence_bytes = static_cast<std::size_t>(p.tokens) * biwkv_warp * 2 * sizeof(T);
    const auto l2 = static_cast<std::size_t>(std::max(device_attribute<cudaDevAttrL2CacheSize>(ex.device()), 1));
    const index_t wave =
        index_t{Config::min_blocks} * device_attribute<cudaDevAttrMultiProcessorCount>(ex.device());
    const index_t auto_lag = biwkv_fused_auto_lag(a.tiles, sequences, sequence_bytes, wave, l2);
    a.lag = static_cast<int>(std::clamp<index_t>(lag > 0 ? lag : auto_lag, 1, sequences));
    const index_t items = a.tiles > 1 ? 2 * sequences * a.tiles : sequences;
    require(items < int_max, "biwkv (cuda): too many work items (B * T * C too large)");
    if (a.tiles > 1) {
        a.words = ex.persistent_words(2 + 2 * static_cast<std::size_t>(sequences));
        a.tile_sums = static_cast<biwkv_state<float>*>(ex.persistent_scratch(
            static_cast<std::size_t>(sequences) * a.tiles * 2 * biwkv_warp * sizeof(biwkv_state<float>)));
    }
    // a dependent launch (dependent_launch.cuh): back to back on an H100,
    // 13.3 against 15.1 us at (64, 196, 192) and 27.8 against 29.8 at
    // (1, 16384, 192)
    const dim3 grid(static_cast<unsigned>(items)), block(biwkv_warp, S);
    static std::atomic<std::uint64_t> smem_done[3] = {0, 0, 0};
    // L2 hints (biwkv_l2_policy) when every sequence's sums run before the
    // outputs and k, v and y exceed L2; the first tiles' k and v, up to
    // `keep` percent of L2, stay there. On an H100 (with the first sequences
    // kept, up to 70%, and outputs loading evict_first), 101.5-101.6 against
    // 107.0-107.3 us at (1, 65536, 192) and 1568 against 1579 at 2^20. Where
    // everything fits (T = 16384) they measured 1-8% slower, and with a
    // shorter lag they defeat LRU's hits ((8, 4096, 768): 197 against 170.5
    // us): not used there.
    const bool hints = a.tiles > 1 && a.lag == a.sequences && 3 * static_cast<std::size_t>(sequences) * sequence_bytes / 2 > l2;
    if (hints) {
        const std::size_t tile_bytes = sequence_bytes / static_cast<std::size_t>(a.tiles);
        const std::size_t share = static_cast<std::size_t>(keep > 0 ? keep : biwkv_fused_l2_keep_percent);
        a.kept = static_cast<int>(
            std::min<std::size_t>(l2 / 100 * share / tile_bytes, static_cast<std::size_t>(sequences) * a.tiles));
        constexpr auto kernel = biwkv_fused_kernel<L, Config::max_threads, Config::min_blocks, true, T, true>;
        biwkv_allow_smem(kernel, ex.device(), biwkv_fused_smem<L>(max_rows), smem_done[2]);
        launch_dependent<kernel>(ex, grid, block, biwkv_fused_smem<L>(S), "biwkv_fused_kernel", a);
    } else if (a.tiles > 1) {
        constexpr auto kernel = biwkv_fused_kernel<L, Config::max_threads, Config::min_blocks, true, T>;
        biwkv_allow_smem(kernel, ex.device(), biwkv_fused_smem<L>(max_rows), smem_done[1]);
        launch_dependent<kernel>(ex, grid, block, biwkv_fused_smem<L>(S), "biwkv_fused_kernel", a);
    } else {
        constexpr auto kernel = biwkv_fused_kernel<L, Config::max_threads, Config::min_blocks, false, T>;
        biwkv_allow_smem(kernel, ex.device(), biwkv_fused_smem<L>(max_rows), smem_done[0]);
        launch_dependent<kernel>(ex, grid, block, biwkv_fused_smem<L>(S), "biwkv_fused_kernel", a);
    }
}

// The configuration used: 16 tokens per thread, tiles of up to 14 rows (one
// tile up to T = 224), two blocks per multiprocessor (72 registers). On an
// H100 it measured fastest of 8 / 16 tokens x 6 to 32 rows x 1 to 4 blocks
// (README: what else was measured).
using biwkv_fused_default = biwkv_fused_config<16, 448, 2>;

}  // namespace cuda_detail
}  // namespace vrwkv
