#pragma once
// The VRWKV6 spatial mix's own ops (SPEC 8): data-dependent interpolation,
// the low-rank mix slots, the per-token decay, Bi-WKV6 and GroupNorm.
#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/dtype.hpp"
#include "vrwkv/core/tensor_view.hpp"
#include "vrwkv/ops/layer_norm.hpp"

namespace vrwkv {

inline constexpr index_t vrwkv6_mix_slots = 5;  // w, k, v, r, g
inline constexpr index_t vrwkv6_mix_rank = 32;
inline constexpr double group_norm_eps = 1e-5;

struct vrwkv6_params {
    index_t batch = 0, tokens = 0, channels = 0;
    index_t heads = 0, head_size = 0;
    index_t slot = 0;  // mix slot
    double eps = group_norm_eps;
};

// static void lerp(ex, p, const T* x, const T* xx, const T* base /*(C)*/, const T* dyn /*nullable*/, T* out)
//     out = x + xx * (base + dyn)
// static void mix_slot(ex, p, const T* m /*(rows, 5*32)*/, const T* w2 /*(5, 32, C)*/, T* out /*(rows, C)*/)
// static void decay(ex, p, const T* part, const T* time_decay, Acc* out)   out = exp(-exp(time_decay + part))
// static void wkv6(ex, p, const T* r, const T* k, const T* v, const Acc* decay, const T* u /*(H, N)*/, T* y)
// static void group_norm(ex, p, const T* x, const T* weight, const T* bias, T* y)
template <class Backend> struct vrwkv6_impl;

namespace detail {
template <class T, class Backend>
vrwkv6_params tokens_params(const tensor_view<const T, Backend>& x, const char* what) {
    require(x.rank() == 3, std::string(what) + ": expected (B, T, C), got " + x.dims().str());
    require_contiguous(x, what);
    vrwkv6_params p;
    p.batch = x.size(0), p.tokens = x.size(1), p.channels = x.size(2);
    return p;
}
}  // namespace detail

template <class T, class Backend>
void vrwkv6_lerp(executor<Backend>& ex, tensor_view<const T, Backend> x, tensor_view<const T, Backend> xx,
                 tensor_view<const T, Backend> base, const tensor_view<const T, Backend>* dynamic,
                 tensor_view<T, Backend> out) {
    const vrwkv6_params p = detail::tokens_params(x, "vrwkv6 mix");
    require_shape(xx.dims(), x.dims(), "vrwkv6 mix: shift delta");
    require(base.numel() == p.channels, "vrwkv6 mix: per-channel mix has " + std::to_string(base.numel()) +
                                            " values, expected " + std::to_string(p.channels));
    if (dynamic) require_shape(dynamic->dims(), x.dims(), "vrwkv6 mix: data-dependent mix");
    require_shape(out.dims(), x.dims(), "vrwkv6 mix: output");
    vrwkv6_impl<Backend>::lerp(ex, p, x.data(), xx.data(), base.data(), dynamic ? dynamic->data() : nullptr,
                               out.data());
}
template <class T, class Backend>
void vrwkv6_lerp(executor<Backend>& ex, tensor_view<const T, Backend> x, tensor_view<const T, Backend> xx,
                 tensor_view<const T, Backend> base, tensor_view<const T, Backend> dynamic,
                 tensor_view<T, Backend> out) {
    vrwkv6_lerp<T, Backend>(ex, x, xx, base, &dynamic, out);
}

// out = m[..., slot*32 : (slot+1)*32] @ w2[slot]
template <class T, class Backend>
void vrwkv6_mix_slot(executor<Backend>& ex, tensor_view<const T, Backend> m, tensor_view<const T, Backend> w2,
                     index_t slot, tensor_view<T, Backend> out) {
    vrwkv6_params p = detail::tokens_params(tensor_view<const T, Backend>(out), "vrwkv6 mix slot");
    require(m.rank() == 3 && m.size(0) == p.batch && m.size(1) == p.tokens &&
                m.size(2) == vrwkv6_mix_slots * vrwkv6_mix_rank,
            "vrwkv6 mix slot: low-rank mix has shape " + m.dims().str());
    require_shape(w2.dims(), shape{vrwkv6_mix_slots, vrwkv6_mix_rank, p.channels}, "time_maa_w2");
    require(slot >= 0 && slot < vrwkv6_mix_slots, "vrwkv6 mix slot out of range");
    p.slot = slot;
    vrwkv6_impl<Backend>::mix_slot(ex, p, m.data(), w2.data(), out.data());
}

template <class T, class Backend>
void vrwkv6_decay(executor<Backend>& ex, tensor_view<const T, Backend> part, tensor_view<const T, Backend> time_decay,
                  tensor_view<accumulator_t<T>, Backend> out) {
    const vrwkv6_params p = detail::tokens_params(part, "vrwkv6 decay");
    require(time_decay.numel() == p.channels, "time_decay must hold one value per channel");
    require_shape(out.dims(), part.dims(), "vrwkv6 decay: output");
    vrwkv6_impl<Backend>::decay(ex, p, part.data(), time_decay.data(), out.data());
}

// Bi-WKV6 (SPEC 8) per head of 64 channels.
template <class T, class Backend>
void biwkv6(executor<Backend>& ex, tensor_view<const T, Backend> r, tensor_view<const T, Backend> k,
            tensor_view<const T, Backend> v, tensor_view<const accumulator_t<T>, Backend> decay,
            tensor_view<const T, Backend> u, tensor_view<T, Backend> y) {
    vrwkv6_params p = detail::tokens_params(r, "biwkv6");
    for (const auto* t : {&k, &v}) require_shape(t->dims(), r.dims(), "biwkv6: k and v");
    require_shape(decay.dims(), r.dims(), "biwkv6: decay");
    require_shape(y.dims(), r.dims(), "biwkv6: y");
    require(u.rank() == 2 && u.size(0) * u.size(1) == p.channels,
            "biwkv6: u (time_faaaa) has shape " + u.dims().str() + ", expected (heads, head_size)");
    p.heads = u.size(0), p.head_size = u.size(1);
    vrwkv6_impl<Backend>::wkv6(ex, p, r.data(), k.data(), v.data(), decay.data(), u.data(), y.data());
}

// GroupNorm over each token's channels in `groups` groups (y may alias x).
template <class T, class Backend>
void group_norm(executor<Backend>& ex, tensor_view<const T, Backend> x, index_t groups,
                tensor_view<const T, Backend> weight, tensor_view<const T, Backend> bias, tensor_view<T, Backend> y,
                double eps = group_norm_eps) {
    vrwkv6_params p = detail::tokens_params(x, "group_norm");
    require(groups >= 1 && p.channels % groups == 0, "group_norm: " + std::to_string(p.channels) +
                                                         " channels do not split into " + std::to_string(groups) +
                                                         " groups");
    require_shape(weight.dims(), shape{p.channels}, "group_norm: weight");
    require_shape(bias.dims(), shape{p.channels}, "group_norm: bias");
    require_shape(y.dims(), x.dims(), "group_norm: output");
    p.heads = groups, p.head_size = p.channels / groups, p.eps = eps;
    vrwkv6_impl<Backend>::group_norm(ex, p, x.data(), weight.data(), bias.data(), y.data());
}

}  // namespace vrwkv
