#pragma once
// The Vision-RWKV encoder (SPEC 1-7), written once for every backend: it
// only calls ops, whose backend specialisations (cpu/, cuda/) must be
// included before an encoder<T, Backend> is instantiated.
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "vrwkv/model/load.hpp"
#include "vrwkv/model/weights.hpp"
#include "vrwkv/ops/activation.hpp"
#include "vrwkv/ops/biwkv.hpp"
#include "vrwkv/ops/layer_norm.hpp"
#include "vrwkv/ops/linear.hpp"
#include "vrwkv/ops/patch_embed.hpp"
#include "vrwkv/ops/pooling.hpp"
#include "vrwkv/ops/pos_embed.hpp"
#include "vrwkv/ops/residual.hpp"
#include "vrwkv/ops/token_shift.hpp"
#include "vrwkv/ops/vrwkv6.hpp"

namespace vrwkv {

template <class T, class Backend>
struct encoder_output {
    patch_grid grid;
    std::vector<index_t> indices;             // block index of each feature map
    std::vector<tensor<T, Backend>> features;  // (B, C, h, w) per index; the last block's has the final norm
    tensor<T, Backend> logits;                 // (B, classes) when the model has a head and logits were asked for
};

struct forward_options {
    bool logits = true;
    std::optional<std::vector<index_t>> out_indices;  // overrides the config's
};

// Moves every tensor of host weights to a backend.
template <class T, class Backend>
encoder_weights<T, Backend> transfer_weights(executor<Backend>& ex, encoder_weights<T, cpu>&& host,
                                             const model_config& c) {
    encoder_weights<T, Backend> out;
    out.blocks.resize(host.blocks.size());
    std::vector<tensor<T, cpu>*> sources;
    host.visit([&](tensor<T, cpu>& t, const std::string&, const shape&) { sources.push_back(&t); }, c);
    std::size_t i = 0;
    out.visit([&](tensor<T, Backend>& t, const std::string&, const shape&) { t = to_backend(ex, std::move(*sources[i++])); },
              c);
    out.pos_embed = std::move(host.pos_embed);
    for (std::size_t b = 0; b < host.blocks.size(); ++b) {
        out.blocks[b].att.decay = std::move(host.blocks[b].att.decay);
        out.blocks[b].att.first = std::move(host.blocks[b].att.first);
    }
    return out;
}

template <class T, class Backend>
class encoder {
public:
    using value_type = T;
    using backend = Backend;
    using acc_t = accumulator_t<T>;

    encoder(const model_config& config, encoder_weights<T, Backend>&& weights)
        : config_(config), weights_(std::move(weights)) {
        config_.validate();
        require(static_cast<index_t>(weights_.blocks.size()) == config_.depth,
                "encoder weights hold " + std::to_string(weights_.blocks.size()) + " blocks, the config says " +
                    std::to_string(config_.depth));
        decay_cache_.resize(weights_.blocks.size());
    }

    // Reads, checks and (for device backends) uploads a checkpoint's weights.
    static encoder from_archive(executor<Backend>& ex, const tensor_archive& archive, const load_options& options = {}) {
        model_config c = infer_config(archive, options);
        return encoder(c, transfer_weights<T, Backend>(ex, load_weights<T>(archive, c), c));
    }

    const model_config& config() const { return config_; }
    model_config& config() { return config_; }  // e.g. to switch the Bi-WKV mode
    const encoder_weights<T, Backend>& weights() const { return weights_; }

    // images: (B, in_channels, H, W), any H, W >= 1.
    encoder_output<T, Backend> forward(executor<Backend>& ex, tensor_view<const T, Backend> images,
                                       const forward_options& options = {}) {
        encoder_output<T, Backend> out;
        forward(ex, images, options, out);
        return out;
    }

