#include "test_support.hpp"

#include <cstring>

#include "vrwkv/io/safetensors.hpp"

using namespace vrwkv;
using vrwkv::testing::data_path;

namespace {

std::vector<std::uint8_t> with_header(const std::string& header, std::size_t payload_bytes) {
    std::vector<std::uint8_t> out(8 + header.size() + payload_bytes, 0);
    std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(n >> (8 * i));
    std::memcpy(out.data() + 8, header.data(), header.size());
    return out;
}

std::string error_of(const std::vector<std::uint8_t>& bytes) {
    try {
        parse_safetensors(bytes.data(), bytes.size(), "test");
    } catch (const error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("reads the reference fixtures") {
    tensor_archive a = load_safetensors(data_path("vrwkv_mini.io.safetensors"));
    const stored_tensor& input = a.at("input");
    CHECK(input.type == dtype::f32);
    CHECK(input.shape_str() == "(2, 3, 64, 64)");
    CHECK(a.at("logits_ref").type == dtype::f64);
    CHECK(a.metadata.count("info") == 1);
    tensor<double> logits = a.get<double>("logits_ref");
    CHECK(logits.dims() == shape{2, 10});
}

TEST_CASE("write then read round-trips every dtype and the metadata") {
    tensor_archive a;
    a.metadata["config"] = "{\"embed_dims\": 64, \"name\": \"q\\\"x\"}";
    tensor<float> f(shape{2, 3});
    for (int i = 0; i < 6; ++i) f.data()[i] = 0.5f * static_cast<float>(i) - 1.0f;
    a.tensors["f32"] = stored_tensor::from_tensor(f);
    tensor<double> d(shape{3});
    for (int i = 0; i < 3; ++i) d.data()[i] = 1.0 / (i + 1);
    a.tensors["f64"] = stored_tensor::from_tensor(d);
    tensor<half> h(shape{1, 2});
    h.data()[0] = half(1.5f);
    h.data()[1] = half(-2.0f);
    a.tensors["f16"] = stored_tensor::from_tensor(h);
    tensor<bfloat16> b(shape{2});
    b.data()[0] = bfloat16(3.0f);
    b.data()[1] = bfloat16(0.25f);
    a.tensors["bf16"] = stored_tensor::from_tensor(b);
    a.tensors["empty"] = stored_tensor::from_tensor(tensor<float>(shape{0, 4}));

    const auto bytes = serialize_safetensors(a);
    tensor_archive r = parse_safetensors(bytes.data(), bytes.size());
    CHECK(r.metadata == a.metadata);
    REQUIRE(r.tensors.size() == 5);
    for (const auto& [name, t] : a.tensors) {
        CHECK(r.at(name).type == t.type);
        CHECK(r.at(name).extents == t.extents);
        CHECK(r.at(name).bytes == t.bytes);
    }
    CHECK(r.get<float>("f16")(0, 1) == -2.0f);
    CHECK(r.get<double>("bf16")(1) == 0.25);
    CHECK(r.get<float>("f64")(2) == doctest::Approx(1.0 / 3));
}

TEST_CASE("corrupt, truncated and mismatched files raise vrwkv::error with a reason") {
    const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    CHECK(error_of(with_header(ok, 8)).empty());

    SUBCASE("too short for the length prefix") {
        std::vector<std::uint8_t> b = {1, 2, 3};
        CHECK(error_of(b).find("too short") != std::string::npos);
    }
    SUBCASE("header length past the end") {
        auto b = with_header(ok, 8);
        b[0] = 0xff;
        b[1] = 0xff;
        CHECK(error_of(b).find("runs past the end") != std::string::npos);
    }
    SUBCASE("absurd header length") {
        auto b = with_header(ok, 8);
        b[7] = 0x7f;
        CHECK(error_of(b).find("exceeds") != std::string::npos);
    }
    SUBCASE("truncated data section") {
        CHECK(error_of(with_header(ok, 4)).find("past the data section") != std::string::npos);
    }
    SUBCASE("malformed JSON") {
        CHECK(error_of(with_header(R"({"a":{"dtype":"F32",)", 8)).find("not valid JSON") != std::string::npos);
    }
    SUBCASE("size does not match shape and dtype") {
        const std::string h = R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})";
        CHECK(error_of(with_header(h, 8)).find("needs 16") != std::string::npos);
    }
    SUBCASE("unknown dtype") {
        const std::string h = R"({"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})";
        CHECK(error_of(with_header(h, 2)).find("unsupported dtype") != std::string::npos);
    }
    SUBCASE("negative or fractional extents and offsets") {
        CHECK(error_of(with_header(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)) != "");
        CHECK(error_of(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0.5,8]}})", 8)) != "");
        CHECK(error_of(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)) != "");
    }
    SUBCASE("overlapping tensors") {
        const std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
        CHECK(error_of(with_header(h, 8)).find("overlap") != std::string::npos);
    }
    SUBCASE("huge shape product") {
        const std::string h = R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})";
        CHECK(error_of(with_header(h, 8)).find("too large") != std::string::npos);
    }
    SUBCASE("missing file") {
        CHECK_THROWS_WITH_AS(load_safetensors("/nonexistent/x.safetensors"),
                             doctest::Contains("cannot open"), error);
    }
    SUBCASE("every truncation of a real file fails cleanly") {
        const auto full = read_file_bytes(data_path("vrwkv_mini.io.safetensors"));
        for (std::size_t n = 0; n < full.size(); n += 997) CHECK_THROWS_AS(parse_safetensors(full.data(), n), error);
    }
}
