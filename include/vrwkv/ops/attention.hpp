#pragma once
// Multi-head softmax attention, the O(T^2) baseline Bi-WKV is compared with.
// q, k, v, o are (B, T, C); channel block [h*64, (h+1)*64) is head h. Per
// batch b and head h, non-causal:
//   o_t = sum_i e^{q_t . k_i / 8} v_i / sum_i e^{q_t . k_i / 8}   (8 = sqrt(64)).
// `materialized` forms the score matrix (in bounded blocks of queries);
// `fused` streams over keys with an online softmax and never stores scores.
#include <string>

#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/dtype.hpp"
#include "vrwkv/core/error.hpp"
#include "vrwkv/core/tensor_view.hpp"

namespace vrwkv {

// Every head is 64 channels wide, as in ViT-S/B style models.
inline constexpr index_t attention_head_dim = 64;
// 1 / sqrt(head dim), exactly representable.
inline constexpr float attention_scale = 0.125f;

enum class attention_variant { materialized, fused };

inline const char* attention_variant_name(attention_variant v) {
    return v == attention_variant::materialized ? "materialized" : "fused";
}
inline attention_variant attention_variant_from_name(const std::string& s) {
    if (s == "materialized") return attention_variant::materialized;
    if (s == "fused") return attention_variant::fused;
    throw error("unknown attention variant '" + s + "' (expected materialized or fused)");
}

// Kernel parameters: plain data, passed by value to backend code.
struct attention_params {
    index_t batch = 0;
    index_t tokens = 0;
    index_t channels = 0;  // also the row stride of q, k, v and o
    index_t heads = 0;     // channels / attention_head_dim
    float scale = attention_scale;
    attention_variant variant = attention_variant::fused;
};

// Backend implementation: defined in cpu/attention.hpp and cuda/attention.cuh.
// template <class T> static void run(executor<Backend>&, const attention_params&,
//                                    const T* q, const T* k, const T* v, T* o)
template <class Backend> struct attention_impl;

// Checks shapes on the host and returns the kernel parameters.
template <class T, class Backend>
attention_params attention_check(const tensor_view<const T, Backend>& q, const tensor_view<const T, Backend>& k,
                                 const tensor_view<const T, Backend>& v, const tensor_view<T, Backend>& o,
                                 attention_variant variant) {
    require(q.rank() == 3, "attention: q must be (B, T, C), got rank " + std::to_string(q.rank()));
    attention_params p;
    p.batch = q.size(0), p.tokens = q.size(1), p.channels = q.size(2), p.variant = variant;
    require(p.batch >= 1 && p.tokens >= 1 && p.channels >= 1,
            "attention: q has shape " + q.dims().str() + "; B, T and C must all be at least 1");
    require(p.channels % attention_head_dim == 0,
            "attention: C = " + std::to_string(p.channels) + " must be a multiple of the head size " +
                std::to_string(attention_head_dim));
    p.heads = p.channels / attention_head_dim;
    require_shape(k.dims(), q.dims(), "attention: k");
    require_shape(v.dims(), q.dims(), "attention: v");
    require_shape(o.dims(), q.dims(), "attention: o");
    require_contiguous(q, "attention: q");
    require_contiguous(k, "attention: k");
    require_contiguous(v, "attention: v");
    require_contiguous(o, "attention: o");
    return p;
}

// o = softmax(q k^T / sqrt(64)) v per head. Arithmetic in accumulator_t<T>
// (float for half/bfloat16 storage).
template <class T, class Backend>
void attention(executor<Backend>& ex, tensor_view<const T, Backend> q, tensor_view<const T, Backend> k,
               tensor_view<const T, Backend> v, tensor_view<T, Backend> o,
               attention_variant variant = attention_variant::fused) {
    const attention_params p = attention_check<T>(q, k, v, o, variant);
    attention_impl<Backend>::run(ex, p, q.data(), k.data(), v.data(), o.data());
}

}  // namespace vrwkv
