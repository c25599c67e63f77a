#pragma once
// GPU runtime state: the device, a stream every op runs on, and a cuBLAS
// handle bound to that stream. Float GEMMs keep full float precision unless
// TF32 is requested.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <string>

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
        if (words_) cudaFree(words_);
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

    // At least n device words that live as long as the executor, zero when
    // first allocated, for kernels that keep state between their launches on
    // this stream (ticket counters, epochs). Growing synchronises the stream
    // and zeroes the words again, so it is refused while the stream is being
    // captured into a graph: run the work once before capturing it.
    unsigned* persistent_words(std::size_t n) {
        if (n <= words_size_) return words_;
        cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
        cuda_check(cudaStreamIsCapturing(stream_, &capture), "cudaStreamIsCapturing");
        require(capture == cudaStreamCaptureStatusNone,
                "executor<cuda>: kernel state must grow to " + std::to_string(n) +
                    " words while the stream is being captured; run the same work once before capturing it");
        synchronize();
        const std::size_t size = std::max({n, std::size_t{1024}, 2 * words_size_});
        if (words_) cuda_check(cudaFree(words_), "cudaFree (executor words)");
        words_ = nullptr;
        words_size_ = 0;
        cuda_check(cudaMalloc(reinterpret_cast<void**>(&words_), size * sizeof(unsigned)), "cudaMalloc (executor words)");
        cuda_check(cudaMemset(words_, 0, size * sizeof(unsigned)), "cudaMemset (executor words)");
        words_size_ = size;
        return words_;
    }

private:
    int device_ = 0;
    cudaStream_t stream_ = nullptr;
    bool owns_stream_ = false;
    cublasHandle_t cublas_ = nullptr;
    bool allow_tf32_ = false;
    unsigned* words_ = nullptr;
    std::size_t words_size_ = 0;
};

using cuda_executor = executor<cuda>;

}  // namespace vrwkv
