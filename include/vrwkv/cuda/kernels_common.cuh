#pragma once
// Helpers shared by the CUDA op kernels: 16-bit storage read and written as
// float (vrwkv::half / bfloat16 are bit-compatible with __half /
// __nv_bfloat16), 16-byte packets of elements, launch sizes and the
// element-type tags cuBLAS wants.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "vrwkv/core/dtype.hpp"
#include "vrwkv/core/half.hpp"
#include "vrwkv/core/shape.hpp"
#include "vrwkv/cuda/dependent_launch.cuh"
#include "vrwkv/cuda/device_attributes.cuh"
#include "vrwkv/cuda/error.cuh"
#include "vrwkv/cuda/executor.cuh"

namespace vrwkv::cuda_kernels {

// Every kernel here is launched with launch_dependent and waits first.
using cuda_detail::launch_dependent;
using cuda_detail::wait_for_previous_grid;

// ------------------------------------------------------------ element access

__device__ __forceinline__ float to_acc(half h) { return __half2float(__ushort_as_half(h.bits)); }
__device__ __forceinline__ float to_acc(bfloat16 h) { return __bfloat162float(__ushort_as_bfloat16(h.bits)); }
__device__ __forceinline__ float to_acc(float x) { return x; }
__device__ __forceinline__ double to_acc(double x) { return x; }

// Rounds an accumulator value to the storage type (nearest even, as the CPU).
template <class T> __device__ __forceinline__ T from_acc(accumulator_t<T> x);
template <> __device__ __forceinline__ float from_acc<float>(float x) { return x; }
template <> __device__ __forceinline__ double from_acc<double>(double x) { return x; }
template <> __device__ __forceinline__ half from_acc<half>(float x) {
    half h;
    h.bits = __half_as_ushort(__float2half_rn(x));
    return h;
}
template <> __device__ __forceinline__ bfloat16 from_acc<bfloat16>(float x) {
    bfloat16 h;
    h.bits = __bfloat16_as_ushort(__float2bfloat16_rn(x));
    return h;
}

// An unsigned integer of T's size, for kernels that only move elements
// (shared arrays of vrwkv::half would need its constructor).
template <std::size_t Bytes> struct raw_bits_of;
template <> struct raw_bits_of<2> { using type = std::uint16_t; };
template <> struct raw_bits_of<4> { using type = std::uint32_t; };
template <> struct raw_bits_of<8> { using type = std::uint64_t; };
template <class T> using raw_bits_t = typename raw_bits_of<sizeof(T)>::type;

// N consecutive elements moved as one access (16 bytes when N = packet_size).
template <class T> inline constexpr int packet_size = static_cast<int>(16 / sizeof(T));

template <class T, int N>
struct alignas(sizeof(T) * N) packet {
    T v[N];
};

template <int N, class T>
__device__ __forceinline__ packet<T, N> load_packet(const T* p) {
    packet<T, N> r;
    if constexpr (sizeof(T) * N == 16) {
        const uint4 u = *reinterpret_cast<const uint4*>(p);
        std::memcpy(&r, &u, 16);
    } else if constexpr (sizeof(T) * N == 8) {
        const uint2 u = *reinterpret_cast<const uint2*>(p);
        std::memcpy(&r, &u, 8);
    } else {
#pragma unroll
        for (int i = 0; i < N; ++i) r.v[i] = p[i];
    }
    return r;
}

template <int N, class T>
__device__ __forceinline__ void store_packet(T* p, const packet<T, N>& r) {
    if constexpr (sizeof(T) * N == 16) {
        uint4 u;
        std::memcpy(&u, &r, 16);
        *reinterpret_cast<uint4*>(p) = u;
    } else if constexpr (sizeof(T) * N == 8) {
        uint2 u;
        std::memcpy(&u, &r, 8);
        *reinterpret_cast<uint2*>(p) = u;
    } else {
#pragma unroll
        for (int i = 0; i < N; ++i) p[i] = r.v[i];
    }
}

// Widens a packet to the accumulator type.
template <int N, class T>
__device__ __forceinline__ void load_acc(const T* p, accumulator_t<T> (&out)[N]) {
    const packet<T, N> r = load_packet<N>(p);
#pragma unroll
    for (int i = 0; i < N; ++i) out[i] = to_acc(r.v[i]);
}

template <int N, class T>
__device__ __forceinline__ void store_acc(T* p, const accumulator_t<T> (&in)[N]) {
    packet<T, N> r;
#pragma unroll
    for (int i = 0; i < N; ++i) r.v[i] = from_acc<T>(in[i]);
    store_packet<N>(p, r);
}

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}
__device__ __forceinline__ double warp_sum(double x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every
// thread gets the total. `scratch` holds 32 values in shared memory.
template <class Acc>
__device__ __forceinline__ Acc block_sum(Acc x, Acc* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    x = warp_sum(x);
    __syncthreads();  // scratch may still be read from a previous call
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    x = lane < warps ? scratch[lane] : Acc(0);
    return warp_sum(x);
}

// ------------------------------------------------------------------ host side

inline bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// Whether every pointer is 16-byte aligned (nullptr counts as aligned).
template <class... P>
bool all_aligned16(const P*... ps) {
    return (aligned16(ps) && ...);
}

inline constexpr int default_threads = 256;

// Multiprocessors of a device (asked once: launches are host-bound at small sizes).
inline int multiprocessors(int device) {
    return cuda_detail::device_attribute<cudaDevAttrMultiProcessorCount>(device);
}

// Blocks for a grid-stride loop over `items`: enough to fill the device a few
// times over, never more than the work or the grid limit.
inline unsigned grid_for(const executor<cuda>& ex, index_t items, int threads = default_threads) {
    const int sms = multiprocessors(ex.device());
    const index_t wanted = (items + threads - 1) / threads;
    const index_t cap = static_cast<index_t>(std::max(sms, 1)) * 16;
    return static_cast<unsigned>(std::max<index_t>(1, std::min(wanted, cap)));
}

// Calls f(std::uint32_t{}) when every index below `n` fits in 32 bits (cheap
// division and multiplication in kernels), else f(index_t{}).
template <class F>
void with_index_type(index_t n, F&& f) {
    if (n < static_cast<index_t>(UINT32_MAX))
        f(std::uint32_t{});
    else
        f(index_t{});
}

template <class T> struct cublas_type;
template <> struct cublas_type<float> { static constexpr cudaDataType_t value = CUDA_R_32F; };
template <> struct cublas_type<double> { static constexpr cudaDataType_t value = CUDA_R_64F; };
template <> struct cublas_type<half> { static constexpr cudaDataType_t value = CUDA_R_16F; };
template <> struct cublas_type<bfloat16> { static constexpr cudaDataType_t value = CUDA_R_16BF; };

}  // namespace vrwkv::cuda_kernels
