// Bi-WKV (O(T)) against multi-head softmax attention (O(T^2)) on the GPU, at
// the same (B, T, C) and storage type, in one run:
//   biwkv/T:<T>/C:<C>                    exact Bi-WKV (cuda/biwkv.cuh)
//   attention_materialized/T:<T>/C:<C>   cuBLAS scores + softmax kernel + cuBLAS
//   attention_fused/T:<T>/C:<C>          the fused tensor-core kernel (half/bf16;
//                                        float storage falls back to materialized)
// B = max(1, 16384 / T) keeps B*T about constant. Each call is timed alone
// with CUDA events (manual time); inputs rotate over enough copies that they
// are not served from L2. Counters: tokens/s (B*T per call), bytes/s (inputs
// read once + output written once), FLOP/s (attention: 4 B T^2 C). A table
// of attention / Bi-WKV time ratios follows the runs (on stderr for json).
// Flags (stripped before Google Benchmark parses the rest):
//   --dtype=float|half|bf16   storage type (default bf16)
// Without a CUDA device the program says so and exits 0.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "reporting.hpp"
#include "vrwkv/core/tensor.hpp"
#include "vrwkv/cuda.cuh"
#include "vrwkv/cuda/attention.cuh"
#include "vrwkv/cuda/biwkv.cuh"

namespace {

using vrwkv::bench::bench_name;
using vrwkv::bench::take_flag;

using vrwkv::index_t;

const index_t token_counts[] = {196, 1024, 4096, 16384, 65536};
const index_t channel_counts[] = {192, 768};
constexpr index_t tokens_per_call = 16384;  // B = max(1, 16384 / T)
// Rotate inputs until one pass over them exceeds this (twice the H100's L2).
constexpr double rotation_bytes = 100e6;
constexpr int max_input_sets = 8;

index_t batch_for(index_t t) { return std::max<index_t>(1, tokens_per_call / t); }

// Uniform values in [lo, hi) from a hash of (seed, index): filled on the device,
// so large inputs cost no host time. Timing does not depend on the values, but
// they are not zeros (which can run faster than real data).
template <class T>
__global__ void fill_uniform_kernel(T* x, index_t n, std::uint32_t seed, float lo, float hi) {
    for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<index_t>(gridDim.x) * blockDim.x) {
        std::uint32_t h = static_cast<std::uint32_t>(i) * 0x9E3779B1u ^ seed * 0x85EBCA77u;
        h ^= h >> 15, h *= 0x2C1B3C6Du, h ^= h >> 12, h *= 0x297A2D39u, h ^= h >> 15;
        x[i] = vrwkv::convert<T>(lo + (hi - lo) * static_cast<float>(h >> 8) * (1.0f / 16777216.0f));
    }
}

template <class T>
vrwkv::tensor<T, vrwkv::cuda> random_device_tensor(vrwkv::executor<vrwkv::cuda>& ex, const vrwkv::shape& s,
                                                   unsigned seed, double lo, double hi) {
    vrwkv::tensor<T, vrwkv::cuda> t(s);
    fill_uniform_kernel<T><<<1024, 256, 0, ex.stream()>>>(t.data(), t.numel(), seed, static_cast<float>(lo),
                                                          static_cast<float>(hi));
    vrwkv::cuda_check_launch("fill_uniform_kernel");
    return t;
}

int input_sets(double bytes_per_set) {
    return static_cast<int>(std::min<double>(max_input_sets, std::max(1.0, std::ceil(rotation_bytes / bytes_per_set))));
}

