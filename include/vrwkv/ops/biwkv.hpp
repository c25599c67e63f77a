#pragma once
// Bi-WKV, the bidirectional linear-complexity "attention" of Vision-RWKV
// (SPEC 5). Per batch b and channel c, for every token t:
//   y_t = sum_i e^{s(t,i)} v_i / sum_i e^{s(t,i)},
//   s(t,i) = u + k_i (i == t),  -(|t-i| - 1) w + k_i (i != t).
// `exact` is the definition; `compat` is the chunked function the published
// checkpoints were trained with (SPEC 5.1).
#include <string>

#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/dtype.hpp"
#include "vrwkv/core/tensor_view.hpp"

namespace vrwkv {

enum class biwkv_mode { exact, compat };

inline const char* biwkv_mode_name(biwkv_mode m) { return m == biwkv_mode::exact ? "exact" : "compat"; }
inline biwkv_mode biwkv_mode_from_name(const std::string& s) {
    if (s == "exact") return biwkv_mode::exact;
    if (s == "compat") return biwkv_mode::compat;
    throw error("unknown Bi-WKV mode '" + s + "' (expected exact or compat)");
}

// The compat kernel splits T into this many chunks (SPEC 5.1).
inline constexpr index_t biwkv_compat_chunks = 32;

// Kernel parameters: plain data, passed by value to backend code.
struct biwkv_params {
    index_t batch = 0;
    index_t tokens = 0;
    index_t channels = 0;
    biwkv_mode mode = biwkv_mode::exact;
};

// Backend implementation: defined in cpu/biwkv.hpp and cuda/biwkv.cuh.
// static void run(executor<Backend>&, const biwkv_params&, const Acc* w, const Acc* u,
//                 const T* k, const T* v, T* y)
template <class Backend> struct biwkv_impl;

// Checks shapes on the host and returns the kernel parameters.
template <class T, class Acc, class Backend>
biwkv_params biwkv_check(const tensor_view<const Acc, Backend>& w, const tensor_view<const Acc, Backend>& u,
                         const tensor_view<const T, Backend>& k, const tensor_view<const T, Backend>& v,
                         const tensor_view<T, Backend>& y, biwkv_mode mode) {
    require(k.rank() == 3, "biwkv: k must be (B, T, C), got rank " + std::to_string(k.rank()));
    biwkv_params p{k.size(0), k.size(1), k.size(2), mode};
    require(p.batch >= 1 && p.tokens >= 1 && p.channels >= 1,
            "biwkv: k has shape " + k.dims().str() + "; B, T and C must all be at least 1");
    require_shape(v.dims(), k.dims(), "biwkv: v");
    require_shape(y.dims(), k.dims(), "biwkv: y");
    require_shape(w.dims(), shape{p.channels}, "biwkv: w");
    require_shape(u.dims(), shape{p.channels}, "biwkv: u");
    require_contiguous(k, "biwkv: k");
    require_contiguous(v, "biwkv: v");
    require_contiguous(y, "biwkv: y");
    require_contiguous(w, "biwkv: w");
    require_contiguous(u, "biwkv: u");
    return p;
}

// y = BiWKV(w, u, k, v). k, v, y: (B, T, C) of T; w, u: (C) in the
// accumulator type (float for half/bfloat16 storage). `w` is the per-token
// decay already divided by T as the spatial mix does (SPEC 4).
template <class T, class Backend>
void biwkv(executor<Backend>& ex, tensor_view<const accumulator_t<T>, Backend> w,
           tensor_view<const accumulator_t<T>, Backend> u, tensor_view<const T, Backend> k,
           tensor_view<const T, Backend> v, tensor_view<T, Backend> y, biwkv_mode mode = biwkv_mode::exact) {
    const biwkv_params p = biwkv_check<T>(w, u, k, v, y, mode);
    biwkv_impl<Backend>::run(ex, p, w.data(), u.data(), k.data(), v.data(), y.data());
}

}  // namespace vrwkv