    // The same, writing into `out`: its tensors keep their allocations when the
    // shapes repeat, so a loop over batches allocates nothing after the first.
    void forward(executor<Backend>& ex, tensor_view<const T, Backend> images, const forward_options& options,
                 encoder_output<T, Backend>& out) {
        require(images.rank() == 4 && images.size(1) == config_.in_channels,
                "encoder input has shape " + images.dims().str() + ", expected (B, " +
                    std::to_string(config_.in_channels) + ", H, W)");
        require(images.size(0) >= 1, "encoder input batch is empty");
        const index_t B = images.size(0), C = config_.embed_dims, P = config_.patch_size;
        const patch_grid grid = patch_grid_for(images.size(2), images.size(3), P);
        const index_t T_ = grid.tokens();
        const std::vector<index_t> wanted = options.out_indices ? *options.out_indices : config_.outputs();
        for (index_t i : wanted)
            require(i >= 0 && i < config_.depth, "requested output of block " + std::to_string(i) +
                                                     ", the model has " + std::to_string(config_.depth));

        // Patch embedding + position embedding. The patches live in the channel
        // mix's hidden buffer (both are (B, T, 768) for VRWKV-T), which is free here.
        tensor<T, Backend>& patches = ws_.hidden;
        patches.resize(shape{B, T_, config_.in_channels * P * P});
        im2col<T, Backend>(ex, images, P, patches.view());
        ws_.x.resize(shape{B, T_, C});
        linear<T, Backend>(ex, patches.view(), weights_.patch_weight.view(), weights_.patch_bias.data(), ws_.x.view());
        broadcast_add<T, Backend>(ex, ws_.x.view(), position_embedding(ex, grid).view());

        out.grid = grid;
        out.indices.clear();
        out.features.resize(wanted.size());
        std::size_t next = 0;
        for (index_t i = 0; i < config_.depth; ++i) {
            run_block(ex, i, B, grid);
            if (i == config_.depth - 1 && config_.final_norm) norm_in_place(ex, weights_.final_norm, ws_.x);
            for (index_t want : wanted)
                if (want == i) {
                    tensor<T, Backend>& fmap = out.features[next++];
                    fmap.resize(shape{B, C, grid.height, grid.width});
                    to_channels_first<T, Backend>(ex, ws_.x.view(), fmap.view());
                    out.indices.push_back(i);
                }
        }
        out.features.resize(next);
        if (options.logits && config_.head != head_kind::none) classify(ex, B, out.logits);
        else out.logits = tensor<T, Backend>();
    }

private:
    struct workspace {
        tensor<T, Backend> x, xn, s0, s1, s2, k, v, r, y, hidden;  // hidden also holds the patches
        tensor<T, Backend> v6_mix, v6_slot, v6_decay_mid;  // VRWKV6 only
        tensor<acc_t, Backend> v6_decay;
        tensor<T, Backend> pooled, head_mid;
    };
    struct decay_entry {
        index_t tokens = -1;
        tensor<acc_t, Backend> w, u;
    };

    void norm_in_place(executor<Backend>& ex, const layer_norm_weights<T, Backend>& ln, tensor<T, Backend>& x) {
        layer_norm<T, Backend>(ex, x.view(), ln.weight.view(), ln.bias.view(), x.view());
    }
    void norm(executor<Backend>& ex, const layer_norm_weights<T, Backend>& ln, const tensor<T, Backend>& x,
              tensor<T, Backend>& y) {
        y.resize(x.dims());
        layer_norm<T, Backend>(ex, x.view(), ln.weight.view(), ln.bias.view(), y.view());
    }

    const tensor<T, Backend>& position_embedding(executor<Backend>& ex, const patch_grid& grid) {
        const auto key = std::make_pair(grid.height, grid.width);
        if (pos_key_ != key) {
            const index_t g0 = config_.train_grid();
            pos_ = to_backend(ex, resize_pos_embed<T>(weights_.pos_embed.view(), g0, g0, grid.height, grid.width));
            pos_key_ = key;
        }
        return pos_;
    }

