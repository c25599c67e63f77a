#pragma once
// Bi-WKV on CUDA (SPEC 5), tiled kernels: exact and compat, for float / double / half /
// bfloat16 storage.
//
// Layout (B, T, C) row-major: a warp takes 32 consecutive channels of one
// token, so every load and store is coalesced. T is cut into sub-chunks of
// L tokens (one thread each, held in registers); S sub-chunks make a tile (one
// block of 32 x S threads). Three kernels when T spans several tiles:
//   1. tile_state: each tile's summed forward and backward terms;
//   2. combine:    per channel, the sums of everything before / after each tile;
//   3. output:     each tile again: the sub-chunks' carries (an in-block scan),
//                  then a backward and a forward scan per thread writing y.
// When one tile covers T only kernel 3 runs, reading k and v once; otherwise
// k and v are read twice (kernel 3 walks the tiles in reverse so that its
// first reads hit what kernel 1 left in L2).
//
// Within a sub-chunk the fast path scales every token by one exponent (the
// sub-chunk's largest k), so each token costs one exp2 and a few multiply-adds;
// that is exact while the decay over the sub-chunk stays within 2^32 and e^u
// within 2^60, which always holds for |w T| <= 20. Blocks holding a sub-chunk
// outside that range take the anchored path: log-sum-exp per token.
//
// Every carried sum is (num, den) * 2^e with e held in anchored form: an
// exponent `ka` at a position `pos`, the exponent elsewhere being
// ka - slope * (p - pos). Sums combine in log-sum-exp fashion (the larger
// exponent keeps its anchor), so |k| up to 60 and |w T| up to 20 (and far
// beyond) neither overflow nor lose precision, and the exponent is never
// accumulated step by step, so float stays exact over T = 2^20 and more.
// Exponents are base 2 (k and w are pre-scaled by log2(e)).
//
// compat (SPEC 5.1) in closed form: with t0 the start of t's chunk
// (chunks of Lc = ceil(T/32) tokens) and terms e^{k_i} (v_i, 1):
//   y_t ~ sum_{i<t0} e^{-(t-i)w} + sum_{t0<=i<t} e^{-(t-1-i)w}      ("R")
//       + sum_{i>t} e^{-(i-t)w}                                      (G e^{-w})
//       + (1 - e^w) sum_{t0<i<=t} e^{(t-i)w}                         ("Z")
//       + e^{u + k_t} (v_t, 1).
// R restarts at each chunk start as e^{-w} times the exact forward sum F; Z
// restarts empty. The same scans carry F, R and Z, in the accumulator type.
// (The Z term subtracts: for |w| of order 1 per token the function itself is
// ill-conditioned, and float compat loses digits there, as the original did.)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>

#include "vrwkv/core/half.hpp"
#include "vrwkv/cuda/dependent_launch.cuh"
#include "vrwkv/cuda/error.cuh"
#include "vrwkv/cuda/executor.cuh"
#include "vrwkv/ops/biwkv.hpp"

