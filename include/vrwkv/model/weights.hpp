#pragma once
// Parameters of an encoder on a backend. Each struct lists its tensors once
// in visit(), which loading, transfer between backends and parameter counting
// all walk, so a new tensor is added in one place.
#include <vector>

#include "vrwkv/core/tensor.hpp"
#include "vrwkv/model/config.hpp"

namespace vrwkv {

template <class T, class Backend>
struct layer_norm_weights {
    tensor<T, Backend> weight, bias;
    template <class F> void visit(F&& f, const std::string& name, index_t n) {
        f(weight, name + ".weight", shape{n}), f(bias, name + ".bias", shape{n});
    }
};

// VRWKV "att" (SPEC 4) and VRWKV6 "att" (SPEC 8).
template <class T, class Backend>
struct spatial_mix_weights {
    tensor<T, Backend> key, value, receptance, output;  // (C, C)
    layer_norm_weights<T, Backend> key_norm;             // when config.key_norm
    // VRWKV
    tensor<T, Backend> mix_k, mix_v, mix_r;  // (C)
    std::vector<double> decay, first;         // spatial_decay, spatial_first (C), kept on the host: w = decay / T
    // VRWKV6
    tensor<T, Backend> gate;                                            // (C, C)
    tensor<T, Backend> maa_x, maa_w, maa_k, maa_v, maa_r, maa_g;        // (C)
    tensor<T, Backend> maa_w1, maa_w2;                                  // (C, 160), (5, 32, C)
    tensor<T, Backend> time_decay, decay_w1, decay_w2, time_faaaa;      // (C), (C, 64), (64, C), (H, 64)
    layer_norm_weights<T, Backend> ln_x;                                // group norm affine (C)

    template <class F> void visit(F&& f, const std::string& name, const model_config& c) {
        const index_t C = c.embed_dims;
        const shape square{C, C}, vec{C};
        f(key, name + ".key.weight", square), f(value, name + ".value.weight", square);
        f(receptance, name + ".receptance.weight", square), f(output, name + ".output.weight", square);
        if (c.key_norm) key_norm.visit(f, name + ".key_norm", C);
        if (c.version == 4) {
            f(mix_k, name + ".spatial_mix_k", vec), f(mix_v, name + ".spatial_mix_v", vec);
            f(mix_r, name + ".spatial_mix_r", vec);
        } else {
            f(gate, name + ".gate.weight", square);
            f(maa_x, name + ".time_maa_x", vec), f(maa_w, name + ".time_maa_w", vec);
            f(maa_k, name + ".time_maa_k", vec), f(maa_v, name + ".time_maa_v", vec);
            f(maa_r, name + ".time_maa_r", vec), f(maa_g, name + ".time_maa_g", vec);
            f(maa_w1, name + ".time_maa_w1", shape{C, 5 * 32}), f(maa_w2, name + ".time_maa_w2", shape{5, 32, C});
            f(time_decay, name + ".time_decay", vec), f(decay_w1, name + ".time_decay_w1", shape{C, 64});
            f(decay_w2, name + ".time_decay_w2", shape{64, C});
            f(time_faaaa, name + ".time_faaaa", shape{c.num_heads, vrwkv6_head_size});
            ln_x.visit(f, name + ".ln_x", C);
        }
    }
};

// "ffn" (SPEC 6), the same for both versions.
template <class T, class Backend>
struct channel_mix_weights {
    tensor<T, Backend> key, value, receptance;  // (hidden, C), (C, hidden), (C, C)
    tensor<T, Backend> mix_k, mix_r;            // (C)
    layer_norm_weights<T, Backend> key_norm;    // (hidden), when config.key_norm

    template <class F> void visit(F&& f, const std::string& name, const model_config& c) {
        const index_t C = c.embed_dims, Hd = c.hidden_dims();
        f(key, name + ".key.weight", shape{Hd, C}), f(value, name + ".value.weight", shape{C, Hd});
        f(receptance, name + ".receptance.weight", shape{C, C});
        f(mix_k, name + ".spatial_mix_k", shape{C}), f(mix_r, name + ".spatial_mix_r", shape{C});
        if (c.key_norm) key_norm.visit(f, name + ".key_norm", Hd);
    }
};

template <class T, class Backend>
struct block_weights {
    layer_norm_weights<T, Backend> ln0, ln1, ln2;  // ln0 only in block 0
    tensor<T, Backend> gamma1, gamma2;             // (C), when config.layer_scale
    spatial_mix_weights<T, Backend> att;
    channel_mix_weights<T, Backend> ffn;

    template <class F> void visit(F&& f, const std::string& name, const model_config& c, bool first) {
        const index_t C = c.embed_dims;
        if (first) ln0.visit(f, name + ".ln0", C);
        ln1.visit(f, name + ".ln1", C), ln2.visit(f, name + ".ln2", C);
        if (c.layer_scale) f(gamma1, name + ".gamma1", shape{C}), f(gamma2, name + ".gamma2", shape{C});
        att.visit(f, name + ".att", c);
        ffn.visit(f, name + ".ffn", c);
    }
};

template <class T, class Backend>
struct encoder_weights {
    tensor<T, Backend> patch_weight;  // (C, in_channels * p * p)
    tensor<T, Backend> patch_bias;    // (C)
    tensor<T, cpu> pos_embed;         // (h0 * w0, C), host: resized per input size
    std::vector<block_weights<T, Backend>> blocks;
    layer_norm_weights<T, Backend> final_norm;  // backbone.ln1
    // head.fc (linear) or head.0 / head.2 (Linear-tanh-Linear)
    tensor<T, Backend> head_weight, head_bias, head2_weight, head2_bias;

    // Visits every backend tensor with its checkpoint name (pos_embed and the
    // host-side decay vectors are handled by the loader).
    // blocks must already hold config.depth entries.
    template <class F> void visit(F&& f, const model_config& c) {
        const index_t C = c.embed_dims, P = c.patch_size, K = c.num_classes;
        f(patch_weight, std::string("backbone.patch_embed.projection.weight"), shape{C, c.in_channels * P * P});
        f(patch_bias, std::string("backbone.patch_embed.projection.bias"), shape{C});
        for (std::size_t i = 0; i < blocks.size(); ++i)
            blocks[i].visit(f, "backbone.layers." + std::to_string(i), c, i == 0);
        if (c.final_norm) final_norm.visit(f, "backbone.ln1", C);
        if (c.head == head_kind::linear) {
            f(head_weight, std::string("head.fc.weight"), shape{K, C});
            f(head_bias, std::string("head.fc.bias"), shape{K});
        } else if (c.head == head_kind::mlp_tanh) {
            f(head_weight, std::string("head.0.weight"), shape{c.head_hidden, C});
            f(head_bias, std::string("head.0.bias"), shape{c.head_hidden});
            f(head2_weight, std::string("head.2.weight"), shape{K, c.head_hidden});
            f(head2_bias, std::string("head.2.bias"), shape{K});
        }
    }
};

}  // namespace vrwkv
