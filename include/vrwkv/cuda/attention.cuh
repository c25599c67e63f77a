#pragma once
// Multi-head softmax attention on the GPU (the baseline for Bi-WKV).
// materialized: per head, cuBLAS strided-batched GEMMs form the scores
//   S = scale * Q K^T in the accumulator type, a row-softmax kernel turns them
//   into probabilities P (storage type), and a second GEMM computes P V. The
//   scores are produced in chunks of batches or queries so the workspace stays
//   under a budget (1 GiB by default), whatever T is.
// fused (half, bfloat16): a FlashAttention-2-style kernel. A block of 4 warps
//   owns 128 queries (32 per warp, kept in registers); it streams 64-key tiles
//   of K and V through shared memory (cp.async, double-buffered, XOR-swizzled
//   against bank conflicts), computes scores and P V on the tensor cores
//   (mma.sync m16n8k16, float accumulation) and keeps a running row max and sum
//   (online softmax, in base 2). Scores never leave registers.
// fused with float or double storage falls back to materialized.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "vrwkv/core/half.hpp"
#include "vrwkv/cuda/dependent_launch.cuh"
#include "vrwkv/cuda/device_attributes.cuh"
#include "vrwkv/cuda/error.cuh"
#include "vrwkv/cuda/executor.cuh"
#include "vrwkv/ops/attention.hpp"

namespace vrwkv {

namespace cuda_detail {

// ---------------------------------------------------------------- materialized

// Workspace of the materialized path (scores + probabilities), per call.
inline constexpr std::size_t attention_workspace_budget = std::size_t{1} << 30;
inline constexpr int softmax_threads = 256;

template <class T> struct cublas_dtype;
template <> struct cublas_dtype<float> { static constexpr cudaDataType_t value = CUDA_R_32F; };
template <> struct cublas_dtype<double> { static constexpr cudaDataType_t value = CUDA_R_64F; };
template <> struct cublas_dtype<half> { static constexpr cudaDataType_t value = CUDA_R_16F; };
template <> struct cublas_dtype<bfloat16> { static constexpr cudaDataType_t value = CUDA_R_16BF; };

template <class Acc>
inline constexpr cublasComputeType_t cublas_compute_v =
    std::is_same_v<Acc, double> ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;

template <class Acc> __device__ inline Acc device_exp(Acc x);
template <> __device__ inline float device_exp<float>(float x) { return expf(x); }
template <> __device__ inline double device_exp<double>(double x) { return exp(x); }

// Merges two partial softmax statistics (max m, sum l of e^{x - m}).
template <class Acc>
__device__ inline void merge_softmax_stats(Acc& m, Acc& l, Acc m2, Acc l2) {
    const Acc top = m > m2 ? m : m2;
    if (top == -INFINITY) return;  // both empty
    l = l * device_exp<Acc>(m - top) + l2 * device_exp<Acc>(m2 - top);
    m = top;
}

// One block per row: probs[r][j] = e^{s_j - max} / sum. `probs` may alias
// `scores` (same type): each element is read before the same thread writes it.
template <class Acc, class P>
__global__ void __launch_bounds__(softmax_threads) softmax_rows_kernel(const Acc* scores, P* probs, index_t cols) {
    wait_for_previous_grid();
    const Acc* row = scores + static_cast<index_t>(blockIdx.x) * cols;
    P* out = probs + static_cast<index_t>(blockIdx.x) * cols;
    Acc m = -INFINITY, l = 0;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) {  // one exponential per score
        const Acc x = row[j];
        if (x > m) {
            l = l * device_exp<Acc>(m - x) + Acc(1);
            m = x;
        } else {
            l += device_exp<Acc>(x - m);
        }
    }
    for (int offset = 16; offset > 0; offset /= 2)
        merge_softmax_stats<Acc>(m, l, __shfl_xor_sync(0xffffffffu, m, offset), __shfl_xor_sync(0xffffffffu, l, offset));
    __shared__ Acc warp_m[softmax_threads / 32], warp_l[softmax_threads / 32];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) warp_m[warp] = m, warp_l[warp] = l;
    __syncthreads();
    m = warp_m[0], l = warp_l[0];
    for (int w = 1; w < static_cast<int>(blockDim.x / 32); ++w) merge_softmax_stats<Acc>(m, l, warp_m[w], warp_l[w]);
    const Acc inv = Acc(1) / l;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) out[j] = convert<P>(device_exp<Acc>(row[j] - m) * inv);
}

