#pragma once
// Shared by the CPU benchmarks: FLOP counts of the encoder and a main()
// that takes --threads=N before Google Benchmark parses the rest.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "vrwkv/model/config.hpp"

namespace vrwkv::bench {

// FLOPs of a VRWKV encoder's linear layers for T tokens (2 * M * N * K each); VRWKV6 adds its gate
// and low-rank mixes, which this does not count.
inline double linear_flops(const model_config& c, index_t batch, index_t tokens) {
    const double C = static_cast<double>(c.embed_dims), H = static_cast<double>(c.hidden_dims());
    const double rows = static_cast<double>(batch * tokens);
    const double per_block = 4 * C * C + 2 * C * H + C * C;  // att k,v,r,o; ffn key, value; ffn receptance
    return 2 * rows * per_block * static_cast<double>(c.depth) +
           2 * rows * C * static_cast<double>(c.in_channels * c.patch_size * c.patch_size);
}

// Runs the registered benchmarks; --threads=N sets `threads` (0: all cores).
inline int run_benchmarks(int argc, char** argv, int& threads) {
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::stoi(argv[i] + 10);
        else argv[kept++] = argv[i];
    }
    argc = kept;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

}  // namespace vrwkv::bench
