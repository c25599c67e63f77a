#pragma once
// The CPU float64 run that `vrwkv compare` checks the GPU against. Declared
// here without Eigen so nvcc-compiled code can call it.
#include <string>
#include <utility>
#include <vector>

#include "vrwkv/core/tensor.hpp"
#include "vrwkv/cpu/allocator.hpp"
#include "vrwkv/model/load.hpp"

namespace vrwkv::cli {

// ("layer0".."layer{d-1}", then "logits" when the model has a head), float64.
std::vector<std::pair<std::string, tensor<double, cpu>>> run_cpu_reference(const std::string& checkpoint,
                                                                           const tensor<double, cpu>& input,
                                                                           const load_options& options);

}  // namespace vrwkv::cli
