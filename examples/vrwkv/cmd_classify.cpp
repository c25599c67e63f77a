// vrwkv classify: images in, top-k classes out, preprocessed exactly as the
// published evaluation pipeline (Pillow bicubic, center crop, normalisation).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numeric>

#include "commands.hpp"
#include "gpu_entry.hpp"
#include "model_cli.hpp"
#include "vrwkv/io/image.hpp"
#include "vrwkv/vrwkv.hpp"

namespace vrwkv::cli {

namespace {

std::vector<std::string> read_labels(const std::string& path) {
    std::ifstream in(path);
    require(static_cast<bool>(in), "cannot open labels file '" + path + "'");
    std::vector<std::string> labels;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        labels.push_back(line);
    }
    return labels;
}

}  // namespace

int classify_command(const std::vector<std::string>& argv) {
    std::set<std::string> options = model_options;
    options.insert({"image", "topk", "labels", "device", "output", "crop", "short-side"});
    const args a(argv, options, model_flags);
    std::vector<std::string> images = a.all("image");
    images.insert(images.end(), a.positional().begin(), a.positional().end());
    require(!images.empty(), "no image given (use --image FILE, repeatable)");
    const std::string device = one_of(a.get("device", "cpu"), {"cpu", "cuda"}, "--device");
    const int topk = a.integer("topk", 5);
    require(topk >= 1, "--topk must be at least 1");
    preprocess_params pp;
    pp.crop_size = a.integer("crop", pp.crop_size);
    pp.short_side = a.integer("short-side", pp.short_side);

    const auto start = std::chrono::steady_clock::now();
    tensor<float> batch(shape{static_cast<index_t>(images.size()), 3, pp.crop_size, pp.crop_size});
    for (std::size_t i = 0; i < images.size(); ++i) {
        const image_u8 img = load_image(images[i]);
        preprocess_into(img, batch.view().slice(static_cast<index_t>(i), static_cast<index_t>(i) + 1).reshape(shape{3, pp.crop_size, pp.crop_size}), pp);
    }
    const tensor_archive checkpoint = load_checkpoint(a.required("checkpoint"));
    const load_options lo = load_options_from(a);
    const model_config config = infer_config(checkpoint, lo);
    require(config.head != head_kind::none, "the checkpoint has no classifier head (no head.fc.* tensors)");

    tensor<float> logits;
    if (device == "cuda") {
        gpu_run_request req;
        req.options = lo;
        double ms = 0;
        logits = run_encoder_gpu(checkpoint, stored_tensor::from_tensor(batch), req, &ms).get<float>("logits");
    } else {
        executor<cpu> ex(a.integer("threads", 0));
        auto enc = encoder<float, cpu>::from_archive(ex, checkpoint, lo);
        forward_options fo;
        fo.out_indices = std::vector<index_t>{};
        logits = std::move(enc.forward(ex, batch.view(), fo).logits);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const std::vector<std::string> labels = a.has("labels") ? read_labels(a.get("labels", "")) : std::vector<std::string>{};
    const index_t classes = logits.size(1);
    for (std::size_t i = 0; i < images.size(); ++i) {
        const float* row = logits.data() + static_cast<index_t>(i) * classes;
        const float top = *std::max_element(row, row + classes);
        double sum = 0;
        for (index_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(row[c] - top));
        std::vector<index_t> order(static_cast<std::size_t>(classes));
        std::iota(order.begin(), order.end(), 0);
        const auto k = std::min<std::size_t>(static_cast<std::size_t>(topk), order.size());
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                          [row](index_t x, index_t y) { return row[x] > row[y]; });
        std::cout << images[i] << ":\n";
        for (std::size_t j = 0; j < k; ++j) {
            const index_t c = order[j];
            std::cout << "  " << j + 1 << ". class " << std::setw(4) << c;
            if (static_cast<std::size_t>(c) < labels.size()) std::cout << "  " << labels[static_cast<std::size_t>(c)];
            std::cout << "  p=" << std::fixed << std::setprecision(4) << std::exp(static_cast<double>(row[c] - top)) / sum
                      << std::defaultfloat << "\n";
        }
    }
    if (a.has("output")) {
        tensor_archive out;
        out.tensors["logits"] = stored_tensor::from_tensor(logits);
        save_safetensors(a.get("output", ""), out);
    }
    std::cout << "vrwkv classify: " << images.size() << " image(s), " << describe(config) << " on " << device
              << ", " << std::setprecision(3) << seconds << " s" << (a.has("output") ? "; wrote " + a.get("output", "") : "")
              << "\n";
    return 0;
}

}  // namespace vrwkv::cli