// Sets the handle's math mode for a scope (when `active`) and restores it.
class cublas_math_scope {
public:
    cublas_math_scope(cublasHandle_t handle, cublasMath_t mode, bool active) : handle_(active ? handle : nullptr) {
        if (!handle_) return;
        cublas_check(cublasGetMathMode(handle_, &saved_), "cublasGetMathMode");
        cublas_check(cublasSetMathMode(handle_, mode), "cublasSetMathMode");
    }
    cublas_math_scope(const cublas_math_scope&) = delete;
    cublas_math_scope& operator=(const cublas_math_scope&) = delete;
    ~cublas_math_scope() {
        if (handle_) cublasSetMathMode(handle_, saved_);
    }

private:
    cublasHandle_t handle_;
    cublasMath_t saved_ = CUBLAS_DEFAULT_MATH;
};

// Queries and batches per chunk so that a chunk's scores (Acc) and
// probabilities (T, unless they share the scores' memory) fit in `budget`.
struct attention_chunking {
    index_t batches = 1;
    index_t queries = 1;
};
template <class T>
attention_chunking attention_chunks(const attention_params& p, std::size_t budget) {
    using Acc = accumulator_t<T>;
    const std::size_t per_row = static_cast<std::size_t>(p.tokens) * (sizeof(Acc) + (std::is_same_v<T, Acc> ? 0 : sizeof(T)));
    const index_t rows = std::max<index_t>(1, static_cast<index_t>(budget / per_row));
    attention_chunking c;
    if (rows >= p.tokens) {
        c.queries = p.tokens;
        c.batches = std::min(p.batch, rows / p.tokens);
    } else {
        c.queries = rows;
        c.batches = 1;
    }
    return c;
}

// Device workspace ordered on the executor's stream: from the stream-ordered
// pool (cheap to take again on the next call) where the device has one, else
// cudaMalloc, freed after the stream's work.
class stream_workspace {
public:
    stream_workspace(std::size_t bytes, int device, cudaStream_t stream) : stream_(stream) {
        pooled_ = device_attribute<cudaDevAttrMemoryPoolsSupported>(device) != 0;
        const std::string what = "allocating " + std::to_string(bytes) + " bytes of attention workspace";
        cuda_check(pooled_ ? cudaMallocAsync(&data_, bytes, stream_) : cudaMalloc(&data_, bytes), what.c_str());
    }
    stream_workspace(const stream_workspace&) = delete;
    stream_workspace& operator=(const stream_workspace&) = delete;
    ~stream_workspace() {
        if (pooled_) {
            cudaFreeAsync(data_, stream_);
        } else {
            cudaStreamSynchronize(stream_);
            cudaFree(data_);
        }
    }
    void* data() const { return data_; }

private:
    void* data_ = nullptr;
    cudaStream_t stream_;
    bool pooled_ = true;
};

