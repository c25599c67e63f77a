// Encoder throughput against resolution on the CPU: VRWKV-T/S/B and a ViT of
// the same width and depth built from the same library pieces with our
// attention (model/vit.hpp), so the comparison is like for like.
// Names: <model>/<pixels>, e.g. vrwkv_t/1024, vit_t/1024. Counters: img/s,
// tokens, peak_MiB (host memory held by tensors beyond the weights, from the
// CPU allocator's counters). Threads: --threads=N (default: all cores).
#include <benchmark/benchmark.h>

#include <cstring>
#include <iostream>
#include <random>

#include "model_support.hpp"
#include "vrwkv/model/random_checkpoint.hpp"
#include "vrwkv/cpu/attention.hpp"
#include "vrwkv/model/vit.hpp"
#include "vrwkv/vrwkv.hpp"

namespace {

int g_threads = 0;

template <class Weights>
void fill_random(Weights& w, const vrwkv::model_config& c) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> d(-0.05f, 0.05f);
    w.visit([&](vrwkv::tensor<float>& t, const std::string&, const vrwkv::shape& s) {
        t = vrwkv::tensor<float>(s);
        for (vrwkv::index_t i = 0; i < t.numel(); ++i) t.data()[i] = d(rng);
    }, c);
    w.pos_embed = vrwkv::tensor<float>(vrwkv::shape{c.train_grid() * c.train_grid(), c.embed_dims});
    for (vrwkv::index_t i = 0; i < w.pos_embed.numel(); ++i) w.pos_embed.data()[i] = d(rng);
}

template <class Encoder, class Run>
void measure(benchmark::State& state, Encoder& enc, const vrwkv::model_config& c, Run run) {
    const vrwkv::index_t size = state.range(0);
    vrwkv::tensor<float> images(vrwkv::shape{1, 3, size, size});
    for (vrwkv::index_t i = 0; i < images.numel(); ++i) images.data()[i] = static_cast<float>(i % 251) / 251.0f;
    using alloc = vrwkv::allocator<vrwkv::cpu>;
    const std::size_t before = alloc::live_bytes();
    alloc::reset_peak();
    run(enc, images);  // warm-up: workspace and caches
    for (auto _ : state) run(enc, images);
    state.counters["img/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tokens"] = static_cast<double>(vrwkv::patch_grid_for(size, size, c.patch_size).tokens());
    state.counters["peak_MiB"] = static_cast<double>(alloc::peak_bytes() - before) / (1 << 20);
}

template <class Config>
void vrwkv_forward(benchmark::State& state) {
    vrwkv::executor<vrwkv::cpu> ex(g_threads);
    const vrwkv::model_config c = vrwkv::make_config<Config>();
    auto enc = vrwkv::encoder<float, vrwkv::cpu>::from_archive(ex, vrwkv::random_checkpoint(c));
    measure(state, enc, c, [&](auto& e, const vrwkv::tensor<float>& img) {
        auto out = e.forward(ex, img.view());
        benchmark::DoNotOptimize(out.logits.data());
    });
}

template <class Config>
void vit_forward(benchmark::State& state) {
    vrwkv::executor<vrwkv::cpu> ex(g_threads);
    const vrwkv::model_config c = vrwkv::make_config<Config>();
    vrwkv::vit_weights<float, vrwkv::cpu> w;
    w.blocks.resize(static_cast<std::size_t>(c.depth));
    fill_random(w, c);
    vrwkv::vit_encoder<float, vrwkv::cpu> enc(c, std::move(w));
    measure(state, enc, c, [&](auto& e, const vrwkv::tensor<float>& img) {
        auto logits = e.forward(ex, img.view());
        benchmark::DoNotOptimize(logits.data());
    });
}

using namespace vrwkv::configs;

}  // namespace

// ViT-T has 3 heads of 64 (192 channels) like timm's vit_tiny.
BENCHMARK(vrwkv_forward<vrwkv_t>)->Name("vrwkv_t")->Arg(224)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(vit_forward<vrwkv_t>)->Name("vit_t")->Arg(224)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(vrwkv_forward<vrwkv_s>)->Name("vrwkv_s")->Arg(224)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(vit_forward<vrwkv_s>)->Name("vit_s")->Arg(224)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(vrwkv_forward<vrwkv_b>)->Name("vrwkv_b")->Arg(224)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(vit_forward<vrwkv_b>)->Name("vit_b")->Arg(224)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) { return vrwkv::bench::run_benchmarks(argc, argv, g_threads); }
