// Vision-RWKV encoders on the GPU (seeded random weights and images: timing
// does not depend on the values, but they are not zeros):
//   encoder/<model>/<dtype>/<size>/<batch>         eager forward (logits + last features)
//   encoder_graph/<model>/<dtype>/<size>/<batch>   the same forward captured once as a CUDA graph
//   op/<op>/<dtype>/<size>/<batch>                 one VRWKV-T op at that input's shapes
// Each iteration is timed alone with CUDA events (manual time); the eager
// forward's time includes the host's launch gaps and its cudaMalloc of the
// outputs. Counters:
//   img/s            images per second
//   MiB_beyond_w     peak device memory the forward needs beyond the weights
//                    and the input: bytes live through cudaMalloc (counted by
//                    the wrapper below: logical sizes, as PyTorch's
//                    max_memory_allocated) plus the high-water marks of the
//                    stream-ordered pools the ops use (Bi-WKV tile sums,
//                    Bi-WKV6 scratch)
//   MiB_device       the same peak as cudaMemGetInfo sees it (cudaMalloc
//                    rounds large allocations up to 2 MiB pages)
//   MiB_weights      the weights' bytes
//   host_ms          host time until forward() (or the graph launch) returns:
//                    when it exceeds the event time the forward is host-bound
//   GB/s (op/)       bytes an op must move (inputs read once, outputs written once) per second
// Without a CUDA device the program says so and exits 0.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "model_support.hpp"
#include "vrwkv/cuda.cuh"

// ------------------------------------------------------------ allocation count
// cudaMalloc / cudaFree of this program (the encoder's allocator calls them)
// are defined here under their own symbol names (asm labels: the CUDA
// headers already declare the C names) and forward to the CUDA runtime, which
// must be the shared library (CUDA_RUNTIME_LIBRARY Shared in the CMake file).

namespace counting {

struct ledger {
    std::mutex mutex;
    std::unordered_map<void*, std::size_t> sizes;
    std::size_t live = 0, peak = 0;
};
ledger& book() {
    static ledger l;
    return l;
}
std::size_t live_bytes() {
    std::lock_guard<std::mutex> lock(book().mutex);
    return book().live;
}
std::size_t peak_bytes() {
    std::lock_guard<std::mutex> lock(book().mutex);
    return book().peak;
}
void reset_peak() {
    std::lock_guard<std::mutex> lock(book().mutex);
    book().peak = book().live;
}

}  // namespace counting

#if !defined(__CUDA_ARCH__)
extern "C" cudaError_t vrwkv_counting_cuda_malloc(void** ptr, std::size_t bytes) __asm__("cudaMalloc");
extern "C" cudaError_t vrwkv_counting_cuda_free(void* ptr) __asm__("cudaFree");

extern "C" cudaError_t vrwkv_counting_cuda_malloc(void** ptr, std::size_t bytes) {
    using fn = cudaError_t (*)(void**, std::size_t);
    static const fn real = reinterpret_cast<fn>(dlsym(RTLD_NEXT, "cudaMalloc"));
    if (!real) return cudaErrorUnknown;
    const cudaError_t status = real(ptr, bytes);
    if (status == cudaSuccess && *ptr) {
        counting::ledger& l = counting::book();
        std::lock_guard<std::mutex> lock(l.mutex);
        l.sizes[*ptr] = bytes;
        l.live += bytes;
        l.peak = std::max(l.peak, l.live);
    }
    return status;
}

extern "C" cudaError_t vrwkv_counting_cuda_free(void* ptr) {
    using fn = cudaError_t (*)(void*);
    static const fn real = reinterpret_cast<fn>(dlsym(RTLD_NEXT, "cudaFree"));
    if (!real) return cudaErrorUnknown;
    if (ptr) {
        counting::ledger& l = counting::book();
        std::lock_guard<std::mutex> lock(l.mutex);
        auto it = l.sizes.find(ptr);
        if (it != l.sizes.end()) {
            l.live -= it->second;
            l.sizes.erase(it);
        }
    }
    return real(ptr);
}
#endif

