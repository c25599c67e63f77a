#pragma once
// Builds a model from named tensors (safetensors or .pth): the architecture
// comes from the `config` metadata (published argument names) where present,
// then from what the tensors reveal, then from explicit overrides (post_norm
// cannot be inferred from weights).
#include <cmath>
#include <optional>
#include <set>
#include <string>

#include "vrwkv/io/tensor_archive.hpp"
#include "vrwkv/model/weights.hpp"

namespace vrwkv {

struct load_options {
    std::optional<bool> post_norm;
    std::optional<biwkv_mode> mode;
    std::optional<std::vector<index_t>> out_indices;
    std::optional<index_t> img_size;
};

namespace detail {

// The prefix the backbone's keys carry: "backbone." (mmcls) or none.
inline std::string backbone_prefix(const tensor_archive& a) {
    if (a.contains("backbone.patch_embed.projection.weight")) return "backbone.";
    if (a.contains("patch_embed.projection.weight")) return "";
    throw error("checkpoint has no patch embedding (looked for 'backbone.patch_embed.projection.weight' and "
                "'patch_embed.projection.weight'): not a Vision-RWKV checkpoint?");
}

// Maps the canonical names used by encoder_weights::visit to the archive's.
inline std::string archive_name(const std::string& canonical, const std::string& prefix) {
    const std::string bb = "backbone.";
    if (canonical.compare(0, bb.size(), bb) == 0) return prefix + canonical.substr(bb.size());
    return canonical;
}

inline std::vector<index_t> squeeze_leading_ones(std::vector<index_t> e) {
    while (e.size() > 1 && e.front() == 1) e.erase(e.begin());
    return e;
}

}  // namespace detail

inline model_config infer_config(const tensor_archive& a, const load_options& options = {}) {
    const std::string pre = detail::backbone_prefix(a);
    model_config c;
    if (a.metadata.count("config")) {
        json::value cfg;
        try {
            cfg = json::parse(a.metadata.at("config"));
        } catch (const error& e) {
            throw error(std::string("checkpoint metadata 'config' is not valid JSON: ") + e.what());
        }
        c.apply_json(cfg);
    }
    // What the tensors reveal wins over defaults; disagreement with metadata is an error.
    auto set = [](index_t& field, index_t value, const char* what, bool from_meta) {
        require(!from_meta || field == value, std::string("checkpoint metadata says ") + what + " = " +
                                                  std::to_string(field) + " but the tensors say " +
                                                  std::to_string(value));
        field = value;
    };
    const bool meta = a.metadata.count("config") != 0;
    const stored_tensor& proj = a.at(pre + "patch_embed.projection.weight");
    require(proj.extents.size() == 4 && proj.extents[2] == proj.extents[3],
            "patch_embed.projection.weight has shape " + proj.shape_str() + ", expected (C, 3, p, p)");
    set(c.embed_dims, proj.extents[0], "embed_dims", meta);
    set(c.patch_size, proj.extents[2], "patch_size", meta);
    c.in_channels = proj.extents[1];

    index_t depth = 0;
    while (a.contains(pre + "layers." + std::to_string(depth) + ".ln1.weight")) ++depth;
    require(depth > 0, "checkpoint has no blocks ('" + pre + "layers.0.ln1.weight' missing)");
    set(c.depth, depth, "depth", meta);

    const std::string l0 = pre + "layers.0.";
    if (a.contains(l0 + "att.time_faaaa")) {
        c.version = 6;
        c.num_heads = a.at(l0 + "att.time_faaaa").extents.at(0);
    } else {
        c.version = 4;
        c.num_heads = 0;
    }
    c.key_norm = a.contains(l0 + "att.key_norm.weight");
    c.layer_scale = a.contains(l0 + "gamma1");
    c.final_norm = a.contains(pre + "ln1.weight");
    const stored_tensor& ffn_key = a.at(l0 + "ffn.key.weight");
    require(ffn_key.extents.size() == 2 && ffn_key.extents[0] % c.embed_dims == 0,
            "ffn.key.weight has shape " + ffn_key.shape_str() + ", expected (hidden_rate * C, C)");
    set(c.hidden_rate, ffn_key.extents[0] / c.embed_dims, "hidden_rate", meta);

    if (a.contains(pre + "pos_embed")) {
        const index_t tokens = a.at(pre + "pos_embed").numel() / c.embed_dims;
        const auto side = static_cast<index_t>(std::llround(std::sqrt(static_cast<double>(tokens))));
        require(side * side == tokens, "pos_embed holds " + std::to_string(tokens) +
                                           " tokens, not a square grid");
        if (!meta || c.train_grid() != side) c.img_size = side * c.patch_size;
    }

    c.head = head_kind::none, c.num_classes = 0;
    if (a.contains("head.fc.weight")) {
        c.head = head_kind::linear;
        c.num_classes = a.at("head.fc.weight").extents.at(0);
    } else if (a.contains("head.0.weight") && a.contains("head.2.weight")) {
        c.head = head_kind::mlp_tanh;
        c.head_hidden = a.at("head.0.weight").extents.at(0);
        c.num_classes = a.at("head.2.weight").extents.at(0);
    }

    if (options.post_norm) c.post_norm = *options.post_norm;
    if (options.mode) c.mode = *options.mode;
    if (options.out_indices) c.out_indices = *options.out_indices;
    if (options.img_size) c.img_size = *options.img_size;
    c.validate();
    return c;
}

// Reads every parameter into CPU tensors of T, checking each shape.
template <class T>
encoder_weights<T, cpu> load_weights(const tensor_archive& a, const model_config& c) {
    c.validate();
    const std::string pre = detail::backbone_prefix(a);
    encoder_weights<T, cpu> w;
    w.blocks.resize(static_cast<std::size_t>(c.depth));
    std::set<std::string> used;
    auto fetch = [&](const std::string& canonical, const shape& expected) -> const stored_tensor& {
        const std::string name = detail::archive_name(canonical, pre);
        const stored_tensor& t = a.at(name);
        require(is_floating(t.type), "tensor '" + name + "' has dtype " + dtype_name(t.type) +
                                         ", expected a floating-point type");
        const std::vector<index_t> want(expected.dims.begin(), expected.dims.begin() + expected.rank);
        require(detail::squeeze_leading_ones(t.extents) == detail::squeeze_leading_ones(want) ||
                    (t.numel() == expected.numel() && t.extents.size() == 4 && expected.rank == 2),
                "tensor '" + name + "' has shape " + t.shape_str() + ", expected " + expected.str());
        used.insert(name);
        return t;
    };
    w.visit(
        [&](tensor<T, cpu>& dst, const std::string& canonical, const shape& expected) {
            const stored_tensor& t = fetch(canonical, expected);
            dst = tensor<T, cpu>(expected);
            for (index_t i = 0; i < dst.numel(); ++i) dst.data()[i] = convert<T>(t.element(i));
        },
        c);
    const index_t C = c.embed_dims, g0 = c.train_grid();
    const stored_tensor& pos = fetch("backbone.pos_embed", shape{g0 * g0, C});
    w.pos_embed = tensor<T, cpu>(shape{g0 * g0, C});
    for (index_t i = 0; i < w.pos_embed.numel(); ++i) w.pos_embed.data()[i] = convert<T>(pos.element(i));
    if (c.version == 4)
        for (index_t i = 0; i < c.depth; ++i) {
            auto& att = w.blocks[static_cast<std::size_t>(i)].att;
            const std::string name = "backbone.layers." + std::to_string(i) + ".att.";
            const stored_tensor& decay = fetch(name + "spatial_decay", shape{C});
            const stored_tensor& first = fetch(name + "spatial_first", shape{C});
            att.decay.resize(static_cast<std::size_t>(C));
            att.first.resize(static_cast<std::size_t>(C));
            for (index_t j = 0; j < C; ++j) att.decay[j] = decay.element(j), att.first[j] = first.element(j);
        }
    return w;
}

// Number of floating-point parameters in a checkpoint.
inline index_t parameter_count(const tensor_archive& a) {
    index_t n = 0;
    for (const auto& [name, t] : a.tensors)
        if (is_floating(t.type)) n += t.numel();
    return n;
}

}  // namespace vrwkv
