#pragma once
// Options shared by the subcommands that build a model from a checkpoint.
#include <string>

#include "args.hpp"
#include "vrwkv/io/checkpoint.hpp"
#include "vrwkv/model/load.hpp"

namespace vrwkv::cli {

inline const std::set<std::string> model_options = {"checkpoint", "mode", "threads", "img-size"};
inline const std::set<std::string> model_flags = {"post-norm"};

inline load_options load_options_from(const args& a) {
    load_options o;
    if (a.flag("post-norm")) o.post_norm = true;
    if (a.has("mode")) o.mode = biwkv_mode_from_name(a.get("mode", "exact"));
    if (a.has("img-size")) o.img_size = a.integer("img-size", 224);
    return o;
}

inline std::string describe(const model_config& c) {
    return std::string(c.version == 6 ? "VRWKV6" : "VRWKV") + " (C=" + std::to_string(c.embed_dims) +
           ", depth " + std::to_string(c.depth) + (c.version == 6 ? ", heads " + std::to_string(c.num_heads) : "") +
           ", patch " + std::to_string(c.patch_size) + ", img " + std::to_string(c.img_size) +
           (c.post_norm ? ", post-norm" : "") + (c.layer_scale ? ", layer scale" : "") +
           (c.key_norm ? ", key norm" : "") + ", " + std::to_string(c.num_classes) + " classes, Bi-WKV " +
           biwkv_mode_name(c.mode) + ")";
}

}  // namespace vrwkv::cli
