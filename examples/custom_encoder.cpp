// Declare an encoder at compile time, give it weights and run it.
// A configuration is a type: derive from configs::defaults (or a published
// one such as configs::vrwkv_t) and override what differs.
#include <vrwkv/vrwkv.hpp>

#include <iostream>
#include <random>

struct small_vrwkv : vrwkv::configs::defaults {
    static constexpr vrwkv::index_t embed_dims = 128;
    static constexpr vrwkv::index_t depth = 6;
    static constexpr vrwkv::index_t num_classes = 10;
    static constexpr bool post_norm = true;    // norm after each mix, as VRWKV-S/B
    static constexpr bool layer_scale = true;  // gamma1 / gamma2
};

int main() {
    const vrwkv::model_config config = vrwkv::make_config<small_vrwkv>();
    config.validate();

    // Weights: every tensor of the config has a checkpoint name and shape; visit() walks them.
    // (A real model comes from vrwkv::load_checkpoint + encoder::from_archive instead.)
    std::mt19937 rng(0);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    vrwkv::encoder_weights<float, vrwkv::cpu> weights;
    weights.blocks.resize(static_cast<std::size_t>(config.depth));
    weights.visit([&](vrwkv::tensor<float>& t, const std::string& name, const vrwkv::shape& s) {
        t = vrwkv::tensor<float>(s);
        const bool is_norm_weight = name.find("ln") != std::string::npos && name.find(".weight") != std::string::npos;
        for (vrwkv::index_t i = 0; i < t.numel(); ++i) t.data()[i] = is_norm_weight ? 1.0f : normal(rng);
    }, config);
    const vrwkv::index_t grid = config.train_grid();
    weights.pos_embed = vrwkv::tensor<float>(vrwkv::shape{grid * grid, config.embed_dims});
    for (vrwkv::index_t i = 0; i < weights.pos_embed.numel(); ++i) weights.pos_embed.data()[i] = normal(rng);
    for (auto& block : weights.blocks) {
        block.att.decay.assign(static_cast<std::size_t>(config.embed_dims), -2.0);  // spatial_decay
        block.att.first.assign(static_cast<std::size_t>(config.embed_dims), 1.0);   // spatial_first
    }

    vrwkv::executor<vrwkv::cpu> ex(2);
    vrwkv::encoder<float, vrwkv::cpu> encoder(config, std::move(weights));
    vrwkv::tensor<float> images(vrwkv::shape{2, 3, 224, 224});
    for (vrwkv::index_t i = 0; i < images.numel(); ++i) images.data()[i] = normal(rng) * 50;
    auto out = encoder.forward(ex, images.view());
    std::cout << "custom encoder: C=" << config.embed_dims << ", depth " << config.depth << "\n"
              << "  logits " << out.logits.dims().str() << ", features " << out.features.back().dims().str() << "\n";
    return 0;
}
