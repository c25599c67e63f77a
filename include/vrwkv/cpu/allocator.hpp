#pragma once
// Host memory for tensor<T, cpu>: 64-byte aligned so Eigen and the compiler
// can use full-width vector loads.
#include <cstddef>
#include <new>
#include <string>
#include <type_traits>

#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/error.hpp"

namespace vrwkv {

template <>
struct allocator<cpu> {
    static constexpr std::size_t alignment = 64;

    template <class T>
    static T* allocate(std::size_t count) {
        if (count == 0) return nullptr;
        require(count <= static_cast<std::size_t>(-1) / sizeof(T), "tensor allocation size overflows");
        void* p = ::operator new(count * sizeof(T), std::align_val_t{alignment}, std::nothrow);
        require(p != nullptr, "out of host memory allocating " + std::to_string(count * sizeof(T)) + " bytes");
        return static_cast<T*>(p);
    }
    template <class T>
    static void deallocate(T* p) {
        ::operator delete(static_cast<void*>(const_cast<std::remove_const_t<T>*>(p)), std::align_val_t{alignment});
    }
};

}  // namespace vrwkv