namespace {

using namespace vrwkv;

constexpr double mib = 1024.0 * 1024.0;

// High-water marks of the stream-ordered pools the ops allocate scratch from.
std::vector<cudaMemPool_t> op_pools(int device) {
    cudaMemPool_t default_pool = nullptr;
    cuda_check(cudaDeviceGetDefaultMemPool(&default_pool, device), "cudaDeviceGetDefaultMemPool");
    return {default_pool, cuda_detail::biwkv_workspace_pool(device)};
}
void reset_pool_peaks(int device) {
    for (cudaMemPool_t pool : op_pools(device)) {
        std::uint64_t zero = 0;
        cuda_check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &zero), "cudaMemPoolSetAttribute");
    }
}
std::size_t pool_peaks(int device) {
    std::size_t total = 0;
    for (cudaMemPool_t pool : op_pools(device)) {
        std::uint64_t high = 0;
        cuda_check(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &high), "cudaMemPoolGetAttribute");
        total += static_cast<std::size_t>(high);
    }
    return total;
}
std::size_t device_used() {
    std::size_t free = 0, total = 0;
    cuda_check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
    return total - free;
}

// Uniform values from a hash of (seed, index), filled on the device.
template <class T>
__global__ void fill_uniform_kernel(T* x, index_t n, std::uint32_t seed, float lo, float hi) {
    for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<index_t>(gridDim.x) * blockDim.x) {
        std::uint32_t h = static_cast<std::uint32_t>(i) * 0x9E3779B1u ^ seed * 0x85EBCA77u;
        h ^= h >> 15, h *= 0x2C1B3C6Du, h ^= h >> 12, h *= 0x297A2D39u, h ^= h >> 15;
        x[i] = convert<T>(lo + (hi - lo) * static_cast<float>(h >> 8) * (1.0f / 16777216.0f));
    }
}

template <class T>
tensor<T, cuda> random_tensor(executor<cuda>& ex, const shape& s, unsigned seed, float lo = -1, float hi = 1) {
    tensor<T, cuda> t(s);
    if (t.numel() == 0) return t;
    fill_uniform_kernel<T><<<1024, 256, 0, ex.stream()>>>(t.data(), t.numel(), seed, lo, hi);
    cuda_check_launch("fill_uniform_kernel");
    return t;
}

// Every weight of a config, seeded uniform values drawn on the device (no
// host RNG: VRWKV-B has 86M parameters): matrices +-1/sqrt(fan_in), norm and
// layer-scale weights near 1, biases and mixes in [0, 1]; the host-side
// decay/first vectors and the position table likewise.
template <class T>
encoder_weights<T, cuda> random_weights(executor<cuda>& ex, const model_config& c) {
    encoder_weights<T, cuda> w;
    w.blocks.resize(static_cast<std::size_t>(c.depth));
    unsigned seed = 100;
    w.visit(
        [&](tensor<T, cuda>& t, const std::string& name, const shape& s) {
            const bool norm = name.find(".ln") != std::string::npos || name.find("norm") != std::string::npos ||
                              name.find(".gamma") != std::string::npos;
            float lo = 0, hi = 1;
            if (norm && name.find(".weight") != std::string::npos) lo = 0.9f, hi = 1.1f;
            else if (norm || s.rank == 1 || name.find("time_faaaa") != std::string::npos) lo = 0, hi = 1;
            else hi = 1.0f / std::sqrt(static_cast<float>(s[s.rank - 1])), lo = -hi;
            t = random_tensor<T>(ex, s, seed++, lo, hi);
        },
        c);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> d(-0.5f, 0.5f);
    const index_t g0 = c.train_grid();
    w.pos_embed = tensor<T, cpu>(shape{g0 * g0, c.embed_dims});
    for (index_t i = 0; i < w.pos_embed.numel(); ++i) w.pos_embed.data()[i] = convert<T>(0.1f * d(rng));
    for (auto& b : w.blocks)
        for (index_t i = 0; i < c.embed_dims; ++i) {
            b.att.decay.push_back(2.0 * d(rng));
            b.att.first.push_back(d(rng) + 0.5);
        }
    ex.synchronize();
    return w;
}

