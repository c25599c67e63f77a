#pragma once
// Multi-head softmax attention on the CPU (the baseline for Bi-WKV).
// materialized: per head, a block of queries against all keys: one Eigen GEMM
//   for the scores, an exact row softmax, one GEMM for the output. The block
//   shrinks as T grows so the score block stays bounded (4M scores).
// fused: flash-style. A block of queries streams over blocks of keys keeping a
//   running row max and sum; earlier partial outputs are rescaled when the max
//   grows. Scores never exceed one (queries x keys) block.
// Tasks (batch, head, query block) are spread over the executor's threads;
// each task's GEMMs run on one thread (Eigen does not nest parallelism).
#include <algorithm>
#include <limits>
#include <new>
#include <type_traits>

#include "vrwkv/cpu/eigen.hpp"
#include "vrwkv/cpu/executor.hpp"
#include "vrwkv/ops/attention.hpp"

namespace vrwkv {

namespace cpu_detail {

// Materialized: at most this many scores per task (16 MB of float).
inline constexpr index_t attention_score_budget = index_t{1} << 22;
inline constexpr index_t attention_max_query_block = 256;
// Fused: queries x keys per streaming step; small enough to stay in L2.
inline constexpr index_t attention_fused_query_block = 64;
inline constexpr index_t attention_fused_key_block = 256;

template <class Acc>
using attention_matrix = Eigen::Matrix<Acc, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class Acc>
using attention_vector = Eigen::Array<Acc, Eigen::Dynamic, 1>;
// Rows of one head inside a (B, T, C) tensor (row stride C).
template <class Acc>
using head_rows_map = Eigen::Map<const attention_matrix<Acc>, 0, Eigen::OuterStride<>>;

inline index_t attention_query_block(index_t tokens) {
    index_t rows = attention_max_query_block;
    while (rows > 16 && rows * tokens > attention_score_budget) rows /= 2;
    return rows;
}

// `rows` rows of one head starting at `src` (row stride `stride`) as an
// accumulator matrix: mapped in place when storage is the accumulator type,
// otherwise converted into `store`.
template <class T, class Acc>
head_rows_map<Acc> head_rows(const T* src, index_t rows, index_t stride, attention_matrix<Acc>& store) {
    constexpr index_t D = attention_head_dim;
    if constexpr (std::is_same_v<T, Acc>) {
        (void)store;
        return head_rows_map<Acc>(src, rows, D, Eigen::OuterStride<>(stride));
    } else {
        store.resize(rows, D);
        for (index_t r = 0; r < rows; ++r)
            for (index_t d = 0; d < D; ++d) store(r, d) = convert<Acc>(src[r * stride + d]);
        return head_rows_map<Acc>(store.data(), rows, D, Eigen::OuterStride<>(D));
    }
}

// Keys and values of the head a thread works on; reconverted only when the
// (batch, head) changes, which static scheduling makes rare.
template <class T, class Acc>
struct head_cache {
    index_t id = -1;
    attention_matrix<Acc> k_store, v_store;
    head_rows_map<Acc> k{nullptr, 0, 0, Eigen::OuterStride<>(1)};
    head_rows_map<Acc> v{nullptr, 0, 0, Eigen::OuterStride<>(1)};

