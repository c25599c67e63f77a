// CPU encoder throughput against one Eigen GEMM of the encoder's typical shape,
// measured in the same run:
//   gemm_196x192x768:   (196 x 192) x (192 x 768), the FFN key projection at 224
//   vrwkv_t_224:        VRWKV-T forward, batch 1, float
// Counter GFLOPs counts 2*M*N*K for the linear layers only, so the ratio of the
// two GFLOPs counters is the encoder's efficiency relative to raw GEMM.
// Threads: --threads=N (default 2), stripped before Google Benchmark parses.
#include <benchmark/benchmark.h>

#include <cstring>
#include <iostream>
#include <string>

#include "model_support.hpp"
#include "vrwkv/cpu/eigen.hpp"
#include "vrwkv/model/random_checkpoint.hpp"
#include "vrwkv/vrwkv.hpp"

namespace {

int g_threads = 2;

void gemm_196x192x768(benchmark::State& state) {
    using matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    vrwkv::executor<vrwkv::cpu> ex(g_threads);
    const matrix a = matrix::Random(196, 192), b = matrix::Random(768, 192);
    matrix c(196, 768);
    for (auto _ : state) {
        c.noalias() = a * b.transpose();
        benchmark::DoNotOptimize(c.data());
    }
    const double flops = 2.0 * 196 * 192 * 768;
    state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <class Config>
void encoder_forward(benchmark::State& state) {
    const vrwkv::index_t size = state.range(0), batch = state.range(1);
    vrwkv::executor<vrwkv::cpu> ex(g_threads);
    const vrwkv::model_config c = vrwkv::make_config<Config>();
    auto enc = vrwkv::encoder<float, vrwkv::cpu>::from_archive(ex, vrwkv::random_checkpoint(c));
    vrwkv::tensor<float> images(vrwkv::shape{batch, 3, size, size});
    for (vrwkv::index_t i = 0; i < images.numel(); ++i) images.data()[i] = static_cast<float>(i % 255) / 255.0f;
    enc.forward(ex, images.view());  // warm-up: workspace and caches
    for (auto _ : state) {
        auto out = enc.forward(ex, images.view());
        benchmark::DoNotOptimize(out.logits.data());
    }
    const vrwkv::patch_grid g = vrwkv::patch_grid_for(size, size, c.patch_size);
    state.counters["GFLOPs"] = benchmark::Counter(vrwkv::bench::linear_flops(c, batch, g.tokens()) * 1e-9,
                                                  benchmark::Counter::kIsIterationInvariantRate);
    state.counters["img/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(gemm_196x192x768)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(encoder_forward<vrwkv::configs::vrwkv_t>)->Name("vrwkv_t")->Args({224, 1})->Args({512, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(encoder_forward<vrwkv::configs::vrwkv6_t>)->Name("vrwkv6_t")->Args({224, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) { return vrwkv::bench::run_benchmarks(argc, argv, g_threads); }