template <class T>
void attention_materialized(executor<cuda>& ex, const attention_params& p, const T* q, const T* k, const T* v, T* o,
                            std::size_t budget = attention_workspace_budget) {
    using Acc = accumulator_t<T>;
    constexpr index_t D = attention_head_dim;
    const index_t n = p.tokens, C = p.channels;
    require(n <= INT_MAX && C <= INT_MAX, "attention: T and C must fit in int for cuBLAS");
    const attention_chunking chunk = attention_chunks<T>(p, budget);
    const index_t chunk_scores = chunk.batches * chunk.queries * n;
    const std::size_t score_bytes = static_cast<std::size_t>(chunk_scores) * sizeof(Acc);
    const bool shared_probs = std::is_same_v<T, Acc>;
    stream_workspace ws(score_bytes + (shared_probs ? 0 : static_cast<std::size_t>(chunk_scores) * sizeof(T)),
                        ex.device(), ex.stream());
    Acc* scores = static_cast<Acc*>(ws.data());
    T* probs = shared_probs ? reinterpret_cast<T*>(scores)
                            : reinterpret_cast<T*>(static_cast<unsigned char*>(ws.data()) + score_bytes);

    // 16-bit GEMMs on the tensor cores; float and double keep the executor's mode.
    cublas_math_scope math(ex.cublas(), CUBLAS_DEFAULT_MATH, !std::is_same_v<T, Acc>);
    constexpr cudaDataType_t t_type = cublas_dtype<T>::value, acc_type = cublas_dtype<Acc>::value;
    const Acc alpha_scores = static_cast<Acc>(p.scale), alpha_out = 1, beta = 0;
    const long long tensor_stride = static_cast<long long>(n) * C;
    const long long chunk_stride = static_cast<long long>(chunk.queries) * n;

    // Column-major view: a row-major (rows x 64) head with row stride C is a
    // (64 x rows) column-major matrix with leading dimension C.
    for (index_t h = 0; h < p.heads; ++h)
        for (index_t b0 = 0; b0 < p.batch; b0 += chunk.batches)
            for (index_t t0 = 0; t0 < n; t0 += chunk.queries) {
                const int nb = static_cast<int>(std::min(chunk.batches, p.batch - b0));
                const int nq = static_cast<int>(std::min(chunk.queries, n - t0));
                const index_t head = b0 * n * C + h * D, rows = head + t0 * C;
                // S^T (n x nq, ld n) = K (op T of the 64 x n view) * Q^T (64 x nq).
                cublas_check(cublasGemmStridedBatchedEx(
                                 ex.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), nq, static_cast<int>(D),
                                 &alpha_scores, k + head, t_type, static_cast<int>(C), tensor_stride, q + rows, t_type,
                                 static_cast<int>(C), tensor_stride, &beta, scores, acc_type, static_cast<int>(n),
                                 chunk_stride, nb, cublas_compute_v<Acc>, CUBLAS_GEMM_DEFAULT),
                             "attention scores GEMM");
                // A chunk's rows are contiguous: either nq == n (whole batches) or nb == 1.
                const index_t chunk_rows = static_cast<index_t>(nb) * nq;
                require(chunk_rows <= INT_MAX, "attention: too many score rows in one chunk");
                launch_dependent<softmax_rows_kernel<Acc, T>>(ex, static_cast<unsigned>(chunk_rows), softmax_threads, 0,
                                                               "attention softmax kernel", scores, probs, n);
                // O^T (64 x nq, ld C) = V^T (64 x n view) * P^T (n x nq, ld n).
                cublas_check(cublasGemmStridedBatchedEx(
                                 ex.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(D), nq, static_cast<int>(n),
                                 &alpha_out, v + head, t_type, static_cast<int>(C), tensor_stride, probs, t_type,
                                 static_cast<int>(n), chunk_stride, &beta, o + rows, t_type, static_cast<int>(C),
                                 tensor_stride, nb, cublas_compute_v<Acc>, CUBLAS_GEMM_DEFAULT),
                             "attention output GEMM");
            }
}

// ----------------------------------------------------------------------- fused

inline constexpr int flash_block_queries = 128;  // 4 warps x 32 query rows
inline constexpr int flash_block_keys = 64;      // keys per shared-memory stage
inline constexpr int flash_warps = 4;
inline constexpr int flash_threads = 32 * flash_warps;
inline constexpr int flash_chunks_per_row = attention_head_dim * 2 / 16;  // 16-byte chunks in a 64-wide row

struct flash_params {
    const std::uint16_t* q;
    const std::uint16_t* k;
    const std::uint16_t* v;
    std::uint16_t* o;
    index_t tokens;
    index_t channels;  // row stride of q, k, v and o
    int heads;
    int query_tiles;
    float scale_log2;  // scale * log2(e): softmax in base 2
};

