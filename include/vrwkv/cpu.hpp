#pragma once
// Every CPU backend specialisation (Eigen + OpenMP).
#include "vrwkv/cpu/activation.hpp"
#include "vrwkv/cpu/allocator.hpp"
#include "vrwkv/cpu/biwkv.hpp"
#include "vrwkv/cpu/copy.hpp"
#include "vrwkv/cpu/executor.hpp"
#include "vrwkv/cpu/layer_norm.hpp"
#include "vrwkv/cpu/linear.hpp"
#include "vrwkv/cpu/patch_embed.hpp"
#include "vrwkv/cpu/pooling.hpp"
#include "vrwkv/cpu/residual.hpp"
#include "vrwkv/cpu/token_shift.hpp"
#include "vrwkv/cpu/vrwkv6.hpp"
