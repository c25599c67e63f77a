// Bi-WKV on CUDA against the fixtures and against a double-precision host
// scan (written here: the CPU backend pulls Eigen, which must not reach nvcc).
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "vrwkv/core/tensor.hpp"
#include "vrwkv/cuda/biwkv.cuh"
#include "vrwkv/cuda/copy.cuh"
#include "vrwkv/cuda/error.cuh"
#include "vrwkv/cuda/executor.cuh"

using namespace vrwkv;
using vrwkv::testing::data_path;

namespace {

const char* const case_names[] = {"t196_c192", "t1024_c64", "t50_c32", "t7_c40", "t1_c32", "t196_c64_bigk"};

const tensor_archive& cases() {
    static const tensor_archive a = load_safetensors(data_path("biwkv_cases.safetensors"));
    return a;
}

executor<cuda>& gpu() {
    static executor<cuda> ex;
    return ex;
}

// Host inputs in double plus their dims.
struct problem {
    index_t B = 0, T = 0, C = 0;
    std::vector<double> w, u, k, v;
};

template <class T>
tensor<T> host_tensor(const std::vector<double>& x, const shape& s) {
    tensor<T> t(s);
    for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = convert<T>(x[static_cast<std::size_t>(i)]);
    return t;
}

template <class T>
std::vector<double> rounded(const std::vector<double>& x) {
    std::vector<double> r(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) r[i] = convert<double>(convert<T>(x[i]));
    return r;
}

// A problem's inputs on the device: w and u in Acc, k and v in T.
template <class T, class Acc = accumulator_t<T>>
struct device_inputs {
    tensor<Acc, cuda> w, u;
    tensor<T, cuda> k, v;
    device_inputs(executor<cuda>& ex, const problem& pb)
        : w(to_device<Acc>(ex, host_tensor<Acc>(pb.w, shape{pb.C}).view())),
          u(to_device<Acc>(ex, host_tensor<Acc>(pb.u, shape{pb.C}).view())),
          k(to_device<T>(ex, host_tensor<T>(pb.k, shape{pb.B, pb.T, pb.C}).view())),
          v(to_device<T>(ex, host_tensor<T>(pb.v, shape{pb.B, pb.T, pb.C}).view())) {}
};

// A device tensor's values on the host, in double.
template <class T>
std::vector<double> host_values(executor<cuda>& ex, const tensor<T, cuda>& y) {
    auto out = to_host<T>(ex, y.view());
    std::vector<double> r(static_cast<std::size_t>(out.numel()));
    for (index_t i = 0; i < out.numel(); ++i) r[static_cast<std::size_t>(i)] = convert<double>(out.data()[i]);
    return r;
}

// Runs the GPU op on storage type T (accumulator accumulator_t<T>); y is
// poisoned with NaN first so unwritten elements show up. With a launch
// configuration, runs that one with `subchunks` sub-chunks per tile.
template <class T, class Config = void>
std::vector<double> run_gpu(const problem& pb, biwkv_mode mode, int subchunks = 0, std::size_t wave_bytes = 0) {
    executor<cuda>& ex = gpu();
    const shape s3{pb.B, pb.T, pb.C};
    device_inputs<T> in(ex, pb);
    tensor<T> poison(s3);
    for (index_t i = 0; i < poison.numel(); ++i) poison.data()[i] = convert<T>(std::numeric_limits<double>::quiet_NaN());
    auto y = to_device<T>(ex, poison.view());
    if constexpr (std::is_void_v<Config>) {
        biwkv<T, cuda>(ex, in.w.view(), in.u.view(), in.k.view(), in.v.view(), y.view(), mode);
    } else {
        const biwkv_params p{pb.B, pb.T, pb.C, mode};
        if (mode == biwkv_mode::compat)
            cuda_detail::biwkv_launch<Config, true>(ex, p, in.w.data(), in.u.data(), in.k.data(), in.v.data(),
                                                    y.data(), subchunks, wave_bytes);
        else
            cuda_detail::biwkv_launch<Config, false>(ex, p, in.w.data(), in.u.data(), in.k.data(), in.v.data(),
                                                     y.data(), subchunks, wave_bytes);
    }
    return host_values(ex, y);
}

// Exact Bi-WKV in double, O(T) per channel: forward and backward sums in
// log-sum-exp form with the exponent recomputed from its anchor token.
std::vector<double> host_exact(const problem& pb) {
    std::vector<double> y(pb.k.size());
    const index_t T = pb.T, C = pb.C;
    std::vector<double> gn(static_cast<std::size_t>(T)), gd(gn.size()), ge(gn.size());
    for (index_t b = 0; b < pb.B; ++b)
        for (index_t c = 0; c < C; ++c) {
            const double w = pb.w[c], u = pb.u[c];
            auto K = [&](index_t t) { return pb.k[static_cast<std::size_t>((b * T + t) * C + c)]; };
            auto V = [&](index_t t) { return pb.v[static_cast<std::size_t>((b * T + t) * C + c)]; };
            // (n, d) * e^{ka - (|t - a| - 1) w} seen from t
            double n = 0, d = 0, ka = -INFINITY;
            index_t a = 0;
            auto absorb = [&](double e_tok, double e_state, double x, index_t t) {
                if (e_tok >= e_state) {
                    const double f = std::exp(e_state - e_tok);
                    n = n * f + x, d = d * f + 1, ka = K(t), a = t;
                } else {
                    const double f = std::exp(e_tok - e_state);
                    n += f * x, d += f;
                }
            };
            for (index_t t = T - 1; t >= 0; --t) {
                gn[t] = n, gd[t] = d, ge[t] = ka - static_cast<double>(a - t - 1) * w;
                absorb(K(t), ka - static_cast<double>(a - t) * w, V(t), t);
            }
            n = d = 0, ka = -INFINITY, a = 0;
            for (index_t t = 0; t < T; ++t) {
                const double fe = ka - static_cast<double>(t - 1 - a) * w, se = u + K(t);
                const double top = std::max({fe, ge[t], se});
                const double ef = std::exp(fe - top), eg = std::exp(ge[t] - top), es = std::exp(se - top);
                y[static_cast<std::size_t>((b * T + t) * C + c)] =
                    (n * ef + gn[t] * eg + V(t) * es) / (d * ef + gd[t] * eg + es);
                absorb(K(t), fe - w, V(t), t);
            }
        }
    return y;
}

// SPEC 5.1 as written (the published recurrence), in double with the
// channel's max k factored out. Fine for moderate k.
std::vector<double> host_compat(const problem& pb) {
    std::vector<double> y(pb.k.size());
    const index_t T = pb.T, C = pb.C, chunks = biwkv_compat_chunks, L = (T + chunks - 1) / chunks;
    for (index_t bb = 0; bb < pb.B; ++bb)
        for (index_t c = 0; c < C; ++c) {
            const double w = pb.w[c], u = pb.u[c];
            auto K = [&](index_t t) { return pb.k[static_cast<std::size_t>((bb * T + t) * C + c)]; };
            auto V = [&](index_t t) { return pb.v[static_cast<std::size_t>((bb * T + t) * C + c)]; };
            double shift = -INFINITY;
            for (index_t t = 0; t < T; ++t) shift = std::max(shift, K(t));
            auto ek = [&](index_t t) { return std::exp(K(t) - shift); };
            std::vector<double> A(chunks), Bs(chunks), Cs(chunks), D(chunks);
            for (index_t j = 0; j < chunks; ++j) {
                const index_t t0 = j * L, n = std::min(T - t0, L);
                for (index_t i = t0; i < t0 + n; ++i) {
                    const double fwd = ek(i) * std::exp(-w * static_cast<double>(i - t0));
                    const double bwd = ek(i) * std::exp(-w * static_cast<double>(t0 + n - i));
                    Cs[j] += fwd * V(i), D[j] += fwd, A[j] += bwd * V(i), Bs[j] += bwd;
                }
            }
            for (index_t j = 0; j < chunks; ++j) {
                const index_t t0 = j * L, n = std::min(T - t0, L);
                if (n <= 0) continue;
                double a = 0, b = 0, cc = 0, d = 0;
                for (index_t m = 0; m < j; ++m) {
                    const double f = std::exp(-w * static_cast<double>((j - m - 1) * L));
                    a += A[m] * f, b += Bs[m] * f;
                }
                for (index_t m = j; m < chunks; ++m) {
                    const double f = std::exp(-w * static_cast<double>((m - j) * L));
                    cc += Cs[m] * f, d += D[m] * f;
                }
                cc -= ek(t0) * V(t0), d -= ek(t0);
                for (index_t t = t0; t < t0 + n; ++t) {
                    const double eu = std::exp(u + K(t) - shift);
                    y[static_cast<std::size_t>((bb * T + t) * C + c)] = (cc + a + eu * V(t)) / (d + b + eu);
                    a = std::exp(-w) * a + ek(t) * V(t), b = std::exp(-w) * b + ek(t);
                    const index_t t2 = (t + 1) % T;
                    const double e2 = ek(t2) * std::exp(w);
                    cc = std::exp(w) * cc - e2 * V(t2), d = std::exp(w) * d - e2;
                }
            }
        }
    return y;
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
    return vrwkv::testing::max_abs_diff(a.data(), b.data(), static_cast<index_t>(a.size()));
}

problem from_case(const std::string& name) {
    const tensor_archive& a = cases();
    problem pb;
    const stored_tensor& k = a.at(name + ".k");
    pb.B = k.extents.at(0), pb.T = k.extents.at(1), pb.C = k.extents.at(2);
    auto all = [&](const std::string& key) {
        const stored_tensor& s = a.at(name + "." + key);
        std::vector<double> x(static_cast<std::size_t>(s.numel()));
        for (index_t i = 0; i < s.numel(); ++i) x[static_cast<std::size_t>(i)] = s.element(i);
        return x;
    };
    pb.w = all("w"), pb.u = all("u"), pb.k = all("k"), pb.v = all("v");
    return pb;
}

problem random_problem(std::mt19937& rng, index_t B, index_t T, index_t C, double kscale, double wT,
                       double uscale = 3) {
    std::uniform_real_distribution<double> unit(-1, 1);
    problem pb;
    pb.B = B, pb.T = T, pb.C = C;
    pb.w.resize(static_cast<std::size_t>(C)), pb.u.resize(pb.w.size());
    for (index_t c = 0; c < C; ++c) {
        pb.w[c] = wT * unit(rng) / static_cast<double>(T);
        pb.u[c] = uscale * unit(rng);
    }
    // the extreme channels: |w T| exactly at the bound, both signs
    if (C >= 2) pb.w[0] = wT / static_cast<double>(T), pb.w[1] = -wT / static_cast<double>(T);
    const std::size_t n = static_cast<std::size_t>(B * T * C);
    pb.k.resize(n), pb.v.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        pb.k[i] = std::max(-60.0, std::min(60.0, kscale * unit(rng)));
        pb.v[i] = unit(rng);
    }
    return pb;
}

