#pragma once
// Shared by the CPU benchmarks: FLOP counts of the encoder.
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

}  // namespace vrwkv::bench
