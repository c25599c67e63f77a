// The GPU side of the vrwkv command (nvcc; no Eigen here).
#include "gpu_entry.hpp"

#include <cuda_runtime.h>

#include "vrwkv/cuda.cuh"
#include "vrwkv/cuda/timer.cuh"

namespace vrwkv::cli {

int compare_cuda_main(int argc, char** argv);  // compare_cuda.cu

std::string gpu_unavailable_reason() {
    return cuda_device_available() ? "" : "no CUDA device is available";
}

namespace {

void require_gpu() {
    const std::string why = gpu_unavailable_reason();
    require(why.empty(), why);
}

template <class T>
tensor_archive encoder_on_gpu(const tensor_archive& checkpoint, const stored_tensor& input,
                              const gpu_run_request& req, double* ms) {
    executor<cuda> ex;
    auto enc = encoder<T, cuda>::from_archive(ex, checkpoint, req.options);
    tensor<T, cuda> images = to_backend(ex, input.to_tensor<T>("input"));
    forward_options fo;
    std::vector<index_t> indices;
    for (index_t i = req.all_layers ? 0 : enc.config().depth - 1; i < enc.config().depth; ++i) indices.push_back(i);
    fo.out_indices = indices;
    enc.forward(ex, images.view(), fo);  // warm-up: first-call allocations and caches
    encoder_output<T, cuda> out;
    *ms = stream_timer().milliseconds(ex, [&] { out = enc.forward(ex, images.view(), fo); });

    auto as_float = [&](const tensor<T, cuda>& t) {
        tensor<T, cpu> host = to_host<T>(ex, t.view());
        tensor<float, cpu> f(host.dims());
        for (index_t i = 0; i < f.numel(); ++i) f.data()[i] = convert<float>(host.data()[i]);
        return stored_tensor::from_tensor(f);
    };
    tensor_archive result;
    for (std::size_t j = 0; j < out.features.size(); ++j) {
        if (req.all_layers) result.tensors["layer" + std::to_string(out.indices[j])] = as_float(out.features[j]);
        if (out.indices[j] == enc.config().depth - 1) result.tensors["features"] = as_float(out.features[j]);
    }
    if (!out.logits.empty()) result.tensors["logits"] = as_float(out.logits);
    return result;
}

template <class T>
tensor_archive biwkv_on_gpu(const tensor_archive& cases, biwkv_mode mode, double* ms) {
    using Acc = accumulator_t<T>;
    executor<cuda> ex;
    stream_timer timer;
    tensor_archive out;
    double total = 0;
    for (const auto& [name, t] : cases.tensors) {
        if (name.size() < 3 || name.compare(name.size() - 2, 2, ".k") != 0) continue;
        const std::string p = name.substr(0, name.size() - 2);
        if (!cases.contains(p + ".w") || !cases.contains(p + ".u") || !cases.contains(p + ".v")) continue;
        auto w = to_backend(ex, cases.get<Acc>(p + ".w")), u = to_backend(ex, cases.get<Acc>(p + ".u"));
        auto k = to_backend(ex, cases.get<T>(p + ".k")), v = to_backend(ex, cases.get<T>(p + ".v"));
        tensor<T, cuda> y(k.dims());
        total += timer.milliseconds(ex, [&] { biwkv<T, cuda>(ex, w.view(), u.view(), k.view(), v.view(), y.view(), mode); });
        tensor<T, cpu> host = to_host<T>(ex, y.view());
        tensor<float, cpu> f(host.dims());
        for (index_t i = 0; i < f.numel(); ++i) f.data()[i] = convert<float>(host.data()[i]);
        out.tensors[p + ".y"] = stored_tensor::from_tensor(f);
    }
    *ms = total;
    return out;
}

}  // namespace

tensor_archive run_encoder_gpu(const tensor_archive& checkpoint, const stored_tensor& input,
                               const gpu_run_request& req, double* ms) {
    require_gpu();
    if (req.dtype == "half") return encoder_on_gpu<half>(checkpoint, input, req, ms);
    if (req.dtype == "bfloat16") return encoder_on_gpu<bfloat16>(checkpoint, input, req, ms);
    return encoder_on_gpu<float>(checkpoint, input, req, ms);
}

tensor_archive run_biwkv_gpu(const tensor_archive& cases, biwkv_mode mode, const std::string& dtype, double* ms) {
    require_gpu();
    if (dtype == "half") return biwkv_on_gpu<half>(cases, mode, ms);
    if (dtype == "bfloat16") return biwkv_on_gpu<bfloat16>(cases, mode, ms);
    if (dtype == "double") return biwkv_on_gpu<double>(cases, mode, ms);
    return biwkv_on_gpu<float>(cases, mode, ms);
}

int compare_main(int argc, char** argv) { return compare_cuda_main(argc, argv); }

}  // namespace vrwkv::cli