namespace vrwkv {

namespace cuda_detail {

inline constexpr int biwkv_warp = 32;            // channels per block
inline constexpr int biwkv_max_subchunks = 32;   // S at most (blockDim.y)

// A carried sum: (num, den) * 2^(ka - slope * (p - pos)) seen from position p.
template <class Acc>
struct biwkv_state {
    Acc num, den, ka;
    int pos;
};

// The exponent of an empty sum: finite, so that empty - empty is 0, not NaN.
template <class Acc>
__host__ __device__ constexpr Acc biwkv_empty_exponent() {
    return std::is_same_v<Acc, double> ? Acc(-1e300) : Acc(-1e30f);
}

__device__ __forceinline__ float biwkv_exp2(float x) { return exp2f(x); }
__device__ __forceinline__ double biwkv_exp2(double x) { return exp2(x); }
__device__ __forceinline__ float biwkv_log2(float x) { return log2f(x); }
__device__ __forceinline__ double biwkv_log2(double x) { return log2(x); }
__device__ __forceinline__ float biwkv_expm1(float x) { return expm1f(x); }
__device__ __forceinline__ float biwkv_exp(float x) { return expf(x); }
__device__ __forceinline__ double biwkv_exp(double x) { return exp(x); }
// log2 of a sum's denominator (>= 1 or tiny): the fast special-function unit suffices
__device__ __forceinline__ float biwkv_log2_fast(float x) { return __log2f(x); }
__device__ __forceinline__ double biwkv_log2_fast(double x) { return log2(x); }
__device__ __forceinline__ double biwkv_expm1(double x) { return expm1(x); }

// Storage <-> accumulator conversions (vrwkv::half / bfloat16 share the bit
// layouts of __half / __nv_bfloat16).
template <class Acc> __device__ __forceinline__ Acc biwkv_load(const float* p) { return static_cast<Acc>(*p); }
template <class Acc> __device__ __forceinline__ Acc biwkv_load(const double* p) { return static_cast<Acc>(*p); }
template <class Acc> __device__ __forceinline__ Acc biwkv_load(const half* p) {
    return static_cast<Acc>(__half2float(*reinterpret_cast<const __half*>(p)));
}
template <class Acc> __device__ __forceinline__ Acc biwkv_load(const bfloat16* p) {
    return static_cast<Acc>(__bfloat162float(*reinterpret_cast<const __nv_bfloat16*>(p)));
}
template <class Acc> __device__ __forceinline__ void biwkv_store(float* p, Acc x) { *p = static_cast<float>(x); }
template <class Acc> __device__ __forceinline__ void biwkv_store(double* p, Acc x) { *p = static_cast<double>(x); }
template <class Acc> __device__ __forceinline__ void biwkv_store(half* p, Acc x) {
    *reinterpret_cast<__half*>(p) = __float2half_rn(static_cast<float>(x));
}
template <class Acc> __device__ __forceinline__ void biwkv_store(bfloat16* p, Acc x) {
    *reinterpret_cast<__nv_bfloat16*>(p) = __float2bfloat16_rn(static_cast<float>(x));
}

// Kernel arguments: plain data.
template <class T, class Acc>
struct biwkv_args {
    const Acc* w;
    const Acc* u;
    const T* k;
    const T* v;
    T* y;
    biwkv_state<Acc>* states;  // per (b, tile, kind, c): tile sums, then carries; null for one tile
    int batch, tokens, channels;
    int groups;       // ceil(C / 32)
    int tiles;        // tiles per sequence
    int subchunks;    // S = blockDim.y of tile_state / output
    int compat_len;   // Lc = ceil(T / 32); compat only
    int row_stride;   // elements between tokens in k, v, y (C of the whole tensor; channels may be a part)
};

// Sums kept per tile: exact F, G; compat F, R, Z, G (G always last).
template <bool Compat> inline constexpr int biwkv_kinds = Compat ? 4 : 2;

template <class Acc>
__device__ __forceinline__ biwkv_state<Acc> biwkv_empty_state() {
    return {Acc(0), Acc(0), biwkv_empty_exponent<Acc>(), 0};
}

// a + b seen from any common position (slope: the sums' exponent slope).
template <class Acc>
__device__ __forceinline__ biwkv_state<Acc> biwkv_merge(const biwkv_state<Acc>& a, const biwkv_state<Acc>& b,
                                                         Acc slope) {
    const Acc diff = (a.ka - b.ka) + slope * static_cast<Acc>(a.pos - b.pos);
    const Acc f = biwkv_exp2(-fabs(diff));
    if (diff >= 0) return {a.num + f * b.num, a.den + f * b.den, a.ka, a.pos};
    return {a.num * f + b.num, a.den * f + b.den, b.ka, b.pos};
}

// e^{-w} times a sum (compat's chunk-start restart of R).
template <class Acc>
__device__ __forceinline__ biwkv_state<Acc> biwkv_shift(biwkv_state<Acc> s, Acc w2) {
    s.ka -= w2;
    return s;
}

// The forward sums of a prefix: exact F, and for compat R and Z.
template <class Acc>
struct biwkv_forward {
    biwkv_state<Acc> f, r, z;
};

// Appends segment x (holding a compat chunk start when `restarts`) to prefix p.
template <bool Compat, class Acc>
__device__ __forceinline__ biwkv_forward<Acc> biwkv_append(const biwkv_forward<Acc>& p, const biwkv_forward<Acc>& x,
                                                           bool restarts, Acc w2) {
    biwkv_forward<Acc> out{biwkv_merge(p.f, x.f, w2), p.r, p.z};
    if constexpr (Compat) {
        if (restarts) {
            out.r = biwkv_merge(biwkv_shift(p.f, w2), x.r, w2);
            out.z = x.z;
        } else {
            out.r = biwkv_merge(p.r, x.r, w2);
            out.z = biwkv_merge(p.z, x.z, -w2);
        }
    }
    return out;
}

// Whether [begin, end) holds a compat chunk start (a multiple of len).
__device__ __forceinline__ bool biwkv_has_chunk_start(long long begin, long long end, int len) {
    if (begin >= end) return false;
    const long long first = (begin + len - 1) / len * static_cast<long long>(len);
    return first < end;
}

// A running sum local to one thread: (n, d) * 2^(eb - slope * j) at local token j.
template <class Acc>
struct biwkv_run {
    Acc n, d, eb;
};

template <class Acc>
__device__ __forceinline__ biwkv_run<Acc> biwkv_empty_run() {
    return {Acc(0), Acc(0), biwkv_empty_exponent<Acc>()};
}

// Adds one token (its exponent at local 0: eb_tok, its value x).
template <class Acc>
__device__ __forceinline__ void biwkv_absorb(biwkv_run<Acc>& s, Acc eb_tok, Acc x) {
    const Acc diff = s.eb - eb_tok;
    const Acc f = biwkv_exp2(-fabs(diff));
    if (diff >= 0) {
        s.n += f * x;
        s.d += f;
    } else {
        s.n = s.n * f + x;
        s.d = s.d * f + Acc(1);
        s.eb = eb_tok;
    }
}

// Carried (anchored) sum -> local running sum for a sub-chunk starting at s0.
template <class Acc>
__device__ __forceinline__ biwkv_run<Acc> biwkv_to_run(const biwkv_state<Acc>& s, int s0, Acc slope) {
    return {s.num, s.den, s.ka - slope * static_cast<Acc>(s0 - s.pos)};
}
template <class Acc>
__device__ __forceinline__ biwkv_state<Acc> biwkv_to_state(const biwkv_run<Acc>& r, int s0) {
    return {r.n, r.d, r.eb, s0};
}

// Where one thread works: batch b, channel c, tokens [s0, s0 + count).
struct biwkv_place {
    int b, tile, c;
    int s0, count;
    bool active;  // c < C
};

template <class T, class Acc>
__device__ __forceinline__ biwkv_place biwkv_locate(const biwkv_args<T, Acc>& a, unsigned block, int L) {
    biwkv_place p;
    // 32-bit unsigned division: the host keeps the grid below 2^31 blocks
    const unsigned groups = a.groups, tiles = a.tiles;
    const unsigned rest = block / groups, group = block - rest * groups;
    p.tile = static_cast<int>(rest % tiles);
    p.b = static_cast<int>(rest / tiles);
    p.c = static_cast<int>(group) * biwkv_warp + static_cast<int>(threadIdx.x);
    p.active = p.c < a.channels;
    const long long s0 = (static_cast<long long>(p.tile) * a.subchunks + threadIdx.y) * L;
    p.s0 = static_cast<int>(s0 < a.tokens ? s0 : a.tokens);
    const long long left = a.tokens - s0;
    p.count = !p.active || left <= 0 ? 0 : (left < L ? static_cast<int>(left) : L);
    return p;
}

// Per-channel constants of one thread.
template <class Acc>
struct biwkv_channel {
    Acc w2, u2;     // w, u in base-2 units
    Acc decay;      // e^{-w}
    Acc grow;       // e^{w}
    Acc z_coef;     // 1 - e^{w} (compat)
    bool fast;      // the fixed-scale path is safe for this sub-chunk
};

inline constexpr double biwkv_log2e = 1.4426950408889634;

// The fast path scales a sub-chunk by one exponent; that is exact as long as
// decay or growth over the sub-chunk stays within 2^32 and e^u within 2^60
// (always so for |w T| <= 20). Otherwise the anchored path runs.
inline constexpr double biwkv_fast_span = 32, biwkv_fast_u = 60;

template <bool Compat, class T, class Acc>
__device__ __forceinline__ biwkv_channel<Acc> biwkv_channel_of(const biwkv_args<T, Acc>& a, const biwkv_place& p) {
    biwkv_channel<Acc> ch{};
    ch.fast = true;
    if (!p.active) return ch;
    const Acc w = a.w[p.c], u = a.u[p.c];
    ch.w2 = w * Acc(biwkv_log2e);
    ch.u2 = u * Acc(biwkv_log2e);
    // expf is within 2 ulp: the decay's L-th power stays within 1e-5 relative
    ch.decay = biwkv_exp(-w);
    if constexpr (Compat) {
        ch.grow = biwkv_exp(w);
        ch.z_coef = -biwkv_expm1(w);
    }
    ch.fast = fabs(static_cast<double>(ch.w2)) * p.count <= biwkv_fast_span &&
              fabs(static_cast<double>(ch.u2)) <= biwkv_fast_u;
    return ch;
}

template <int L, class T, class Acc>
__device__ __forceinline__ void biwkv_load_subchunk(const biwkv_args<T, Acc>& a, const biwkv_place& p,
                                                    Acc (&k2)[L], Acc (&vv)[L]) {
    const long long C = a.row_stride;
    const long long base = (static_cast<long long>(p.b) * a.tokens + p.s0) * C + p.c;
#pragma unroll
    for (int j = 0; j < L; ++j) {
        const bool in = j < p.count;
        k2[j] = in ? biwkv_load<Acc>(a.k + base + j * C) * Acc(biwkv_log2e) : Acc(0);
        vv[j] = in ? biwkv_load<Acc>(a.v + base + j * C) : Acc(0);
    }
}

// One token re-read from memory (the anchored path, which runs rarely).
template <class T, class Acc>
__device__ __forceinline__ void biwkv_token(const biwkv_args<T, Acc>& a, const biwkv_place& p, int j, Acc& k2,
                                            Acc& v) {
    const long long i = (static_cast<long long>(p.b) * a.tokens + p.s0 + j) * a.row_stride + p.c;
    k2 = biwkv_load<Acc>(a.k + i) * Acc(biwkv_log2e);
    v = biwkv_load<Acc>(a.v + i);
}

__device__ __forceinline__ float biwkv_divide(float a, float b) { return __fdividef(a, b); }
__device__ __forceinline__ double biwkv_divide(double a, double b) { return a / b; }

// (n, d) * 2^e as a carried sum with den 1 (empty when d is 0), so that a
// sum whose terms are all tiny never carries a large exponent.
template <class Acc>
__device__ __forceinline__ biwkv_state<Acc> biwkv_normalized(Acc n, Acc d, Acc e, int pos) {
    if (!(d > 0)) return biwkv_empty_state<Acc>();
    return {biwkv_divide(n, d), Acc(1), e + biwkv_log2_fast(d), pos};
}

// A sub-chunk's own sums: forward (F, R, Z) and backward G.
template <class Acc>
struct biwkv_local {
    biwkv_forward<Acc> fwd;
    biwkv_state<Acc> bwd;
};

// Fast path: every token scaled by 2^{-m}, m the sub-chunk's largest k; the
// scans are then multiply-adds with the decay. Leaves e_j = 2^{k2_j - m} in k2.
template <int L, bool Compat, class Acc>
__device__ __forceinline__ biwkv_local<Acc> biwkv_fast_sums(Acc (&k2)[L], const Acc (&vv)[L], const biwkv_place& p,
                                                            const biwkv_channel<Acc>& ch, int compat_len, Acc& m) {
    m = biwkv_empty_exponent<Acc>();
#pragma unroll
    for (int j = 0; j < L; ++j)
        if (j < p.count) m = fmax(m, k2[j]);
#pragma unroll
    for (int j = 0; j < L; ++j) k2[j] = j < p.count ? biwkv_exp2(k2[j] - m) : Acc(0);
    const Acc d = ch.decay, g = ch.grow;
    Acc fn = 0, fd = 0, rn = 0, rd = 0, zn = 0, zd = 0;
    int next_start = 0;
    if constexpr (Compat) next_start = (p.s0 + compat_len - 1) / compat_len * compat_len;
#pragma unroll
    for (int j = 0; j < L; ++j) {
        if (j < p.count) {
            const Acc e = k2[j], ev = e * vv[j];
            if constexpr (Compat) {
                if (p.s0 + j == next_start) {
                    rn = d * fn, rd = d * fd, zn = 0, zd = 0;
                    next_start += compat_len;
                } else {
                    zn = g * zn + ev, zd = g * zd + e;
                }
                rn = d * rn + ev, rd = d * rd + e;
            }
            fn = d * fn + ev, fd = d * fd + e;
        }
    }
    Acc gn = 0, gd = 0;
#pragma unroll
    for (int j = L - 1; j >= 0; --j)
        if (j < p.count) gn = d * gn + k2[j] * vv[j], gd = d * gd + k2[j];
    biwkv_local<Acc> out;
    out.fwd.f = biwkv_normalized(fn, fd, m, p.s0 + p.count);
    out.fwd.r = biwkv_normalized(rn, rd, m, p.s0 + p.count);
    out.fwd.z = biwkv_normalized(zn, zd, m, p.s0 + p.count - 1);
    out.bwd = biwkv_normalized(gn, gd, m, p.s0 - 1);
    return out;
}

// Anchored path: log-sum-exp per token, tokens re-read from memory.
template <bool Compat, class T, class Acc>
__device__ __noinline__ biwkv_local<Acc> biwkv_anchored_sums(const biwkv_args<T, Acc>& a, const biwkv_place& p,
                                                             Acc w2) {
    biwkv_run<Acc> f = biwkv_empty_run<Acc>(), r = f, z = f, g = f;
    int next_start = (p.s0 + a.compat_len - 1) / a.compat_len * a.compat_len;
#pragma unroll 1
    for (int j = 0; j < p.count; ++j) {
        Acc k2, v;
        biwkv_token(a, p, j, k2, v);
        const Acc tok = k2 + w2 * static_cast<Acc>(j + 1);
        if (Compat) {
            if (p.s0 + j == next_start) {
                r = {f.n, f.d, f.eb - w2};
                z = biwkv_empty_run<Acc>();
                next_start += a.compat_len;
            } else {
                biwkv_absorb(z, k2 - w2 * static_cast<Acc>(j), v);
            }
            biwkv_absorb(r, tok, v);
        }
        biwkv_absorb(f, tok, v);
    }
#pragma unroll 1
    for (int j = p.count - 1; j >= 0; --j) {
        Acc k2, v;
        biwkv_token(a, p, j, k2, v);
        biwkv_absorb(g, k2 - w2 * static_cast<Acc>(j - 1), v);
    }
    biwkv_local<Acc> out;
    out.fwd = {biwkv_to_state(f, p.s0), biwkv_to_state(r, p.s0), biwkv_to_state(z, p.s0)};
    out.bwd = biwkv_to_state(g, p.s0);
    return out;
}

// Shared-memory slots of the per-sub-chunk sums: [kind][y][x].
template <class Acc>
__device__ __forceinline__ biwkv_state<Acc>& biwkv_slot(biwkv_state<Acc>* s, int kind, int y) {
    return s[(kind * static_cast<int>(blockDim.y) + y) * biwkv_warp + threadIdx.x];
}

__device__ __forceinline__ long long biwkv_state_index(int b, int tile, int tiles, int kind, int kinds, int C,
                                                       int c) {
    return ((static_cast<long long>(b) * tiles + tile) * kinds + kind) * C + c;
}

template <bool Compat, class Acc>
__device__ __forceinline__ void biwkv_put_local(biwkv_state<Acc>* sums, const biwkv_local<Acc>& l) {
    const int y = threadIdx.y;
    biwkv_slot(sums, 0, y) = l.fwd.f;
    if constexpr (Compat) biwkv_slot(sums, 1, y) = l.fwd.r, biwkv_slot(sums, 2, y) = l.fwd.z;
    biwkv_slot(sums, biwkv_kinds<Compat> - 1, y) = l.bwd;
}

template <bool Compat>
__device__ __forceinline__ bool biwkv_subchunk_restarts(long long tile_s0, int i, int L, int tokens, int compat_len) {
    if (!Compat) return false;
    const long long b0 = tile_s0 + static_cast<long long>(i) * L;
    return biwkv_has_chunk_start(b0, b0 + L < tokens ? b0 + L : tokens, compat_len);
}

// After the sub-chunk sums are in shared memory: one thread row folds them
// into the tile's forward state(s), another into its backward state, and both
// are stored for the combine pass.
template <int L, bool Compat, class T, class Acc>
__device__ __forceinline__ void biwkv_store_tile_states(const biwkv_args<T, Acc>& a, const biwkv_place& p,
                                                        const biwkv_channel<Acc>& ch, biwkv_state<Acc>* sums) {
    constexpr int kinds = biwkv_kinds<Compat>;
    const int S = blockDim.y, y = threadIdx.y;
    const long long tile_s0 = static_cast<long long>(p.tile) * S * L;
    if (y == 0 && p.active) {
        biwkv_forward<Acc> acc{biwkv_empty_state<Acc>(), biwkv_empty_state<Acc>(), biwkv_empty_state<Acc>()};
        for (int i = 0; i < S; ++i) {
            biwkv_forward<Acc> x{biwkv_slot(sums, 0, i), acc.r, acc.z};
            if constexpr (Compat) x.r = biwkv_slot(sums, 1, i), x.z = biwkv_slot(sums, 2, i);
            acc = biwkv_append<Compat>(
                acc, x, biwkv_subchunk_restarts<Compat>(tile_s0, i, L, a.tokens, a.compat_len), ch.w2);
        }
        a.states[biwkv_state_index(p.b, p.tile, a.tiles, 0, kinds, a.channels, p.c)] = acc.f;
        if constexpr (Compat) {
            a.states[biwkv_state_index(p.b, p.tile, a.tiles, 1, kinds, a.channels, p.c)] = acc.r;
            a.states[biwkv_state_index(p.b, p.tile, a.tiles, 2, kinds, a.channels, p.c)] = acc.z;
        }
    }
    if (y == (S > 1 ? 1 : 0) && p.active) {
        biwkv_state<Acc> g = biwkv_empty_state<Acc>();
        for (int i = 0; i < S; ++i) g = biwkv_merge(g, biwkv_slot(sums, kinds - 1, i), -ch.w2);
        a.states[biwkv_state_index(p.b, p.tile, a.tiles, kinds - 1, kinds, a.channels, p.c)] = g;
    }
}

// Kernel 1: each tile's forward and backward sums. The fast path is taken
// per block (when every thread's sub-chunk allows it), so that registers are
// not held across the anchored path's calls.
template <int L, bool Compat, int MaxThreads, int MinBlocks, class T, class Acc>
__global__ void __launch_bounds__(MaxThreads, MinBlocks) biwkv_tile_state_kernel(const biwkv_args<T, Acc> a) {
    wait_for_previous_grid();
    extern __shared__ __align__(16) unsigned char biwkv_smem_raw[];
    auto* sums = reinterpret_cast<biwkv_state<Acc>*>(biwkv_smem_raw);
    const biwkv_place p = biwkv_locate(a, blockIdx.x, L);
    const biwkv_channel<Acc> ch = biwkv_channel_of<Compat>(a, p);
    Acc k2[L], vv[L], m;
    biwkv_load_subchunk<L>(a, p, k2, vv);
    if (__syncthreads_and(ch.fast))
        biwkv_put_local<Compat>(sums, biwkv_fast_sums<L, Compat>(k2, vv, p, ch, a.compat_len, m));
    else
        biwkv_put_local<Compat>(sums, biwkv_anchored_sums<Compat>(a, p, ch.w2));
    __syncthreads();
    biwkv_store_tile_states<L, Compat>(a, p, ch, sums);
}

// Rows of the combine kernel: as many as fit 48 KB of static shared memory, up to 16.
template <bool Compat, class Acc>
inline constexpr int biwkv_combine_rows_for =
    std::min(16, static_cast<int>(48 * 1024 / (biwkv_kinds<Compat> * biwkv_warp * sizeof(biwkv_state<Acc>))));
inline constexpr int biwkv_combine_batch = 8;  // tile sums loaded ahead of the chain

// Kernel 2: per (b, channel) the sums before and after every tile, in place.
// Row y of the block walks a range of tiles; ranges are joined in shared memory.
template <bool Compat, class T, class Acc>
__global__ void __launch_bounds__(biwkv_warp* biwkv_combine_rows_for<Compat, Acc>) biwkv_combine_kernel(const biwkv_args<T, Acc> a, int tile_tokens) {
    wait_for_previous_grid();
    constexpr int kinds = biwkv_kinds<Compat>, rows = biwkv_combine_rows_for<Compat, Acc>;
    constexpr int batch = biwkv_combine_batch;
    __shared__ biwkv_state<Acc> sums_s[kinds][rows][biwkv_warp];
    const int group = static_cast<int>(blockIdx.x % a.groups);
    const int b = static_cast<int>(blockIdx.x / a.groups);
    const int x = threadIdx.x, y = threadIdx.y;
    const int c = group * biwkv_warp + x;
    const bool active = c < a.channels;
    const Acc w2 = active ? a.w[c] * Acc(biwkv_log2e) : Acc(0);
    const int per_row = (a.tiles + rows - 1) / rows;
    auto range_lo = [&](int r) { return r * per_row < a.tiles ? r * per_row : a.tiles; };
    auto restarts = [&](long long tile_lo, long long tile_hi) {
        if (!Compat) return false;
        const long long e = tile_hi * tile_tokens;
        return biwkv_has_chunk_start(tile_lo * tile_tokens, e < a.tokens ? e : a.tokens, a.compat_len);
    };
    auto at = [&](int tile, int kind) -> biwkv_state<Acc>& {
        return a.states[biwkv_state_index(b, tile, a.tiles, kind, kinds, a.channels, c)];
    };
    const biwkv_state<Acc> none = biwkv_empty_state<Acc>();
    auto load_forward = [&](int tile) {
        biwkv_forward<Acc> s{at(tile, 0), none, none};
        if constexpr (Compat) s.r = at(tile, 1), s.z = at(tile, 2);
        return s;
    };
    const int lo = range_lo(y), hi = range_lo(y + 1);
    biwkv_forward<Acc> fsum{none, none, none};
    biwkv_state<Acc> gsum = none;
    if (active)
        for (int t0 = lo; t0 < hi; t0 += batch) {
            biwkv_forward<Acc> f[batch];
            biwkv_state<Acc> g[batch];
#pragma unroll
            for (int i = 0; i < batch; ++i)
                if (t0 + i < hi) f[i] = load_forward(t0 + i), g[i] = at(t0 + i, kinds - 1);
#pragma unroll
            for (int i = 0; i < batch; ++i)
                if (t0 + i < hi) {
                    fsum = biwkv_append<Compat>(fsum, f[i], restarts(t0 + i, t0 + i + 1), w2);
                    gsum = biwkv_merge(gsum, g[i], -w2);
                }
        }
    sums_s[0][y][x] = fsum.f;
    if constexpr (Compat) sums_s[1][y][x] = fsum.r, sums_s[2][y][x] = fsum.z;
    sums_s[kinds - 1][y][x] = gsum;
    __syncthreads();
    if (!active) return;
    biwkv_forward<Acc> fcarry{none, none, none};
    for (int r = 0; r < y; ++r) {
        biwkv_forward<Acc> s{sums_s[0][r][x], none, none};
        if constexpr (Compat) s.r = sums_s[1][r][x], s.z = sums_s[2][r][x];
        fcarry = biwkv_append<Compat>(fcarry, s, restarts(range_lo(r), range_lo(r + 1)), w2);
    }
    biwkv_state<Acc> gcarry = none;
    for (int r = rows - 1; r > y; --r) gcarry = biwkv_merge(gcarry, sums_s[kinds - 1][r][x], -w2);
    for (int t0 = lo; t0 < hi; t0 += batch) {
        biwkv_forward<Acc> f[batch];
#pragma unroll
        for (int i = 0; i < batch; ++i)
            if (t0 + i < hi) f[i] = load_forward(t0 + i);
#pragma unroll
        for (int i = 0; i < batch; ++i)
            if (t0 + i < hi) {
                at(t0 + i, 0) = fcarry.f;
                if constexpr (Compat) at(t0 + i, 1) = fcarry.r, at(t0 + i, 2) = fcarry.z;
                fcarry = biwkv_append<Compat>(fcarry, f[i], restarts(t0 + i, t0 + i + 1), w2);
            }
    }
    for (int t1 = hi; t1 > lo; t1 -= batch) {
        biwkv_state<Acc> g[batch];
#pragma unroll
        for (int i = 0; i < batch; ++i)
            if (t1 - 1 - i >= lo) g[i] = at(t1 - 1 - i, kinds - 1);
#pragma unroll
        for (int i = 0; i < batch; ++i)
            if (t1 - 1 - i >= lo) {
                at(t1 - 1 - i, kinds - 1) = gcarry;
                gcarry = biwkv_merge(gcarry, g[i], -w2);
            }
    }
}

// The exponent of a carried sum seen from position q.
template <class Acc>
__device__ __forceinline__ Acc biwkv_exponent_at(const biwkv_state<Acc>& s, long long q, Acc slope) {
    return s.ka - slope * static_cast<Acc>(q - s.pos);
}


// Fast path output. k2 holds e_j = 2^{k2_j - m}; all sums are rescaled to
// 2^M, M the largest exponent among the sub-chunk, its carries and e^u.
template <int L, bool Compat, class T, class Acc>
__device__ __forceinline__ void biwkv_fast_output(const biwkv_args<T, Acc>& a, const biwkv_place& p,
                                                  const biwkv_channel<Acc>& ch, Acc (&e)[L], const Acc (&vv)[L],
                                                  Acc m, const biwkv_forward<Acc>& carry,
                                                  const biwkv_state<Acc>& gcarry, Acc* gn_s, Acc* gd_s, int stride) {
    const Acc w2 = ch.w2, d = ch.decay;
    const Acc ef = biwkv_exponent_at(carry.f, p.s0, w2);
    const Acc eg = biwkv_exponent_at(gcarry, p.s0 + p.count - 1, -w2);
    Acc top = fmax(fmax(m + fmax(ch.u2, Acc(0)), ef), eg);
    Acc er = 0, ez = 0;
    if constexpr (Compat) {
        er = biwkv_exponent_at(carry.r, p.s0, w2);
        ez = biwkv_exponent_at(carry.z, p.s0 - 1, -w2);
        top = fmax(top, fmax(er, ez));
    }
    const Acc scale = biwkv_exp2(m - top);
#pragma unroll
    for (int j = 0; j < L; ++j) e[j] *= scale;
    {
        const Acc cg = biwkv_exp2(eg - top);
        Acc gn = gcarry.num * cg, gd = gcarry.den * cg;
#pragma unroll
        for (int j = L - 1; j >= 0; --j)
            if (j < p.count) {
                gn_s[j * stride] = gn, gd_s[j * stride] = gd;
                gn = d * gn + e[j] * vv[j], gd = d * gd + e[j];
            }
    }
    const Acc cf = biwkv_exp2(ef - top);
    Acc fn = carry.f.num * cf, fd = carry.f.den * cf, rn = 0, rd = 0, zn = 0, zd = 0;
    int next_start = 0;
    if constexpr (Compat) {
        const Acc cr = biwkv_exp2(er - top), cz = biwkv_exp2(ez - top);
        rn = carry.r.num * cr, rd = carry.r.den * cr, zn = carry.z.num * cz, zd = carry.z.den * cz;
        next_start = (p.s0 + a.compat_len - 1) / a.compat_len * a.compat_len;
    }
    const Acc eu = biwkv_exp2(ch.u2);
    const long long C = a.row_stride;
    T* yp = a.y + (static_cast<long long>(p.b) * a.tokens + p.s0) * C + p.c;
#pragma unroll
    for (int j = 0; j < L; ++j) {
        if (j < p.count) {
            const Acc ev = e[j] * vv[j], self = e[j] * eu;
            const Acc gn = gn_s[j * stride], gd = gd_s[j * stride];
            Acc out;
            if constexpr (Compat) {
                if (p.s0 + j == next_start) {
                    rn = d * fn, rd = d * fd, zn = 0, zd = 0;
                    next_start += a.compat_len;
                } else {
                    zn = ch.grow * zn + ev, zd = ch.grow * zd + e[j];
                }
                out = (rn + d * gn + ch.z_coef * zn + self * vv[j]) / (rd + d * gd + ch.z_coef * zd + self);
                rn = d * rn + ev, rd = d * rd + e[j];
            } else {
                out = biwkv_divide(fn + gn + self * vv[j], fd + gd + self);
            }
            biwkv_store<Acc>(yp + j * C, out);
            fn = d * fn + ev, fd = d * fd + e[j];
        }
    }
}

// Anchored path output: log-sum-exp per token, tokens re-read from memory.
// The backward sums per token are kept as (num / den, exponent of den).
template <bool Compat, class T, class Acc>
__device__ __noinline__ void biwkv_anchored_output(const biwkv_args<T, Acc>& a, const biwkv_place& p,
                                                   const biwkv_channel<Acc> ch, const biwkv_forward<Acc> carry,
                                                   const biwkv_state<Acc> gcarry, Acc* gn_s, Acc* gd_s, int stride) {
    const Acc w2 = ch.w2;
    {
        biwkv_run<Acc> g = biwkv_to_run(gcarry, p.s0, -w2);
#pragma unroll 1
        for (int j = p.count - 1; j >= 0; --j) {
            Acc k2, v;
            biwkv_token(a, p, j, k2, v);
            const bool empty = !(g.d > 0);
            gn_s[j * stride] = empty ? Acc(0) : g.n / g.d;
            gd_s[j * stride] =
                empty ? biwkv_empty_exponent<Acc>() : g.eb + w2 * static_cast<Acc>(j) + biwkv_log2(g.d);
            biwkv_absorb(g, k2 - w2 * static_cast<Acc>(j - 1), v);
        }
    }
    biwkv_run<Acc> f = biwkv_to_run(carry.f, p.s0, w2);
    biwkv_run<Acc> r = biwkv_to_run(carry.r, p.s0, w2), z = biwkv_to_run(carry.z, p.s0, -w2);
    const Acc z_sign = ch.z_coef < 0 ? Acc(-1) : Acc(1);
    const Acc z_log = ch.z_coef == 0 ? biwkv_empty_exponent<Acc>() : biwkv_log2(fabs(ch.z_coef));
    int next_start = (p.s0 + a.compat_len - 1) / a.compat_len * a.compat_len;
    const long long C = a.row_stride;
    T* yp = a.y + (static_cast<long long>(p.b) * a.tokens + p.s0) * C + p.c;
#pragma unroll 1
    for (int j = 0; j < p.count; ++j) {
        Acc k2, v;
        biwkv_token(a, p, j, k2, v);
        const Acc tok = k2 + w2 * static_cast<Acc>(j + 1);
        const Acc g_ratio = gn_s[j * stride], ge0 = gd_s[j * stride];
        const Acc se = ch.u2 + k2;
        Acc out;
        if (Compat) {
            if (p.s0 + j == next_start) {
                r = {f.n, f.d, f.eb - w2};
                z = biwkv_empty_run<Acc>();
                next_start += a.compat_len;
            } else {
                biwkv_absorb(z, k2 - w2 * static_cast<Acc>(j), v);
            }
            const Acc re = r.eb - w2 * static_cast<Acc>(j), ge = ge0 - w2;
            const Acc ze = z.eb + w2 * static_cast<Acc>(j) + z_log;
            const Acc top = fmax(fmax(re, ge), fmax(ze, se));
            const Acc xr = biwkv_exp2(re - top), xg = biwkv_exp2(ge - top), xs = biwkv_exp2(se - top);
            const Acc xz = z_sign * biwkv_exp2(ze - top);
            out = (r.n * xr + g_ratio * xg + z.n * xz + v * xs) / (r.d * xr + xg + z.d * xz + xs);
            biwkv_absorb(r, tok, v);
        } else {
            const Acc fe = f.eb - w2 * static_cast<Acc>(j);
            const Acc top = fmax(fmax(fe, ge0), se);
            const Acc xf = biwkv_exp2(fe - top), xg = biwkv_exp2(ge0 - top), xs = biwkv_exp2(se - top);
            out = (f.n * xf + g_ratio * xg + v * xs) / (f.d * xf + xg + xs);
        }
        biwkv_store<Acc>(yp + j * C, out);
        biwkv_absorb(f, tok, v);
    }
}

// The tile's carries from kernel 2, for the two rows that scan them (empty
// when one tile covers T).
template <bool Compat, class Acc>
struct biwkv_tile_carries {
    biwkv_forward<Acc> f;
    biwkv_state<Acc> g;
};

template <bool Compat, class T, class Acc>
__device__ __forceinline__ biwkv_tile_carries<Compat, Acc> biwkv_load_tile_carries(const biwkv_args<T, Acc>& a,
                                                                                 const biwkv_place& p) {
    constexpr int kinds = biwkv_kinds<Compat>;
    const int S = blockDim.y, y = threadIdx.y;
    const biwkv_state<Acc> none = biwkv_empty_state<Acc>();
    biwkv_tile_carries<Compat, Acc> t{{none, none, none}, none};
    if (a.states == nullptr || !p.active) return t;
    if (y == 0) {
        t.f.f = a.states[biwkv_state_index(p.b, p.tile, a.tiles, 0, kinds, a.channels, p.c)];
        if constexpr (Compat) {
            t.f.r = a.states[biwkv_state_index(p.b, p.tile, a.tiles, 1, kinds, a.channels, p.c)];
            t.f.z = a.states[biwkv_state_index(p.b, p.tile, a.tiles, 2, kinds, a.channels, p.c)];
        }
    }
    if (y == (S > 1 ? 1 : 0))
        t.g = a.states[biwkv_state_index(p.b, p.tile, a.tiles, kinds - 1, kinds, a.channels, p.c)];
    return t;
}

// The sub-chunks' carries in kernel 3: an exclusive scan over the block's
// rows from the tile's carries, in place in shared memory.
template <int L, bool Compat, class T, class Acc>
__device__ __forceinline__ void biwkv_block_carries(const biwkv_args<T, Acc>& a, const biwkv_place& p, Acc w2,
                                                    biwkv_state<Acc>* sums,
                                                    const biwkv_tile_carries<Compat, Acc>& tile) {
    constexpr int kinds = biwkv_kinds<Compat>;
    const int S = blockDim.y, y = threadIdx.y;
    if (y == 0 && p.active) {
        const biwkv_state<Acc> none = biwkv_empty_state<Acc>();
        biwkv_forward<Acc> acc = tile.f;
        const long long tile_s0 = static_cast<long long>(p.tile) * S * L;
        for (int i = 0; i < S; ++i) {
            biwkv_forward<Acc> x{biwkv_slot(sums, 0, i), none, none};
            if constexpr (Compat) x.r = biwkv_slot(sums, 1, i), x.z = biwkv_slot(sums, 2, i);
            biwkv_slot(sums, 0, i) = acc.f;
            if constexpr (Compat) biwkv_slot(sums, 1, i) = acc.r, biwkv_slot(sums, 2, i) = acc.z;
            acc = biwkv_append<Compat>(
                acc, x, biwkv_subchunk_restarts<Compat>(tile_s0, i, L, a.tokens, a.compat_len), w2);
        }
    }
    if (y == (S > 1 ? 1 : 0) && p.active) {
        biwkv_state<Acc> g = tile.g;
        for (int i = S - 1; i >= 0; --i) {
            const biwkv_state<Acc> here = biwkv_slot(sums, kinds - 1, i);
            biwkv_slot(sums, kinds - 1, i) = g;
            g = biwkv_merge(g, here, -w2);
        }
    }
}

// Kernel 3: y. Blocks run in the reverse order of kernel 1, so the tiles
// kernel 1 read last (likeliest still in L2) are read first. As in kernel 1
// the fast path is chosen per block.
template <int L, bool Compat, int MaxThreads, int MinBlocks, class T, class Acc>
__global__ void __launch_bounds__(MaxThreads, MinBlocks) biwkv_output_kernel(const biwkv_args<T, Acc> a) {
    wait_for_previous_grid();
    extern __shared__ __align__(16) unsigned char biwkv_smem_raw[];
    constexpr int kinds = biwkv_kinds<Compat>;
    const int S = blockDim.y, y = threadIdx.y;
    auto* sums = reinterpret_cast<biwkv_state<Acc>*>(biwkv_smem_raw);
    // the backward sums per token: [2][L][S][32], this thread's first slot
    const int stride = S * biwkv_warp;
    Acc* gtok = reinterpret_cast<Acc*>(sums + kinds * S * biwkv_warp);
    Acc* gn_s = gtok + y * biwkv_warp + threadIdx.x;
    Acc* gd_s = gn_s + L * stride;

    const biwkv_place p = biwkv_locate(a, gridDim.x - 1 - blockIdx.x, L);
    const biwkv_channel<Acc> ch = biwkv_channel_of<Compat>(a, p);
    Acc k2[L], vv[L];
    biwkv_load_subchunk<L>(a, p, k2, vv);
    auto carries = [&](biwkv_forward<Acc>& carry, biwkv_state<Acc>& gcarry) {
        carry = {biwkv_slot(sums, 0, y), biwkv_empty_state<Acc>(), biwkv_empty_state<Acc>()};
        if constexpr (Compat) carry.r = biwkv_slot(sums, 1, y), carry.z = biwkv_slot(sums, 2, y);
        gcarry = biwkv_slot(sums, kinds - 1, y);
    };
    biwkv_forward<Acc> carry;
    biwkv_state<Acc> gcarry;
    if (__syncthreads_and(ch.fast)) {
        Acc m;
        biwkv_put_local<Compat>(sums, biwkv_fast_sums<L, Compat>(k2, vv, p, ch, a.compat_len, m));
        __syncthreads();
        biwkv_block_carries<L, Compat>(a, p, ch.w2, sums, biwkv_load_tile_carries<Compat>(a, p));
        __syncthreads();
        if (p.count == 0) return;
        carries(carry, gcarry);
        biwkv_fast_output<L, Compat>(a, p, ch, k2, vv, m, carry, gcarry, gn_s, gd_s, stride);
    } else {
        biwkv_put_local<Compat>(sums, biwkv_anchored_sums<Compat>(a, p, ch.w2));
        __syncthreads();
        biwkv_block_carries<L, Compat>(a, p, ch.w2, sums, biwkv_load_tile_carries<Compat>(a, p));
        __syncthreads();
        if (p.count == 0) return;
        carries(carry, gcarry);
        biwkv_anchored_output<Compat>(a, p, ch, carry, gcarry, gn_s, gd_s, stride);
    }
}

// Stream-ordered scratch for the tile sums, from a pool that keeps its memory
// between calls (one per device, created on first use).
inline cudaMemPool_t biwkv_workspace_pool(int device) {
    static std::mutex mutex;
    static std::map<int, cudaMemPool_t> pools;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = pools.find(device);
    if (it != pools.end()) return it->second;
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    cudaMemPool_t pool = nullptr;
    cuda_check(cudaMemPoolCreate(&pool, &props), "cudaMemPoolCreate (Bi-WKV workspace)");
    std::uint64_t keep = std::numeric_limits<std::uint64_t>::max();
    cuda_check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep),
               "cudaMemPoolSetAttribute (Bi-WKV workspace)");
    pools.emplace(device, pool);
    return pool;
}

