#pragma once
// Residual update x += scale * y with an optional per-channel scale (layer
// scale gamma), and a broadcast add of one (T, C) table to every batch item
// (position embedding).
#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/tensor_view.hpp"

namespace vrwkv {

struct residual_params {
    index_t rows = 0;      // of y; x has rows * channels elements
    index_t channels = 0;
    index_t period = 0;    // broadcast add: y repeats every `period` rows (0: no repeat)
};

// static void add(executor<B>&, const residual_params&, T* x, const T* y, const T* scale /* nullable */)
template <class Backend> struct residual_impl;

template <class T, class Backend>
void residual_add(executor<Backend>& ex, tensor_view<T, Backend> x, tensor_view<const T, Backend> y,
                  const T* channel_scale = nullptr) {
    require_shape(y.dims(), x.dims(), "residual_add: update");
    require(x.is_contiguous() && y.is_contiguous(), "residual_add needs contiguous tensors");
    if (x.numel() == 0) return;
    const index_t c = x.size(-1);
    residual_impl<Backend>::add(ex, residual_params{x.numel() / c, c, 0}, x.data(), y.data(), channel_scale);
}

// x (B, T, C) += table (T, C) for every b.
template <class T, class Backend>
void broadcast_add(executor<Backend>& ex, tensor_view<T, Backend> x, tensor_view<const T, Backend> table) {
    require(x.rank() == 3, "broadcast_add: x must be (B, T, C), got " + x.dims().str());
    require_shape(table.dims(), shape{x.size(1), x.size(2)}, "broadcast_add: table");
    require(x.is_contiguous() && table.is_contiguous(), "broadcast_add needs contiguous tensors");
    if (x.numel() == 0) return;
    residual_impl<Backend>::add(ex, residual_params{x.size(0) * x.size(1), x.size(2), x.size(1)}, x.data(),
                                table.data(), static_cast<const T*>(nullptr));
}

}  // namespace vrwkv
