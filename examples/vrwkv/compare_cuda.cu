// vrwkv compare: the GPU forward against the CPU in float64, layer by layer.
// nvcc compiles this file; the float64 CPU run (Eigen) is behind
// run_cpu_reference (cpu_reference.hpp), compiled by the host compiler.
#include "compare_cuda.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "cpu_reference.hpp"
#include "model_cli.hpp"
#include "vrwkv/cuda.cuh"

namespace vrwkv::cli {

namespace {

const char* const compare_usage =
    "usage: vrwkv compare --checkpoint M --input IN.safetensors [--dtype float|half|bfloat16]\n"
    "                     [--tolerance X] [--mode exact|compat] [--post-norm] [--img-size N]\n";

using named_result = std::vector<std::pair<std::string, tensor<double, cpu>>>;

// Every block output ("layer<i>") and the logits of the GPU forward, as float64.
template <class T>
named_result run_gpu(const tensor_archive& checkpoint, const stored_tensor& input, const load_options& options,
                     model_config* used) {
    executor<cuda> ex;
    auto enc = encoder<T, cuda>::from_archive(ex, checkpoint, options);
    *used = enc.config();
    tensor<T, cuda> images = to_backend(ex, input.to_tensor<T>("input"));
    forward_options fo;
    std::vector<index_t> all;
    for (index_t i = 0; i < enc.config().depth; ++i) all.push_back(i);
    fo.out_indices = all;
    auto out = enc.forward(ex, images.view(), fo);
    auto widen = [&](const tensor<T, cuda>& t) {
        tensor<T, cpu> host = to_host<T>(ex, t.view());
        tensor<double, cpu> d(host.dims());
        for (index_t i = 0; i < d.numel(); ++i) d.data()[i] = convert<double>(host.data()[i]);
        return d;
    };
    named_result result;
    for (std::size_t j = 0; j < out.features.size(); ++j)
        result.emplace_back("layer" + std::to_string(out.indices[j]), widen(out.features[j]));
    if (!out.logits.empty()) result.emplace_back("logits", widen(out.logits));
    return result;
}

struct difference {
    double max_abs = 0;  // max |gpu - cpu|
    double max_rel = 0;  // max |gpu - cpu| / max |cpu|: relative to the tensor's scale
    double cosine = 0;   // <gpu, cpu> / (|gpu| |cpu|)
};

difference compare(const tensor<double, cpu>& gpu, const tensor<double, cpu>& ref, const std::string& name) {
    require(gpu.dims() == ref.dims(),
            name + ": GPU shape " + gpu.dims().str() + " differs from the CPU's " + ref.dims().str());
    difference d;
    double scale = 0, dot = 0, gg = 0, rr = 0;
    for (index_t i = 0; i < ref.numel(); ++i) {
        const double g = gpu.data()[i], r = ref.data()[i], e = std::fabs(g - r);
        if (!(e <= d.max_abs)) d.max_abs = std::isnan(e) ? INFINITY : e;
        scale = std::fmax(scale, std::fabs(r));
        dot += g * r, gg += g * g, rr += r * r;
    }
    d.max_rel = scale > 0 ? d.max_abs / scale : d.max_abs;
    d.cosine = gg > 0 && rr > 0 ? dot / std::sqrt(gg * rr) : (gg == rr ? 1.0 : 0.0);
    if (std::isnan(d.cosine)) d.cosine = 0;
    return d;
}

double default_tolerance(const std::string& dtype) {
    if (dtype == "half") return 1e-2;
    if (dtype == "bfloat16") return 5e-2;
    return 1e-4;
}

}  // namespace

int compare_cuda_main(int argc, char** argv) {
    const std::vector<std::string> rest(argv + (argc > 0 ? 1 : 0), argv + argc);
    std::string checkpoint_path, input_path, dtype;
    double tolerance = 0;
    load_options options;
    try {
        const args a(rest, {"checkpoint", "input", "dtype", "tolerance", "mode", "img-size"}, {"post-norm"});
        checkpoint_path = a.required("checkpoint");
        input_path = a.required("input");
        dtype = one_of(a.get("dtype", "float"), {"float", "half", "bfloat16"}, "--dtype");
        tolerance = a.number("tolerance", default_tolerance(dtype));
        require(tolerance >= 0, "--tolerance must not be negative");
        options = load_options_from(a);
    } catch (const error& e) {
        std::cerr << "vrwkv compare: " << e.what() << "\n" << compare_usage;
        return 2;
    }
    if (!cuda_device_available()) {
        std::cerr << "vrwkv compare: no CUDA device is available\n";
        return 2;
    }

    const tensor_archive inputs = load_safetensors(input_path);
    const stored_tensor& input = inputs.at("input");
    require(input.extents.size() == 4 && input.extents[0] >= 1,
            "input tensor 'input' has shape " + input.shape_str() + ", expected (B, 3, H, W)");
    const tensor_archive checkpoint = load_checkpoint(checkpoint_path);
    model_config used;
    named_result gpu;
    if (dtype == "half")
        gpu = run_gpu<vrwkv::half>(checkpoint, input, options, &used);
    else if (dtype == "bfloat16")
        gpu = run_gpu<bfloat16>(checkpoint, input, options, &used);
    else
        gpu = run_gpu<float>(checkpoint, input, options, &used);
    const named_result cpu_ref = run_cpu_reference(checkpoint_path, input.to_tensor<double>("input"), options);
    require(cpu_ref.size() == gpu.size(), "the CPU reference returned " + std::to_string(cpu_ref.size()) +
                                              " tensors, the GPU run " + std::to_string(gpu.size()));

    // The tolerance applies to the logits (the last block's output for a
    // backbone without a head); the other rows are diagnostics, flagged when above it.
    const std::string checked = gpu.back().first;
    std::cout << "vrwkv compare: " << describe(used) << ", input " << input.shape_str() << "\n"
              << "GPU " << dtype << " vs CPU float64; tolerance " << tolerance << " on the max abs error of "
              << checked << "\n"
              << "max rel err = max abs err / max |CPU value| of the tensor\n\n";
    std::printf("%-10s %14s %14s %12s\n", "layer", "max abs err", "max rel err", "cosine");
    bool ok = true;
    for (std::size_t i = 0; i < gpu.size(); ++i) {
        const std::string& name = gpu[i].first;
        require(cpu_ref[i].first == name, "CPU reference row '" + cpu_ref[i].first + "' where '" + name + "' was expected");
        const difference d = compare(gpu[i].second, cpu_ref[i].second, name);
        const bool above = !(d.max_abs <= tolerance);
        if (name == checked && above) ok = false;
        if (name == "logits") std::printf("\n");
        std::printf("%-10s %14.4e %14.4e %12.8f%s\n", name.c_str(), d.max_abs, d.max_rel, d.cosine,
                    above ? "  > tolerance" : "");
    }
    std::printf("\n%s: %s\n", ok ? "ok" : "FAILED", (checked + (ok ? " within " : " above ") + "the tolerance").c_str());
    return ok ? 0 : 1;
}

}  // namespace vrwkv::cli
