#pragma once
// Q-Shift (SPEC 3): each quarter of the channels takes its value from the
// left, right, upper or lower neighbour on the patch grid (zero at the
// border); VRWKV6 applies the quarters inside every head.
//
// token_shift_mix fuses the shift with up to three interpolations
//   out_j = x * mix_j + shift(x) * (1 - mix_j)
// (the spatial mix needs k, v, r; the channel mix k, r) in one pass over x.
// With mode `delta` it writes out_0 = shift(x) - x instead (VRWKV6).
#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/host_device.hpp"
#include "vrwkv/core/tensor_view.hpp"

namespace vrwkv {

inline constexpr int default_shift_pixel = 1;
inline constexpr double default_channel_gamma = 0.25;
inline constexpr index_t max_shift_outputs = 3;

enum class token_shift_output { lerp, delta };

struct token_shift_params {
    index_t batch = 0, height = 0, width = 0, channels = 0;
    index_t shift = default_shift_pixel;  // pixels; 0 disables the shift
    index_t quarter = 0;                  // channels per direction (per head when head_size > 0)
    index_t head_size = 0;                // 0: whole-channel form (VRWKV); N: per head (VRWKV6)
    index_t outputs = 1;                  // 1..3
    token_shift_output output = token_shift_output::lerp;
};

// Source offset (in tokens, along y and x) for channel c, or false when the
// channel is not shifted. Shared by every backend.
VRWKV_HOST_DEVICE inline int token_shift_direction(const token_shift_params& p, index_t c) {
    if (p.shift == 0) return -1;
    const index_t local = p.head_size > 0 ? c % p.head_size : c;
    const index_t q = local / (p.quarter > 0 ? p.quarter : 1);
    return p.quarter > 0 && q < 4 ? static_cast<int>(q) : -1;  // 0: from left, 1: right, 2: up, 3: down
}

// static void run(executor<B>&, const token_shift_params&, const T* x,
//                 const T* const* mixes /* outputs of them, each (C) */, T* const* outs)
template <class Backend> struct token_shift_impl;

template <class T, class Backend>
token_shift_params make_token_shift_params(const tensor_view<const T, Backend>& x, index_t height, index_t width,
                                           index_t shift_pixel, double channel_gamma, index_t head_size) {
    require(x.rank() == 3, "token_shift: input must be (B, T, C), got " + x.dims().str());
    require(height * width == x.size(1), "token_shift: grid " + std::to_string(height) + "x" + std::to_string(width) +
                                             " does not match " + std::to_string(x.size(1)) + " tokens");
    require_contiguous(x, "token_shift: input");
    token_shift_params p;
    p.batch = x.size(0), p.height = height, p.width = width, p.channels = x.size(2);
    p.shift = shift_pixel;
    p.head_size = head_size;
    if (head_size > 0) {
        require(p.channels % head_size == 0, "token_shift: " + std::to_string(p.channels) +
                                                 " channels are not a multiple of the head size " +
                                                 std::to_string(head_size));
        p.quarter = head_size / 4;
    } else {
        p.quarter = static_cast<index_t>(static_cast<double>(p.channels) * channel_gamma);
    }
    return p;
}

// outs[j] = x * mixes[j] + shift(x) * (1 - mixes[j]), j < count.
template <class T, class Backend>
void token_shift_mix(executor<Backend>& ex, token_shift_params p, tensor_view<const T, Backend> x,
                     const tensor_view<const T, Backend>* mixes, const tensor_view<T, Backend>* outs, index_t count) {
    require(count >= 1 && count <= max_shift_outputs, "token_shift_mix: 1 to 3 outputs");
    const T* mix_ptrs[max_shift_outputs] = {};
    T* out_ptrs[max_shift_outputs] = {};
    for (index_t j = 0; j < count; ++j) {
        require(mixes[j].numel() == p.channels, "token_shift_mix: mix " + std::to_string(j) + " has shape " +
                                                    mixes[j].dims().str() + ", expected " +
                                                    std::to_string(p.channels) + " values");
        require_shape(outs[j].dims(), x.dims(), "token_shift_mix: output");
        mix_ptrs[j] = mixes[j].data(), out_ptrs[j] = outs[j].data();
    }
    p.outputs = count;
    p.output = token_shift_output::lerp;
    token_shift_impl<Backend>::run(ex, p, x.data(), mix_ptrs, out_ptrs);
}

// out = shift(x) - x (VRWKV6's xx).
template <class T, class Backend>
void token_shift_delta(executor<Backend>& ex, token_shift_params p, tensor_view<const T, Backend> x,
                       tensor_view<T, Backend> out) {
    require_shape(out.dims(), x.dims(), "token_shift_delta: output");
    p.outputs = 1;
    p.output = token_shift_output::delta;
    const T* mix_ptrs[max_shift_outputs] = {};
    T* out_ptrs[max_shift_outputs] = {out.data()};
    token_shift_impl<Backend>::run(ex, p, x.data(), mix_ptrs, out_ptrs);
}

}  // namespace vrwkv