// The same problem with inputs rounded to T (and w, u to its accumulator).
template <class T>
problem rounded_problem(const problem& pb) {
    problem r = pb;
    r.w = rounded<accumulator_t<T>>(pb.w), r.u = rounded<accumulator_t<T>>(pb.u);
    r.k = rounded<T>(pb.k), r.v = rounded<T>(pb.v);
    return r;
}

// False (with a message) when no GPU is present: the test then skips.
bool have_device() {
    if (cuda_device_available()) return true;
    MESSAGE("no CUDA device: the CUDA Bi-WKV tests are skipped");
    return false;
}

}  // namespace

TEST_CASE("CUDA Bi-WKV matches the fixtures: exact and compat, float and double") {
    if (!have_device()) return;
    const tensor_archive& a = cases();
    for (const char* name : case_names) {
        CAPTURE(name);
        const problem pb = from_case(name);
        const stored_tensor& y_ref = a.at(std::string(name) + ".y_ref");
        const stored_tensor& y_compat = a.at(std::string(name) + ".y_official_v1_math");
        std::vector<double> ref(pb.k.size()), cref(pb.k.size());
        for (std::size_t i = 0; i < ref.size(); ++i)
            ref[i] = y_ref.element(static_cast<index_t>(i)), cref[i] = y_compat.element(static_cast<index_t>(i));
        CHECK(max_diff(run_gpu<float>(pb, biwkv_mode::exact), ref) < 1e-4);
        CHECK(max_diff(run_gpu<float>(pb, biwkv_mode::compat), cref) < 1e-4);
        CHECK(max_diff(run_gpu<double>(pb, biwkv_mode::exact), ref) < 1e-9);
        CHECK(max_diff(run_gpu<double>(pb, biwkv_mode::compat), cref) < 1e-9);
        // 16-bit storage: the inputs' rounding moves y by up to ~1e-2
        CHECK(max_diff(run_gpu<bfloat16>(pb, biwkv_mode::exact), ref) < 5e-2);
        CHECK(max_diff(run_gpu<vrwkv::half>(pb, biwkv_mode::exact), ref) < 1e-2);
        CHECK(max_diff(run_gpu<bfloat16>(pb, biwkv_mode::compat), cref) < 5e-2);
    }
}

