#pragma once
// y = x W^T (+ bias), W stored (out, in) as in PyTorch; matmul: y = x W with
// W stored (in, out) (VRWKV6's low-rank mixes). x may have any rank >= 2:
// leading dimensions are flattened into rows.
#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/tensor_view.hpp"

namespace vrwkv {

struct linear_params {
    index_t rows = 0;
    index_t in_features = 0;
    index_t out_features = 0;
    bool weight_in_out = false;  // W stored (in, out) instead of (out, in)
};

// static void run(executor<B>&, const linear_params&, const T* x, const T* weight,
//                 const T* bias /* nullable */, T* y)
template <class Backend> struct linear_impl;

template <class T, class Backend>
linear_params linear_check(const tensor_view<const T, Backend>& x, const tensor_view<const T, Backend>& weight,
                           const tensor_view<T, Backend>& y, bool weight_in_out) {
    require(weight.rank() == 2, "linear: weight must be a matrix, got " + weight.dims().str());
    require(x.rank() >= 2, "linear: input must have rank >= 2, got " + x.dims().str());
    const index_t in = weight.size(weight_in_out ? 0 : 1), out = weight.size(weight_in_out ? 1 : 0);
    require(x.size(-1) == in, "linear: input " + x.dims().str() + " has " + std::to_string(x.size(-1)) +
                                  " features, the weight " + weight.dims().str() + " expects " + std::to_string(in));
    shape want = x.dims();
    want[want.rank - 1] = out;
    require_shape(y.dims(), want, "linear: output");
    require_contiguous(x, "linear: input");
    require_contiguous(weight, "linear: weight");
    require_contiguous(y, "linear: output");
    return {x.numel() / in, in, out, weight_in_out};
}

template <class T, class Backend>
void linear(executor<Backend>& ex, tensor_view<const T, Backend> x, tensor_view<const T, Backend> weight,
            const T* bias, tensor_view<T, Backend> y) {
    const linear_params p = linear_check(x, weight, y, false);
    if (p.rows == 0) return;
    linear_impl<Backend>::run(ex, p, x.data(), weight.data(), bias, y.data());
}

// y = x W, W stored (in, out).
template <class T, class Backend>
void matmul(executor<Backend>& ex, tensor_view<const T, Backend> x, tensor_view<const T, Backend> weight,
            tensor_view<T, Backend> y) {
    const linear_params p = linear_check(x, weight, y, true);
    if (p.rows == 0) return;
    linear_impl<Backend>::run(ex, p, x.data(), weight.data(), static_cast<const T*>(nullptr), y.data());
}

}  // namespace vrwkv
