#pragma once
// The CUDA backend. Include from .cu files compiled by nvcc; CPU-only users
// include <vrwkv/vrwkv.hpp> and never see CUDA headers. Eigen stays out of
// this header's include tree.
//
// Every op of the encoder has its CUDA specialisation here, so
// encoder<T, cuda> (model/encoder.hpp) can be instantiated directly:
//   vrwkv::executor<vrwkv::cuda> ex;
//   auto enc = vrwkv::encoder<vrwkv::bfloat16, vrwkv::cuda>::from_archive(ex, archive);
//   auto out = enc.forward(ex, images_on_device);
#include "vrwkv/cuda/activation.cuh"
#include "vrwkv/cuda/allocator.cuh"
#include "vrwkv/cuda/attention.cuh"
#include "vrwkv/cuda/biwkv.cuh"
#include "vrwkv/cuda/copy.cuh"
#include "vrwkv/cuda/error.cuh"
#include "vrwkv/cuda/executor.cuh"
#include "vrwkv/cuda/graph.cuh"
#include "vrwkv/cuda/layer_norm.cuh"
#include "vrwkv/cuda/linear.cuh"
#include "vrwkv/cuda/patch_embed.cuh"
#include "vrwkv/cuda/pooling.cuh"
#include "vrwkv/cuda/residual.cuh"
#include "vrwkv/cuda/timer.cuh"
#include "vrwkv/cuda/token_shift.cuh"
#include "vrwkv/cuda/vrwkv6.cuh"
#include "vrwkv/io/checkpoint.hpp"
#include "vrwkv/model/configs.hpp"
#include "vrwkv/model/encoder.hpp"
#include "vrwkv/model/load.hpp"
#include "vrwkv/model/random_checkpoint.hpp"
#include "vrwkv/model/vit.hpp"
