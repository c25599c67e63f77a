#pragma once
// A plain ViT encoder built from the same ops as the VRWKV encoder, with
// softmax attention (ops/attention.hpp) in place of Q-Shift + Bi-WKV, so that
// benchmarks compare like for like: same patch embedding, widths, depth,
// MLP ratio and mean-pooled head. Pre-norm blocks:
//   x = x + proj(attention(q(LN1 x), k(LN1 x), v(LN1 x)))
//   x = x + fc2(gelu(fc1(LN2 x)))
// No class token (the VRWKV encoder has none either); GELU is the tanh form.
#include <tuple>
#include <utility>
#include <vector>

#include "vrwkv/model/config.hpp"
#include "vrwkv/model/weights.hpp"
#include "vrwkv/ops/activation.hpp"
#include "vrwkv/ops/attention.hpp"
#include "vrwkv/ops/layer_norm.hpp"
#include "vrwkv/ops/linear.hpp"
#include "vrwkv/ops/patch_embed.hpp"
#include "vrwkv/ops/pooling.hpp"
#include "vrwkv/ops/pos_embed.hpp"
#include "vrwkv/ops/residual.hpp"

namespace vrwkv {

template <class T, class Backend>
struct vit_block_weights {
    layer_norm_weights<T, Backend> ln1, ln2;
    tensor<T, Backend> q, k, v, proj, fc1, fc2;               // (C, C) x4, (hidden, C), (C, hidden)
    tensor<T, Backend> q_bias, k_bias, v_bias, proj_bias, fc1_bias, fc2_bias;

    template <class F> void visit(F&& f, const std::string& name, const model_config& c) {
        const index_t C = c.embed_dims, Hd = c.hidden_dims();
        ln1.visit(f, name + ".ln1", C), ln2.visit(f, name + ".ln2", C);
        for (auto [t, b, n] : {std::tuple{&q, &q_bias, "q"}, std::tuple{&k, &k_bias, "k"}, std::tuple{&v, &v_bias, "v"},
                               std::tuple{&proj, &proj_bias, "proj"}}) {
            f(*t, name + ".attn." + n + ".weight", shape{C, C});
            f(*b, name + ".attn." + n + ".bias", shape{C});
        }
        f(fc1, name + ".mlp.fc1.weight", shape{Hd, C}), f(fc1_bias, name + ".mlp.fc1.bias", shape{Hd});
        f(fc2, name + ".mlp.fc2.weight", shape{C, Hd}), f(fc2_bias, name + ".mlp.fc2.bias", shape{C});
    }
};

template <class T, class Backend>
struct vit_weights {
    tensor<T, Backend> patch_weight, patch_bias;
    tensor<T, cpu> pos_embed;  // (h0 * w0, C), host
    std::vector<vit_block_weights<T, Backend>> blocks;
    layer_norm_weights<T, Backend> final_norm;
    tensor<T, Backend> head_weight, head_bias;

    template <class F> void visit(F&& f, const model_config& c) {
        const index_t C = c.embed_dims, P = c.patch_size;
        f(patch_weight, std::string("patch_embed.weight"), shape{C, c.in_channels * P * P});
        f(patch_bias, std::string("patch_embed.bias"), shape{C});
        for (std::size_t i = 0; i < blocks.size(); ++i) blocks[i].visit(f, "blocks." + std::to_string(i), c);
        final_norm.visit(f, "norm", C);
        if (c.num_classes > 0) {
            f(head_weight, std::string("head.weight"), shape{c.num_classes, C});
            f(head_bias, std::string("head.bias"), shape{c.num_classes});
        }
    }
};

template <class T, class Backend>
class vit_encoder {
public:
    // `config` supplies widths, depth, hidden rate and classes; heads are C / 64.
    vit_encoder(const model_config& config, vit_weights<T, Backend>&& weights,
                attention_variant variant = attention_variant::fused)
        : config_(config), weights_(std::move(weights)), variant_(variant) {
        require(config_.embed_dims % attention_head_dim == 0,
                "ViT embed_dims must be a multiple of " + std::to_string(attention_head_dim));
        require(static_cast<index_t>(weights_.blocks.size()) == config_.depth, "ViT weights/config depth mismatch");
    }