// Times `call(set)` per iteration with events on the executor's stream.
template <class Call>
void time_calls(benchmark::State& st, vrwkv::executor<vrwkv::cuda>& ex, int sets, Call call) {
    cudaEvent_t start, stop;
    vrwkv::cuda_check(cudaEventCreate(&start), "cudaEventCreate");
    vrwkv::cuda_check(cudaEventCreate(&stop), "cudaEventCreate");
    for (int i = 0; i < sets; ++i) call(i);  // warm-up: module load, workspace pool, every input set once
    ex.synchronize();
    int set = 0;
    for (auto _ : st) {
        vrwkv::cuda_check(cudaEventRecord(start, ex.stream()), "cudaEventRecord");
        call(set);
        vrwkv::cuda_check(cudaEventRecord(stop, ex.stream()), "cudaEventRecord");
        vrwkv::cuda_check(cudaEventSynchronize(stop), "cudaEventSynchronize");
        float ms = 0;
        vrwkv::cuda_check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
        st.SetIterationTime(static_cast<double>(ms) * 1e-3);
        set = (set + 1) % sets;
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
}

void set_counters(benchmark::State& st, index_t b, index_t t, double bytes, double flops) {
    using benchmark::Counter;
    st.counters["B"] = static_cast<double>(b);
    st.counters["tokens/s"] = Counter(static_cast<double>(b * t), Counter::kIsIterationInvariantRate);
    st.counters["bytes/s"] = Counter(bytes, Counter::kIsIterationInvariantRate);
    if (flops > 0) st.counters["FLOP/s"] = Counter(flops, Counter::kIsIterationInvariantRate);
}

template <class T>
void bench_biwkv(benchmark::State& st, index_t t, index_t c) {
    using Acc = vrwkv::accumulator_t<T>;
    const index_t b = batch_for(t);
    vrwkv::executor<vrwkv::cuda> ex;
    const vrwkv::shape s{b, t, c};
    // w is the per-token decay already divided by T, as the spatial mix passes it.
    auto w = random_device_tensor<Acc>(ex, vrwkv::shape{c}, 1, 0.5 / static_cast<double>(t), 8.0 / static_cast<double>(t));
    auto u = random_device_tensor<Acc>(ex, vrwkv::shape{c}, 2, -1, 1);
    const double bytes = 3.0 * static_cast<double>(s.numel()) * sizeof(T);
    const int sets = input_sets(2.0 * static_cast<double>(s.numel()) * sizeof(T));
    std::vector<vrwkv::tensor<T, vrwkv::cuda>> k, v;
    for (int i = 0; i < sets; ++i) {
        k.push_back(random_device_tensor<T>(ex, s, 10 + i, -2, 2));
        v.push_back(random_device_tensor<T>(ex, s, 20 + i, -1, 1));
    }
    vrwkv::tensor<T, vrwkv::cuda> y(s);
    time_calls(st, ex, sets, [&](int i) {
        vrwkv::biwkv<T, vrwkv::cuda>(ex, w.view(), u.view(), k[i].view(), v[i].view(), y.view());
    });
    set_counters(st, b, t, bytes, 0);
}

template <class T>
void bench_attention(benchmark::State& st, vrwkv::attention_variant variant, index_t t, index_t c) {
    const index_t b = batch_for(t);
    vrwkv::executor<vrwkv::cuda> ex;
    const vrwkv::shape s{b, t, c};
    const int sets = input_sets(3.0 * static_cast<double>(s.numel()) * sizeof(T));
    std::vector<vrwkv::tensor<T, vrwkv::cuda>> q, k, v;
    for (int i = 0; i < sets; ++i) {
        q.push_back(random_device_tensor<T>(ex, s, 30 + i, -1, 1));
        k.push_back(random_device_tensor<T>(ex, s, 40 + i, -1, 1));
        v.push_back(random_device_tensor<T>(ex, s, 50 + i, -1, 1));
    }
    vrwkv::tensor<T, vrwkv::cuda> o(s);
    time_calls(st, ex, sets, [&](int i) {
        vrwkv::attention<T, vrwkv::cuda>(ex, q[i].view(), k[i].view(), v[i].view(), o.view(), variant);
    });
    const double tokens = static_cast<double>(t);
    set_counters(st, b, t, 4.0 * static_cast<double>(s.numel()) * sizeof(T),
                 4.0 * static_cast<double>(b) * tokens * tokens * static_cast<double>(c));
}


// Runs a benchmark body, turning a vrwkv::error (out of memory, say) into a
// reported error instead of an abort.
template <class Body>
void guarded(benchmark::State& st, Body body) {
    try {
        body();
    } catch (const std::exception& e) {
        st.SkipWithError(e.what());
    }
}

template <class T>
void register_all(const std::string& dtype) {
    for (index_t c : channel_counts)
        for (index_t t : token_counts) {
            benchmark::RegisterBenchmark(bench_name("biwkv", t, c).c_str(), [=](benchmark::State& st) {
                st.SetLabel(dtype);
                guarded(st, [&] { bench_biwkv<T>(st, t, c); });
            })->Unit(benchmark::kMillisecond)->UseManualTime();
            for (auto variant : {vrwkv::attention_variant::materialized, vrwkv::attention_variant::fused}) {
                const std::string op = std::string("attention_") + vrwkv::attention_variant_name(variant);
                benchmark::RegisterBenchmark(bench_name(op, t, c).c_str(), [=](benchmark::State& st) {
                    const bool fallback = variant == vrwkv::attention_variant::fused &&
                                          !vrwkv::cuda_detail::flash_supported_v<T>;
                    st.SetLabel(fallback ? dtype + " (falls back to materialized)" : dtype);
                    guarded(st, [&] { bench_attention<T>(st, variant, t, c); });
                })->Unit(benchmark::kMillisecond)->UseManualTime();
            }
        }
}


void print_ratios(const std::map<std::string, double>& s, std::ostream& out) {
    out << "\nattention time / Bi-WKV time (same B, T, C, dtype):\n";
    out << "      T     C   materialized      fused\n";
    for (index_t c : channel_counts)
        for (index_t t : token_counts) {
            const auto base = s.find(bench_name("biwkv", t, c));
            if (base == s.end()) continue;
            auto ratio = [&](const char* op) {
                const auto it = s.find(bench_name(op, t, c));
                return it == s.end() ? -1.0 : it->second / base->second;
            };
            char line[128];
            std::snprintf(line, sizeof line, "%7lld %5lld %14.2f %10.2f\n", static_cast<long long>(t),
                          static_cast<long long>(c), ratio("attention_materialized"), ratio("attention_fused"));
            out << line;
        }
}


}  // namespace

int main(int argc, char** argv) {
    const std::string dtype = take_flag(argc, argv, "dtype", "bf16");
    if (!vrwkv::cuda_device_available()) {
        std::cout << "bench_biwkv_vs_attention_cuda: no CUDA device, nothing to measure\n";
        return 0;
    }
    if (!vrwkv::bench::with_dtype(dtype, [&](auto tag) { register_all<typename decltype(tag)::type>(dtype); }))
        return 2;
    std::map<std::string, double> seconds;
    bool console = true;
    if (const int code = vrwkv::bench::run_collecting(argc, argv, [&] {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) benchmark::AddCustomContext("device", prop.name);
        benchmark::AddCustomContext("dtype", dtype);
    }, seconds, console)) return code;
    print_ratios(seconds, console ? std::cout : std::cerr);
    return 0;
}
