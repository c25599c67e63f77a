#pragma once
// CUDA and cuBLAS status checks that turn failures into vrwkv::error.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "vrwkv/core/error.hpp"

namespace vrwkv {

inline void cuda_check(cudaError_t status, const char* what) {
    if (status != cudaSuccess)
        throw error(std::string(what) + " failed: " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}

// Call right after a kernel launch: reports bad launch configurations.
inline void cuda_check_launch(const char* kernel) { cuda_check(cudaGetLastError(), kernel); }

inline void cublas_check(cublasStatus_t status, const char* what) {
    if (status != CUBLAS_STATUS_SUCCESS)
        throw error(std::string(what) + " failed: cuBLAS status " + std::to_string(static_cast<int>(status)));
}

// True when at least one CUDA device can be used (tests skip otherwise).
inline bool cuda_device_available() {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky "no device" error
        return false;
    }
    return count > 0;
}

}  // namespace vrwkv