TEST_CASE("CUDA Bi-WKV compat differs from exact where the published kernel does") {
    if (!have_device()) return;
    const problem pb = from_case("t50_c32");
    CHECK(max_diff(run_gpu<float>(pb, biwkv_mode::compat), run_gpu<float>(pb, biwkv_mode::exact)) > 1e-3);
}

TEST_CASE("CUDA Bi-WKV equals the host scan on random shapes, extreme k and w, long T") {
    if (!have_device()) return;
    std::mt19937 rng(20240611);
    struct dims {
        index_t B, T, C;
        double kscale, wT, uscale = 3;
    };
    // the last two leave the fast path's range (|w| per sub-chunk, |u|) on
    // some channels: the anchored path then runs beside it
    const dims shapes[] = {
        {1, 1, 1, 1, 0},        {3, 2, 5, 1, 1},         {2, 17, 300, 20, -20},  {1, 2000, 3, 60, 20},
        {2, 333, 65, 30, -20},  {1, 1024, 129, 60, 20},  {4, 64, 7, 5, 0.5},     {2, 1999, 1, 60, -20},
        {3, 256, 33, 60, 20},   {3, 257, 33, 60, -20},   {2, 4097, 40, 60, 20},  {1, 1 << 20, 3, 60, 20},
        {1, (1 << 20) + 77, 2, 60, -20},
        {2, 300, 37, 30, 300, 60},  {1, 50, 5, 10, -100, 3},
        // whole and partial channel groups
        {2, 3001, 192, 60, 20},     {3, 777, 72, 30, 300, 60},  {5, 200, 64, 60, -100, 3},
        {2, 196, 40, 60, 20},
    };
    for (const dims& d : shapes) {
        CAPTURE(d.B);
        CAPTURE(d.T);
        CAPTURE(d.C);
        const problem pb = random_problem(rng, d.B, d.T, d.C, d.kscale, d.wT, d.uscale);
        // references on the rounded inputs isolate the kernel's own error
        const problem pf = rounded_problem<float>(pb);
        const double err_f = max_diff(run_gpu<float>(pf, biwkv_mode::exact), host_exact(pf));
        MESSAGE("float exact max error " << err_f);
        CHECK(err_f < 5e-5);
        if (d.T <= 5000) CHECK(max_diff(run_gpu<double>(pb, biwkv_mode::exact), host_exact(pb)) < 1e-9);
        if (d.T <= 5000) {
            const problem pbf = rounded_problem<bfloat16>(pb);
            CHECK(max_diff(run_gpu<bfloat16>(pbf, biwkv_mode::exact), host_exact(pbf)) < 1e-2);
            const problem phf = rounded_problem<vrwkv::half>(pb);
            // half cannot hold e^{|k|} but only k itself is stored
            CHECK(max_diff(run_gpu<vrwkv::half>(phf, biwkv_mode::exact), host_exact(phf)) < 2e-3);
        }
    }
}