    // w = spatial_decay / T and u = spatial_first / T for this input's T (SPEC 4).
    const decay_entry& decay_for(executor<Backend>& ex, index_t block, index_t tokens) {
        decay_entry& e = decay_cache_[static_cast<std::size_t>(block)];
        if (e.tokens != tokens) {
            const auto& att = weights_.blocks[static_cast<std::size_t>(block)].att;
            const index_t C = config_.embed_dims;
            tensor<acc_t, cpu> w(shape{C}), u(shape{C});
            for (index_t c = 0; c < C; ++c) {
                w.data()[c] = static_cast<acc_t>(att.decay[static_cast<std::size_t>(c)] / static_cast<double>(tokens));
                u.data()[c] = static_cast<acc_t>(att.first[static_cast<std::size_t>(c)] / static_cast<double>(tokens));
            }
            e.w = to_backend(ex, std::move(w));
            e.u = to_backend(ex, std::move(u));
            e.tokens = tokens;
        }
        return e;
    }

    token_shift_params shift_params(const tensor<T, Backend>& x, const patch_grid& grid) const {
        return make_token_shift_params<T, Backend>(x.view(), grid.height, grid.width, config_.shift_pixel,
                                                   config_.channel_gamma,
                                                   config_.version == 6 ? vrwkv6_head_size : 0);
    }

    void run_block(executor<Backend>& ex, index_t i, index_t B, const patch_grid& grid) {
        block_weights<T, Backend>& blk = weights_.blocks[static_cast<std::size_t>(i)];
        const T* g1 = config_.layer_scale ? blk.gamma1.data() : nullptr;
        const T* g2 = config_.layer_scale ? blk.gamma2.data() : nullptr;
        if (i == 0) norm_in_place(ex, blk.ln0, ws_.x);
        if (!config_.post_norm) {
            norm(ex, blk.ln1, ws_.x, ws_.xn);
            spatial_mix(ex, i, ws_.xn, B, grid);  // result in ws_.y
            residual_add<T, Backend>(ex, ws_.x.view(), ws_.y.view(), g1);
            norm(ex, blk.ln2, ws_.x, ws_.xn);
            channel_mix(ex, blk.ffn, ws_.xn, grid);  // result in ws_.y
            residual_add<T, Backend>(ex, ws_.x.view(), ws_.y.view(), g2);
        } else {
            spatial_mix(ex, i, ws_.x, B, grid);
            norm_in_place(ex, blk.ln1, ws_.y);
            residual_add<T, Backend>(ex, ws_.x.view(), ws_.y.view(), g1);
            channel_mix(ex, blk.ffn, ws_.x, grid);
            norm_in_place(ex, blk.ln2, ws_.y);
            residual_add<T, Backend>(ex, ws_.x.view(), ws_.y.view(), g2);
        }
    }

    void resize_all(const shape& s, std::initializer_list<tensor<T, Backend>*> ts) {
        for (tensor<T, Backend>* t : ts) t->resize(s);
    }

    // SPEC 4 (VRWKV) or SPEC 8 (VRWKV6); writes ws_.y.
    void spatial_mix(executor<Backend>& ex, index_t block, const tensor<T, Backend>& x, index_t B,
                     const patch_grid& grid) {
        (void)B;
        if (config_.version == 6) {
            vrwkv6_spatial_mix(ex, weights_.blocks[static_cast<std::size_t>(block)].att, x, grid);
            return;
        }
        const spatial_mix_weights<T, Backend>& att = weights_.blocks[static_cast<std::size_t>(block)].att;
        resize_all(x.dims(), {&ws_.s0, &ws_.s1, &ws_.s2, &ws_.k, &ws_.v, &ws_.r, &ws_.y});
        const tensor_view<const T, Backend> mixes[] = {att.mix_k.view(), att.mix_v.view(), att.mix_r.view()};
        const tensor_view<T, Backend> outs[] = {ws_.s0.view(), ws_.s1.view(), ws_.s2.view()};
        token_shift_mix<T, Backend>(ex, shift_params(x, grid), x.view(), mixes, outs, 3);
        linear<T, Backend>(ex, ws_.s0.view(), att.key.view(), nullptr, ws_.k.view());
        linear<T, Backend>(ex, ws_.s1.view(), att.value.view(), nullptr, ws_.v.view());
        linear<T, Backend>(ex, ws_.s2.view(), att.receptance.view(), nullptr, ws_.r.view());
        const decay_entry& wu = decay_for(ex, block, grid.tokens());
        biwkv<T, Backend>(ex, wu.w.view(), wu.u.view(), ws_.k.view(), ws_.v.view(), ws_.s0.view(), config_.mode);
        if (config_.key_norm) norm_in_place(ex, att.key_norm, ws_.s0);
        gate<T, Backend>(ex, activation::sigmoid, ws_.r.view(), ws_.s0.view(), ws_.s0.view());
        linear<T, Backend>(ex, ws_.s0.view(), att.output.view(), nullptr, ws_.y.view());
    }