// Seconds the work `f` enqueues takes on the stream.
class event_timer {
public:
    template <class F>
    double time(executor<cuda>& ex, F&& f) {
        return 1e-3 * static_cast<double>(timer_.milliseconds(ex, std::forward<F>(f)));
    }

private:
    stream_timer timer_;
};

template <class T>
std::size_t weight_bytes(const encoder<T, cuda>& enc) {
    std::size_t n = 0;
    auto& w = const_cast<encoder_weights<T, cuda>&>(enc.weights());
    w.visit([&](tensor<T, cuda>& t, const std::string&, const shape&) { n += static_cast<std::size_t>(t.numel()) * sizeof(T); },
            enc.config());
    return n;
}

template <class T>
void encoder_forward(benchmark::State& state, model_config c, bool graph) {
    const index_t size = state.range(0), batch = state.range(1);
    executor<cuda> ex;
    encoder<T, cuda> enc(c, random_weights<T>(ex, c));
    tensor<T, cuda> images = random_tensor<T>(ex, shape{batch, c.in_channels, size, size}, 7, -2, 2);
    ex.synchronize();

    // Memory: everything the first forward allocates and keeps (workspace,
    // caches, its outputs) or frees again, beyond weights and input.
    const std::size_t before = counting::live_bytes(), used_before = device_used();
    counting::reset_peak();
    reset_pool_peaks(ex.device());
    std::size_t used_after = 0;
    {
        auto out = enc.forward(ex, images.view());
        ex.synchronize();
        used_after = device_used();
        benchmark::DoNotOptimize(out.logits.data());
    }
    const std::size_t beyond = counting::peak_bytes() - before + pool_peaks(ex.device());

    event_timer timer;
    double host_seconds = 0;  // until forward() / the graph launch returns: the host's enqueue cost
    auto host_timed = [&](auto&& enqueue) {
        const auto start = std::chrono::steady_clock::now();
        enqueue();
        host_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    if (graph) {
        captured_forward<T> g(ex, enc, images.view());
        for (auto _ : state) state.SetIterationTime(timer.time(ex, [&] { host_timed([&] { g.run(ex); }); }));
    } else {
        for (auto _ : state) {
            encoder_output<T, cuda> out;
            state.SetIterationTime(
                timer.time(ex, [&] { host_timed([&] { out = enc.forward(ex, images.view()); }); }));
        }
    }
    state.counters["host_ms"] = 1e3 * host_seconds / static_cast<double>(state.iterations());
    state.counters["img/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["MiB_beyond_w"] = static_cast<double>(beyond) / mib;
    state.counters["MiB_device"] = static_cast<double>(used_after - used_before) / mib;
    state.counters["MiB_weights"] = static_cast<double>(weight_bytes(enc)) / mib;
    const patch_grid g = patch_grid_for(size, size, c.patch_size);
    state.counters["TFLOP/s"] = benchmark::Counter(bench::linear_flops(c, batch, g.tokens()) * 1e-12,
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

// A ViT of the same width/depth from the same ops, with our fused attention
// (model/vit.hpp): the like-for-like baseline for the resolution sweep.
template <class T>
void vit_forward(benchmark::State& state, model_config c) {
    const index_t size = state.range(0), batch = state.range(1);
    executor<cuda> ex;
    vit_weights<T, cuda> w;
    w.blocks.resize(static_cast<std::size_t>(c.depth));
    unsigned seed = 500;
    w.visit([&](tensor<T, cuda>& t, const std::string& name, const shape& s) {
        const float hi = name.find("norm") != std::string::npos || name.find(".ln") != std::string::npos
                             ? 1.0f : 1.0f / std::sqrt(static_cast<float>(s[s.rank - 1]));
        t = random_tensor<T>(ex, s, seed++, -hi, hi);
    }, c);
    const index_t g0 = c.train_grid();
    w.pos_embed = tensor<T, cpu>(shape{g0 * g0, c.embed_dims});
    for (index_t i = 0; i < w.pos_embed.numel(); ++i) w.pos_embed.data()[i] = convert<T>(0.01f * static_cast<float>(i % 13));
    vit_encoder<T, cuda> enc(c, std::move(w), attention_variant::fused);
    tensor<T, cuda> images = random_tensor<T>(ex, shape{batch, c.in_channels, size, size}, 7, -2, 2);
    ex.synchronize();
    const std::size_t before = counting::live_bytes();
    counting::reset_peak();
    reset_pool_peaks(ex.device());
    benchmark::DoNotOptimize(enc.forward(ex, images.view()).data());
    ex.synchronize();
    const std::size_t beyond = counting::peak_bytes() - before + pool_peaks(ex.device());
    event_timer timer;
    for (auto _ : state)
        state.SetIterationTime(timer.time(ex, [&] { benchmark::DoNotOptimize(enc.forward(ex, images.view()).data()); }));
    state.counters["img/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["MiB_beyond_w"] = static_cast<double>(beyond) / mib;
}

// ------------------------------------------------------------------ op timings

// One op of VRWKV-T at a given input's shapes; `run` enqueues it once.
struct op_case {
    std::string name;
    double bytes;  // moved per call
    std::function<void()> run;
};

template <class T>
struct op_bench_data {
    using Acc = accumulator_t<T>;
    index_t B, tokens, C, hidden, h, w;
    tensor<T, cuda> images, patches, x, y, z, s0, s1, s2, big, big2, wcc, wch, whc, wpatch, bias, vec1, vec2, vec3, table,
        pooled, fmap;
    tensor<Acc, cuda> decay_w, decay_u;

    op_bench_data(executor<cuda>& ex, index_t size, index_t batch)
        : B(batch), C(192), hidden(768) {
        const patch_grid g = patch_grid_for(size, size, 16);
        h = g.height, w = g.width, tokens = g.tokens();
        const shape s{B, tokens, C};
        images = random_tensor<T>(ex, shape{B, 3, size, size}, 1);
        patches = random_tensor<T>(ex, shape{B, tokens, 768}, 2);
        x = random_tensor<T>(ex, s, 3), y = random_tensor<T>(ex, s, 4), z = random_tensor<T>(ex, s, 5);
        s0 = random_tensor<T>(ex, s, 6), s1 = random_tensor<T>(ex, s, 7), s2 = random_tensor<T>(ex, s, 8);
        big = random_tensor<T>(ex, shape{B, tokens, hidden}, 9), big2 = random_tensor<T>(ex, shape{B, tokens, hidden}, 10);
        wcc = random_tensor<T>(ex, shape{C, C}, 11, -0.07f, 0.07f);
        wch = random_tensor<T>(ex, shape{hidden, C}, 12, -0.07f, 0.07f);
        whc = random_tensor<T>(ex, shape{C, hidden}, 13, -0.04f, 0.04f);
        wpatch = random_tensor<T>(ex, shape{C, 768}, 14, -0.04f, 0.04f);
        bias = random_tensor<T>(ex, shape{C}, 15), vec1 = random_tensor<T>(ex, shape{C}, 16, 0, 1);
        vec2 = random_tensor<T>(ex, shape{C}, 17, 0, 1), vec3 = random_tensor<T>(ex, shape{C}, 18, 0, 1);
        table = random_tensor<T>(ex, shape{tokens, C}, 19);
        pooled = tensor<T, cuda>(shape{B, C});
        fmap = tensor<T, cuda>(shape{B, C, h, w});
        decay_w = random_tensor<Acc>(ex, shape{C}, 20, 0.001f, 0.01f);
        decay_u = random_tensor<Acc>(ex, shape{C}, 21, -0.01f, 0.01f);
        ex.synchronize();
    }

    std::vector<op_case> cases(executor<cuda>& ex) {
        const double e = sizeof(T), act = static_cast<double>(B * tokens * C) * e, hid = act * hidden / C;
        const token_shift_params sp = make_token_shift_params<T, cuda>(x.view(), h, w, 1, 0.25, 0);
        std::vector<op_case> v;
        v.push_back({"im2col", 2 * static_cast<double>(images.numel()) * e,
                     [&] { im2col<T, cuda>(ex, images.view(), 16, patches.view()); }});
        v.push_back({"linear_patch_bias", static_cast<double>(patches.numel()) * e + act,
                     [&] { linear<T, cuda>(ex, patches.view(), wpatch.view(), bias.data(), x.view()); }});
        v.push_back({"pos_embed_add", 2 * act, [&] { broadcast_add<T, cuda>(ex, x.view(), table.view()); }});
        v.push_back({"layer_norm", 2 * act,
                     [&] { layer_norm<T, cuda>(ex, x.view(), vec1.view(), vec2.view(), y.view()); }});
        v.push_back({"shift_mix3", 4 * act, [&, sp] {
                         const tensor_view<const T, cuda> m[] = {vec1.view(), vec2.view(), vec3.view()};
                         const tensor_view<T, cuda> o[] = {s0.view(), s1.view(), s2.view()};
                         token_shift_mix<T, cuda>(ex, sp, x.view(), m, o, 3);
                     }});
        v.push_back({"shift_mix2", 3 * act, [&, sp] {
                         const tensor_view<const T, cuda> m[] = {vec1.view(), vec2.view()};
                         const tensor_view<T, cuda> o[] = {s0.view(), s1.view()};
                         token_shift_mix<T, cuda>(ex, sp, x.view(), m, o, 2);
                     }});
        v.push_back({"linear_CxC", 2 * act, [&] { linear<T, cuda>(ex, s0.view(), wcc.view(), nullptr, y.view()); }});
        v.push_back({"biwkv", 3 * act, [&] {
                         biwkv<T, cuda>(ex, decay_w.view(), decay_u.view(), s0.view(), s1.view(), z.view());
                     }});
        v.push_back({"gate_sigmoid", 3 * act,
                     [&] { gate<T, cuda>(ex, activation::sigmoid, s2.view(), z.view(), z.view()); }});
        v.push_back({"residual_add", 3 * act, [&] { residual_add<T, cuda>(ex, x.view(), y.view()); }});
        v.push_back({"linear_C_to_4C", act + hid,
                     [&] { linear<T, cuda>(ex, s0.view(), wch.view(), nullptr, big.view()); }});
        v.push_back({"squared_relu", 2 * hid,
                     [&] { activate<T, cuda>(ex, activation::squared_relu, big.view(), big2.view()); }});
        v.push_back({"linear_4C_to_C", act + hid,
                     [&] { linear<T, cuda>(ex, big2.view(), whc.view(), nullptr, y.view()); }});
        v.push_back({"mean_tokens", act, [&] { mean_tokens<T, cuda>(ex, x.view(), pooled.view()); }});
        v.push_back({"to_channels_first", 2 * act,
                     [&] { to_channels_first<T, cuda>(ex, x.view(), fmap.view()); }});
        return v;
    }
};

template <class T>
void op_timing(benchmark::State& state, std::size_t which) {
    executor<cuda> ex;
    op_bench_data<T> data(ex, state.range(0), state.range(1));
    std::vector<op_case> cases = data.cases(ex);
    op_case& op = cases.at(which);
    op.run();  // warm-up
    ex.synchronize();
    event_timer timer;
    for (auto _ : state) state.SetIterationTime(timer.time(ex, op.run));
    state.counters["GB/s"] = benchmark::Counter(op.bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Fixed iteration counts: one setup per benchmark (building a model's random
// weights on the host costs more than timing it).
constexpr int encoder_iterations = 40, op_iterations = 200;

struct shape_case {
    index_t size, batch;
};
const shape_case vrwkv_t_shapes[] = {{224, 64}, {1024, 4}, {2048, 1}};

template <class T>
void register_model(const std::string& model, const std::string& dtype, const model_config& c,
                    std::vector<shape_case> shapes, bool with_graph) {
    for (const shape_case& s : shapes) {
        const std::string tail = "/" + dtype + "/" + std::to_string(s.size) + "/" + std::to_string(s.batch);
        benchmark::RegisterBenchmark(("encoder/" + model + tail).c_str(),
                                     [c](benchmark::State& st) { encoder_forward<T>(st, c, false); })
            ->Args({s.size, s.batch})
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond)
            ->Iterations(encoder_iterations);
        if (with_graph)
            benchmark::RegisterBenchmark(("encoder_graph/" + model + tail).c_str(),
                                         [c](benchmark::State& st) { encoder_forward<T>(st, c, true); })
                ->Args({s.size, s.batch})
                ->UseManualTime()
                ->Unit(benchmark::kMillisecond)
                ->Iterations(encoder_iterations);
    }
}

template <class T>
void register_ops(const std::string& dtype) {
    executor<cuda> ex;
    op_bench_data<T> probe(ex, 16, 1);  // only for the names
    const std::vector<op_case> names = probe.cases(ex);
    for (const shape_case& s : vrwkv_t_shapes)
        for (std::size_t i = 0; i < names.size(); ++i)
            benchmark::RegisterBenchmark(("op/" + names[i].name + "/" + dtype + "/" + std::to_string(s.size) + "/" +
                                          std::to_string(s.batch))
                                             .c_str(),
                                         [i](benchmark::State& st) { op_timing<T>(st, i); })
                ->Args({s.size, s.batch})
                ->UseManualTime()
                ->Unit(benchmark::kMicrosecond)
                ->Iterations(op_iterations);
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    if (!cuda_device_available()) {
        std::cerr << "bench_encoder_cuda: no CUDA device, nothing to run\n";
        return 0;
    }
    const std::vector<shape_case> all(std::begin(vrwkv_t_shapes), std::end(vrwkv_t_shapes));
    const std::vector<shape_case> small = {{224, 64}};
    register_model<bfloat16>("vrwkv_t", "bf16", make_config<configs::vrwkv_t>(), all, true);
    // Resolution sweep, batch 1, bf16: VRWKV-T against a ViT-T of the same pieces.
    for (const index_t size : {224, 512, 1024, 2048, 4096}) {
        const std::string tail = "/bf16/" + std::to_string(size) + "/1";
        const model_config c = make_config<configs::vrwkv_t>();
        benchmark::RegisterBenchmark(("sweep/vrwkv_t" + tail).c_str(),
                                     [c](benchmark::State& st) { encoder_forward<bfloat16>(st, c, false); })
            ->Args({size, 1})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(size >= 4096 ? 5 : 20);
        benchmark::RegisterBenchmark(("sweep/vit_t" + tail).c_str(),
                                     [c](benchmark::State& st) { vit_forward<bfloat16>(st, c); })
            ->Args({size, 1})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(size >= 4096 ? 3 : 20);
    }
    register_model<float>("vrwkv_t", "float", make_config<configs::vrwkv_t>(), small, false);
    register_model<vrwkv::half>("vrwkv_t", "half", make_config<configs::vrwkv_t>(), small, false);
    register_model<bfloat16>("vrwkv_s", "bf16", make_config<configs::vrwkv_s>(), small, true);
    register_model<bfloat16>("vrwkv_b", "bf16", make_config<configs::vrwkv_b>(), small, true);
    register_model<bfloat16>("vrwkv6_t", "bf16", make_config<configs::vrwkv6_t>(), small, false);
    register_ops<bfloat16>("bf16");
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
