// Linked into the vrwkv command when CUDA is not built: every GPU request
// fails with a clear message.
#include "gpu_entry.hpp"

#include <iostream>

namespace vrwkv::cli {

std::string gpu_unavailable_reason() { return "this vrwkv build has no CUDA backend (built without nvcc or with -DVRWKV_CUDA=OFF)"; }

tensor_archive run_encoder_gpu(const tensor_archive&, const stored_tensor&, const gpu_run_request&, double*) {
    throw error(gpu_unavailable_reason());
}

tensor_archive run_biwkv_gpu(const tensor_archive&, biwkv_mode, const std::string&, double*) {
    throw error(gpu_unavailable_reason());
}

int compare_main(int, char**) {
    std::cerr << "vrwkv compare: " << gpu_unavailable_reason() << "\n";
    return 2;
}

}  // namespace vrwkv::cli