    // SPEC 8, with the data-dependent mixes and decay.
    void vrwkv6_spatial_mix(executor<Backend>& ex, const spatial_mix_weights<T, Backend>& att,
                            const tensor<T, Backend>& x, const patch_grid& grid) {
        const shape s = x.dims();
        const index_t B = s[0], T_ = s[1], C = s[2];
        resize_all(s, {&ws_.s0, &ws_.s1, &ws_.s2, &ws_.k, &ws_.v, &ws_.r, &ws_.y});
        // xx = shift(x) - x;  xxx = x + xx * maa_x
        token_shift_delta<T, Backend>(ex, shift_params(x, grid), x.view(), ws_.s0.view());
        vrwkv6_lerp<T, Backend>(ex, x.view(), ws_.s0.view(), att.maa_x.view(), nullptr, ws_.s1.view());
        // m = tanh(xxx @ maa_w1) -> (B, T, 160); slot s: m_s @ maa_w2[s] -> (B, T, C)
        ws_.v6_mix.resize(shape{B, T_, vrwkv6_mix_slots * vrwkv6_mix_rank});
        matmul<T, Backend>(ex, ws_.s1.view(), att.maa_w1.view(), ws_.v6_mix.view());
        activate<T, Backend>(ex, activation::tanh, ws_.v6_mix.view(), ws_.v6_mix.view());
        ws_.v6_slot.resize(s);
        const tensor<T, Backend>* maa[] = {&att.maa_w, &att.maa_k, &att.maa_v, &att.maa_r, &att.maa_g};
        tensor<T, Backend>* targets[] = {&ws_.s2, &ws_.k, &ws_.v, &ws_.r, &ws_.y};  // xw, xk, xv, xr, xg
        for (index_t slot = 0; slot < vrwkv6_mix_slots; ++slot) {
            vrwkv6_mix_slot<T, Backend>(ex, ws_.v6_mix.view(), att.maa_w2.view(), slot, ws_.v6_slot.view());
            vrwkv6_lerp<T, Backend>(ex, x.view(), ws_.s0.view(), maa[slot]->view(), ws_.v6_slot.view(),
                                    targets[slot]->view());
        }
        // decay = exp(-exp(time_decay + tanh(xw @ decay_w1) @ decay_w2))
        ws_.v6_decay_mid.resize(shape{B, T_, att.decay_w1.size(1)});
        matmul<T, Backend>(ex, ws_.s2.view(), att.decay_w1.view(), ws_.v6_decay_mid.view());
        activate<T, Backend>(ex, activation::tanh, ws_.v6_decay_mid.view(), ws_.v6_decay_mid.view());
        matmul<T, Backend>(ex, ws_.v6_decay_mid.view(), att.decay_w2.view(), ws_.s2.view());
        ws_.v6_decay.resize(s);
        vrwkv6_decay<T, Backend>(ex, ws_.s2.view(), att.time_decay.view(), ws_.v6_decay.view());
        // r, k, v, g projections (xr in ws_.r, xk in ws_.k, xv in ws_.v, xg in ws_.y)
        linear<T, Backend>(ex, ws_.r.view(), att.receptance.view(), nullptr, ws_.s0.view());  // r
        linear<T, Backend>(ex, ws_.k.view(), att.key.view(), nullptr, ws_.s1.view());         // k
        linear<T, Backend>(ex, ws_.v.view(), att.value.view(), nullptr, ws_.r.view());        // v
        linear<T, Backend>(ex, ws_.y.view(), att.gate.view(), nullptr, ws_.k.view());         // g pre-activation
        biwkv6<T, Backend>(ex, ws_.s0.view(), ws_.s1.view(), ws_.r.view(), ws_.v6_decay.view(),
                           att.time_faaaa.view(), ws_.s2.view());
        if (config_.key_norm) norm_in_place(ex, att.key_norm, ws_.s2);
        group_norm<T, Backend>(ex, ws_.s2.view(), config_.num_heads, att.ln_x.weight.view(), att.ln_x.bias.view(),
                               ws_.s2.view());
        // out = output(y * silu(g))
        gate<T, Backend>(ex, activation::silu, ws_.k.view(), ws_.s2.view(), ws_.s2.view());
        linear<T, Backend>(ex, ws_.s2.view(), att.output.view(), nullptr, ws_.y.view());
        (void)C;
    }

