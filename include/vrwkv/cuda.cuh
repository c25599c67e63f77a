#pragma once
// The CUDA backend. Include from .cu files compiled by nvcc; CPU-only users
// include <vrwkv/vrwkv.hpp> and never see CUDA headers. Eigen stays out of
// this header's include tree.
#include "vrwkv/cuda/allocator.cuh"
#include "vrwkv/cuda/copy.cuh"
#include "vrwkv/cuda/error.cuh"
#include "vrwkv/cuda/executor.cuh"