// The limits every Bi-WKV launcher checks: non-empty, and each of B, T, C
// below 2^30 (the kernels index tokens and channels in int).
inline void biwkv_check_sizes(const biwkv_params& p) {
    constexpr index_t int_max = std::numeric_limits<int>::max();
    require(p.batch >= 1 && p.tokens >= 1 && p.channels >= 1, "biwkv (cuda): B, T and C must all be at least 1");
    require(p.tokens < int_max / 2 && p.channels < int_max / 2 && p.batch < int_max / 2,
            "biwkv (cuda): B, T and C must each be below 2^30");
}

// `count` elements of stream-ordered scratch from the device's workspace
// pool; give it back with cudaFreeAsync on the same stream.
template <class E>
E* biwkv_workspace(executor<cuda>& ex, std::size_t count) {
    E* p = nullptr;
    cuda_check(cudaMallocFromPoolAsync(reinterpret_cast<void**>(&p), count * sizeof(E),
                                       biwkv_workspace_pool(ex.device()), ex.stream()),
               "cudaMallocFromPoolAsync (Bi-WKV workspace)");
    return p;
}

// Raises a kernel's dynamic shared-memory limit once per device.
template <class Kernel>
void biwkv_allow_smem(Kernel kernel, int device, std::size_t bytes, std::atomic<std::uint64_t>& done) {
    if (bytes <= 32 * 1024) return;  // well below 48 KB with the static shared memory
    const std::uint64_t bit = device < 64 ? (std::uint64_t{1} << device) : 0;
    if (bit && (done.load(std::memory_order_acquire) & bit)) return;
    cuda_check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
               "cudaFuncSetAttribute (Bi-WKV shared memory)");
    if (bit) done.fetch_or(bit, std::memory_order_acq_rel);
}

