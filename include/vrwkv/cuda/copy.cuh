#pragma once
// Host <-> device copies, ordered on the executor's stream.
#include <type_traits>

#include "vrwkv/core/tensor.hpp"
#include "vrwkv/cpu/allocator.hpp"
#include "vrwkv/cuda/allocator.cuh"
#include "vrwkv/cuda/executor.cuh"

namespace vrwkv {

template <class T>
void copy(executor<cuda>& ex, tensor_view<const T, cpu> src, tensor_view<T, cuda> dst) {
    require_shape(dst.dims(), src.dims(), "device copy destination");
    require(src.is_contiguous() && dst.is_contiguous(), "host/device copies need contiguous tensors");
    if (src.numel() == 0) return;
    cuda_check(cudaMemcpyAsync(dst.data(), src.data(), src.numel() * sizeof(T), cudaMemcpyHostToDevice, ex.stream()),
               "cudaMemcpyAsync host to device");
}

template <class T>
void copy(executor<cuda>& ex, tensor_view<const T, cuda> src, tensor_view<T, cpu> dst) {
    require_shape(dst.dims(), src.dims(), "host copy destination");
    require(src.is_contiguous() && dst.is_contiguous(), "host/device copies need contiguous tensors");
    if (src.numel() == 0) return;
    cuda_check(cudaMemcpyAsync(dst.data(), src.data(), src.numel() * sizeof(T), cudaMemcpyDeviceToHost, ex.stream()),
               "cudaMemcpyAsync device to host");
    ex.synchronize();  // the host may read dst right after
}

template <class T>
void copy(executor<cuda>& ex, tensor_view<const T, cuda> src, tensor_view<T, cuda> dst) {
    require_shape(dst.dims(), src.dims(), "device copy destination");
    require(src.is_contiguous() && dst.is_contiguous(), "device copies need contiguous tensors");
    if (src.numel() == 0) return;
    cuda_check(cudaMemcpyAsync(dst.data(), src.data(), src.numel() * sizeof(T), cudaMemcpyDeviceToDevice, ex.stream()),
               "cudaMemcpyAsync device to device");
}

template <class T>
tensor<T, cuda> to_device(executor<cuda>& ex, tensor_view<const T, cpu> src) {
    tensor<T, cuda> dst(src.dims());
    copy<T>(ex, src, dst.view());
    return dst;
}

template <class T>
tensor<T, cpu> to_host(executor<cuda>& ex, tensor_view<const T, cuda> src) {
    tensor<T, cpu> dst(src.dims());
    copy<T>(ex, src, dst.view());
    return dst;
}

}  // namespace vrwkv

namespace vrwkv {

// Moves host data to the device (the CPU backend's overload just moves).
template <class T>
tensor<T, cuda> to_backend(executor<cuda>& ex, tensor<T, cpu>&& host) {
    tensor<T, cuda> dst = to_device<T>(ex, host.view());
    ex.synchronize();  // `host` is freed on return
    return dst;
}

}  // namespace vrwkv
