// CUDA Bi-WKV throughput against the memory-bandwidth limit.
//   d2d_copy                              cudaMemcpyAsync device to device (read + write bytes)
//   biwkv/<mode>/<dtype>/B:T:C            the op (biwkv_impl<cuda>), exact and compat
//   biwkv_tiled/exact/float/B:T:C         the tiled kernels on exact float (the path before the fused kernel)
//   biwkv_fused/<config>/S:<s>/B:T:C      the fused kernel with a fixed launch configuration (tuning)
//   pattern_copy/<layout>/S:<s>/B:T:C     y = k + v with the kernels' thread layout: the bandwidth the layout allows
// Bytes counted per call: 3 * B * T * C * sizeof(storage) (k, v read once, y
// written once). Counter fraction_of_copy_bw: those bytes per second over the
// copy's bytes per second. Timed with CUDA events (manual time); inputs rotate
// over enough copies to exceed the L2 cache, so repeated calls read DRAM.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "vrwkv/core/dtype.hpp"
#include "vrwkv/cuda/biwkv.cuh"
#include "vrwkv/cuda/error.cuh"
#include "vrwkv/cuda/executor.cuh"
#include "vrwkv/cuda/timer.cuh"

namespace {

using vrwkv::index_t;

vrwkv::executor<vrwkv::cuda>& gpu() {
    static vrwkv::executor<vrwkv::cuda> ex;
    return ex;
}

// Times `reps` calls of fn (numbered from `first`) between two events;
// returns seconds per call.
template <class Fn>
double time_calls(int reps, Fn&& fn, int first = 0) {
    vrwkv::stream_timer timer;
    const float ms = timer.milliseconds(gpu(), [&] {
        for (int i = 0; i < reps; ++i) fn(first + i);
    });
    return ms * 1e-3 / reps;
}

// Calls per timed run: enough for about 10 ms of work, like the copy it is
// compared with (4 x 1 GiB), so that the start of a run (its first launch,
// after an event) weighs little. (With 1 ms, on an H100: 100.1-100.7 us at
// (1, 65536, 192) float, 10 calls a run, against 99.0-99.2 us for 60 calls
// back to back in a probe.)
int reps_for(double seconds_per_call) {
    return static_cast<int>(std::clamp(1e-2 / std::max(seconds_per_call, 1e-7), 1.0, 512.0));
}

struct device_buffer {
    void* p = nullptr;
    explicit device_buffer(std::size_t bytes) {
        vrwkv::cuda_check(cudaMalloc(&p, bytes), ("cudaMalloc " + std::to_string(bytes)).c_str());
    }
    ~device_buffer() { cudaFree(p); }
    device_buffer(const device_buffer&) = delete;
    device_buffer& operator=(const device_buffer&) = delete;
};

constexpr std::size_t copy_bytes = std::size_t{1} << 30;  // per buffer: far beyond L2

double copy_seconds(device_buffer& src, device_buffer& dst, int reps) {
    return time_calls(reps, [&](int) {
        vrwkv::cuda_check(cudaMemcpyAsync(dst.p, src.p, copy_bytes, cudaMemcpyDeviceToDevice, gpu().stream()),
                          "cudaMemcpyAsync");
    });
}

// Copy bandwidth (read + write bytes per second), measured once.
double copy_bandwidth() {
    static const double bw = [] {
        device_buffer src(copy_bytes), dst(copy_bytes);
        vrwkv::cuda_check(cudaMemsetAsync(src.p, 1, copy_bytes, gpu().stream()), "cudaMemset");
        copy_seconds(src, dst, 2);
        double best = 1e30;
        for (int i = 0; i < 5; ++i) best = std::min(best, copy_seconds(src, dst, 4));
        return 2.0 * static_cast<double>(copy_bytes) / best;
    }();
    return bw;
}

void d2d_copy(benchmark::State& state) {
    device_buffer src(copy_bytes), dst(copy_bytes);
    vrwkv::cuda_check(cudaMemsetAsync(src.p, 1, copy_bytes, gpu().stream()), "cudaMemset");
    copy_seconds(src, dst, 1);
    for (auto _ : state) state.SetIterationTime(copy_seconds(src, dst, 4));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * 2 * static_cast<std::int64_t>(copy_bytes));
    state.counters["fraction_of_copy_bw"] = 1.0;
}

// Deterministic pseudo-random fill in [lo, hi).
__device__ inline float hash_unit(std::uint64_t i, std::uint32_t seed) {
    std::uint64_t x = i * 0x9E3779B97F4A7C15ull + seed * 0xD1B54A32D192ED03ull;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return static_cast<float>(x >> 40) * (1.0f / 16777216.0f);
}

