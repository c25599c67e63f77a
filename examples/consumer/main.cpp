// Builds a VRWKV encoder from a compile-time config and runs it once.
#include <vrwkv/vrwkv.hpp>

#include <iostream>

struct tiny : vrwkv::configs::defaults {
    static constexpr vrwkv::index_t embed_dims = 32, depth = 2, img_size = 32, num_classes = 3;
};

int main() {
    vrwkv::executor<vrwkv::cpu> ex(1);
    const vrwkv::model_config c = vrwkv::make_config<tiny>();
    vrwkv::encoder_weights<float, vrwkv::cpu> w;
    w.blocks.resize(static_cast<std::size_t>(c.depth));
    w.visit([](vrwkv::tensor<float>& t, const std::string&, const vrwkv::shape& s) {
        t = vrwkv::tensor<float>(s);
        for (vrwkv::index_t i = 0; i < t.numel(); ++i) t.data()[i] = 0.01f * static_cast<float>(i % 7);
    }, c);
    w.pos_embed = vrwkv::tensor<float>(vrwkv::shape{4, 32});
    for (vrwkv::index_t i = 0; i < w.pos_embed.numel(); ++i) w.pos_embed.data()[i] = 0;
    for (auto& b : w.blocks) b.att.decay.assign(32, -1.0), b.att.first.assign(32, 0.5);
    vrwkv::encoder<float, vrwkv::cpu> enc(c, std::move(w));
    vrwkv::tensor<float> img(vrwkv::shape{1, 3, 32, 32});
    for (vrwkv::index_t i = 0; i < img.numel(); ++i) img.data()[i] = 0.5f;
    auto out = enc.forward(ex, img.view());
    std::cout << "consumer: logits " << out.logits.dims().str() << "\n";
    return out.logits.dims() == vrwkv::shape{1, 3} ? 0 : 1;
}
