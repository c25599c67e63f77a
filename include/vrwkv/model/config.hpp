#pragma once
// Runtime description of an encoder. Field names follow the published
// backbone arguments (img_size, patch_size, embed_dims, depth, num_heads,
// post_norm, key_norm, init_values, hidden_rate, final_norm, out_indices).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "vrwkv/io/json.hpp"
#include "vrwkv/ops/biwkv.hpp"
#include "vrwkv/ops/token_shift.hpp"

namespace vrwkv {

enum class head_kind { none, linear, mlp_tanh };  // mlp_tanh: VRWKV-L's Linear-tanh-Linear

inline constexpr index_t vrwkv6_head_size = 64;
inline constexpr index_t default_mlp_head_hidden = 3072;

struct model_config {
    int version = 4;  // 4: VRWKV (Bi-WKV), 6: VRWKV6 (Bi-WKV6)
    index_t img_size = 224;
    index_t patch_size = 16;
    index_t in_channels = 3;
    index_t embed_dims = 192;
    index_t depth = 12;
    index_t num_heads = 0;  // VRWKV6 only: embed_dims / 64
    bool post_norm = false;
    bool key_norm = false;
    bool layer_scale = false;  // gamma1/gamma2 present (models built with init_values)
    bool final_norm = true;
    index_t hidden_rate = 4;
    index_t shift_pixel = default_shift_pixel;
    double channel_gamma = default_channel_gamma;
    std::vector<index_t> out_indices;  // empty: the last block only
    index_t num_classes = 0;           // 0: backbone only
    head_kind head = head_kind::none;
    index_t head_hidden = default_mlp_head_hidden;
    biwkv_mode mode = biwkv_mode::exact;

    index_t hidden_dims() const { return hidden_rate * embed_dims; }
    index_t train_grid() const { return (img_size + patch_size - 1) / patch_size; }
    std::vector<index_t> outputs() const {
        return out_indices.empty() ? std::vector<index_t>{depth - 1} : out_indices;
    }

    void validate() const {
        require(version == 4 || version == 6, "model version must be 4 (VRWKV) or 6 (VRWKV6), got " +
                                                  std::to_string(version));
        require(embed_dims >= 1 && depth >= 1 && patch_size >= 1 && img_size >= 1 && hidden_rate >= 1 &&
                    in_channels >= 1,
                "model config needs positive embed_dims, depth, patch_size, img_size, hidden_rate");
        if (version == 6)
            require(num_heads >= 1 && embed_dims == num_heads * vrwkv6_head_size,
                    "VRWKV6 needs embed_dims = num_heads * 64, got embed_dims " + std::to_string(embed_dims) +
                        " and num_heads " + std::to_string(num_heads));
        for (index_t i : out_indices)
            require(i >= 0 && i < depth, "out_indices entry " + std::to_string(i) + " is outside [0, " +
                                             std::to_string(depth) + ")");
        require(shift_pixel >= 0, "shift_pixel must be >= 0");
        require(channel_gamma >= 0 && channel_gamma <= 0.25, "channel_gamma must be in [0, 1/4]");
        require((head == head_kind::none) == (num_classes == 0), "a classifier head needs num_classes > 0");
    }

    // The published argument names, as stored in a checkpoint's `config` metadata.
    std::string to_json() const {
        std::string idx = "[";
        for (std::size_t i = 0; i < out_indices.size(); ++i) idx += (i ? ", " : "") + std::to_string(out_indices[i]);
        idx += "]";
        std::string s = "{\"img_size\": " + std::to_string(img_size) + ", \"patch_size\": " +
                        std::to_string(patch_size) + ", \"embed_dims\": " + std::to_string(embed_dims) +
                        ", \"depth\": " + std::to_string(depth);
        if (version == 6) s += ", \"num_heads\": " + std::to_string(num_heads);
        s += std::string(", \"post_norm\": ") + (post_norm ? "true" : "false") +
             ", \"key_norm\": " + (key_norm ? "true" : "false") + ", \"hidden_rate\": " +
             std::to_string(hidden_rate) + ", \"final_norm\": " + (final_norm ? "true" : "false") +
             ", \"shift_pixel\": " + std::to_string(shift_pixel) + ", \"channel_gamma\": " +
             std::to_string(channel_gamma) + ", \"out_indices\": " + idx;
        if (layer_scale) s += ", \"init_values\": 1.0";
        return s + "}";
    }

    // Applies the published arguments present in `cfg`; absent keys keep their values.
    void apply_json(const json::value& cfg) {
        const std::string where = "model config ";
        auto int_of = [&](const char* key, index_t& field) {
            if (cfg.contains(key) && !cfg.at(key).is_null())
                field = cfg.at(key).as_int(where + key, 0, 1 << 30);
        };
        auto bool_of = [&](const char* key, bool& field) {
            if (cfg.contains(key) && !cfg.at(key).is_null()) field = cfg.at(key).as_bool(where + key);
        };
        require(cfg.is_object(), "model config must be a JSON object");
        int_of("img_size", img_size);
        int_of("patch_size", patch_size);
        int_of("in_channels", in_channels);
        int_of("embed_dims", embed_dims);
        int_of("depth", depth);
        int_of("num_heads", num_heads);
        int_of("hidden_rate", hidden_rate);
        int_of("shift_pixel", shift_pixel);
        bool_of("post_norm", post_norm);
        bool_of("key_norm", key_norm);
        bool_of("final_norm", final_norm);
        if (cfg.contains("img_size") && cfg.at("img_size").is_array()) {
            const auto& hw = cfg.at("img_size").items();
            require(!hw.empty(), "model config img_size is an empty list");
            img_size = hw[0].as_int(where + "img_size", 1, 1 << 30);
        }
        if (cfg.contains("init_values") && !cfg.at("init_values").is_null()) layer_scale = true;
        if (cfg.contains("channel_gamma")) channel_gamma = cfg.at("channel_gamma").as_number(where + "channel_gamma");
        if (cfg.contains("out_indices")) {
            const json::value& oi = cfg.at("out_indices");
            out_indices.clear();
            if (oi.is_array()) {
                for (const json::value& v : oi.items()) out_indices.push_back(v.as_int(where + "out_indices", -1024, 1024));
            } else {
                out_indices.push_back(oi.as_int(where + "out_indices", -1024, 1024));
            }
            for (index_t& i : out_indices)
                if (i < 0) i += depth;  // Python-style negative indices
        }
        if (num_heads > 0) version = 6;
    }
};

}  // namespace vrwkv
