// The real VRWKV-T architecture (C=192, depth 12, 1000 classes) loaded from the
// published-layout .pth, against the float64 reference. The 24 MB checkpoint
// is read from ../shared/fixtures; the test skips when it is absent.
#include "test_support.hpp"

#include "vrwkv/io/checkpoint.hpp"
#include "vrwkv/vrwkv.hpp"

using namespace vrwkv;
using vrwkv::testing::file_exists;
using vrwkv::testing::shared_fixture;

TEST_CASE("vrwkv_t.pth reproduces every layer and the logits in float") {
    const std::string pth = shared_fixture("vrwkv_t.pth"), io_file = shared_fixture("vrwkv_t.io.safetensors");
    if (!file_exists(pth) || !file_exists(io_file)) {
        MESSAGE("skipped: " << pth << " not present");
        return;
    }
    executor<cpu> ex(2);
    auto enc = encoder<float, cpu>::from_archive(ex, load_checkpoint(pth));
    CHECK(enc.config().embed_dims == 192);
    CHECK(enc.config().depth == 12);
    CHECK(enc.config().num_classes == 1000);
    const tensor_archive io = load_safetensors(io_file);
    tensor<float> input = io.get<float>("input");
    forward_options opt;
    std::vector<index_t> all;
    for (index_t i = 0; i < 12; ++i) all.push_back(i);
    opt.out_indices = all;
    auto out = enc.forward(ex, input.view(), opt);
    for (std::size_t j = 0; j < out.features.size(); ++j) {
        CAPTURE(j);
        CHECK(vrwkv::testing::max_abs_diff(out.features[j].data(), io.at("layer" + std::to_string(j) + "_ref")) < 1e-4);
    }
    CHECK(vrwkv::testing::max_abs_diff(out.features.back().data(), io.at("features_ref")) < 1e-4);
    CHECK(vrwkv::testing::max_abs_diff(out.logits.data(), io.at("logits_ref")) < 1e-4);
}
