#include "test_support.hpp"

#include "vrwkv/vrwkv.hpp"

using namespace vrwkv;
using vrwkv::testing::data_path;

namespace {

struct reference_case {
    std::string model, io;
};

template <class T>
void check_model(const std::string& model_file, const std::string& io_file, double tol_logits, double tol_layers,
                 const std::optional<std::vector<index_t>>& subset = std::nullopt) {
    const tensor_archive model = load_safetensors(model_file);
    const tensor_archive io = load_safetensors(io_file);
    executor<cpu> ex(2);
    auto enc = encoder<T, cpu>::from_archive(ex, model);
    const model_config& c = enc.config();
    tensor<T> input = io.get<T>("input");
    forward_options opt;
    std::vector<index_t> all;
    for (index_t i = 0; i < c.depth; ++i) all.push_back(i);
    opt.out_indices = subset ? *subset : all;
    auto out = enc.forward(ex, input.view(), opt);
    REQUIRE(out.features.size() == opt.out_indices->size());
    for (std::size_t j = 0; j < out.features.size(); ++j) {
        const index_t i = out.indices[j];
        CAPTURE(i);
        const stored_tensor& ref = io.at("layer" + std::to_string(i) + "_ref");
        CHECK(out.features[j].dims() == shape::from_range(ref.extents.begin(), ref.extents.end()));
        CHECK(vrwkv::testing::max_abs_diff(out.features[j].data(), ref) < tol_layers);
        if (i == c.depth - 1)
            CHECK(vrwkv::testing::max_abs_diff(out.features[j].data(), io.at("features_ref")) < tol_logits);
    }
    REQUIRE(out.logits.dims() == shape{input.size(0), c.num_classes});
    CHECK(vrwkv::testing::max_abs_diff(out.logits.data(), io.at("logits_ref")) < tol_logits);
}

}  // namespace

TEST_CASE("vrwkv_mini matches the float64 reference in float") {
    check_model<float>(data_path("vrwkv_mini.safetensors"), data_path("vrwkv_mini.io.safetensors"), 1e-4, 1e-4);
}

TEST_CASE("vrwkv_mini matches the float64 reference in double") {
    // layer outputs are stored as float32, so they only agree to float rounding
    check_model<double>(data_path("vrwkv_mini.safetensors"), data_path("vrwkv_mini.io.safetensors"), 1e-9, 1e-6);
}

TEST_CASE("vrwkv_mini with out_indices subsets") {
    check_model<float>(data_path("vrwkv_mini.safetensors"), data_path("vrwkv_mini.io.safetensors"), 1e-4, 1e-4,
                       std::vector<index_t>{1});
    check_model<double>(data_path("vrwkv_mini.safetensors"), data_path("vrwkv_mini.io.safetensors"), 1e-9, 1e-6,
                        std::vector<index_t>{0, 3});
}

TEST_CASE("vrwkv6_mini matches the float64 reference") {
    check_model<float>(data_path("vrwkv6_mini.safetensors"), data_path("vrwkv6_mini.io.safetensors"), 1e-4, 1e-4);
    check_model<double>(data_path("vrwkv6_mini.safetensors"), data_path("vrwkv6_mini.io.safetensors"), 1e-9, 1e-6);
}