// Output kernel shared memory: the sub-chunk sums, and two values per token.
template <class Acc, int L>
inline std::size_t biwkv_output_smem(int kinds, int S) {
    return static_cast<std::size_t>(kinds) * S * biwkv_warp * sizeof(biwkv_state<Acc>) +
           2 * static_cast<std::size_t>(L) * S * biwkv_warp * sizeof(Acc);
}

// One launch configuration: L tokens per thread, at most MaxThreads threads
// per block (S = MaxThreads / 32 sub-chunks per tile) and MinBlocks resident
// blocks per multiprocessor (caps registers).
template <int L, int MaxThreads, int MinBlocks>
struct biwkv_config {
    static constexpr int len = L;
    static constexpr int max_subchunks = MaxThreads / biwkv_warp;
    static constexpr int min_blocks = MinBlocks;
};

// Runs Bi-WKV with configuration Config; S = `subchunks` sub-chunks per tile
// when T spans several tiles (0: the most the configuration allows). A
// tuning knob, exposed for the benchmark and the tests.
template <class Config, bool Compat, class T, class Acc>
void biwkv_launch(executor<cuda>& ex, const biwkv_params& p, const Acc* w, const Acc* u, const T* k, const T* v, T* y,
                  int subchunks = 0, std::size_t wave_bytes = 0);

