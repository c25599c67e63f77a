#pragma once
// `vrwkv compare`: the GPU forward (float, half or bfloat16) against the CPU
// in float64, layer by layer. Compiled by nvcc (compare_cuda.cu); the CPU
// side comes from cpu_reference.hpp so Eigen stays out of nvcc.
namespace vrwkv::cli {

// argv[0] is the command name ("compare"), then
//   --checkpoint M --input IN.safetensors [--dtype float|half|bfloat16]
//   [--tolerance X] [--mode exact|compat] [--post-norm] [--img-size N]
// Prints a table (layer, max abs error, max rel error, cosine similarity)
// and the logits row; returns 0 when within the tolerance, 1 above it,
// 2 on bad usage.
int compare_cuda_main(int argc, char** argv);

}  // namespace vrwkv::cli
