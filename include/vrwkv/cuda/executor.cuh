#pragma once
// GPU runtime state: the device, a stream every op runs on, and a cuBLAS
// handle bound to that stream. Float GEMMs keep full float precision unless
// TF32 is requested.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "vrwkv/core/backend.hpp"
#include "vrwkv/cuda/error.cuh"

namespace vrwkv {

template <>
class executor<cuda> {
public:
    using backend = cuda;

    // stream == nullptr: the executor creates and owns a non-blocking stream.
    explicit executor(int device = 0, cudaStream_t stream = nullptr) : device_(device) {
        cuda_check(cudaSetDevice(device_), "cudaSetDevice");
        if (stream) {
            stream_ = stream;
        } else {
            cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
            owns_stream_ = true;
        }
        cublas_check(cublasCreate(&cublas_), "cublasCreate");
        cublas_check(cublasSetStream(cublas_, stream_), "cublasSetStream");
        set_allow_tf32(false);
    }
    executor(const executor&) = delete;
    executor& operator=(const executor&) = delete;
    ~executor() {
        if (cublas_) cublasDestroy(cublas_);
        if (owns_stream_) cudaStreamDestroy(stream_);
    }

    int device() const { return device_; }
    cudaStream_t stream() const { return stream_; }
    cublasHandle_t cublas() const { return cublas_; }

    bool allow_tf32() const { return allow_tf32_; }
    void set_allow_tf32(bool allow) {
        allow_tf32_ = allow;
        cublas_check(cublasSetMathMode(cublas_, allow ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH),
                     "cublasSetMathMode");
    }

    void synchronize() { cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

private:
    int device_ = 0;
    cudaStream_t stream_ = nullptr;
    bool owns_stream_ = false;
    cublasHandle_t cublas_ = nullptr;
    bool allow_tf32_ = false;
};

using cuda_executor = executor<cuda>;

}  // namespace vrwkv
