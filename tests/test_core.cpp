#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "vrwkv/core/tensor.hpp"
#include "vrwkv/cpu/allocator.hpp"

using namespace vrwkv;

TEST_CASE("half round-trips every finite value and rounds to nearest even") {
    for (std::uint32_t b = 0; b < 0x10000; ++b) {
        const auto bits = static_cast<std::uint16_t>(b);
        if ((bits & 0x7c00) == 0x7c00) continue;  // inf/nan
        float f = half::to_float(bits);
        REQUIRE(half::from_float(f) == bits);
    }
    CHECK(half::from_float(1.0f + 1.0f / 2048) == half::from_float(1.0f));  // tie goes to even
    CHECK(half::to_float(half::from_float(65520.0f)) == std::numeric_limits<float>::infinity());
    CHECK(half::to_float(half::from_float(1e-8f)) == 0.0f);
    CHECK(std::isnan(half::to_float(half::from_float(std::nanf("")))));
}

TEST_CASE("bfloat16 rounds to nearest even") {
    for (std::uint32_t b = 0; b < 0x10000; ++b) {
        const auto bits = static_cast<std::uint16_t>(b);
        if ((bits & 0x7f80) == 0x7f80) continue;
        REQUIRE(bfloat16::from_float(bfloat16::to_float(bits)) == bits);
    }
    CHECK(static_cast<float>(bfloat16(1.00390625f)) == 1.0f);       // tie to even
    CHECK(static_cast<float>(bfloat16(1.01171875f)) == 1.015625f);  // tie to even (up)
}

TEST_CASE("shape, views and owning tensors") {
    tensor<float> t(shape{2, 3, 4});
    CHECK(t.numel() == 24);
    CHECK(t.dims().str() == "(2, 3, 4)");
    for (index_t i = 0; i < 24; ++i) t.data()[i] = static_cast<float>(i);
    tensor_view<const float> v = t.view();
    CHECK(v(1, 2, 3) == 23.0f);
    CHECK(v.is_contiguous());
    auto s = v.slice(1, 2);
    CHECK(s(0, 0, 0) == 12.0f);
    CHECK(v.reshape(shape{6, 4})(5, 3) == 23.0f);
    CHECK_THROWS_AS(v.reshape(shape{5, 5}), error);
    CHECK_THROWS_AS(v.slice(1, 3), error);
    CHECK_THROWS_AS((shape{1, 2, 3, 4, 5}), error);

    tensor_view<const float> transposed(t.data(), shape{4, 6}, {1, 4, 0, 0});
    CHECK_FALSE(transposed.is_contiguous());
    CHECK(transposed(3, 1) == 7.0f);

    tensor<float> moved = std::move(t);
    CHECK(moved.numel() == 24);
    CHECK(t.data() == nullptr);
    float* before = moved.data();
    moved.resize(shape{2, 2});
    CHECK(moved.data() == before);  // shrinking keeps the allocation
    moved.resize(shape{100});
    CHECK(moved.numel() == 100);
}

TEST_CASE("require_shape explains the mismatch") {
    try {
        require_shape(shape{2, 3}, shape{2, 4}, "weight");
        FAIL("no throw");
    } catch (const error& e) {
        CHECK(std::string(e.what()).find("weight has shape (2, 3), expected (2, 4)") != std::string::npos);
    }
}
