#pragma once
// Device memory for tensor<T, cuda>.
#include <cstddef>
#include <string>

#include "vrwkv/core/backend.hpp"
#include "vrwkv/cuda/error.cuh"

namespace vrwkv {

template <>
struct allocator<cuda> {
    template <class T>
    static T* allocate(std::size_t count) {
        if (count == 0) return nullptr;
        void* p = nullptr;
        cuda_check(cudaMalloc(&p, count * sizeof(T)),
                   ("cudaMalloc of " + std::to_string(count * sizeof(T)) + " bytes").c_str());
        return static_cast<T*>(p);
    }
    template <class T>
    static void deallocate(T* p) {
        cudaFree(const_cast<void*>(static_cast<const void*>(p)));  // never throws from destructors
    }
};

}  // namespace vrwkv
