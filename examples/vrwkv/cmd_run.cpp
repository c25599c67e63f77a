// vrwkv run: an encoder forward on a safetensors input, written as safetensors.
#include <chrono>
#include <iostream>

#include "commands.hpp"
#include "cpu_reference.hpp"
#include "gpu_entry.hpp"
#include "model_cli.hpp"
#include "vrwkv/vrwkv.hpp"

namespace vrwkv::cli {

namespace {

template <class T>
tensor_archive run_cpu(const tensor_archive& checkpoint, const stored_tensor& input, const load_options& options,
                       bool all_layers, int threads, double* milliseconds, model_config* used) {
    executor<cpu> ex(threads);
    auto enc = encoder<T, cpu>::from_archive(ex, checkpoint, options);
    *used = enc.config();
    tensor<T> images = input.to_tensor<T>("input");
    forward_options fo;
    if (all_layers) {
        std::vector<index_t> all;
        for (index_t i = 0; i < enc.config().depth; ++i) all.push_back(i);
        fo.out_indices = all;
    } else {
        fo.out_indices = std::vector<index_t>{enc.config().depth - 1};
    }
    const auto start = std::chrono::steady_clock::now();
    auto out = enc.forward(ex, images.view(), fo);
    *milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    tensor_archive result;
    for (std::size_t j = 0; j < out.features.size(); ++j) {
        const index_t i = out.indices[j];
        if (all_layers) result.tensors["layer" + std::to_string(i)] = stored_tensor::from_tensor(out.features[j]);
        if (i == enc.config().depth - 1) result.tensors["features"] = stored_tensor::from_tensor(out.features[j]);
    }
    if (!out.logits.empty()) result.tensors["logits"] = stored_tensor::from_tensor(out.logits);
    return result;
}

void require_image_batch(const stored_tensor& input) {
    require(input.extents.size() == 4 && input.extents[1] == 3 && input.extents[0] >= 1,
            "input tensor 'input' has shape " + input.shape_str() + ", expected (B, 3, H, W)");
    require(is_floating(input.type), "input tensor 'input' has dtype " + std::string(dtype_name(input.type)) +
                                         ", expected a floating-point type");
}

}  // namespace

std::vector<std::pair<std::string, tensor<double, cpu>>> run_cpu_reference(const std::string& checkpoint,
                                                                           const tensor<double, cpu>& input,
                                                                           const load_options& options) {
    executor<cpu> ex;
    auto enc = encoder<double, cpu>::from_archive(ex, load_checkpoint(checkpoint), options);
    forward_options fo;
    std::vector<index_t> all;
    for (index_t i = 0; i < enc.config().depth; ++i) all.push_back(i);
    fo.out_indices = all;
    auto out = enc.forward(ex, input.view(), fo);
    std::vector<std::pair<std::string, tensor<double, cpu>>> result;
    for (std::size_t j = 0; j < out.features.size(); ++j)
        result.emplace_back("layer" + std::to_string(out.indices[j]), std::move(out.features[j]));
    if (!out.logits.empty()) result.emplace_back("logits", std::move(out.logits));
    return result;
}

int run_command(const std::vector<std::string>& argv) {
    std::set<std::string> options = model_options;
    options.insert({"input", "output", "dtype", "device"});
    std::set<std::string> flags = model_flags;
    flags.insert("all-layers");
    const args a(argv, options, flags);
    const std::string device = one_of(a.get("device", "cpu"), {"cpu", "cuda"}, "--device");
    const std::string dtype = one_of(a.get("dtype", "float"), device == "cpu"
                                                                   ? std::vector<std::string>{"float", "double"}
                                                                   : std::vector<std::string>{"float", "half", "bfloat16"},
                                     "--dtype for device " + device);
    const std::string output = a.required("output");
    const tensor_archive checkpoint = load_checkpoint(a.required("checkpoint"));
    const tensor_archive inputs = load_safetensors(a.required("input"));
    const stored_tensor& input = inputs.at("input");
    require_image_batch(input);
    const load_options lo = load_options_from(a);

    double ms = 0;
    model_config used = infer_config(checkpoint, lo);
    tensor_archive result;
    if (device == "cuda") {
        gpu_run_request req;
        req.dtype = dtype, req.all_layers = a.flag("all-layers"), req.options = lo;
        result = run_encoder_gpu(checkpoint, input, req, &ms);
    } else if (dtype == "double") {
        result = run_cpu<double>(checkpoint, input, lo, a.flag("all-layers"), a.integer("threads", 0), &ms, &used);
    } else {
        result = run_cpu<float>(checkpoint, input, lo, a.flag("all-layers"), a.integer("threads", 0), &ms, &used);
    }
    save_safetensors(output, result);
    std::cout << "vrwkv run: " << describe(used) << " on " << device << "/" << dtype << ", input "
              << input.shape_str();
    if (result.contains("logits")) std::cout << " -> logits " << result.at("logits").shape_str();
    std::cout << ", features " << result.at("features").shape_str() << " in " << ms << " ms; wrote " << output
              << "\n";
    return 0;
}

}  // namespace vrwkv::cli