TEST_CASE("CUDA Bi-WKV with L2 eviction hints: k, v and y beyond the L2 cache, some sequences kept in it") {
    if (!have_device()) return;
    int l2 = 0;
    cuda_check(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, gpu().device()), "L2 size");
    std::mt19937 rng(4242);
    // two sequences of 32 channels (the second partial); with y they exceed
    // an H100's L2, which keeps the first tiles' k and v
    auto run = [&](auto type_tag, index_t T, double tolerance) {
        using S = decltype(type_tag);
        CAPTURE(T);
        const index_t C = 40;
        const std::size_t footprint = 3 * static_cast<std::size_t>(T) * 64 * sizeof(S);
        if (footprint <= static_cast<std::size_t>(l2))
            MESSAGE("this device's L2 (" << l2 << " bytes) holds the whole problem: the hints are not used");
        const problem pb = rounded_problem<S>(random_problem(rng, 1, T, C, 20, 8, 3));
        CHECK(max_diff(run_gpu<S>(pb, biwkv_mode::exact), host_exact(pb)) < tolerance);
    };
    run(float{}, 131072, 5e-5);
    run(bfloat16{}, 262144, 1e-2);
    run(vrwkv::half{}, 262144, 2e-3);
}

TEST_CASE("CUDA Bi-WKV compat equals the published recurrence on random shapes") {
    if (!have_device()) return;
    std::mt19937 rng(77);
    struct dims {
        index_t B, T, C;
        double wT, uscale = 3;
    };
    // (the last two take the anchored path on their channels with large |u|;
    // compat is ill-conditioned for |w| of order 1, so w stays moderate)
    const dims shapes[] = {{1, 1, 3, 2},       {2, 33, 5, -20},   {3, 196, 40, 20},   {1, 257, 33, -5},
                           {2, 5000, 7, 20},   {1, 4097, 3, -20}, {1, 1 << 20, 2, 20}, {2, 300, 37, 20, 60},
                           {1, 50, 5, -20, 60}};
    for (const dims& d : shapes) {
        CAPTURE(d.T);
        CAPTURE(d.C);
        // moderate k: the published recurrence subtracts and loses digits for extreme k
        const problem pb = random_problem(rng, d.B, d.T, d.C, 4, d.wT, d.uscale);
        const problem pf = rounded_problem<float>(pb);
        const double err = max_diff(run_gpu<float>(pf, biwkv_mode::compat), host_compat(pf));
        MESSAGE("float compat max error " << err);
        CHECK(err < 1e-4);
        if (d.T <= 5000) CHECK(max_diff(run_gpu<double>(pb, biwkv_mode::compat), host_compat(pb)) < 1e-9);
    }
}

// One launch configuration on one tile size (S sub-chunks per tile).
template <class Config>
void check_config(const problem& pf, const problem& pc, const std::vector<double>& ref,
                  const std::vector<double>& cref, int s) {
    CAPTURE(Config::len);
    CAPTURE(Config::max_subchunks);
    CAPTURE(s);
    CHECK(max_diff(run_gpu<float, Config>(pf, biwkv_mode::exact, s), ref) < 5e-5);
    CHECK(max_diff(run_gpu<float, Config>(pc, biwkv_mode::compat, s), cref) < 1e-4);
}

