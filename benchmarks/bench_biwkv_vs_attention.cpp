// Bi-WKV (O(T)) against multi-head softmax attention (O(T^2)) on the CPU, at
// the same (B, T, C) and storage type, in one run:
//   biwkv/T:<T>/C:<C>                    exact Bi-WKV (cpu/biwkv.hpp)
//   attention_materialized/T:<T>/C:<C>   score blocks + softmax + GEMM
//   attention_fused/T:<T>/C:<C>          streaming online softmax
// B = max(1, 4096 / T) keeps B*T about constant. Counters: tokens/s (B*T per
// call), bytes/s (inputs read once + output written once), FLOP/s (attention:
// 4 B T^2 C). After the runs a table of attention / Bi-WKV time ratios is
// printed (to stderr when the output format is json).
// Flags (stripped before Google Benchmark parses the rest):
//   --dtype=float|half|bf16   storage type (default float)
//   --threads=N               threads (default: OpenMP's, i.e. all cores)
#include <benchmark/benchmark.h>

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
#include "vrwkv/cpu/allocator.hpp"
#include "vrwkv/cpu/attention.hpp"
#include "vrwkv/cpu/biwkv.hpp"

namespace {

using vrwkv::bench::bench_name;
using vrwkv::bench::take_flag;

using vrwkv::index_t;

int g_threads = 0;
const index_t token_counts[] = {196, 1024, 4096, 16384};
const index_t channel_counts[] = {192, 768};
constexpr index_t tokens_per_call = 4096;  // B = max(1, 4096 / T)
// The ratio this benchmark exists to show (see the final table).
constexpr index_t ratio_tokens = 4096, ratio_channels = 192;

index_t batch_for(index_t t) { return std::max<index_t>(1, tokens_per_call / t); }

template <class T>
vrwkv::tensor<T> random_tensor(const vrwkv::shape& s, unsigned seed, double lo, double hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> d(lo, hi);
    vrwkv::tensor<T> t(s);
    for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = vrwkv::convert<T>(d(rng));
    return t;
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
    vrwkv::executor<vrwkv::cpu> ex(g_threads);
    // w is the per-token decay already divided by T, as the spatial mix passes it.
    auto w = random_tensor<Acc>(vrwkv::shape{c}, 1, 0.5 / static_cast<double>(t), 8.0 / static_cast<double>(t));
    auto u = random_tensor<Acc>(vrwkv::shape{c}, 2, -1, 1);
    auto k = random_tensor<T>(vrwkv::shape{b, t, c}, 3, -2, 2), v = random_tensor<T>(vrwkv::shape{b, t, c}, 4, -1, 1);
    vrwkv::tensor<T> y(vrwkv::shape{b, t, c});
    for (auto _ : st) {
        vrwkv::biwkv<T, vrwkv::cpu>(ex, w.view(), u.view(), k.view(), v.view(), y.view());
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, b, t, 3.0 * static_cast<double>(b * t * c) * sizeof(T), 0);
}

template <class T>
void bench_attention(benchmark::State& st, vrwkv::attention_variant variant, index_t t, index_t c) {
    const index_t b = batch_for(t);
    vrwkv::executor<vrwkv::cpu> ex(g_threads);
    const vrwkv::shape s{b, t, c};
    auto q = random_tensor<T>(s, 5, -1, 1), k = random_tensor<T>(s, 6, -1, 1), v = random_tensor<T>(s, 7, -1, 1);
    vrwkv::tensor<T> o(s);
    for (auto _ : st) {
        vrwkv::attention<T, vrwkv::cpu>(ex, q.view(), k.view(), v.view(), o.view(), variant);
        benchmark::DoNotOptimize(o.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, b, t, 4.0 * static_cast<double>(b * t * c) * sizeof(T),
                 4.0 * static_cast<double>(b) * static_cast<double>(t) * static_cast<double>(t) * static_cast<double>(c));
}


template <class T>
void register_all(const std::string& dtype) {
    for (index_t c : channel_counts)
        for (index_t t : token_counts) {
            benchmark::RegisterBenchmark(bench_name("biwkv", t, c).c_str(), [=](benchmark::State& st) {
                st.SetLabel(dtype);
                bench_biwkv<T>(st, t, c);
            })->Unit(benchmark::kMillisecond)->UseRealTime();
            for (auto variant : {vrwkv::attention_variant::materialized, vrwkv::attention_variant::fused}) {
                const std::string op = std::string("attention_") + vrwkv::attention_variant_name(variant);
                benchmark::RegisterBenchmark(bench_name(op, t, c).c_str(), [=](benchmark::State& st) {
                    st.SetLabel(dtype);
                    bench_attention<T>(st, variant, t, c);
                })->Unit(benchmark::kMillisecond)->UseRealTime();
            }
        }
}


// attention / Bi-WKV time for every (T, C) where both ran.
void print_ratios(const std::map<std::string, double>& s, std::ostream& out) {
    out << "\nattention time / Bi-WKV time (same B, T, C, dtype):\n";
    out << "      T     C   materialized      fused\n";
    for (index_t c : channel_counts)
        for (index_t t : token_counts) {
            const auto base = s.find(bench_name("biwkv", t, c));
            if (base == s.end()) continue;
            char line[128];
            auto ratio = [&](const char* op) {
                const auto it = s.find(bench_name(op, t, c));
                return it == s.end() ? -1.0 : it->second / base->second;
            };
            std::snprintf(line, sizeof line, "%7lld %5lld %14.1f %10.1f\n", static_cast<long long>(t),
                          static_cast<long long>(c), ratio("attention_materialized"), ratio("attention_fused"));
            out << line;
        }
    const auto base = s.find(bench_name("biwkv", ratio_tokens, ratio_channels));
    if (base == s.end()) return;
    double best = -1;
    for (const char* op : {"attention_materialized", "attention_fused"}) {
        const auto it = s.find(bench_name(op, ratio_tokens, ratio_channels));
        if (it != s.end() && (best < 0 || it->second < best)) best = it->second;
    }
    if (best < 0) return;
    const double ratio = best / base->second;
    out << "fastest attention / Bi-WKV at T=" << ratio_tokens << ", C=" << ratio_channels << ": " << ratio
        << (ratio >= 20 ? "  (>= 20, as expected)\n" : "  (BELOW the expected 20: is the machine busy with other work?)\n");
}


}  // namespace

int main(int argc, char** argv) {
    const std::string dtype = take_flag(argc, argv, "dtype", "float");
    try {
        g_threads = std::stoi(take_flag(argc, argv, "threads", "0"));
    } catch (const std::exception&) {
        std::cerr << "--threads must be an integer\n";
        return 2;
    }
    if (!vrwkv::bench::with_dtype(dtype, [&](auto tag) { register_all<typename decltype(tag)::type>(dtype); }))
        return 2;
    std::map<std::string, double> seconds;
    bool console = true;
    if (const int code = vrwkv::bench::run_collecting(argc, argv, [&] { benchmark::AddCustomContext("dtype", dtype); }, seconds, console)) return code;
    print_ratios(seconds, console ? std::cout : std::cerr);
    return 0;
}
