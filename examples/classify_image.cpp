// Classify one image with a published checkpoint, from C++ alone:
//   example_classify_image vrwkv_t_in1k_224.pth photo.jpg
// Decoding (stb) and preprocessing (Pillow-exact bicubic resize of the short
// side to 256, center crop 224, ImageNet normalisation) match the published
// evaluation pipeline, so the top-5 matches it too. Link vrwkv::image.
#include <vrwkv/io/checkpoint.hpp>
#include <vrwkv/io/image.hpp>
#include <vrwkv/vrwkv.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <numeric>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " CHECKPOINT IMAGE\n";
        return 2;
    }
    try {
        vrwkv::executor<vrwkv::cpu> ex;
        // VRWKV-S/B/L checkpoints need options.post_norm = true (weights do not reveal it).
        vrwkv::load_options options;
        auto encoder = vrwkv::encoder<float, vrwkv::cpu>::from_archive(ex, vrwkv::load_checkpoint(argv[1]), options);

        const vrwkv::image_u8 image = vrwkv::load_image(argv[2]);  // throws vrwkv::error if undecodable
        vrwkv::tensor<float> batch(vrwkv::shape{1, 3, 224, 224});
        vrwkv::preprocess_into(image, batch.view().reshape(vrwkv::shape{3, 224, 224}));

        const auto out = encoder.forward(ex, batch.view());
        const float* logits = out.logits.data();
        const auto classes = static_cast<std::size_t>(out.logits.size(1));
        std::vector<std::size_t> order(classes);
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                          [logits](std::size_t a, std::size_t b) { return logits[a] > logits[b]; });
        const float top = logits[order[0]];
        double sum = 0;
        for (std::size_t c = 0; c < classes; ++c) sum += std::exp(logits[c] - top);
        for (std::size_t i = 0; i < 5 && i < classes; ++i)
            std::cout << i + 1 << ". class " << order[i] << "  p=" << std::exp(logits[order[i]] - top) / sum << "\n";
        return 0;
    } catch (const vrwkv::error& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
}