template <class T>
__global__ void fill_kernel(T* p, index_t n, float lo, float hi, std::uint32_t seed) {
    for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<index_t>(gridDim.x) * blockDim.x)
        p[i] = vrwkv::convert<T>(lo + (hi - lo) * hash_unit(static_cast<std::uint64_t>(i), seed));
}

template <class T>
void fill(T* p, index_t n, float lo, float hi, std::uint32_t seed) {
    fill_kernel<T><<<1024, 256, 0, gpu().stream()>>>(p, n, lo, hi, seed);
    vrwkv::cuda_check_launch("fill_kernel");
}

// Inputs for one shape: several (k, v, y) sets so that the calls rotate
// through more memory than the L2 cache holds.
template <class T>
struct biwkv_inputs {
    using Acc = vrwkv::accumulator_t<T>;
    index_t B, T_, C;
    std::unique_ptr<device_buffer> w, u;
    std::vector<std::unique_ptr<device_buffer>> k, v, y;

    biwkv_inputs(index_t b, index_t t, index_t c) : B(b), T_(t), C(c) {
        const index_t n = B * T_ * C;
        const std::size_t set_bytes = 3 * static_cast<std::size_t>(n) * sizeof(T);
        const std::size_t sets = std::clamp<std::size_t>((std::size_t{256} << 20) / set_bytes + 1, 1, 16);
        w = std::make_unique<device_buffer>(C * sizeof(Acc));
        u = std::make_unique<device_buffer>(C * sizeof(Acc));
        // |w T| up to about 8, |u| up to 1: the ranges trained models show
        fill(static_cast<Acc*>(w->p), C, -8.0f / static_cast<float>(T_), 8.0f / static_cast<float>(T_), 1);
        fill(static_cast<Acc*>(u->p), C, -1.0f, 1.0f, 2);
        for (std::size_t s = 0; s < sets; ++s) {
            k.push_back(std::make_unique<device_buffer>(n * sizeof(T)));
            v.push_back(std::make_unique<device_buffer>(n * sizeof(T)));
            y.push_back(std::make_unique<device_buffer>(n * sizeof(T)));
            fill(static_cast<T*>(k.back()->p), n, -4.0f, 4.0f, 10 + static_cast<std::uint32_t>(s));
            fill(static_cast<T*>(v.back()->p), n, -1.0f, 1.0f, 100 + static_cast<std::uint32_t>(s));
        }
        gpu().synchronize();
    }
    std::size_t sets() const { return k.size(); }
    const Acc* wp() const { return static_cast<const Acc*>(w->p); }
    const Acc* up() const { return static_cast<const Acc*>(u->p); }
    const T* kp(int i) const { return static_cast<const T*>(k[i % sets()]->p); }
    const T* vp(int i) const { return static_cast<const T*>(v[i % sets()]->p); }
    T* yp(int i) const { return static_cast<T*>(y[i % sets()]->p); }
    std::int64_t bytes() const { return 3 * B * T_ * C * static_cast<std::int64_t>(sizeof(T)); }
};

// Runs `call(inputs, i)` under Google Benchmark's loop, one call per
// iteration, in batches of `reps` calls each timed with events.
template <class T, class Call>
void run_biwkv(benchmark::State& state, Call&& call) {
    const index_t B = state.range(0), T_ = state.range(1), C = state.range(2);
    biwkv_inputs<T> in(B, T_, C);
    auto timed = [&](int reps) { return time_calls(reps, [&](int i) { call(in, i); }); };
    timed(static_cast<int>(in.sets()));  // warm-up: module load, workspace pool
    const int reps = std::max(reps_for(timed(1)), static_cast<int>(in.sets()));
    double total = 0;
    int i = 0;
    while (state.KeepRunningBatch(reps)) {
        const double t = reps * time_calls(reps, [&](int j) { call(in, j); }, i);
        i += reps;
        state.SetIterationTime(t);
        total += t;
    }
    const double per_call = total / static_cast<double>(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * in.bytes());
    state.counters["fraction_of_copy_bw"] = static_cast<double>(in.bytes()) / per_call / copy_bandwidth();
    state.counters["input_sets"] = static_cast<double>(in.sets());
}

