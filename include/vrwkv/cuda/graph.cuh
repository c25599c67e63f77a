#pragma once
// CUDA graphs for fixed shapes: the few hundred launches of a forward pass
// become one graph launch, which removes the host's launch cost from small
// batches.
//   stream_graph: captures whatever a callable enqueues on the executor's
//                 stream, then replays it.
//   captured_forward: an encoder forward for one input buffer and shape.
#include <cuda_runtime.h>

#include <utility>

#include "vrwkv/cuda/error.cuh"
#include "vrwkv/cuda/executor.cuh"
#include "vrwkv/model/encoder.hpp"

namespace vrwkv {

class stream_graph {
public:
    stream_graph() = default;  // empty: launch() throws
    // The callable must only enqueue work on ex.stream() (no synchronisation:
    // that is illegal while capturing). Allocations are allowed (relaxed mode).
    template <class F>
    stream_graph(executor<cuda>& ex, F&& enqueue) {
        cuda_check(cudaStreamBeginCapture(ex.stream(), cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
        cudaGraph_t graph = nullptr;
        try {
            std::forward<F>(enqueue)();
        } catch (...) {
            cudaStreamEndCapture(ex.stream(), &graph);  // leaves the stream usable
            if (graph) cudaGraphDestroy(graph);
            throw;
        }
        cuda_check(cudaStreamEndCapture(ex.stream(), &graph), "cudaStreamEndCapture");
        const cudaError_t made = cudaGraphInstantiate(&exec_, graph, 0);
        cudaGraphDestroy(graph);
        cuda_check(made, "cudaGraphInstantiate");
    }
    stream_graph(const stream_graph&) = delete;
    stream_graph& operator=(const stream_graph&) = delete;
    stream_graph(stream_graph&& o) noexcept : exec_(std::exchange(o.exec_, nullptr)) {}
    stream_graph& operator=(stream_graph&& o) noexcept {
        if (this != &o) {
            if (exec_) cudaGraphExecDestroy(exec_);
            exec_ = std::exchange(o.exec_, nullptr);
        }
        return *this;
    }
    ~stream_graph() {
        if (exec_) cudaGraphExecDestroy(exec_);
    }

    void launch(executor<cuda>& ex) {
        require(exec_ != nullptr, "stream_graph: nothing was captured");
        cuda_check(cudaGraphLaunch(exec_, ex.stream()), "cudaGraphLaunch");
    }

private:
    cudaGraphExec_t exec_ = nullptr;
};

// One encoder forward captured for a fixed input buffer and shape. The first
// (eager) call fills the encoder's per-shape caches, workspace and output
// tensors, so the captured call allocates nothing; every run() rewrites the
// same output tensors. Valid
// while `images` stays alive and unchanged in shape and the encoder runs no
// larger input in between (its workspace would move).
template <class T>
class captured_forward {
public:
    captured_forward(executor<cuda>& ex, encoder<T, cuda>& enc, tensor_view<const T, cuda> images,
                     const forward_options& options = {}) {
        enc.forward(ex, images, options, out_);
        ex.synchronize();
        graph_ = stream_graph(ex, [&] { enc.forward(ex, images, options, out_); });
    }

    // Enqueues the forward; out() holds its result once the stream gets there.
    const encoder_output<T, cuda>& run(executor<cuda>& ex) {
        graph_.launch(ex);
        return out_;
    }
    const encoder_output<T, cuda>& out() const { return out_; }

private:
    encoder_output<T, cuda> out_;
    stream_graph graph_;
};

}  // namespace vrwkv