// Tensor-core operations per 16-bit storage type.
template <class T> struct flash_mma;
template <>
struct flash_mma<half> {
    __device__ static std::uint32_t pack(float lo, float hi) {
        __half2 h = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<std::uint32_t*>(&h);
    }
    // d += a (16x16, row) * b (16x8, col)
    __device__ static void mma(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};
template <>
struct flash_mma<bfloat16> {
    __device__ static std::uint32_t pack(float lo, float hi) {
        __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<std::uint32_t*>(&h);
    }
    __device__ static void mma(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

__device__ inline float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

__device__ inline std::uint32_t shared_address(const void* p) {
    return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// Element offset of 16-byte chunk `chunk` of row `row` in a 64-wide tile; the
// XOR spreads the 8 rows an ldmatrix reads over all 32 banks.
__device__ inline int swizzled(int row, int chunk) { return row * attention_head_dim + ((chunk ^ (row & 7)) * 8); }

// Copies rows [first, first + rows) of one head into a swizzled tile; rows at
// or past `tokens` are zero-filled (cp.async with source size 0).
template <int Rows>
__device__ inline void load_tile_async(std::uint16_t* tile, const std::uint16_t* head, index_t first, index_t tokens,
                                       index_t stride) {
    constexpr int chunks = Rows * flash_chunks_per_row;
    static_assert(chunks % flash_threads == 0, "tile chunks must divide evenly over the block");
#pragma unroll
    for (int i = 0; i < chunks / flash_threads; ++i) {
        const int c = i * flash_threads + static_cast<int>(threadIdx.x);
        const int row = c / flash_chunks_per_row, chunk = c % flash_chunks_per_row;
        const index_t token = first + row;
        const bool inside = token < tokens;
        const std::uint16_t* src = head + (inside ? token : 0) * stride + chunk * 8;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(tile + swizzled(row, chunk))),
                     "l"(src), "r"(inside ? 16 : 0));
    }
}
__device__ inline void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ inline void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

__device__ inline void ldmatrix_x4(std::uint32_t (&r)[4], const std::uint16_t* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(p)));
}
__device__ inline void ldmatrix_x4_trans(std::uint32_t (&r)[4], const std::uint16_t* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(p)));
}

// Fragment layouts (PTX ISA, mma.m16n8k16): lane = 4 g + t. A a0..a3 hold
// rows g / g+8 and columns 2t..2t+1 / 2t+8..2t+9; B b0, b1 hold column g and
// rows 2t..2t+1 / 2t+8..2t+9; C c0..c3 hold rows g (c0, c1) and g+8 (c2, c3),
// columns 2t, 2t+1. Each warp owns 2 row tiles (mi) of 16 queries.
template <class T>
__global__ void __launch_bounds__(flash_threads, 2) flash_attention_kernel(const flash_params p) {
    wait_for_previous_grid();
    using ops = flash_mma<T>;
    constexpr int D = static_cast<int>(attention_head_dim), KT = flash_block_keys;
    constexpr int DT = D / 8;    // 8-wide column tiles of the head (output) / of a key tile (scores)
    constexpr int KS = D / 16;   // 16-deep k-steps over the head dimension
    constexpr int PS = KT / 16;  // 16-deep k-steps over the keys of a tile
    constexpr int NT = KT / 8;   // 8-wide key tiles of the scores
    __shared__ __align__(128) std::uint16_t s_q[flash_block_queries * D];
    __shared__ __align__(128) std::uint16_t s_k[2][KT * D];
    __shared__ __align__(128) std::uint16_t s_v[2][KT * D];

    const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
    const int bh = static_cast<int>(blockIdx.x) / p.query_tiles;
    const index_t q0 = static_cast<index_t>(static_cast<int>(blockIdx.x) % p.query_tiles) * flash_block_queries;
    const index_t head = (static_cast<index_t>(bh / p.heads) * p.tokens) * p.channels +
                         static_cast<index_t>(bh % p.heads) * D;
    const std::uint16_t* q = p.q + head + q0 * p.channels;
    const std::uint16_t* k = p.k + head;
    const std::uint16_t* v = p.v + head;

    load_tile_async<flash_block_queries>(s_q, q, 0, p.tokens - q0, p.channels);
    load_tile_async<KT>(s_k[0], k, 0, p.tokens, p.channels);
    load_tile_async<KT>(s_v[0], v, 0, p.tokens, p.channels);
    cp_async_commit();
    cp_async_wait_all();
    __syncthreads();

    // This warp's queries as A fragments, for the whole loop.
    std::uint32_t qf[2][KS][4];
#pragma unroll
    for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int ks = 0; ks < KS; ++ks)
            ldmatrix_x4(qf[mi][ks], s_q + swizzled(warp * 32 + mi * 16 + (lane & 15), ks * 2 + (lane >> 4)));

    float acc[2][DT][4];
    float row_max[2][2], row_sum[2][2];  // [mi][row g / g+8]; max in scaled base-2 units
