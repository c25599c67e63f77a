// Softmax attention on the GPU against the float64 oracle. Skips without a device.
#include "test_support.hpp"

#include <cmath>
#include <limits>
#include <random>

#include "vrwkv/cpu/allocator.hpp"
#include "vrwkv/cuda.cuh"
#include "vrwkv/cuda/attention.cuh"
#include "vrwkv/reference/attention.hpp"

using namespace vrwkv;

namespace {

struct dims {
    index_t B, T, C;
};

using vrwkv::testing::normal_tensor;
using vrwkv::testing::relative_error;

// Runs one variant on the device with the output poisoned (all bits set: NaN
// in every float format) so unwritten elements fail the check. A non-zero
// `budget` calls the materialized path with that workspace budget.
template <class T>
tensor<T> run_on_device(executor<cuda>& ex, const tensor<T>& q, const tensor<T>& k, const tensor<T>& v,
                        attention_variant variant, std::size_t budget = 0) {
    auto dq = to_device<T>(ex, q.view()), dk = to_device<T>(ex, k.view()), dv = to_device<T>(ex, v.view());
    tensor<T, cuda> dout(q.dims());
    cuda_check(cudaMemsetAsync(dout.data(), 0xff, dout.numel() * sizeof(T), ex.stream()), "poison");
    if (budget) {
        attention_params p = attention_check<T, cuda>(dq.view(), dk.view(), dv.view(), dout.view(), variant);
        cuda_detail::attention_materialized<T>(ex, p, dq.data(), dk.data(), dv.data(), dout.data(), budget);
    } else {
        attention<T, cuda>(ex, dq.view(), dk.view(), dv.view(), dout.view(), variant);
    }
    auto out = to_host<T>(ex, dout.view());
    ex.synchronize();
    return out;
}

template <class T>
void check(executor<cuda>& ex, const dims& d, attention_variant variant, double tolerance, std::mt19937& rng,
           double spread = 1.0, std::size_t budget = 0) {
    CAPTURE(d.B);
    CAPTURE(d.T);
    CAPTURE(d.C);
    CAPTURE(spread);
    CAPTURE(budget);
    CAPTURE(attention_variant_name(variant));
    const shape s{d.B, d.T, d.C};
    auto q = normal_tensor<T>(s, rng, spread), k = normal_tensor<T>(s, rng, spread), v = normal_tensor<T>(s, rng, 1);
    tensor<double> want(s);
    reference::attention<T>(q.view(), k.view(), v.view(), want.view());
    CHECK(relative_error(run_on_device(ex, q, k, v, variant, budget), want) < tolerance);
}

// T not a multiple of the kernel's 128-query or 64-key tiles, B > 1, 1 to 3 heads.
const dims shapes[] = {{1, 1, 64}, {2, 37, 64}, {3, 200, 128}, {2, 129, 192}, {1, 320, 64}};

}  // namespace

TEST_CASE("CUDA attention matches the float64 oracle") {
    if (!cuda_device_available()) {
        MESSAGE("no CUDA device: skipping the CUDA attention tests");
        return;
    }
    executor<cuda> ex;
    std::mt19937 rng(31337);

    SUBCASE("float, materialized (and fused, which falls back to it)") {
        for (const dims& d : shapes) {
            check<float>(ex, d, attention_variant::materialized, 1e-5, rng);
            check<float>(ex, d, attention_variant::fused, 1e-5, rng);
        }
        check<double>(ex, {2, 77, 128}, attention_variant::materialized, 1e-12, rng);
    }
    SUBCASE("half and bfloat16, fused and materialized") {
        for (const dims& d : shapes)
            for (attention_variant variant : {attention_variant::fused, attention_variant::materialized}) {
                check<vrwkv::half>(ex, d, variant, 5e-3, rng);
                check<bfloat16>(ex, d, variant, 2e-2, rng);
            }
    }
    SUBCASE("fused at a longer ragged T and with widely spread scores") {
        check<bfloat16>(ex, {2, 1000, 128}, attention_variant::fused, 2e-2, rng);
        check<vrwkv::half>(ex, {1, 700, 64}, attention_variant::fused, 5e-3, rng);
        // Scores up to ~+-100: the running max must keep every exponent <= 0.
        check<vrwkv::half>(ex, {2, 300, 64}, attention_variant::fused, 1e-2, rng, 3.5);
        check<bfloat16>(ex, {1, 450, 128}, attention_variant::fused, 3e-2, rng, 3.5);
    }
    SUBCASE("materialized in chunks of queries and of batches under a small workspace budget") {
        // 300 tokens x 4 bytes = 1200 bytes per score row: 64 KB holds 54 rows (query chunks).
        check<float>(ex, {2, 300, 128}, attention_variant::materialized, 1e-5, rng, 1.0, 64 << 10);
        // 40 tokens x 4 bytes = 160 bytes per row: 32 KB holds 204 rows, 5 whole batches (7 = 5 + 2).
        check<float>(ex, {7, 40, 64}, attention_variant::materialized, 1e-5, rng, 1.0, 32 << 10);
        check<bfloat16>(ex, {3, 150, 64}, attention_variant::materialized, 2e-2, rng, 1.0, 16 << 10);
    }
}

TEST_CASE("the materialized path's chunks stay under the workspace budget") {
    // Host-only arithmetic: runs without a device.
    struct dims_budget {
        index_t B, T;
        std::size_t budget;
    };
    for (const dims_budget& d : {dims_budget{16, 1024, std::size_t{1} << 30}, dims_budget{1, 65536, std::size_t{1} << 30},
                                 dims_budget{83, 196, std::size_t{1} << 20}, dims_budget{7, 40, 32 << 10},
                                 dims_budget{1, 1 << 22, 1 << 10}}) {
        CAPTURE(d.B);
        CAPTURE(d.T);
        attention_params p;
        p.batch = d.B, p.tokens = d.T, p.channels = 64, p.heads = 1;
        for (std::size_t per_score : {sizeof(float), sizeof(float) + sizeof(bfloat16)}) {
            const auto c = per_score == sizeof(float) ? cuda_detail::attention_chunks<float>(p, d.budget)
                                                      : cuda_detail::attention_chunks<bfloat16>(p, d.budget);
            CHECK(c.batches >= 1);
            CHECK(c.queries >= 1);
            CHECK(c.batches <= d.B);
            CHECK(c.queries <= d.T);
            CHECK((c.batches == 1 || c.queries == d.T));  // a chunk's score rows are contiguous
            if (c.queries > 1) CHECK(static_cast<std::size_t>(c.batches * c.queries * d.T) * per_score <= d.budget);
        }
    }
}

TEST_CASE("CUDA attention rejects bad shapes before touching the device") {
    if (!cuda_device_available()) {
        MESSAGE("no CUDA device: skipping");
        return;
    }
    executor<cuda> ex;
    tensor<float, cuda> a(shape{1, 4, 96}), o(shape{1, 4, 96});
    auto run = [&] { attention<float, cuda>(ex, a.view(), a.view(), a.view(), o.view()); };
    CHECK_THROWS_AS(run(), error);  // C = 96 is not a multiple of 64
}
