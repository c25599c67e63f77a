#include "test_support.hpp"

#include <cmath>
#include <limits>
#include <random>

#include "vrwkv/cpu/allocator.hpp"
#include "vrwkv/cpu/attention.hpp"
#include "vrwkv/reference/attention.hpp"

using namespace vrwkv;

namespace {

struct dims {
    index_t B, T, C;
};

using vrwkv::testing::normal_tensor;
using vrwkv::testing::relative_error;

template <class T>
tensor<T> run_attention(const tensor<T>& q, const tensor<T>& k, const tensor<T>& v, attention_variant variant,
                        int threads = 2) {
    tensor<T> o(q.dims());
    for (index_t i = 0; i < o.numel(); ++i) o.data()[i] = convert<T>(std::numeric_limits<float>::quiet_NaN());
    executor<cpu> ex(threads);
    attention<T, cpu>(ex, q.view(), k.view(), v.view(), o.view(), variant);
    return o;
}

// Both variants against the float64 oracle on fresh random inputs.
// `spread` scales q so that scores range over about +-spread^2 * 8.
template <class T>
void check_against_reference(const dims& d, double spread, double tolerance, std::mt19937& rng) {
    CAPTURE(d.B);
    CAPTURE(d.T);
    CAPTURE(d.C);
    CAPTURE(spread);
    const shape s{d.B, d.T, d.C};
    auto q = normal_tensor<T>(s, rng, spread), k = normal_tensor<T>(s, rng, spread), v = normal_tensor<T>(s, rng, 1);
    tensor<double> want(s);
    reference::attention<T>(q.view(), k.view(), v.view(), want.view());
    for (attention_variant variant : {attention_variant::materialized, attention_variant::fused}) {
        CAPTURE(attention_variant_name(variant));
        CHECK(relative_error(run_attention(q, k, v, variant), want) < tolerance);
    }
}

// T deliberately not multiples of the query (64/256) or key (256) blocks.
const dims shapes[] = {{1, 1, 64}, {2, 37, 64}, {3, 300, 128}, {2, 513, 64}, {1, 257, 192}};

}  // namespace

TEST_CASE("CPU attention matches the float64 oracle (float, double)") {
    std::mt19937 rng(20240311);
    for (const dims& d : shapes) {
        check_against_reference<float>(d, 1.0, 1e-5, rng);
        check_against_reference<double>(d, 1.0, 1e-12, rng);
    }
}

TEST_CASE("CPU attention stays exact when scores span a wide range") {
    // Scores up to ~+-100: the online rescaling must keep every exponent <= 0.
    std::mt19937 rng(7);
    check_against_reference<float>({2, 600, 64}, 3.5, 1e-4, rng);
    check_against_reference<double>({1, 300, 128}, 3.5, 1e-11, rng);
}

TEST_CASE("CPU attention with 16-bit storage accumulates in float") {
    std::mt19937 rng(99);
    for (const dims& d : {dims{2, 37, 64}, dims{1, 300, 128}}) {
        check_against_reference<half>(d, 1.0, 2e-3, rng);
        check_against_reference<bfloat16>(d, 1.0, 1e-2, rng);
    }
}

TEST_CASE("materialized and fused agree at a size where the score block is split") {
    std::mt19937 rng(5);
    const shape s{1, 2100, 64};
    auto q = normal_tensor<float>(s, rng, 1), k = normal_tensor<float>(s, rng, 1), v = normal_tensor<float>(s, rng, 1);
    const auto a = run_attention(q, k, v, attention_variant::materialized, 1);
    const auto b = run_attention(q, k, v, attention_variant::fused, 2);
    tensor<double> a64(s);
    for (index_t i = 0; i < s.numel(); ++i) a64.data()[i] = a.data()[i];
    CHECK(relative_error(b, a64) < 1e-5);
}

TEST_CASE("the materialized query block keeps the score block bounded") {
    for (index_t t : {1, 196, 4096, 16384, 65536, 1 << 20}) {
        CAPTURE(t);
        const index_t rows = cpu_detail::attention_query_block(t);
        CHECK(rows >= 16);
        CHECK(rows <= cpu_detail::attention_max_query_block);
        if (rows > 16) CHECK(rows * t <= cpu_detail::attention_score_budget);
    }
}

TEST_CASE("attention rejects bad shapes") {
    executor<cpu> ex(1);
    auto run = [&](const shape& qs, const shape& ks) {
        tensor<float> q(qs), k(ks), v(qs), o(qs);
        attention<float, cpu>(ex, q.view(), k.view(), v.view(), o.view());
    };
    CHECK_THROWS_AS(run(shape{1, 4, 96}, shape{1, 4, 96}), error);  // C not a multiple of 64
    CHECK_THROWS_AS(run(shape{2, 5, 64}, shape{2, 6, 64}), error);  // k has another T
    CHECK_THROWS_AS(run(shape{5, 64}, shape{5, 64}), error);        // not (B, T, C)
    CHECK_THROWS_AS(attention_variant_from_name("flash"), error);
    CHECK(attention_variant_from_name("fused") == attention_variant::fused);
}