#pragma unroll
    for (int mi = 0; mi < 2; ++mi) {
#pragma unroll
        for (int nd = 0; nd < DT; ++nd) acc[mi][nd][0] = acc[mi][nd][1] = acc[mi][nd][2] = acc[mi][nd][3] = 0.f;
        row_max[mi][0] = row_max[mi][1] = -INFINITY;
        row_sum[mi][0] = row_sum[mi][1] = 0.f;
    }

    const index_t key_tiles = (p.tokens + KT - 1) / KT;
    for (index_t j = 0; j < key_tiles; ++j) {
        const int stage = static_cast<int>(j & 1);
        if (j + 1 < key_tiles) {  // prefetch the next tile into the other stage
            load_tile_async<KT>(s_k[stage ^ 1], k, (j + 1) * KT, p.tokens, p.channels);
            load_tile_async<KT>(s_v[stage ^ 1], v, (j + 1) * KT, p.tokens, p.channels);
            cp_async_commit();
        }
        const std::uint16_t* tk = s_k[stage];
        const std::uint16_t* tv = s_v[stage];

        // Scores S = Q K^T for 32 queries x 64 keys.
        float s[2][NT][4];
#pragma unroll
        for (int mi = 0; mi < 2; ++mi)
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) s[mi][nt][0] = s[mi][nt][1] = s[mi][nt][2] = s[mi][nt][3] = 0.f;
#pragma unroll
        for (int ks = 0; ks < KS; ++ks)
#pragma unroll
            for (int nt = 0; nt < NT; nt += 2) {
                std::uint32_t b[4];  // b0, b1 of key tiles nt and nt + 1
                ldmatrix_x4(b, tk + swizzled(nt * 8 + (lane & 7) + ((lane >> 4) << 3), ks * 2 + ((lane >> 3) & 1)));
#pragma unroll
                for (int mi = 0; mi < 2; ++mi) {
                    ops::mma(s[mi][nt], qf[mi][ks], b[0], b[1]);
                    ops::mma(s[mi][nt + 1], qf[mi][ks], b[2], b[3]);
                }
            }
        // Keys past the end of the sequence (ragged last tile) get no weight.
        if ((j + 1) * KT > p.tokens) {
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int e = 0; e < 2; ++e)
                    if (j * KT + nt * 8 + 2 * (lane & 3) + e >= p.tokens)
#pragma unroll
                        for (int mi = 0; mi < 2; ++mi) s[mi][nt][e] = s[mi][nt][e + 2] = -INFINITY;
        }
        // Online softmax: new row max (over the 4 lanes sharing a row), rescale
        // the running sum and output, exponentiate in place.
#pragma unroll
        for (int mi = 0; mi < 2; ++mi)
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                float top = s[mi][0][2 * r];
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) top = fmaxf(top, fmaxf(s[mi][nt][2 * r], s[mi][nt][2 * r + 1]));
                top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, 1));
                top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, 2));
                // Every tile holds at least one real key, so `top` is finite.
                const float new_max = fmaxf(row_max[mi][r], top * p.scale_log2);
                const float rescale = fast_exp2(row_max[mi][r] - new_max);
                row_max[mi][r] = new_max;
                float sum = 0.f;
#pragma unroll
                for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        const float pe = fast_exp2(fmaf(s[mi][nt][2 * r + e], p.scale_log2, -new_max));
                        s[mi][nt][2 * r + e] = pe;
                        sum += pe;
                    }
                row_sum[mi][r] = row_sum[mi][r] * rescale + sum;  // this lane's columns only
#pragma unroll
                for (int nd = 0; nd < DT; ++nd) acc[mi][nd][2 * r] *= rescale, acc[mi][nd][2 * r + 1] *= rescale;
            }
        // O += P V: the score accumulators of key tiles 2ps, 2ps + 1 are exactly
        // the A fragment of k-step ps.
