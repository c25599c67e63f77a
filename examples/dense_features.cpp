// Multi-scale features for a dense-prediction head (segmentation, detection)
// at 2048 x 2048: 16,384 tokens, where Bi-WKV's O(T) cost matters.
//   example_dense_features [checkpoint.pth|.safetensors] [size]
// Without a checkpoint it uses a seeded VRWKV-T with random weights.
#include <vrwkv/model/random_checkpoint.hpp>
#include <vrwkv/vrwkv.hpp>

#include <chrono>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    try {
        const vrwkv::index_t size = argc > 2 ? std::stoi(argv[2]) : 2048;
        vrwkv::executor<vrwkv::cpu> ex;  // all cores
        // Features from blocks 3, 6, 9 and 12, as UperNet-style heads use them.
        vrwkv::load_options options;
        options.out_indices = std::vector<vrwkv::index_t>{2, 5, 8, 11};

        vrwkv::tensor_archive checkpoint;
        if (argc > 1 && std::string(argv[1]).size() > 0) {
            checkpoint = vrwkv::load_checkpoint(argv[1]);
        } else {
            checkpoint = vrwkv::random_checkpoint(vrwkv::make_config<vrwkv::configs::vrwkv_t>(), 0);
            std::cout << "no checkpoint given: seeded VRWKV-T with random weights\n";
        }
        auto enc = vrwkv::encoder<float, vrwkv::cpu>::from_archive(ex, checkpoint, options);
        vrwkv::tensor<float> image(vrwkv::shape{1, 3, size, size});
        for (vrwkv::index_t i = 0; i < image.numel(); ++i) image.data()[i] = static_cast<float>(i % 97) / 97.0f;

        vrwkv::forward_options fo;
        fo.logits = false;  // backbone only
        const auto start = std::chrono::steady_clock::now();
        auto out = enc.forward(ex, image.view(), fo);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::cout << size << "x" << size << " image, " << out.grid.tokens() << " tokens, " << s << " s\n";
        for (std::size_t i = 0; i < out.features.size(); ++i)
            std::cout << "  block " << out.indices[i] << ": " << out.features[i].dims().str() << "\n";
        return 0;
    } catch (const vrwkv::error& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
}