TEST_CASE("CUDA Bi-WKV gives the same result for every tile geometry and launch configuration") {
    if (!have_device()) return;
    std::mt19937 rng(5);
    const problem pb = random_problem(rng, 2, 3001, 37, 30, 15);
    const problem pf = rounded_problem<float>(pb);
    const problem pc = rounded_problem<float>(random_problem(rng, 2, 3001, 37, 4, 15));
    const std::vector<double> ref = host_exact(pf), cref = host_compat(pc), dref = host_exact(pb);
    using multi = cuda_detail::biwkv_configs<float>::multi_tile;
    for (int s : {1, 2, 3, multi::max_subchunks}) check_config<multi>(pf, pc, ref, cref, s);
    // the configurations the benchmark compares
    using cuda_detail::biwkv_config;
    check_config<biwkv_config<16, 512, 1>>(pf, pc, ref, cref, 16);
    check_config<biwkv_config<16, 512, 2>>(pf, pc, ref, cref, 16);
    check_config<biwkv_config<16, 256, 4>>(pf, pc, ref, cref, 8);
    check_config<biwkv_config<8, 512, 2>>(pf, pc, ref, cref, 16);
    // C = 72: two full channel groups and a part
    const problem p72 = rounded_problem<float>(random_problem(rng, 2, 3001, 72, 30, 15));
    const std::vector<double> ref72 = host_exact(p72);
    for (int s : {1, 2, 3, multi::max_subchunks}) {
        CAPTURE(s);
        CHECK(max_diff(run_gpu<float, multi>(p72, biwkv_mode::exact, s), ref72) < 5e-5);
    }
    CHECK(max_diff(run_gpu<float, biwkv_config<16, 512, 1>>(p72, biwkv_mode::exact, 16), ref72) < 5e-5);
    CHECK(max_diff(run_gpu<float, biwkv_config<8, 512, 2>>(p72, biwkv_mode::exact, 16), ref72) < 5e-5);
    CHECK(max_diff(run_gpu<float, biwkv_config<8, 1024, 1>>(p72, biwkv_mode::exact, 32), ref72) < 5e-5);
    // waves (parts of the batch, or of one sequence's channel groups, in turn)
    const std::size_t per_b72 = static_cast<std::size_t>(p72.T) * p72.C * 2 * sizeof(float);
    for (std::size_t wave : {std::size_t{1}, per_b72, per_b72 / 2}) {
        CAPTURE(wave);
        CHECK(max_diff(run_gpu<float, multi>(p72, biwkv_mode::exact, 0, wave), ref72) < 5e-5);
        CHECK(max_diff(run_gpu<float, multi>(pf, biwkv_mode::exact, 0, wave), ref) < 5e-5);
        CHECK(max_diff(run_gpu<float, multi>(pc, biwkv_mode::compat, 0, wave), cref) < 1e-4);
        CHECK(max_diff(run_gpu<double, cuda_detail::biwkv_configs<double>::multi_tile>(pb, biwkv_mode::exact, 0, wave),
                       dref) < 1e-9);
    }
    using dmulti = cuda_detail::biwkv_configs<double>::multi_tile;
    for (int s : {1, 5, dmulti::max_subchunks})
        CHECK(max_diff(run_gpu<double, dmulti>(pb, biwkv_mode::exact, s), dref) < 1e-9);
    // one tile covering T = 196 and 256 with these configurations too
    const problem small = rounded_problem<float>(random_problem(rng, 3, 196, 40, 30, 15));
    const problem smallc = rounded_problem<float>(random_problem(rng, 3, 196, 40, 4, 15));
    const std::vector<double> sref = host_exact(small), scref = host_compat(smallc);
    check_config<biwkv_config<16, 512, 1>>(small, smallc, sref, scref, 0);
    check_config<biwkv_config<16, 512, 2>>(small, smallc, sref, scref, 0);
    const problem small72 = rounded_problem<float>(random_problem(rng, 3, 196, 72, 30, 15));
    const std::vector<double> sref72 = host_exact(small72);
    CHECK(max_diff(run_gpu<float, biwkv_config<16, 512, 1>>(small72, biwkv_mode::exact, 0), sref72) < 5e-5);
    CHECK(max_diff(run_gpu<float, biwkv_config<8, 1024, 1>>(small72, biwkv_mode::exact, 0), sref72) < 5e-5);
}

