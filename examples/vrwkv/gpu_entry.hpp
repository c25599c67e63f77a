#pragma once
// The GPU side of the vrwkv command, compiled by nvcc when CUDA is available
// (gpu_entry.cu) and by a stub otherwise (gpu_stub.cpp). Eigen-free and
// CUDA-free, so both compilers can include it.
#include <string>

#include "vrwkv/io/tensor_archive.hpp"
#include "vrwkv/model/load.hpp"

namespace vrwkv::cli {

// Whether this build has the CUDA backend and a usable device ("" if yes, else why not).
std::string gpu_unavailable_reason();

struct gpu_run_request {
    std::string dtype = "float";  // float | half | bfloat16
    bool all_layers = false;
    load_options options;
};

// Encoder forward on the GPU: returns logits, features and (all_layers) layer{i}, as float32.
tensor_archive run_encoder_gpu(const tensor_archive& checkpoint, const stored_tensor& input,
                               const gpu_run_request& request, double* milliseconds);

// Bi-WKV on every case of `cases` (prefix.w/.u/.k/.v), returning prefix.y as float32.
tensor_archive run_biwkv_gpu(const tensor_archive& cases, biwkv_mode mode, const std::string& dtype,
                             double* milliseconds);

// `vrwkv compare`; returns the process exit code.
int compare_main(int argc, char** argv);

}  // namespace vrwkv::cli