    // SPEC 6; writes ws_.y.
    void channel_mix(executor<Backend>& ex, const channel_mix_weights<T, Backend>& ffn, const tensor<T, Backend>& x,
                     const patch_grid& grid) {
        const shape s = x.dims();
        resize_all(s, {&ws_.s0, &ws_.s1, &ws_.r, &ws_.y});
        ws_.hidden.resize(shape{s[0], s[1], config_.hidden_dims()});
        const tensor_view<const T, Backend> mixes[] = {ffn.mix_k.view(), ffn.mix_r.view()};
        const tensor_view<T, Backend> outs[] = {ws_.s0.view(), ws_.s1.view()};
        token_shift_mix<T, Backend>(ex, shift_params(x, grid), x.view(), mixes, outs, 2);
        linear<T, Backend>(ex, ws_.s0.view(), ffn.key.view(), nullptr, ws_.hidden.view());
        activate<T, Backend>(ex, activation::squared_relu, ws_.hidden.view(), ws_.hidden.view());
        if (config_.key_norm) norm_in_place(ex, ffn.key_norm, ws_.hidden);
        linear<T, Backend>(ex, ws_.hidden.view(), ffn.value.view(), nullptr, ws_.y.view());
        linear<T, Backend>(ex, ws_.s1.view(), ffn.receptance.view(), nullptr, ws_.r.view());
        gate<T, Backend>(ex, activation::sigmoid, ws_.r.view(), ws_.y.view(), ws_.y.view());
    }

    // SPEC 7: mean over tokens, then the head.
    void classify(executor<Backend>& ex, index_t B, tensor<T, Backend>& logits) {
        ws_.pooled.resize(shape{B, config_.embed_dims});
        mean_tokens<T, Backend>(ex, ws_.x.view(), ws_.pooled.view());
        logits.resize(shape{B, config_.num_classes});
        if (config_.head == head_kind::linear) {
            linear<T, Backend>(ex, ws_.pooled.view(), weights_.head_weight.view(), weights_.head_bias.data(),
                               logits.view());
        } else {
            ws_.head_mid.resize(shape{B, config_.head_hidden});
            linear<T, Backend>(ex, ws_.pooled.view(), weights_.head_weight.view(), weights_.head_bias.data(),
                               ws_.head_mid.view());
            activate<T, Backend>(ex, activation::tanh, ws_.head_mid.view(), ws_.head_mid.view());
            linear<T, Backend>(ex, ws_.head_mid.view(), weights_.head2_weight.view(), weights_.head2_bias.data(),
                               logits.view());
        }
    }

    model_config config_;
    encoder_weights<T, Backend> weights_;
    workspace ws_;
    std::pair<index_t, index_t> pos_key_{-1, -1};
    tensor<T, Backend> pos_;
    std::vector<decay_entry> decay_cache_;
};

}  // namespace vrwkv
