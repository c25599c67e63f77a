// vrwkv demo: the library at work on a bundled image, with no download.
// A VRWKV-T encoder (the given checkpoint, else seeded random weights) runs on
// the image at 224 and at a high resolution, on the CPU and, when present,
// the GPU; then Bi-WKV is timed against attention as the token count grows.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "gpu_entry.hpp"
#include "model_cli.hpp"
#include "vrwkv/cpu/attention.hpp"
#include "vrwkv/io/image.hpp"
#include "vrwkv/model/random_checkpoint.hpp"
#include "vrwkv/vrwkv.hpp"

namespace vrwkv::cli {

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

void step(int n, int total, const std::string& what) {
    std::cout << "[" << n << "/" << total << "] " << what << " ..." << std::endl;  // flush: progress is visible
}

double max_abs_diff(const stored_tensor& a, const stored_tensor& b) {
    require(a.numel() == b.numel(), "CPU and GPU outputs differ in size");
    double m = 0;
    for (index_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.element(i) - b.element(i)));
    return m;
}

// Median of `reps` timed calls after one warm-up, in milliseconds.
template <class F>
double time_ms(F&& f, int reps) {
    f();
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        const auto s = clock_type::now();
        f();
        t.push_back(ms_since(s));
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

void biwkv_vs_attention_table(int threads, index_t max_tokens) {
    executor<cpu> ex(threads);
    const index_t C = 192;  // VRWKV-T / ViT-T width (3 heads of 64)
    std::cout << "  tokens    image     Bi-WKV (ms)   attention (ms)   attention / Bi-WKV\n";
    for (const index_t grid : {14, 32, 64, 128, 256}) {  // 224 px to 4096 px at patch 16
        const index_t T = grid * grid, side = grid * 16;
        if (T > max_tokens) break;
        tensor<float> q(shape{1, T, C}), k(shape{1, T, C}), v(shape{1, T, C}), y(shape{1, T, C});
        tensor<float> w(shape{C}), u(shape{C});
        for (index_t i = 0; i < q.numel(); ++i) {
            q.data()[i] = std::sin(0.37f * static_cast<float>(i));
            k.data()[i] = std::cos(0.11f * static_cast<float>(i));
            v.data()[i] = std::sin(0.05f * static_cast<float>(i));
        }
        for (index_t c = 0; c < C; ++c) w.data()[c] = 1.0f / static_cast<float>(T), u.data()[c] = 0.5f;
        const int reps = T > 4096 ? 1 : 3;
        const double wkv = time_ms([&] { biwkv<float, cpu>(ex, w.view(), u.view(), k.view(), v.view(), y.view()); }, reps);
        const double att = time_ms([&] { attention<float, cpu>(ex, q.view(), k.view(), v.view(), y.view()); }, reps);
        std::cout << "  " << std::setw(6) << T << "   " << std::setw(5) << side << "px   " << std::setw(11)
                  << std::fixed << std::setprecision(3) << wkv << "   " << std::setw(14) << att << "   " << std::setw(12)
                  << std::setprecision(1) << att / wkv << "x" << std::defaultfloat << std::endl;
    }
}

}  // namespace

int demo_command(const std::vector<std::string>& argv) {
    const args a(argv, {"checkpoint", "image", "size", "threads", "max-tokens"}, {"post-norm"});
    const int threads = a.integer("threads", 0);
    const index_t high = a.integer("size", 1024);
    require(high >= 16, "--size must be at least 16");
    const std::string image_path = a.get("image", VRWKV_DEMO_IMAGE);
    const int total = 5;
    std::cout << "vrwkv demo: Vision-RWKV in C++ (Bi-WKV is O(T), attention O(T^2))\n";

    step(1, total, "loading the model");
    tensor_archive checkpoint;
    if (a.has("checkpoint")) {
        checkpoint = load_checkpoint(a.get("checkpoint", ""));
        std::cout << "  checkpoint " << a.get("checkpoint", "") << "\n";
    } else {
        checkpoint = random_checkpoint(make_config<configs::vrwkv_t>(), 0);
        std::cout << "  no --checkpoint given: VRWKV-T with seeded random weights (predictions are meaningless;\n"
                     "  pass --checkpoint vrwkv_t_in1k_224.pth for real ones)\n";
    }
    load_options lo;
    if (a.flag("post-norm")) lo.post_norm = true;
    executor<cpu> ex(threads);
    auto enc = encoder<float, cpu>::from_archive(ex, checkpoint, lo);
    std::cout << "  " << describe(enc.config()) << ", " << parameter_count(checkpoint) << " parameters, "
              << ex.threads() << " CPU thread(s)\n";

    step(2, total, "decoding and preprocessing " + image_path + " (Pillow-exact bicubic, center crop 224)");
    auto t0 = clock_type::now();
    const image_u8 img = load_image(image_path);
    tensor<float> x224 = preprocess(img);
    tensor<float> x224b(shape{1, 3, 224, 224});
    std::copy(x224.data(), x224.data() + x224.numel(), x224b.data());
    std::cout << "  " << img.width << "x" << img.height << " RGB -> " << x224b.dims().str() << " in " << ms_since(t0)
              << " ms\n";

    step(3, total, "CPU forward at 224 and at " + std::to_string(high) + "x" + std::to_string(high));
    enc.forward(ex, x224b.view());  // warm-up
    t0 = clock_type::now();
    auto out224 = enc.forward(ex, x224b.view());
    const double cpu224 = ms_since(t0);
    const float* row = out224.logits.data();
    const index_t best = std::max_element(row, row + out224.logits.numel()) - row;
    std::cout << "  224:  " << std::setprecision(4) << cpu224 << " ms, logits " << out224.logits.dims().str()
              << ", top class " << best << ", features " << out224.features.back().dims().str() << std::endl;
    tensor<float> xhigh = preprocess_resized(img, static_cast<int>(high), static_cast<int>(high));
    tensor<float> xhighb(shape{1, 3, high, high});
    std::copy(xhigh.data(), xhigh.data() + xhigh.numel(), xhighb.data());
    t0 = clock_type::now();
    auto outhigh = enc.forward(ex, xhighb.view());
    std::cout << "  " << high << ": " << ms_since(t0) << " ms for " << outhigh.grid.tokens() << " tokens, features "
              << outhigh.features.back().dims().str() << std::endl;

    step(4, total, "GPU forward and CPU-vs-GPU agreement");
    const std::string why = gpu_unavailable_reason();
    if (!why.empty()) {
        std::cout << "  skipped: " << why << "\n";
    } else {
        for (const tensor<float>* input : {&x224b, &xhighb}) {
            gpu_run_request req;
            req.options = lo;
            double gpu_ms = 0;
            const stored_tensor in = stored_tensor::from_tensor(*input);
            const tensor_archive g = run_encoder_gpu(checkpoint, in, req, &gpu_ms);
            auto cpu_out = enc.forward(ex, input->view());
            std::cout << "  " << input->size(2) << ": GPU float " << gpu_ms << " ms; max |CPU - GPU| logits "
                      << max_abs_diff(stored_tensor::from_tensor(cpu_out.logits), g.at("logits")) << ", features "
                      << max_abs_diff(stored_tensor::from_tensor(cpu_out.features.back()), g.at("features"))
                      << std::endl;
        }
    }

    step(5, total, "Bi-WKV vs attention on the CPU as the token count grows (C = 192, batch 1)");
    biwkv_vs_attention_table(threads, a.integer("max-tokens", 4096 * 4));
    std::cout << "vrwkv demo: done\n";
    return 0;
}

}  // namespace vrwkv::cli
