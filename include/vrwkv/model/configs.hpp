#pragma once
// Compile-time encoder configurations. A configuration is a type with static
// members; derive from `configs::defaults` and override what differs:
//
//   struct my_encoder : vrwkv::configs::defaults {
//       static constexpr vrwkv::index_t embed_dims = 256, depth = 8;
//   };
//   vrwkv::model_config cfg = vrwkv::make_config<my_encoder>();
#include "vrwkv/model/config.hpp"

namespace vrwkv {
namespace configs {

struct defaults {
    static constexpr int version = 4;
    static constexpr index_t img_size = 224, patch_size = 16, in_channels = 3;
    static constexpr index_t embed_dims = 192, depth = 12, num_heads = 0, hidden_rate = 4;
    static constexpr bool post_norm = false, key_norm = false, layer_scale = false, final_norm = true;
    static constexpr index_t shift_pixel = 1;
    static constexpr double channel_gamma = 0.25;
    static constexpr index_t num_classes = 1000;
    static constexpr head_kind head = head_kind::linear;
};

// SPEC 9's published configurations.
struct vrwkv_t : defaults {};
struct vrwkv_s : defaults {
    static constexpr index_t embed_dims = 384;
    static constexpr bool post_norm = true, layer_scale = true;
};
struct vrwkv_b : defaults {
    static constexpr index_t embed_dims = 768;
    static constexpr bool post_norm = true, layer_scale = true;
};
struct vrwkv_l : defaults {
    static constexpr index_t img_size = 384, embed_dims = 1024, depth = 24;
    static constexpr bool post_norm = true, layer_scale = true, key_norm = true;
    static constexpr head_kind head = head_kind::mlp_tanh;
};
struct vrwkv6_t : defaults {
    static constexpr int version = 6;
    static constexpr index_t num_heads = 3;
};
struct vrwkv6_s : defaults {
    static constexpr int version = 6;
    static constexpr index_t embed_dims = 384, num_heads = 6;
    static constexpr bool post_norm = true, layer_scale = true;
};
struct vrwkv6_b : defaults {
    static constexpr int version = 6;
    static constexpr index_t embed_dims = 768, num_heads = 12;
    static constexpr bool post_norm = true, layer_scale = true;
};

}  // namespace configs

template <class Config>
model_config make_config() {
    static_assert(Config::version == 4 || Config::version == 6, "version must be 4 (VRWKV) or 6 (VRWKV6)");
    static_assert(Config::embed_dims > 0 && Config::depth > 0 && Config::patch_size > 0, "positive sizes");
    static_assert(Config::version == 4 || Config::embed_dims == Config::num_heads * vrwkv6_head_size,
                  "VRWKV6 needs embed_dims = num_heads * 64");
    static_assert(Config::channel_gamma >= 0 && Config::channel_gamma <= 0.25, "channel_gamma in [0, 1/4]");
    model_config c;
    c.version = Config::version;
    c.img_size = Config::img_size, c.patch_size = Config::patch_size, c.in_channels = Config::in_channels;
    c.embed_dims = Config::embed_dims, c.depth = Config::depth, c.num_heads = Config::num_heads;
    c.hidden_rate = Config::hidden_rate;
    c.post_norm = Config::post_norm, c.key_norm = Config::key_norm, c.layer_scale = Config::layer_scale;
    c.final_norm = Config::final_norm;
    c.shift_pixel = Config::shift_pixel, c.channel_gamma = Config::channel_gamma;
    c.num_classes = Config::head == head_kind::none ? 0 : Config::num_classes;
    c.head = Config::head;
    c.validate();
    return c;
}

}  // namespace vrwkv
