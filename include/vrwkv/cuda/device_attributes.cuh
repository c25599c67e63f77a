#pragma once
// Device attributes, asked once per device (devices 0-63; others every
// time): kernels are launched from host code that is often launch-bound,
// and the answers do not change while the process runs.
#include <cuda_runtime.h>

#include <atomic>

#include "vrwkv/cuda/error.cuh"

namespace vrwkv {
namespace cuda_detail {

template <cudaDeviceAttr Attribute>
int device_attribute(int device) {
    static std::atomic<long long> known[64] = {};  // value + 1; 0 = not asked yet
    const bool cacheable = device >= 0 && device < 64;
    if (cacheable) {
        const long long seen = known[device].load(std::memory_order_relaxed);
        if (seen > 0) return static_cast<int>(seen - 1);
    }
    int value = 0;
    cuda_check(cudaDeviceGetAttribute(&value, Attribute, device), "cudaDeviceGetAttribute");
    if (cacheable && value >= 0) known[device].store(static_cast<long long>(value) + 1, std::memory_order_relaxed);
    return value;
}

}  // namespace cuda_detail
}  // namespace vrwkv