template <class T>
void biwkv_op(benchmark::State& state, vrwkv::biwkv_mode mode) {
    run_biwkv<T>(state, [&](const biwkv_inputs<T>& in, int i) {
        const vrwkv::biwkv_params p{in.B, in.T_, in.C, mode};
        vrwkv::biwkv_impl<vrwkv::cuda>::run<T, vrwkv::accumulator_t<T>>(gpu(), p, in.wp(), in.up(), in.kp(i),
                                                                         in.vp(i), in.yp(i));
    });
}

// The tiled kernels on exact float (biwkv_impl<cuda> runs them for compat
// and double): the baseline the fused kernel replaced.
void biwkv_tiled_exact(benchmark::State& state) {
    using namespace vrwkv::cuda_detail;
    run_biwkv<float>(state, [&](const biwkv_inputs<float>& in, int i) {
        const vrwkv::biwkv_params p{in.B, in.T_, in.C, vrwkv::biwkv_mode::exact};
        using one = biwkv_configs<float>::one_tile;
        using multi = biwkv_configs<float>::multi_tile;
        if (in.T_ <= index_t{one::len} * one::max_subchunks)
            biwkv_launch<one, false>(gpu(), p, in.wp(), in.up(), in.kp(i), in.vp(i), in.yp(i));
        else
            biwkv_launch<multi, false>(gpu(), p, in.wp(), in.up(), in.kp(i), in.vp(i), in.yp(i));
    });
}

template <class Config>
void biwkv_fused_tuned(benchmark::State& state, int rows, int lag, int keep) {
    run_biwkv<float>(state, [&](const biwkv_inputs<float>& in, int i) {
        const vrwkv::biwkv_params p{in.B, in.T_, in.C, vrwkv::biwkv_mode::exact};
        vrwkv::cuda_detail::biwkv_fused_launch<Config>(gpu(), p, in.wp(), in.up(), in.kp(i), in.vp(i), in.yp(i),
                                                        rows, lag, keep);
    });
}

// The op's memory access pattern without its arithmetic: y = k + v with
// Bi-WKV's thread layout (a warp across 32 channels, each thread L tokens of
// its channel, blocks of 32 x S threads over (b, channel group, tile)), or
// with each thread taking 4 channels (16-byte loads). The bandwidth this
// reaches bounds what the layout allows.
template <int L, int Vec>
__global__ void __launch_bounds__(512) pattern_copy_kernel(const float* k, const float* v, float* y, int T, int C,
                                                           int groups, int tiles) {
    const int S = blockDim.y;
    const unsigned blk = blockIdx.x;
    const int group = static_cast<int>(blk % groups);
    const unsigned rest = blk / groups;
    const int tile = static_cast<int>(rest % tiles), b = static_cast<int>(rest / tiles);
    const int c = (group * 32 + static_cast<int>(threadIdx.x)) * Vec;
    const long long t0 = (static_cast<long long>(tile) * S + threadIdx.y) * L;
    if (c >= C) return;
    float buf_k[L][Vec], buf_v[L][Vec];
#pragma unroll
    for (int j = 0; j < L; ++j) {
        const long long i = (static_cast<long long>(b) * T + t0 + j) * C + c;
        const bool in = t0 + j < T;
#pragma unroll
        for (int q = 0; q < Vec; ++q) buf_k[j][q] = in ? k[i + q] : 0.0f, buf_v[j][q] = in ? v[i + q] : 0.0f;
    }
#pragma unroll
    for (int j = 0; j < L; ++j) {
        const long long i = (static_cast<long long>(b) * T + t0 + j) * C + c;
        if (t0 + j < T)
#pragma unroll
            for (int q = 0; q < Vec; ++q) y[i + q] = buf_k[j][q] + buf_v[j][q];
    }
}

template <int L, int Vec>
void pattern_copy(benchmark::State& state, int rows) {
    run_biwkv<float>(state, [&](const biwkv_inputs<float>& in, int i) {
        const int groups = static_cast<int>((in.C / Vec + 31) / 32);
        const int tiles = static_cast<int>((in.T_ + L * rows - 1) / (L * rows));
        const unsigned blocks = static_cast<unsigned>(in.B * tiles * groups);
        pattern_copy_kernel<L, Vec><<<blocks, dim3(32, rows), 0, gpu().stream()>>>(
            in.kp(i), in.vp(i), in.yp(i), static_cast<int>(in.T_), static_cast<int>(in.C), groups, tiles);
        vrwkv::cuda_check_launch("pattern_copy_kernel");
    });
}

void shapes(benchmark::internal::Benchmark* b) {
    b->ArgNames({"B", "T", "C"});
    b->Args({64, 196, 192});
    b->Args({4, 4096, 192});
    b->Args({1, 16384, 192});
    b->Args({1, 65536, 192});
    b->Args({8, 4096, 768});
    b->Args({1, 1048576, 192});
    b->UseManualTime()->Unit(benchmark::kMicrosecond);
}