    const model_config& config() const { return config_; }

    // Returns logits (B, classes), or the pooled features (B, C) without a head.
    tensor<T, Backend> forward(executor<Backend>& ex, tensor_view<const T, Backend> images) {
        require(images.rank() == 4 && images.size(1) == config_.in_channels,
                "ViT input has shape " + images.dims().str() + ", expected (B, 3, H, W)");
        const index_t B = images.size(0), C = config_.embed_dims, P = config_.patch_size;
        const patch_grid grid = patch_grid_for(images.size(2), images.size(3), P);
        const shape tokens{B, grid.tokens(), C};
        patches_.resize(shape{B, grid.tokens(), config_.in_channels * P * P});
        im2col<T, Backend>(ex, images, P, patches_.view());
        x_.resize(tokens);
        linear<T, Backend>(ex, patches_.view(), weights_.patch_weight.view(), weights_.patch_bias.data(), x_.view());
        if (pos_grid_ != std::pair{grid.height, grid.width}) {
            const index_t g0 = config_.train_grid();
            pos_ = to_backend(ex, resize_pos_embed<T>(weights_.pos_embed.view(), g0, g0, grid.height, grid.width));
            pos_grid_ = {grid.height, grid.width};
        }
        broadcast_add<T, Backend>(ex, x_.view(), pos_.view());
        for (auto* t : {&xn_, &q_, &k_, &v_, &o_}) t->resize(tokens);
        hidden_.resize(shape{B, grid.tokens(), config_.hidden_dims()});
        for (auto& blk : weights_.blocks) {
            layer_norm<T, Backend>(ex, x_.view(), blk.ln1.weight.view(), blk.ln1.bias.view(), xn_.view());
            linear<T, Backend>(ex, xn_.view(), blk.q.view(), blk.q_bias.data(), q_.view());
            linear<T, Backend>(ex, xn_.view(), blk.k.view(), blk.k_bias.data(), k_.view());
            linear<T, Backend>(ex, xn_.view(), blk.v.view(), blk.v_bias.data(), v_.view());
            attention<T, Backend>(ex, q_.view(), k_.view(), v_.view(), o_.view(), variant_);
            linear<T, Backend>(ex, o_.view(), blk.proj.view(), blk.proj_bias.data(), xn_.view());
            residual_add<T, Backend>(ex, x_.view(), xn_.view());
            layer_norm<T, Backend>(ex, x_.view(), blk.ln2.weight.view(), blk.ln2.bias.view(), xn_.view());
            linear<T, Backend>(ex, xn_.view(), blk.fc1.view(), blk.fc1_bias.data(), hidden_.view());
            activate<T, Backend>(ex, activation::gelu_tanh, hidden_.view(), hidden_.view());
            linear<T, Backend>(ex, hidden_.view(), blk.fc2.view(), blk.fc2_bias.data(), xn_.view());
            residual_add<T, Backend>(ex, x_.view(), xn_.view());
        }
        layer_norm<T, Backend>(ex, x_.view(), weights_.final_norm.weight.view(), weights_.final_norm.bias.view(),
                               x_.view());
        tensor<T, Backend> pooled(shape{B, C});
        mean_tokens<T, Backend>(ex, x_.view(), pooled.view());
        if (config_.num_classes == 0) return pooled;
        tensor<T, Backend> logits(shape{B, config_.num_classes});
        linear<T, Backend>(ex, pooled.view(), weights_.head_weight.view(), weights_.head_bias.data(), logits.view());
        return logits;
    }

private:
    model_config config_;
    vit_weights<T, Backend> weights_;
    attention_variant variant_;
    tensor<T, Backend> patches_, x_, xn_, q_, k_, v_, o_, hidden_, pos_;
    std::pair<index_t, index_t> pos_grid_{-1, -1};
};

}  // namespace vrwkv
