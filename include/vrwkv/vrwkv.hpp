#pragma once
// vrwkv: Vision-RWKV encoders as a header-only C++ library.
// This header brings in the CPU backend (Eigen + OpenMP) and compiles with a
// plain C++17 compiler. The CUDA backend is added by <vrwkv/cuda.cuh>.
#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/dtype.hpp"
#include "vrwkv/core/error.hpp"
#include "vrwkv/core/tensor.hpp"
#include "vrwkv/cpu.hpp"
#include "vrwkv/io/checkpoint.hpp"
#include "vrwkv/io/safetensors.hpp"
#include "vrwkv/model/configs.hpp"
#include "vrwkv/model/encoder.hpp"
#include "vrwkv/model/load.hpp"
