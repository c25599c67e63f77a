#pragma once
// Programmatic dependent launch (compute capability 9.0 and up). A kernel
// launched with it overlaps its launch with the end of the kernel before it
// in the stream; each of its blocks first waits (wait_for_previous_grid)
// until that kernel has completed and its writes are visible, so the
// stream's order holds. What it saves is part of the gap between
// back-to-back kernels. (The kernels do not signal
// griddepcontrol.launch_dependents early: for Bi-WKV that measured no
// faster, 28.0 against 27.8 us at (1, 16384, 192) on an H100.)
//
// A kernel launched this way must call wait_for_previous_grid before it
// touches global memory: its inputs, and state a previous launch left.
#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "vrwkv/cuda/device_attributes.cuh"
#include "vrwkv/cuda/error.cuh"
#include "vrwkv/cuda/executor.cuh"

namespace vrwkv {
namespace cuda_detail {

__device__ __forceinline__ void wait_for_previous_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Whether `kernel` was compiled with the wait (PTX for 9.0 or later) and
// runs on a device that honours the launch attribute: a kernel JIT-compiled
// from older PTX has no wait, so it must not be launched early. Asked once
// per kernel and device (devices 0-63; others every time).
struct dependent_launch_cache {
    std::atomic<std::uint64_t> asked{0}, usable{0};
};

template <class Kernel>
bool dependent_launch_usable(Kernel kernel, int device, dependent_launch_cache& cache) {
    const std::uint64_t bit = device >= 0 && device < 64 ? std::uint64_t{1} << device : 0;
    if (bit && (cache.asked.load(std::memory_order_acquire) & bit))
        return (cache.usable.load(std::memory_order_relaxed) & bit) != 0;
    const int major = device_attribute<cudaDevAttrComputeCapabilityMajor>(device);
    cudaFuncAttributes attributes{};
    cuda_check(cudaFuncGetAttributes(&attributes, kernel), "cudaFuncGetAttributes");
    const bool usable = major >= 9 && attributes.ptxVersion >= 90;
    if (bit) {
        if (usable) cache.usable.fetch_or(bit, std::memory_order_relaxed);
        cache.asked.fetch_or(bit, std::memory_order_release);
    }
    return usable;
}

// Launches Kernel<<<grid, block, smem, ex.stream()>>>(args...), as a
// dependent launch where dependent_launch_usable allows it, and as a
// cooperative launch (every block resident at once, or the launch fails)
// when `cooperative`; launch errors throw vrwkv::error naming `name`.
template <auto Kernel, class... Args>
void launch_kernel(const executor<cuda>& ex, dim3 grid, dim3 block, std::size_t smem, const char* name,
                   bool cooperative, Args&&... args) {
    static dependent_launch_cache cache;
    cudaLaunchConfig_t config{};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = smem;
    config.stream = ex.stream();
    cudaLaunchAttribute attributes[2]{};
    unsigned count = 0;
    if (dependent_launch_usable(Kernel, ex.device(), cache)) {
        attributes[count].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        attributes[count++].val.programmaticStreamSerializationAllowed = 1;
    }
    if (cooperative) {
        attributes[count].id = cudaLaunchAttributeCooperative;
        attributes[count++].val.cooperative = 1;
    }
    config.attrs = attributes;
    config.numAttrs = count;
    cuda_check(cudaLaunchKernelEx(&config, Kernel, std::forward<Args>(args)...), name);
}

template <auto Kernel, class... Args>
void launch_dependent(const executor<cuda>& ex, dim3 grid, dim3 block, std::size_t smem, const char* name,
                      Args&&... args) {
    launch_kernel<Kernel>(ex, grid, block, smem, name, false, std::forward<Args>(args)...);
}

}  // namespace cuda_detail
}  // namespace vrwkv
