#pragma once
// Random-weight encoders for benchmarks: every tensor of a config filled with
// small seeded values (timing does not depend on the values).
#include <random>

#include "vrwkv/model/encoder.hpp"

namespace vrwkv::bench {

template <class T>
encoder_weights<T, cpu> random_weights(const model_config& c, unsigned seed = 1) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-0.05f, 0.05f);
    encoder_weights<T, cpu> w;
    w.blocks.resize(static_cast<std::size_t>(c.depth));
    w.visit(
        [&](tensor<T, cpu>& t, const std::string&, const shape& s) {
            t = tensor<T, cpu>(s);
            for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = convert<T>(d(rng));
        },
        c);
    const index_t g0 = c.train_grid();
    w.pos_embed = tensor<T, cpu>(shape{g0 * g0, c.embed_dims});
    for (index_t i = 0; i < w.pos_embed.numel(); ++i) w.pos_embed.data()[i] = convert<T>(d(rng));
    for (auto& b : w.blocks) {
        b.att.decay.assign(static_cast<std::size_t>(c.embed_dims), -1.0);
        b.att.first.assign(static_cast<std::size_t>(c.embed_dims), 0.5);
    }
    return w;
}

// FLOPs of the encoder's linear layers for T tokens (2 * M * N * K each).
inline double linear_flops(const model_config& c, index_t batch, index_t tokens) {
    const double C = static_cast<double>(c.embed_dims), H = static_cast<double>(c.hidden_dims());
    const double rows = static_cast<double>(batch * tokens);
    const double per_block = 4 * C * C + 2 * C * H + C * C;  // att k,v,r,o; ffn key, value; ffn receptance
    return 2 * rows * per_block * static_cast<double>(c.depth) +
           2 * rows * C * static_cast<double>(c.in_channels * c.patch_size * c.patch_size);
}

}  // namespace vrwkv::bench
