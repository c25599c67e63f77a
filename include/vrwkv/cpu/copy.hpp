#pragma once
// Copies and transfers for the CPU backend, mirroring cuda/copy.cuh so that
// backend-generic code (the encoder) can move host data "to the backend".
#include <cstring>
#include <utility>

#include "vrwkv/core/tensor.hpp"
#include "vrwkv/cpu/allocator.hpp"

namespace vrwkv {

template <class T>
void copy(executor<cpu>&, tensor_view<const T, cpu> src, tensor_view<T, cpu> dst) {
    require_shape(dst.dims(), src.dims(), "copy destination");
    require(src.is_contiguous() && dst.is_contiguous(), "copy needs contiguous tensors");
    if (src.numel() > 0) std::memcpy(dst.data(), src.data(), static_cast<std::size_t>(src.numel()) * sizeof(T));
}

// Host tensors already live on the CPU backend.
template <class T>
tensor<T, cpu> to_backend(executor<cpu>&, tensor<T, cpu>&& host) {
    return std::move(host);
}

template <class T>
tensor<T, cpu> to_host(executor<cpu>&, tensor_view<const T, cpu> src) {
    tensor<T, cpu> out(src.dims());
    if (src.numel() > 0) std::memcpy(out.data(), src.data(), static_cast<std::size_t>(src.numel()) * sizeof(T));
    return out;
}

}  // namespace vrwkv