template <int L, int MaxThreads, int MinBlocks, bool Compat, class T, class Acc>
void biwkv_launch_impl(executor<cuda>& ex, const biwkv_params& p, const Acc* w, const Acc* u, const T* k, const T* v,
                       T* y, int subchunks, std::size_t wave_bytes) {
    constexpr int int_max = std::numeric_limits<int>::max();
    constexpr int max_s = MaxThreads / biwkv_warp;
    static_assert(max_s >= 1 && max_s <= biwkv_max_subchunks, "biwkv: at most 32 sub-chunks per tile");
    biwkv_check_sizes(p);
    if (subchunks == 0) subchunks = max_s;
    require(subchunks >= 1 && subchunks <= max_s,
            "biwkv (cuda): sub-chunks per tile must be in [1, " + std::to_string(max_s) + "], got " +
                std::to_string(subchunks));
    constexpr int kinds = biwkv_kinds<Compat>;
    biwkv_args<T, Acc> a{w, u, k, v, y, nullptr, static_cast<int>(p.batch), static_cast<int>(p.tokens),
                         static_cast<int>(p.channels), 0, 0, 0, 0, static_cast<int>(p.channels)};
    a.groups = static_cast<int>((p.channels + biwkv_warp - 1) / biwkv_warp);
    a.compat_len = static_cast<int>((p.tokens + biwkv_compat_chunks - 1) / biwkv_compat_chunks);
    const index_t subchunks_needed = (p.tokens + L - 1) / L;
    if (subchunks_needed <= max_s) {
        a.subchunks = static_cast<int>(subchunks_needed);
        a.tiles = 1;
    } else {
        a.subchunks = subchunks;
        a.tiles = static_cast<int>((p.tokens + index_t{L} * subchunks - 1) / (index_t{L} * subchunks));
    }
    const index_t blocks = p.batch * a.tiles * index_t{a.groups};
    require(blocks < int_max, "biwkv (cuda): too many blocks (B * T * C too large)");
    const dim3 block(biwkv_warp, a.subchunks);
    cudaStream_t stream = ex.stream();

    biwkv_state<Acc>* states = nullptr;
    if (a.tiles > 1) {
        states = biwkv_workspace<biwkv_state<Acc>>(ex, static_cast<std::size_t>(p.batch) * a.tiles * kinds * p.channels);
        a.states = states;
    }
    auto state_smem = [](int s) { return static_cast<std::size_t>(kinds) * s * biwkv_warp * sizeof(biwkv_state<Acc>); };

    // One wave: a part of the batch and of the channel groups, all kernels.
    auto run_wave = [&](const biwkv_args<T, Acc>& wa) {
        const index_t items = index_t{wa.batch} * wa.tiles * wa.groups;
        if (wa.tiles > 1) {
            static std::atomic<std::uint64_t> state_smem_done{0};
            constexpr auto tile_state = biwkv_tile_state_kernel<L, Compat, MaxThreads, MinBlocks, T, Acc>;
            biwkv_allow_smem(tile_state, ex.device(), state_smem(max_s), state_smem_done);
            launch_dependent<tile_state>(ex, static_cast<unsigned>(items), block, state_smem(wa.subchunks),
                                         "biwkv_tile_state_kernel", wa);
            launch_dependent<biwkv_combine_kernel<Compat, T, Acc>>(
                ex, static_cast<unsigned>(index_t{wa.batch} * wa.groups),
                dim3(biwkv_warp, biwkv_combine_rows_for<Compat, Acc>), 0, "biwkv_combine_kernel", wa, L * wa.subchunks);
        }
        static std::atomic<std::uint64_t> output_smem_done{0};
        constexpr auto output = biwkv_output_kernel<L, Compat, MaxThreads, MinBlocks, T, Acc>;
        biwkv_allow_smem(output, ex.device(), biwkv_output_smem<Acc, L>(kinds, max_s), output_smem_done);
        launch_dependent<output>(ex, static_cast<unsigned>(items), block, biwkv_output_smem<Acc, L>(kinds, wa.subchunks),
                                 "biwkv_output_kernel", wa);
    };

    // Waves (a tuning knob, off by default): when k and v exceed wave_bytes,
    // the kernels run over parts of the batch (or of one sequence's channel
    // groups) in turn, so that the output pass re-reads k and v from L2.
    // Measured on an H100 with wave_bytes = 70% of L2: 1.5x slower at
    // (1, 65536, 192) and (8, 4096, 768), the smaller grids costing more than
    // the saved memory traffic, so the default is one wave.
    const std::size_t budget = wave_bytes;
    const std::size_t per_b = static_cast<std::size_t>(p.tokens) * p.channels * 2 * sizeof(T);
    const std::size_t per_group = static_cast<std::size_t>(p.tokens) * biwkv_warp * 2 * sizeof(T);
    if (a.tiles == 1 || budget == 0 || per_b * static_cast<std::size_t>(p.batch) <= budget) {
        run_wave(a);
    } else if (per_b <= budget) {
        const index_t nb = static_cast<index_t>(budget / per_b);
        for (index_t b0 = 0; b0 < p.batch; b0 += nb) {
            biwkv_args<T, Acc> wa = a;
            wa.batch = static_cast<int>(std::min(nb, p.batch - b0));
            const index_t off = b0 * p.tokens * p.channels;
            wa.k = k + off, wa.v = v + off, wa.y = y + off;
            run_wave(wa);
        }
    } else {
        const int ng = static_cast<int>(std::max<std::size_t>(1, budget / per_group));
        for (index_t b0 = 0; b0 < p.batch; ++b0)
            for (int g0 = 0; g0 < a.groups; g0 += ng) {
                biwkv_args<T, Acc> wa = a;
                wa.batch = 1;
                const index_t c0 = index_t{g0} * biwkv_warp;
                wa.channels = static_cast<int>(std::min<index_t>(p.channels, index_t{g0 + ng} * biwkv_warp) - c0);
                wa.groups = (wa.channels + biwkv_warp - 1) / biwkv_warp;
                const index_t off = b0 * p.tokens * p.channels + c0;
                wa.k = k + off, wa.v = v + off, wa.y = y + off;
                wa.w = w + c0, wa.u = u + c0;
                run_wave(wa);
            }
    }
    if (states) cuda_check(cudaFreeAsync(states, stream), "cudaFreeAsync (Bi-WKV workspace)");
}

template <class Config, bool Compat, class T, class Acc>
void biwkv_launch(executor<cuda>& ex, const biwkv_params& p, const Acc* w, const Acc* u, const T* k, const T* v, T* y,
                  int subchunks, std::size_t wave_bytes) {
    biwkv_launch_impl<Config::len, Config::max_subchunks * biwkv_warp, Config::min_blocks, Compat>(
        ex, p, w, u, k, v, y, subchunks, wave_bytes);
}

// The configurations used: one tile up to T = 256 (float accumulation; 128
// for double), else tiles of 8 sub-chunks, three blocks per multiprocessor.
template <class Acc> struct biwkv_configs;
template <> struct biwkv_configs<float> {
    using one_tile = biwkv_config<16, 512, 1>;
    using multi_tile = biwkv_config<16, 256, 3>;
};
template <> struct biwkv_configs<double> {
    using one_tile = biwkv_config<8, 512, 1>;
    using multi_tile = biwkv_config<8, 512, 1>;
};

}  // namespace cuda_detail
}  // namespace vrwkv