    void load(const attention_params& p, const T* k_all, const T* v_all, index_t b, index_t h) {
        if (b * p.heads + h == id) return;
        id = b * p.heads + h;
        const index_t off = b * p.tokens * p.channels + h * attention_head_dim;
        rebind(k, head_rows<T, Acc>(k_all + off, p.tokens, p.channels, k_store));
        rebind(v, head_rows<T, Acc>(v_all + off, p.tokens, p.channels, v_store));
    }

private:
    // Eigen's documented way to point an existing Map at other memory.
    static void rebind(head_rows_map<Acc>& m, const head_rows_map<Acc>& to) {
        new (&m) head_rows_map<Acc>(to.data(), to.rows(), to.cols(), Eigen::OuterStride<>(to.outerStride()));
    }
};

template <class T, class Acc>
void store_head_rows(const attention_matrix<Acc>& out, T* dst, index_t stride) {
    for (index_t r = 0; r < out.rows(); ++r)
        for (index_t d = 0; d < out.cols(); ++d) dst[r * stride + d] = convert<T>(out(r, d));
}

// Scratch of one thread.
template <class Acc>
struct attention_scratch {
    attention_matrix<Acc> q_store, q_scaled, scores, out;
    attention_vector<Acc> row_max, new_max, row_sum, rescale;
};

template <class T, class Acc>
void attention_materialized_block(const attention_params& p, head_rows_map<Acc> q, const head_rows_map<Acc>& k,
                                  const head_rows_map<Acc>& v, T* o, attention_scratch<Acc>& s) {
    s.q_scaled = q * static_cast<Acc>(p.scale);
    s.scores.resize(q.rows(), p.tokens);
    s.scores.noalias() = s.q_scaled * k.transpose();
    s.row_max = s.scores.rowwise().maxCoeff().array();
    s.scores.array().colwise() -= s.row_max;
    s.scores = s.scores.array().exp().matrix();
    s.row_sum = s.scores.rowwise().sum().array();
    s.out.resize(q.rows(), attention_head_dim);
    s.out.noalias() = s.scores * v;
    s.out.array().colwise() /= s.row_sum;
    store_head_rows<T, Acc>(s.out, o, p.channels);
}

template <class T, class Acc>
void attention_fused_block(const attention_params& p, head_rows_map<Acc> q, const head_rows_map<Acc>& k,
                           const head_rows_map<Acc>& v, T* o, attention_scratch<Acc>& s) {
    const index_t rows = q.rows();
    s.q_scaled = q * static_cast<Acc>(p.scale);
    s.out.setZero(rows, attention_head_dim);
    s.row_max.setConstant(rows, -std::numeric_limits<Acc>::infinity());
    s.row_sum.setZero(rows);
    for (index_t k0 = 0; k0 < p.tokens; k0 += attention_fused_key_block) {
        const index_t n = std::min(attention_fused_key_block, p.tokens - k0);
        s.scores.resize(rows, n);
        s.scores.noalias() = s.q_scaled * k.middleRows(k0, n).transpose();
        s.new_max = s.row_max.max(s.scores.rowwise().maxCoeff().array());
        // The first block has row_max = -inf: its rescale is exp(-inf) = 0 times zeros.
        s.rescale = (s.row_max - s.new_max).exp();
        s.scores.array().colwise() -= s.new_max;
        s.scores = s.scores.array().exp().matrix();
        s.row_sum = s.row_sum * s.rescale + s.scores.rowwise().sum().array();
        s.out.array().colwise() *= s.rescale;
        s.out.noalias() += s.scores * v.middleRows(k0, n);
        s.row_max.swap(s.new_max);
    }
    s.out.array().colwise() /= s.row_sum;
    store_head_rows<T, Acc>(s.out, o, p.channels);
}

}  // namespace cpu_detail

template <>
struct attention_impl<cpu> {
    template <class T>
    static void run(executor<cpu>& ex, const attention_params& p, const T* q, const T* k, const T* v, T* o) {
        using Acc = accumulator_t<T>;
        const bool fused = p.variant == attention_variant::fused;
        const index_t block = fused ? cpu_detail::attention_fused_query_block : cpu_detail::attention_query_block(p.tokens);
        const index_t blocks = (p.tokens + block - 1) / block;
        const index_t tasks = p.batch * p.heads * blocks;
#pragma omp parallel num_threads(ex.threads())
        {
            cpu_detail::head_cache<T, Acc> heads;
            cpu_detail::attention_scratch<Acc> scratch;
#pragma omp for schedule(static)
            for (index_t task = 0; task < tasks; ++task) {
                const index_t bh = task / blocks, t0 = (task % blocks) * block;
                const index_t b = bh / p.heads, h = bh % p.heads, rows = std::min(block, p.tokens - t0);
                heads.load(p, k, v, b, h);
                const index_t off = (b * p.tokens + t0) * p.channels + h * attention_head_dim;
                auto q_rows = cpu_detail::head_rows<T, Acc>(q + off, rows, p.channels, scratch.q_store);
                if (fused)
                    cpu_detail::attention_fused_block<T, Acc>(p, q_rows, heads.k, heads.v, o + off, scratch);
                else
                    cpu_detail::attention_materialized_block<T, Acc>(p, q_rows, heads.k, heads.v, o + off, scratch);
            }
        }
    }
};

}  // namespace vrwkv
