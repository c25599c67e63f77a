#pragma once
// GPU runtime state: the device, a stream every op runs on, and a cuBLAS
// handle bound to that stream. Float GEMMs keep full float precision unless
// TF32 is requested.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

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
        for (void* p : retired_) cudaFree(p);
        if (words_) cudaFree(words_);
        if (scratch_) cudaFree(scratch_);
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
    // this stream (draw counters, epochs). Growing moves to new, zeroed
    // words, so it is refused while the stream is being captured into a
    // graph: run the work once before capturing it.
    unsigned* persistent_words(std::size_t n) {
        if (n <= words_size_) return words_;
        const std::size_t size = std::max({n, std::size_t{1024}, 2 * words_size_});
        words_ = static_cast<unsigned*>(grow(words_, size * sizeof(unsigned), "kernel state words"));
        words_size_ = size;
        cuda_check(cudaMemsetAsync(words_, 0, size * sizeof(unsigned), stream_), "cudaMemsetAsync (executor words)");
        return words_;
    }

    // At least `bytes` bytes of device scratch that live as long as the
    // executor, for what the blocks of one launch pass each other (Bi-WKV
    // tile sums): an allocation per launch measured 1-1.5% of the fused
    // Bi-WKV kernel's time at T = 16384 and 65536 on an H100. Like
    // persistent_words, growing is refused while capturing.
    void* persistent_scratch(std::size_t bytes) {
        if (bytes <= scratch_size_) return scratch_;
        const std::size_t size = std::max({bytes, std::size_t{1} << 16, 2 * scratch_size_});
        scratch_ = grow(scratch_, size, "scratch");
        scratch_size_ = size;
        return scratch_;
    }

private:
    int device_ = 0;
    cudaStream_t stream_ = nullptr;
    bool owns_stream_ = false;
    cublasHandle_t cublas_ = nullptr;
    bool allow_tf32_ = false;
    // A bigger buffer in place of `old`, which stays allocated until the
    // executor goes: a graph captured earlier may still use it.
    void* grow(void* old, std::size_t bytes, const char* what) {
        cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
        cuda_check(cudaStreamIsCapturing(stream_, &capture), "cudaStreamIsCapturing");
        require(capture == cudaStreamCaptureStatusNone,
                std::string("executor<cuda>: ") + what + " must grow to " + std::to_string(bytes) +
                    " bytes while the stream is being captured; run the same work once before capturing it");
        void* p = nullptr;
        cuda_check(cudaMalloc(&p, bytes), "cudaMalloc (executor state)");
        if (old) retired_.push_back(old);
        return p;
    }

    unsigned* words_ = nullptr;
    std::size_t words_size_ = 0;
    void* scratch_ = nullptr;
    std::size_t scratch_size_ = 0;
    std::vector<void*> retired_;  // outgrown buffers
};

using cuda_executor = executor<cuda>;

}  // namespace vrwkv
