#pragma once
// Token-axis reductions and layout changes: the classifier's global average
// and the (B, T, C) -> (B, C, h, w) feature-map layout.
#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/tensor_view.hpp"

namespace vrwkv {

struct token_layout_params {
    index_t batch = 0, tokens = 0, channels = 0;
};

// static void mean_tokens(executor<B>&, const token_layout_params&, const T* x, T* out /* (B, C) */)
// static void to_channels_first(executor<B>&, const token_layout_params&, const T* x, T* out /* (B, C, T) */)
template <class Backend> struct pooling_impl;

template <class T, class Backend>
token_layout_params token_layout(const tensor_view<const T, Backend>& x) {
    require(x.rank() == 3, "expected tokens (B, T, C), got " + x.dims().str());
    require_contiguous(x, "tokens");
    return {x.size(0), x.size(1), x.size(2)};
}

template <class T, class Backend>
void mean_tokens(executor<Backend>& ex, tensor_view<const T, Backend> x, tensor_view<T, Backend> out) {
    const token_layout_params p = token_layout(x);
    require_shape(out.dims(), shape{p.batch, p.channels}, "mean_tokens: output");
    pooling_impl<Backend>::mean_tokens(ex, p, x.data(), out.data());
}

// out (B, C, h, w) from tokens (B, h*w, C).
template <class T, class Backend>
void to_channels_first(executor<Backend>& ex, tensor_view<const T, Backend> x, tensor_view<T, Backend> out) {
    const token_layout_params p = token_layout(x);
    require(out.rank() == 4 && out.size(0) == p.batch && out.size(1) == p.channels &&
                out.size(2) * out.size(3) == p.tokens,
            "to_channels_first: output " + out.dims().str() + " does not fit tokens " + x.dims().str());
    require_contiguous(out, "to_channels_first: output");
    pooling_impl<Backend>::to_channels_first(ex, p, x.data(), out.data());
}

}  // namespace vrwkv
