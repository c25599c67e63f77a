#pragma once
// A complete checkpoint with seeded random weights for any config: the demo,
// benchmarks and examples use it when no trained checkpoint is at hand. The
// result loads like a published file (same names, `config` metadata).
#include <cmath>
#include <random>
#include <string>

#include "vrwkv/io/tensor_archive.hpp"
#include "vrwkv/model/weights.hpp"

namespace vrwkv {

inline tensor_archive random_checkpoint(const model_config& c, unsigned seed = 0) {
    c.validate();
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    tensor_archive a;
    auto add = [&](const std::string& name, const shape& s, double scale, double offset) {
        tensor<float, cpu> t(s);
        for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(offset + scale * normal(rng));
        a.tensors[name] = stored_tensor::from_tensor(t);
    };
    encoder_weights<float, cpu> layout;
    layout.blocks.resize(static_cast<std::size_t>(c.depth));
    layout.visit(
        [&](tensor<float, cpu>&, const std::string& name, const shape& flat) {
            // the patch embedding is stored as the conv weight (C, in_channels, p, p)
            const shape s = name == "backbone.patch_embed.projection.weight"
                                ? shape{c.embed_dims, c.in_channels, c.patch_size, c.patch_size}
                                : flat;
            const bool norm_weight = name.find(".weight") != std::string::npos &&
                                     (name.find(".ln") != std::string::npos || name.find("norm") != std::string::npos);
            const bool bias = name.find(".bias") != std::string::npos;
            const bool mix = name.find("mix_") != std::string::npos || name.find("time_maa_") != std::string::npos;
            const bool gamma = name.find(".gamma") != std::string::npos;
            if (norm_weight || gamma) add(name, s, 0.0, 1.0);
            else if (bias) add(name, s, 0.0, 0.0);
            else if (mix && s.rank == 1) add(name, s, 0.2, 0.5);
            else add(name, s, 1.0 / std::sqrt(static_cast<double>(flat[flat.rank - 1])), 0.0);  // fan-in scaled
        },
        c);
    const index_t C = c.embed_dims, g0 = c.train_grid();
    add("backbone.pos_embed", shape{1, g0 * g0, C}, 0.02, 0.0);
    if (c.version == 4)
        for (index_t i = 0; i < c.depth; ++i) {
            const std::string att = "backbone.layers." + std::to_string(i) + ".att.";
            add(att + "spatial_decay", shape{C}, 1.0, -2.0);
            add(att + "spatial_first", shape{C}, 0.5, 1.0);
        }
    a.metadata["config"] = c.to_json();
    a.metadata["note"] = "seeded random weights (seed " + std::to_string(seed) + ")";
    return a;
}

}  // namespace vrwkv
