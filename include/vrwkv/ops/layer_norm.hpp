#pragma once
// LayerNorm over the last dimension (biased variance, as PyTorch). y may alias x.
#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/tensor_view.hpp"

namespace vrwkv {

inline constexpr double layer_norm_eps = 1e-5;

struct layer_norm_params {
    index_t rows = 0;
    index_t features = 0;
    double eps = layer_norm_eps;
};

// static void run(executor<B>&, const layer_norm_params&, const T* x, const T* weight, const T* bias, T* y)
template <class Backend> struct layer_norm_impl;

template <class T, class Backend>
void layer_norm(executor<Backend>& ex, tensor_view<const T, Backend> x, tensor_view<const T, Backend> weight,
                tensor_view<const T, Backend> bias, tensor_view<T, Backend> y, double eps = layer_norm_eps) {
    require(x.rank() >= 1, "layer_norm: input must have rank >= 1");
    const index_t features = x.size(-1);
    require_shape(weight.dims(), shape{features}, "layer_norm: weight");
    require_shape(bias.dims(), shape{features}, "layer_norm: bias");
    require_shape(y.dims(), x.dims(), "layer_norm: output");
    require_contiguous(x, "layer_norm: input");
    require_contiguous(y, "layer_norm: output");
    if (x.numel() == 0) return;
    layer_norm_impl<Backend>::run(ex, layer_norm_params{x.numel() / features, features, eps}, x.data(), weight.data(),
                                  bias.data(), y.data());
}

}  // namespace vrwkv