#pragma unroll
        for (int ps = 0; ps < PS; ++ps) {
            std::uint32_t pa[2][4];
#pragma unroll
            for (int mi = 0; mi < 2; ++mi) {
                pa[mi][0] = ops::pack(s[mi][2 * ps][0], s[mi][2 * ps][1]);
                pa[mi][1] = ops::pack(s[mi][2 * ps][2], s[mi][2 * ps][3]);
                pa[mi][2] = ops::pack(s[mi][2 * ps + 1][0], s[mi][2 * ps + 1][1]);
                pa[mi][3] = ops::pack(s[mi][2 * ps + 1][2], s[mi][2 * ps + 1][3]);
            }
#pragma unroll
            for (int nd = 0; nd < DT; nd += 2) {
                std::uint32_t b[4];  // b0, b1 of head column tiles nd and nd + 1
                ldmatrix_x4_trans(b, tv + swizzled(ps * 16 + (lane & 7) + (((lane >> 3) & 1) << 3), nd + (lane >> 4)));
#pragma unroll
                for (int mi = 0; mi < 2; ++mi) {
                    ops::mma(acc[mi][nd], pa[mi], b[0], b[1]);
                    ops::mma(acc[mi][nd + 1], pa[mi], b[2], b[3]);
                }
            }
        }
        cp_async_wait_all();  // the next tile has landed ...
        __syncthreads();      // ... for every warp, and nobody still reads this stage
    }

    // Normalise, stage this warp's rows in s_q (free since the start) and
    // write them out as 16-byte rows.
#pragma unroll
    for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            float sum = row_sum[mi][r];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            const float inv = 1.f / sum;
            const int row = warp * 32 + mi * 16 + (lane >> 2) + 8 * r;
#pragma unroll
            for (int nd = 0; nd < DT; ++nd) {
                const std::uint32_t packed = ops::pack(acc[mi][nd][2 * r] * inv, acc[mi][nd][2 * r + 1] * inv);
                *reinterpret_cast<std::uint32_t*>(s_q + swizzled(row, nd) + 2 * (lane & 3)) = packed;
            }
        }
    __syncwarp();
    std::uint16_t* o = p.o + head + q0 * p.channels;
#pragma unroll
    for (int i = 0; i < 32 * flash_chunks_per_row / 32; ++i) {
        const int c = i * 32 + lane, row = warp * 32 + c / flash_chunks_per_row, chunk = c % flash_chunks_per_row;
        if (q0 + row < p.tokens)
            *reinterpret_cast<uint4*>(o + row * p.channels + chunk * 8) =
                *reinterpret_cast<const uint4*>(s_q + swizzled(row, chunk));
    }
}

template <class T>
inline constexpr bool flash_supported_v = std::is_same_v<T, half> || std::is_same_v<T, bfloat16>;

// cp.async and the 16-byte output stores need 16-byte aligned rows.
inline bool flash_aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

template <class T>
void attention_fused(executor<cuda>& ex, const attention_params& p, const T* q, const T* k, const T* v, T* o) {
    static_assert(flash_supported_v<T>, "the fused kernel takes half or bfloat16 storage");
    const index_t query_tiles = (p.tokens + flash_block_queries - 1) / flash_block_queries;
    const index_t blocks = query_tiles * p.batch * p.heads;
    require(blocks <= INT_MAX, "attention: B * heads * ceil(T / 128) = " + std::to_string(blocks) +
                                   " blocks exceeds the grid limit");
    flash_params fp;
    fp.q = reinterpret_cast<const std::uint16_t*>(q);
    fp.k = reinterpret_cast<const std::uint16_t*>(k);
    fp.v = reinterpret_cast<const std::uint16_t*>(v);
    fp.o = reinterpret_cast<std::uint16_t*>(o);
    fp.tokens = p.tokens;
    fp.channels = p.channels;
    fp.heads = static_cast<int>(p.heads);
    fp.query_tiles = static_cast<int>(query_tiles);
    fp.scale_log2 = p.scale * 1.4426950408889634f;
    launch_dependent<flash_attention_kernel<T>>(ex, static_cast<unsigned>(blocks), flash_threads, 0,
                                                 "flash attention kernel", fp);
}

}  // namespace cuda_detail

template <>
struct attention_impl<cuda> {
    template <class T>
    static void run(executor<cuda>& ex, const attention_params& p, const T* q, const T* k, const T* v, T* o) {
        if constexpr (cuda_detail::flash_supported_v<T>) {
            const bool aligned = cuda_detail::flash_aligned(q) && cuda_detail::flash_aligned(k) &&
                                 cuda_detail::flash_aligned(v) && cuda_detail::flash_aligned(o);
            if (p.variant == attention_variant::fused && aligned) {
                cuda_detail::attention_fused<T>(ex, p, q, k, v, o);
                return;
            }
        }
        cuda_detail::attention_materialized<T>(ex, p, q, k, v, o);
    }
};

}  // namespace vrwkv
