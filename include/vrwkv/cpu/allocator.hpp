#pragma once
// Host memory for tensor<T, cpu>: 64-byte aligned so Eigen and the compiler
// can use full-width vector loads. Counts live and peak bytes, so benchmarks
// and users can see what a forward pass needs.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
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
        require(count <= (static_cast<std::size_t>(-1) - alignment) / sizeof(T), "tensor allocation size overflows");
        const std::size_t bytes = count * sizeof(T);
        // The block's size lives in a header one alignment unit before the data.
        auto* base = static_cast<unsigned char*>(::operator new(bytes + alignment, std::align_val_t{alignment}, std::nothrow));
        require(base != nullptr, "out of host memory allocating " + std::to_string(bytes) + " bytes");
        std::memcpy(base, &bytes, sizeof bytes);
        const std::size_t live = stats().live.fetch_add(bytes) + bytes;
        std::size_t peak = stats().peak.load();
        while (live > peak && !stats().peak.compare_exchange_weak(peak, live)) {}
        return reinterpret_cast<T*>(base + alignment);
    }
    template <class T>
    static void deallocate(T* p) {
        if (!p) return;
        auto* base = reinterpret_cast<unsigned char*>(const_cast<std::remove_const_t<T>*>(p)) - alignment;
        std::size_t bytes;
        std::memcpy(&bytes, base, sizeof bytes);
        stats().live.fetch_sub(bytes);
        ::operator delete(static_cast<void*>(base), std::align_val_t{alignment});
    }

    // Bytes held by CPU tensors now, and the most held since the last reset_peak().
    static std::size_t live_bytes() { return stats().live.load(); }
    static std::size_t peak_bytes() { return stats().peak.load(); }
    static void reset_peak() { stats().peak.store(stats().live.load()); }

private:
    struct counters {
        std::atomic<std::size_t> live{0}, peak{0};
    };
    static counters& stats() {
        static counters c;
        return c;
    }
};

}  // namespace vrwkv
