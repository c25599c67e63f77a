#pragma once
// Times work enqueued on an executor's stream with CUDA events.
#include "vrwkv/cuda/executor.cuh"

namespace vrwkv {

class stream_timer {
public:
    stream_timer() {
        cuda_check(cudaEventCreate(&start_), "cudaEventCreate");
        cuda_check(cudaEventCreate(&stop_), "cudaEventCreate");
    }
    stream_timer(const stream_timer&) = delete;
    stream_timer& operator=(const stream_timer&) = delete;
    ~stream_timer() {
        cudaEventDestroy(start_);
        cudaEventDestroy(stop_);
    }

    // Milliseconds the GPU spent on what `work` enqueues on ex's stream.
    template <class F>
    float milliseconds(executor<cuda>& ex, F&& work) {
        cuda_check(cudaEventRecord(start_, ex.stream()), "cudaEventRecord");
        work();
        cuda_check(cudaEventRecord(stop_, ex.stream()), "cudaEventRecord");
        cuda_check(cudaEventSynchronize(stop_), "cudaEventSynchronize");
        float ms = 0;
        cuda_check(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
        return ms;
    }

private:
    cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace vrwkv
