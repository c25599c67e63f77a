#pragma once
// Element-wise activations (y may alias x) and gates out = f(a) * b.
#include <cmath>

#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/host_device.hpp"
#include "vrwkv/core/tensor_view.hpp"

namespace vrwkv {

// gelu_tanh: GELU with PyTorch's approximate='tanh' (the ViT baseline's MLP).
enum class activation { squared_relu, tanh, silu, sigmoid, gelu_tanh, identity };

template <class Acc>
VRWKV_HOST_DEVICE inline Acc apply_activation(activation kind, Acc x) {
    switch (kind) {
        case activation::squared_relu: return x > Acc(0) ? x * x : Acc(0);
        case activation::tanh: return std::tanh(x);
        case activation::silu: return x / (Acc(1) + std::exp(-x));
        case activation::sigmoid: return Acc(1) / (Acc(1) + std::exp(-x));
        case activation::gelu_tanh:
            return Acc(0.5) * x * (Acc(1) + std::tanh(Acc(0.7978845608028654) * (x + Acc(0.044715) * x * x * x)));
        case activation::identity: return x;
    }
    return x;
}

struct activation_params {
    index_t count = 0;
    activation kind = activation::identity;
};

// static void activate(executor<B>&, const activation_params&, const T* x, T* y)
// static void gate(executor<B>&, const activation_params&, const T* a, const T* b, T* out)
template <class Backend> struct activation_impl;

template <class T, class Backend>
void activate(executor<Backend>& ex, activation kind, tensor_view<const T, Backend> x, tensor_view<T, Backend> y) {
    require_shape(y.dims(), x.dims(), "activation output");
    require(x.is_contiguous() && y.is_contiguous(), "activation needs contiguous tensors");
    if (x.numel() == 0) return;
    activation_impl<Backend>::activate(ex, activation_params{x.numel(), kind}, x.data(), y.data());
}

// out = f(a) * b, e.g. sigmoid(r) * wkv. out may alias a or b.
template <class T, class Backend>
void gate(executor<Backend>& ex, activation kind, tensor_view<const T, Backend> a, tensor_view<const T, Backend> b,
          tensor_view<T, Backend> out) {
    require_shape(b.dims(), a.dims(), "gate: second operand");
    require_shape(out.dims(), a.dims(), "gate: output");
    require(a.is_contiguous() && b.is_contiguous() && out.is_contiguous(), "gate needs contiguous tensors");
    if (a.numel() == 0) return;
    activation_impl<Backend>::gate(ex, activation_params{a.numel(), kind}, a.data(), b.data(), out.data());
}

}  // namespace vrwkv