void register_all() {
    benchmark::RegisterBenchmark("d2d_copy", d2d_copy)->UseManualTime()->Unit(benchmark::kMicrosecond);
    using vrwkv::biwkv_mode;
    benchmark::RegisterBenchmark("biwkv/exact/float", biwkv_op<float>, biwkv_mode::exact)->Apply(shapes);
    benchmark::RegisterBenchmark("biwkv/exact/bf16", biwkv_op<vrwkv::bfloat16>, biwkv_mode::exact)->Apply(shapes);
    benchmark::RegisterBenchmark("biwkv/compat/float", biwkv_op<float>, biwkv_mode::compat)->Apply(shapes);
    // The tiled kernels that exact float ran before the fused kernel, and
    // fused launch configurations (threads per block x blocks per SM, rows
    // per tile when T spans several tiles).
    using namespace vrwkv::cuda_detail;
    auto tune = [](benchmark::internal::Benchmark* b) {
        b->ArgNames({"B", "T", "C"});
        b->Args({64, 196, 192});
        b->Args({4, 4096, 192});
        b->Args({1, 16384, 192});
        b->Args({1, 65536, 192});
        b->Args({8, 4096, 768});
        b->UseManualTime()->Unit(benchmark::kMicrosecond);
    };
    benchmark::RegisterBenchmark("biwkv_tiled/exact/float", biwkv_tiled_exact)->Apply(tune);
    benchmark::RegisterBenchmark("pattern_copy/L16/S:16", pattern_copy<16, 1>, 16)->Apply(tune);
    benchmark::RegisterBenchmark("pattern_copy/L8/S:16", pattern_copy<8, 1>, 16)->Apply(tune);
    benchmark::RegisterBenchmark("pattern_copy/L8/S:4", pattern_copy<8, 1>, 4)->Apply(tune);
    benchmark::RegisterBenchmark("pattern_copy/L4/S:8", pattern_copy<4, 1>, 8)->Apply(tune);
    benchmark::RegisterBenchmark("pattern_copy/L8x4ch/S:8", pattern_copy<8, 4>, 8)->Apply(tune);
    benchmark::RegisterBenchmark("pattern_copy/L4x4ch/S:4", pattern_copy<4, 4>, 4)->Apply(tune);
    // the fused kernel as the op runs it where the resident kernel does not
    // take the problem (T = 16384 and 4 x 4096 at C = 192 it takes on an H100)
    benchmark::RegisterBenchmark("biwkv_fused/default/float", biwkv_fused_tuned<biwkv_fused_default>, 0, 0, 0)
        ->Apply(tune);
    // the share of L2 kept with L2 hints (used where k, v and y exceed L2:
    // T = 65536 and 2^20 at C = 192)
    for (int keep : {20, 30, 40, 50, 70})
        benchmark::RegisterBenchmark(("biwkv_fused/default/keep:" + std::to_string(keep)).c_str(),
                                     biwkv_fused_tuned<biwkv_fused_default>, 0, 0, keep)
            ->ArgNames({"B", "T", "C"})
            ->Args({1, 65536, 192})
            ->Args({1, 1 << 20, 192})
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
    for (int lag : {1, 2, 6, 12, 48, 192})
        benchmark::RegisterBenchmark(("biwkv_fused/L16x448x2/S:14/lag:" + std::to_string(lag)).c_str(),
                                     biwkv_fused_tuned<biwkv_fused_config<16, 448, 2>>, 14, lag, 0)
            ->Apply(tune);
    benchmark::RegisterBenchmark("biwkv_fused/L16x512x2/S:16", biwkv_fused_tuned<biwkv_fused_config<16, 512, 2>>, 16, 0, 0)->Apply(tune);
    benchmark::RegisterBenchmark("biwkv_fused/L16x384x2/S:12", biwkv_fused_tuned<biwkv_fused_config<16, 384, 2>>, 12, 0, 0)->Apply(tune);
    benchmark::RegisterBenchmark("biwkv_fused/L8x1024x1/S:32", biwkv_fused_tuned<biwkv_fused_config<8, 1024, 1>>, 32, 0, 0)->Apply(tune);
}

}  // namespace

int main(int argc, char** argv) {
    if (!vrwkv::cuda_device_available()) {
        std::fprintf(stderr, "bench_biwkv_cuda: no CUDA device\n");
        return 0;
    }
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
