#pragma once
// Lets small value types and inline math be used from both host code and CUDA
// kernels. Expands to nothing under a plain C++ compiler.
#if defined(__CUDACC__)
#define VRWKV_HOST_DEVICE __host__ __device__
#else
#define VRWKV_HOST_DEVICE
#endif