// Poisons y, captures one call of `launch` in a graph and replays it three
// times (the kernels' state carries over between replays).
template <class T, class Launch>
void replay_in_graph(executor<cuda>& ex, tensor<T, cuda>& y, Launch&& launch) {
    cudaGraph_t g = nullptr;
    cudaGraphExec_t exec = nullptr;
    cuda_check(cudaMemsetAsync(y.data(), 0xFF, static_cast<std::size_t>(y.numel()) * sizeof(T), ex.stream()),
               "cudaMemsetAsync");
    cuda_check(cudaStreamBeginCapture(ex.stream(), cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
    launch();
    cuda_check(cudaStreamEndCapture(ex.stream(), &g), "cudaStreamEndCapture");
    cuda_check(cudaGraphInstantiate(&exec, g, 0), "cudaGraphInstantiate");
    for (int i = 0; i < 3; ++i) cuda_check(cudaGraphLaunch(exec, ex.stream()), "cudaGraphLaunch");
    ex.synchronize();
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(g);
}

// The fused kernel with one launch configuration and `rows` rows per tile,
// launched `repeats` times into the same output (draw counters and flags carry over
// between launches), optionally the last time through a captured graph.
template <class Config, class T = float>
std::vector<double> run_fused(const problem& pb, int rows, int repeats = 1, bool graph = false, int lag = 0,
                              int keep = 0) {
    executor<cuda>& ex = gpu();
    device_inputs<T, float> in(ex, pb);
    tensor<T, cuda> y(shape{pb.B, pb.T, pb.C});
    const biwkv_params p{pb.B, pb.T, pb.C, biwkv_mode::exact};
    auto launch = [&] {
        cuda_detail::biwkv_fused_launch<Config>(ex, p, in.w.data(), in.u.data(), in.k.data(), in.v.data(), y.data(),
                                                rows, lag, keep);
    };
    for (int i = 0; i < repeats; ++i) launch();
    if (graph) replay_in_graph(ex, y, launch);
    return host_values(ex, y);
}

TEST_CASE("CUDA fused Bi-WKV: launch configurations, row counts, repeated launches and graph replays") {
    if (!have_device()) return;
    using cuda_detail::biwkv_fused_config;
    std::mt19937 rng(5150);
    struct dims {
        index_t B, T, C;
        double kscale, wT, uscale = 3;
    };
    const dims shapes[] = {{3, 196, 72, 30, 15},    {2, 256, 40, 60, -20},  {2, 257, 40, 60, 20},
                           {1, 3001, 33, 60, -20},  {5, 4100, 64, 20, 8},   {2, 700, 37, 30, 300, 60},
                           {1, 9000, 192, 10, 8},   {9, 513, 96, 60, 20}};
    for (const dims& d : shapes) {
        CAPTURE(d.B);
        CAPTURE(d.T);
        CAPTURE(d.C);
        const problem pf = rounded_problem<float>(random_problem(rng, d.B, d.T, d.C, d.kscale, d.wT, d.uscale));
        const std::vector<double> ref = host_exact(pf);
        for (int rows : {1, 3, 8, 16})
            CHECK(max_diff(run_fused<biwkv_fused_config<8, 512, 2>>(pf, rows), ref) < 5e-5);
        CHECK(max_diff(run_fused<biwkv_fused_config<8, 1024, 1>>(pf, 32, 3), ref) < 5e-5);
        CHECK(max_diff(run_fused<biwkv_fused_config<16, 512, 1>>(pf, 13), ref) < 5e-5);
        CHECK(max_diff(run_fused<biwkv_fused_config<8, 512, 2>>(pf, 0, 2, true), ref) < 5e-5);
        CHECK(max_diff(run_fused<biwkv_fused_config<16, 512, 2>>(pf, 16, 2, true), ref) < 5e-5);
        CHECK(max_diff(run_fused<biwkv_fused_config<16, 256, 2>>(pf, 5), ref) < 5e-5);
        CHECK(max_diff(run_fused<biwkv_fused_config<16, 448, 2>>(pf, 14, 1, false, 3), ref) < 5e-5);
        const problem pb = rounded_problem<bfloat16>(pf);
        CHECK(max_diff(run_fused<biwkv_fused_config<8, 512, 2>, bfloat16>(pb, 4), host_exact(pb)) < 1e-2);
    }
    // the share of L2 kept with L2 hints (k, v and y beyond an H100's L2), at
    // its ends, repeated and replayed; outside [0, 100] it is refused
    const problem pf = rounded_problem<float>(random_problem(rng, 1, 131072, 40, 20, 8, 3));
    const std::vector<double> ref = host_exact(pf);
    using cuda_detail::biwkv_fused_default;
    for (int keep : {1, 100}) {
        CAPTURE(keep);
        CHECK(max_diff(run_fused<biwkv_fused_default>(pf, 0, 2, true, 0, keep), ref) < 5e-5);
    }
    CHECK_THROWS_AS(run_fused<biwkv_fused_default>(pf, 0, 1, false, 0, 101), vrwkv::error);
    CHECK_THROWS_AS(run_fused<biwkv_fused_default>(pf, 0, 1, false, 0, -1), vrwkv::error);
}

TEST_CASE("CUDA fused Bi-WKV: the automatic lag between sums and outputs") {
    // (host only) an H100's numbers: 132 multiprocessors x 2 blocks, 50 MB of L2
    using cuda_detail::biwkv_fused_auto_lag;
    const index_t wave = 264;
    const std::size_t l2 = std::size_t{50} << 20, mb = std::size_t{1} << 20;
    // sequences of half a wave of tiles or more: 6 to 12, 12 while they stay within 32 MB
    CHECK(biwkv_fused_auto_lag(293, 6, 16 * mb, wave, l2) == 6);
    CHECK(biwkv_fused_auto_lag(147, 12, 8 * mb, wave, l2) == 6);
    CHECK(biwkv_fused_auto_lag(132, 100, 2 * mb, wave, l2) == 12);
    // shorter ones: a wave of tiles (264 / 19 rounded up) while k and v fit
    // in half of L2, else at most a fifth of L2 of them, and at least 2
    CHECK(biwkv_fused_auto_lag(19, 24, mb, wave, l2) == 14);
    CHECK(biwkv_fused_auto_lag(19, 192, mb, wave, l2) == 10);
    CHECK(biwkv_fused_auto_lag(5, 384, mb / 4, wave, l2) == 40);
    CHECK(biwkv_fused_auto_lag(74, 24, 4 * mb, wave, l2) == 2);
    CHECK(biwkv_fused_auto_lag(131, 1000, 8 * mb, wave, l2) == 2);
}

// The resident kernel's plan on this device for a problem (parts 0: not taken).
template <class T>
cuda_detail::biwkv_resident_plan resident_plan(executor<cuda>& ex, const problem& pb) {
    using cuda_detail::device_attribute;
    return cuda_detail::biwkv_resident_split<cuda_detail::biwkv_resident_default, T>(
        biwkv_params{pb.B, pb.T, pb.C, biwkv_mode::exact},
        device_attribute<cudaDevAttrMultiProcessorCount>(ex.device()),
        static_cast<std::size_t>(device_attribute<cudaDevAttrMaxSharedMemoryPerBlockOptin>(ex.device())));
}

// Runs the resident kernel directly `repeats` times (then, with `graph`,
// three replays of a captured launch); y is poisoned first. Checks that it
// takes the problem exactly when its plan says so.
template <class T>
std::vector<double> run_resident(const problem& pb, int repeats = 1, bool graph = false) {
    executor<cuda>& ex = gpu();
    device_inputs<T> in(ex, pb);
    tensor<T, cuda> y(shape{pb.B, pb.T, pb.C});
    const biwkv_params p{pb.B, pb.T, pb.C, biwkv_mode::exact};
    cuda_check(cudaMemsetAsync(y.data(), 0xFF, static_cast<std::size_t>(y.numel()) * sizeof(T), ex.stream()),
               "cudaMemsetAsync");
    auto launch = [&] {
        return cuda_detail::biwkv_resident_launch<cuda_detail::biwkv_resident_default>(
            ex, p, in.w.data(), in.u.data(), in.k.data(), in.v.data(), y.data());
    };
    const bool planned = resident_plan<T>(ex, pb).parts > 0;
    for (int i = 0; i < repeats; ++i) CHECK(launch() == planned);
    if (graph && planned) replay_in_graph(ex, y, launch);
    return host_values(ex, y);
}

TEST_CASE("CUDA resident Bi-WKV: the problems it takes, its splits, tails, extreme values, repeats and graphs") {
    using cuda_detail::biwkv_resident_default;
    using cuda_detail::biwkv_resident_split;
    // the split, for an H100 (132 multiprocessors, 227 KB of shared memory per block)
    const std::size_t h100_smem = 232448;
    auto split = [&](index_t B, index_t T, index_t C, int sms = 132, std::size_t smem = 232448) {
        return biwkv_resident_split<biwkv_resident_default, float>(biwkv_params{B, T, C, biwkv_mode::exact}, sms,
                                                                    smem);
    };
    const auto p16k = split(1, 16384, 192);
    CHECK(p16k.parts == 22);  // 6 sequences x 22 parts of 768 tokens (the last one 256)
    CHECK(p16k.part == 768);
    CHECK(p16k.segments == 3);
    CHECK(p16k.smem == 768 * 32 * 8 + 4 * 16 * 32 * 16);
    CHECK(split(1, 16384, 192, 132, p16k.smem - 1).parts == 0);  // shared memory one byte short
    CHECK(split(1, 65536, 192).parts == 0);                        // 4 sub-chunks per thread are not enough
    CHECK(split(1, 16384, 200).parts == 0);                        // C not a multiple of 32
    CHECK(split(1, 224, 32).parts == 0);                           // one fused tile: the fused kernel
    CHECK(split(133, 1000, 32).parts == 0);                        // more sequences than blocks
    CHECK(split(70, 500, 32).parts == 1);                          // one part per sequence
    CHECK(split(1, 60000, 32).parts == 118);
    CHECK(biwkv_resident_split<biwkv_resident_default, bfloat16>(biwkv_params{1, 32768, 192, biwkv_mode::exact},
                                                                 132, h100_smem)
              .parts == 0);  // 6 sub-chunks per thread
    if (!have_device()) return;

    std::mt19937 rng(31337);
    struct dims {
        index_t B, T, C;
        double kscale, wT, uscale = 3;
    };
    // the last three leave the fast path's range on some channels
    const dims shapes[] = {{1, 16384, 192, 20, 8}, {2, 3001, 192, 60, 20},     {1, 225, 32, 60, -20},
                           {70, 500, 32, 30, 8},   {1, 60000, 32, 60, 20},     {3, 4097, 96, 60, -20},
                           {1, 5000, 64, 30, 300, 60}, {2, 777, 32, 10, -100, 3}, {1, 2000, 32, 60, 2000, 3}};
    for (const dims& d : shapes) {
        CAPTURE(d.B);
        CAPTURE(d.T);
        CAPTURE(d.C);
        const problem pf = rounded_problem<float>(random_problem(rng, d.B, d.T, d.C, d.kscale, d.wT, d.uscale));
        if (resident_plan<float>(gpu(), pf).parts == 0) MESSAGE("this device does not hold the problem at once");
        const double err = max_diff(run_resident<float>(pf, 2, true), host_exact(pf));
        MESSAGE("float max error " << err);
        CHECK(err < 5e-5);
        const problem pb = rounded_problem<bfloat16>(pf);
        CHECK(max_diff(run_resident<bfloat16>(pb), host_exact(pb)) < 1e-2);
        const problem ph = rounded_problem<vrwkv::half>(pf);
        CHECK(max_diff(run_resident<vrwkv::half>(ph), host_exact(ph)) < 2e-3);
    }
    // the fused kernel after the resident one on the same executor words
    const problem pf = rounded_problem<float>(random_problem(rng, 1, 9000, 192, 20, 8));
    run_resident<float>(pf);
    CHECK(max_diff(run_fused<cuda_detail::biwkv_fused_default>(pf, 0), host_exact(pf)) < 5e-5);
    CHECK(max_diff(run_resident<float>(pf), host_exact(pf)) < 5e-5);
}

// One block that spins for about `cycles` clock cycles, then copies n floats:
// a kernel still running when the next one is launched.
__global__ void delayed_copy_kernel(const float* src, float* dst, index_t n, long long cycles) {
    const long long start = clock64();
    while (clock64() - start < cycles) {
    }
    for (index_t i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
}

TEST_CASE("CUDA Bi-WKV launched as a dependent launch waits for the kernels before it") {
    if (!have_device()) return;
    executor<cuda>& ex = gpu();
    int major = 0;
    cuda_check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, ex.device()), "compute capability");
    if (major >= 9) {
        // on this device the fused kernel is launched early: what follows tests its wait
        cuda_detail::dependent_launch_cache cache;
        const auto kernel = cuda_detail::biwkv_fused_kernel<16, 448, 2, true, float>;
        CHECK(cuda_detail::dependent_launch_usable(kernel, ex.device(), cache));
    } else {
        MESSAGE("compute capability below 9.0: launches are plain, the ordering below holds trivially");
    }
    std::mt19937 rng(77);
    // the one-tile and the several-tile fused kernel, and (C a multiple of
    // 32) the resident kernel
    const index_t sizes[][2] = {{196, 64}, {9000, 40}, {9000, 64}};
    for (const auto& tc : sizes) {
        const index_t T = tc[0], C = tc[1];
        CAPTURE(T);
        CAPTURE(C);
        const problem pb = rounded_problem<float>(random_problem(rng, 2, T, C, 20, 8, 3));
        device_inputs<float> in(ex, pb);
        // k reaches the buffer Bi-WKV reads only after a few milliseconds, from a
        // kernel launched just before it; before that the buffer holds NaN
        tensor<float, cuda> k_late(in.k.dims());
        cuda_check(cudaMemsetAsync(k_late.data(), 0xFF, static_cast<std::size_t>(k_late.numel()) * sizeof(float),
                                   ex.stream()),
                   "cudaMemsetAsync");
        tensor<float, cuda> y(in.k.dims()), y2(in.k.dims());
        delayed_copy_kernel<<<1, 256, 0, ex.stream()>>>(in.k.data(), k_late.data(), in.k.numel(), 10'000'000);
        cuda_check_launch("delayed_copy_kernel");
        biwkv<float, cuda>(ex, in.w.view(), in.u.view(), k_late.view(), in.v.view(), y.view(), biwkv_mode::exact);
        // a dependent launch right after another: the second takes the first's y as its k
        biwkv<float, cuda>(ex, in.w.view(), in.u.view(), y.view(), in.v.view(), y2.view(), biwkv_mode::exact);
        const std::vector<double> first = host_values(ex, y);
        CHECK(max_diff(first, host_exact(pb)) < 5e-5);
        problem second = pb;
        second.k = first;
        CHECK(max_diff(host_values(ex, y2), host_exact(second)) < 5e-5);
    }
}

TEST_CASE("CUDA executor state grows into new buffers and keeps the old ones for graphs captured before") {
    if (!have_device()) return;
    executor<cuda> ex;
    void* scratch = ex.persistent_scratch(1000);
    CHECK(ex.persistent_scratch(500) == scratch);
    unsigned* words = ex.persistent_words(10);
    CHECK(ex.persistent_words(1000) == words);

    // a graph of the fused kernel on this executor's words and scratch
    std::mt19937 rng(99);
    const problem small = rounded_problem<float>(random_problem(rng, 1, 3001, 33, 30, 15));
    const problem big = rounded_problem<float>(random_problem(rng, 5, 4100, 64, 20, 8));
    struct on_device {
        device_inputs<float> in;
        tensor<float, cuda> y;
        biwkv_params p;
        on_device(executor<cuda>& ex, const problem& pb)
            : in(ex, pb), y(shape{pb.B, pb.T, pb.C}), p{pb.B, pb.T, pb.C, biwkv_mode::exact} {}
    };
    auto launch = [&](on_device& d) {
        cuda_detail::biwkv_fused_launch<cuda_detail::biwkv_fused_default>(ex, d.p, d.in.w.data(), d.in.u.data(),
                                                                          d.in.k.data(), d.in.v.data(), d.y.data());
    };
    on_device a(ex, small), b(ex, big);
    launch(a);  // grows the state outside the capture
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    cuda_check(cudaStreamBeginCapture(ex.stream(), cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
    launch(a);
    // growing while capturing is refused with a message that says what to do
    CHECK_THROWS_WITH_AS(ex.persistent_scratch(std::size_t{1} << 30),
                         doctest::Contains("run the same work once before capturing it"), error);
    cuda_check(cudaStreamEndCapture(ex.stream(), &graph), "cudaStreamEndCapture");
    cuda_check(cudaGraphInstantiate(&exec, graph, 0), "cudaGraphInstantiate");

    // the bigger problem moves the state to bigger buffers; the old ones stay
    // allocated for the graph
    void* old_scratch = ex.persistent_scratch(1);
    launch(b);
    CHECK(ex.persistent_scratch(1) != old_scratch);
    cudaPointerAttributes attributes{};
    cuda_check(cudaPointerGetAttributes(&attributes, old_scratch), "cudaPointerGetAttributes");
    CHECK(attributes.type == cudaMemoryTypeDevice);
    CHECK(max_diff(host_values(ex, b.y), host_exact(big)) < 5e-5);

    cuda_check(cudaMemsetAsync(a.y.data(), 0xFF, static_cast<std::size_t>(a.y.numel()) * sizeof(float), ex.stream()),
               "cudaMemsetAsync");
    for (int i = 0; i < 2; ++i) cuda_check(cudaGraphLaunch(exec, ex.stream()), "cudaGraphLaunch");
    CHECK(max_diff(host_values(ex, a.y), host_exact(small)) < 5e-5);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
}

TEST_CASE("CUDA Bi-WKV reports shape errors") {
    if (!have_device()) return;
    executor<cuda>& ex = gpu();
    tensor<float, cuda> w(shape{4}), u(shape{3}), k(shape{1, 5, 4}), v(shape{1, 5, 4}), y(shape{1, 5, 4});
    CHECK_THROWS_WITH_AS((biwkv<float, cuda>(ex, w.view(), u.view(), k.view(), v.view(), y.view())),
                         doctest::Contains("biwkv: u has shape (3,), expected (4,)"), error);
}
