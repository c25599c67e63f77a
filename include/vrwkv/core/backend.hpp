#pragma once
// Backend tags select the specialisation of every op and allocator at compile
// time. Runtime state (threads, streams, library handles) lives in an
// executor<Backend>, specialised next to each backend.
namespace vrwkv {

struct cpu {
    static constexpr const char* name = "cpu";
};
struct cuda {
    static constexpr const char* name = "cuda";
};

// Owns and frees element storage on a backend. Declared here, defined in
// cpu/allocator.hpp and cuda/allocator.cuh: a missing backend fails to compile.
template <class Backend> struct allocator;

// Runtime state for running ops on a backend (thread count, CUDA stream, ...).
template <class Backend> class executor;

}  // namespace vrwkv
