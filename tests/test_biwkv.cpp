#include "test_support.hpp"

#include <random>

#include "vrwkv/cpu/biwkv.hpp"
#include "vrwkv/reference/biwkv.hpp"

using namespace vrwkv;
using vrwkv::testing::data_path;

namespace {

const tensor_archive& cases() {
    static const tensor_archive a = load_safetensors(data_path("biwkv_cases.safetensors"));
    return a;
}
const char* const case_names[] = {"t196_c192", "t1024_c64", "t50_c32", "t7_c40", "t1_c32", "t196_c64_bigk"};

template <class T>
double run_case(const std::string& name, biwkv_mode mode, const std::string& ref_key) {
    const tensor_archive& a = cases();
    auto w = a.get<T>(name + ".w"), u = a.get<T>(name + ".u");
    auto k = a.get<T>(name + ".k"), v = a.get<T>(name + ".v");
    tensor<T> y(k.dims());
    executor<cpu> ex(2);
    biwkv<T, cpu>(ex, w.view(), u.view(), k.view(), v.view(), y.view(), mode);
    return vrwkv::testing::max_abs_diff(y.data(), a.at(name + "." + ref_key));
}

}  // namespace

TEST_CASE("exact Bi-WKV matches the float64 references") {
    for (const char* name : case_names) {
        CAPTURE(name);
        CHECK(run_case<float>(name, biwkv_mode::exact, "y_ref") < 1e-4);
        CHECK(run_case<double>(name, biwkv_mode::exact, "y_ref") < 1e-10);
    }
}

TEST_CASE("compat Bi-WKV matches the published kernel's function (SPEC 5.1)") {
    for (const char* name : case_names) {
        CAPTURE(name);
        CHECK(run_case<float>(name, biwkv_mode::compat, "y_official_v1_math") < 1e-4);
        CHECK(run_case<double>(name, biwkv_mode::compat, "y_official_v1_math") < 1e-10);
    }
}

TEST_CASE("compat differs from exact where the published kernel does") {
    // t50_c32: the chunk boundary error is ~1e-2 there (fixture metadata).
    const tensor_archive& a = cases();
    CHECK(vrwkv::testing::max_abs_diff(a.get<double>("t50_c32.y_ref").data(), a.at("t50_c32.y_official_v1_math")) >
          1e-3);
}

TEST_CASE("the O(T*C) scan equals the O(T^2) oracle on random shapes with extreme k and w") {
    std::mt19937 rng(1234);
    struct dims { index_t B, T, C; double kscale, wT; };
    const dims shapes[] = {{1, 1, 1, 1, 0},     {3, 2, 5, 1, 1},      {2, 17, 300, 20, -20}, {1, 2000, 3, 60, 20},
                           {2, 333, 65, 30, -20}, {1, 1024, 129, 60, 20}, {4, 64, 7, 5, 0.5},  {2, 1999, 1, 60, -20}};
    for (const dims& d : shapes) {
        CAPTURE(d.B);
        CAPTURE(d.T);
        CAPTURE(d.C);
        std::uniform_real_distribution<double> unit(-1, 1);
        tensor<double> w(shape{d.C}), u(shape{d.C}), k(shape{d.B, d.T, d.C}), v(shape{d.B, d.T, d.C});
        for (index_t c = 0; c < d.C; ++c) {
            w.data()[c] = d.wT * unit(rng) / static_cast<double>(d.T);
            u.data()[c] = 3 * unit(rng);
        }
        for (index_t i = 0; i < k.numel(); ++i) {
            // clip to the supported range |k| <= 60
            k.data()[i] = std::max(-60.0, std::min(60.0, d.kscale * unit(rng)));
            v.data()[i] = unit(rng);
        }
        tensor<double> want(k.dims());
        reference::biwkv<double, double>(w.view(), u.view(), k.view(), v.view(), want.view());

        executor<cpu> ex(2);
        tensor<double> got(k.dims());
        biwkv<double, cpu>(ex, w.view(), u.view(), k.view(), v.view(), got.view());
        CHECK(vrwkv::testing::max_abs_diff(got.data(), want.data(), got.numel()) < 1e-11);

        tensor<float> wf(w.dims()), uf(u.dims()), kf(k.dims()), vf(v.dims()), gotf(k.dims());
        for (index_t i = 0; i < w.numel(); ++i) wf.data()[i] = float(w.data()[i]), uf.data()[i] = float(u.data()[i]);
        for (index_t i = 0; i < k.numel(); ++i) kf.data()[i] = float(k.data()[i]), vf.data()[i] = float(v.data()[i]);
        // The oracle on the float-rounded inputs isolates the scan's own error.
        reference::biwkv<float, float>(wf.view(), uf.view(), kf.view(), vf.view(), want.view());
        biwkv<float, cpu>(ex, wf.view(), uf.view(), kf.view(), vf.view(), gotf.view());
        CHECK(vrwkv::testing::max_abs_diff(gotf.data(), want.data(), got.numel()) < 2e-5);
    }
}

TEST_CASE("half and bfloat16 storage accumulate in float") {
    const tensor_archive& a = cases();
    auto w = a.get<float>("t196_c192.w"), u = a.get<float>("t196_c192.u");
    auto k = a.get<bfloat16>("t196_c192.k"), v = a.get<bfloat16>("t196_c192.v");
    tensor<bfloat16> y(k.dims());
    executor<cpu> ex(2);
    biwkv<bfloat16, cpu>(ex, w.view(), u.view(), k.view(), v.view(), y.view());
    // inputs rounded to bf16 move the result by ~1e-2 at most
    CHECK(vrwkv::testing::max_abs_diff(y.data(), a.at("t196_c192.y_ref")) < 5e-2);
}

TEST_CASE("shape errors are reported") {
    tensor<float> w(shape{4}), u(shape{3}), k(shape{1, 5, 4}), v(shape{1, 5, 4}), y(shape{1, 5, 4});
    executor<cpu> ex(1);
    CHECK_THROWS_WITH_AS((biwkv<float, cpu>(ex, w.view(), u.view(), k.view(), v.view(), y.view())),
                         doctest::Contains("biwkv: u has shape (3,), expected (4,)"), error);
    tensor<float> y2(shape{1, 5, 3});
    u = tensor<float>(shape{4});
    CHECK_THROWS_WITH_AS((biwkv<float, cpu>(ex, w.view(), u.view(), k.view(), v.view(), y2.view())),
                         doctest::Contains("biwkv: y has shape"), error);
}
