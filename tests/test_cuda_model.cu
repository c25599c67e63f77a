// The CUDA ops against plain host loops on random data, and the whole encoder
// on the GPU against the float64 fixtures. Host references are written here:
// the CPU backend pulls Eigen, which must not reach nvcc. Every GPU output is
// poisoned with NaN first, so an unwritten element fails.
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "vrwkv/cuda.cuh"
#include "vrwkv/io/checkpoint.hpp"

using namespace vrwkv;
using vrwkv::testing::data_path;
using vrwkv::testing::file_exists;

namespace {

using values = std::vector<double>;

bool gpu_ready() {
    static const bool ok = cuda_device_available();
    return ok;
}

executor<cuda>& gpu() {
    static executor<cuda> ex;
    return ex;
}

values random_values(index_t n, unsigned seed, double lo = -1, double hi = 1) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> d(lo, hi);
    values v(static_cast<std::size_t>(n));
    for (double& x : v) x = d(rng);
    return v;
}

// The values as T holds them, so host references see exactly the GPU inputs.
template <class T>
values rounded(values v) {
    for (double& x : v) x = convert<double>(convert<T>(x));
    return v;
}

template <class T>
tensor<T, cuda> upload(const values& x, const shape& s) {
    REQUIRE(static_cast<index_t>(x.size()) == s.numel());
    tensor<T> host(s);
    for (index_t i = 0; i < host.numel(); ++i) host.data()[i] = convert<T>(x[static_cast<std::size_t>(i)]);
    return to_device<T>(gpu(), host.view());
}

// All bytes 0xFF: NaN in every floating type.
template <class T>
tensor<T, cuda> poisoned(const shape& s) {
    tensor<T, cuda> t(s);
    if (t.numel() > 0)
        cuda_check(cudaMemsetAsync(t.data(), 0xFF, static_cast<std::size_t>(t.numel()) * sizeof(T), gpu().stream()),
                   "cudaMemsetAsync");
    return t;
}

template <class T>
values download(const tensor_view<const T, cuda>& t) {
    tensor<T> host = to_host<T>(gpu(), t);
    values v(static_cast<std::size_t>(host.numel()));
    for (index_t i = 0; i < host.numel(); ++i) v[static_cast<std::size_t>(i)] = convert<double>(host.data()[i]);
    return v;
}
template <class T>
values download(const tensor<T, cuda>& t) {
    return download<T>(t.view());
}

// Error allowed per element, relative to 1 + |reference|: the storage
// rounding of one result plus float arithmetic.
template <class T> double tolerance();
template <> double tolerance<double>() { return 1e-11; }
template <> double tolerance<float>() { return 2e-5; }
template <> double tolerance<vrwkv::half>() { return 3e-3; }
template <> double tolerance<bfloat16>() { return 2e-2; }

// Largest |got - want| / (1 + |want|); NaN counts as infinite.
double worst(const values& got, const values& want) {
    REQUIRE(got.size() == want.size());
    double m = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double d = std::fabs(got[i] - want[i]) / (1 + std::fabs(want[i]));
        if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
    }
    return m;
}

template <class T>
void check_close(const values& got, const values& want, double scale = 1) {
    CHECK(worst(got, want) <= tolerance<T>() * scale);
}

double max_abs(const values& got, const stored_tensor& ref) {
    REQUIRE(static_cast<index_t>(got.size()) == ref.numel());
    double m = 0;
    for (index_t i = 0; i < ref.numel(); ++i) {
        const double d = std::fabs(got[static_cast<std::size_t>(i)] - ref.element(i));
        if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
    }
    return m;
}

using gpu_types = std::tuple<float, double, vrwkv::half, bfloat16>;

// Says why a test does nothing on a machine without a GPU.
bool skip_without_gpu() {
    if (gpu_ready()) return false;
    MESSAGE("skipped: no CUDA device");
    return true;
}

}  // namespace

// ------------------------------------------------------------------ ops

TEST_CASE_TEMPLATE_DEFINE("cuda layer_norm matches a host loop (warp, scalar and block paths, in place)", T, layer_norm_case) {
    if (skip_without_gpu()) return;
    for (index_t n : {192, 40, 1000, 5000}) {
        CAPTURE(n);
        const index_t rows = 37;
        const values x = rounded<T>(random_values(rows * n, 1, -2, 3)), w = rounded<T>(random_values(n, 2)),
                     b = rounded<T>(random_values(n, 3));
        values want(x.size());
        for (index_t r = 0; r < rows; ++r) {
            double mean = 0, var = 0;
            for (index_t c = 0; c < n; ++c) mean += x[r * n + c];
            mean /= n;
            for (index_t c = 0; c < n; ++c) var += (x[r * n + c] - mean) * (x[r * n + c] - mean);
            const double inv = 1 / std::sqrt(var / n + layer_norm_eps);
            for (index_t c = 0; c < n; ++c) want[r * n + c] = (x[r * n + c] - mean) * inv * w[c] + b[c];
        }
        auto xd = upload<T>(x, shape{rows, n}), wd = upload<T>(w, shape{n}), bd = upload<T>(b, shape{n});
        auto y = poisoned<T>(shape{rows, n});
        layer_norm<T, cuda>(gpu(), xd.view(), wd.view(), bd.view(), y.view());
        check_close<T>(download(y), want, 4);
        layer_norm<T, cuda>(gpu(), xd.view(), wd.view(), bd.view(), xd.view());  // in place
        check_close<T>(download(xd), want, 4);
    }
}

namespace {

// SPEC 3: the direction of channel c (0 left, 1 right, 2 up, 3 down, -1 none).
int spec_direction(index_t c, index_t C, double gamma, index_t head, index_t shift) {
    if (shift == 0) return -1;
    const index_t q = head > 0 ? head / 4 : static_cast<index_t>(static_cast<double>(C) * gamma);
    const index_t local = head > 0 ? c % head : c;
    if (q == 0 || local >= 4 * q) return -1;
    return static_cast<int>(local / q);
}

// shift(x) per SPEC 3 on (B, H*W, C).
values host_shift(const values& x, index_t B, index_t H, index_t W, index_t C, double gamma, index_t head,
                  index_t s) {
    values out(x.size(), 0.0);
    for (index_t b = 0; b < B; ++b)
        for (index_t y = 0; y < H; ++y)
            for (index_t xx = 0; xx < W; ++xx)
                for (index_t c = 0; c < C; ++c) {
                    index_t sy = y, sx = xx;
                    switch (spec_direction(c, C, gamma, head, s)) {
                        case 0: sx = xx - s; break;
                        case 1: sx = xx + s; break;
                        case 2: sy = y - s; break;
                        case 3: sy = y + s; break;
                        default: break;
                    }
                    if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                    out[((b * H + y) * W + xx) * C + c] = x[((b * H + sy) * W + sx) * C + c];
                }
    return out;
}

}  // namespace

TEST_CASE_TEMPLATE_DEFINE("cuda token_shift_mix and token_shift_delta match SPEC 3", T, token_shift_case) {
    if (skip_without_gpu()) return;
    struct shift_case {
        index_t C;
        double gamma;
        index_t head, shift;
    };
    const shift_case cases[] = {{192, 0.25, 0, 1}, {40, 0.25, 0, 1}, {50, 0.125, 0, 2}, {128, 0.25, 64, 1},
                                {64, 0.25, 0, 0}};
    const index_t B = 2, H = 5, W = 7;
    for (const shift_case& sc : cases) {
        CAPTURE(sc.C);
        CAPTURE(sc.shift);
        const index_t C = sc.C, n = B * H * W * C;
        const values x = rounded<T>(random_values(n, 4));
        const values shifted = host_shift(x, B, H, W, C, sc.gamma, sc.head, sc.shift);
        auto xd = upload<T>(x, shape{B, H * W, C});
        const token_shift_params p =
            make_token_shift_params<T, cuda>(xd.view(), H, W, sc.shift, sc.gamma, sc.head);
        for (index_t count = 1; count <= 3; ++count) {
            std::vector<values> mix;
            std::vector<tensor<T, cuda>> mix_d, out_d;
            std::vector<tensor_view<const T, cuda>> mix_v;
            std::vector<tensor_view<T, cuda>> out_v;
            for (index_t j = 0; j < count; ++j) {
                mix.push_back(rounded<T>(random_values(C, 10 + static_cast<unsigned>(j), 0, 1)));
                mix_d.push_back(upload<T>(mix.back(), shape{C}));
                out_d.push_back(poisoned<T>(shape{B, H * W, C}));
            }
            for (index_t j = 0; j < count; ++j) mix_v.push_back(mix_d[j].view()), out_v.push_back(out_d[j].view());
            token_shift_mix<T, cuda>(gpu(), p, xd.view(), mix_v.data(), out_v.data(), count);
            for (index_t j = 0; j < count; ++j) {
                values want(x.size());
                for (index_t i = 0; i < n; ++i) {
                    const double m = mix[j][i % C];
                    want[i] = x[i] * m + shifted[i] * (1 - m);
                }
                check_close<T>(download(out_d[j]), want);
            }
        }
        auto delta = poisoned<T>(shape{B, H * W, C});
        token_shift_delta<T, cuda>(gpu(), p, xd.view(), delta.view());
        values want(x.size());
        for (index_t i = 0; i < n; ++i) want[i] = shifted[i] - x[i];
        check_close<T>(download(delta), want);
    }
}

TEST_CASE_TEMPLATE_DEFINE("cuda activations and gates match the host formulas", T, activation_case) {
    if (skip_without_gpu()) return;
    for (index_t n : {1000, 1003}) {
        const values a = rounded<T>(random_values(n, 5, -4, 4)), b = rounded<T>(random_values(n, 6));
        auto ad = upload<T>(a, shape{n}), bd = upload<T>(b, shape{n});
        for (activation kind : {activation::squared_relu, activation::tanh, activation::silu, activation::sigmoid,
                                activation::gelu_tanh, activation::identity}) {
            CAPTURE(static_cast<int>(kind));
            values fa(a.size()), gated(a.size());
            for (std::size_t i = 0; i < a.size(); ++i) {
                fa[i] = apply_activation<double>(kind, a[i]);
                gated[i] = fa[i] * b[i];
            }
            auto y = poisoned<T>(shape{n});
            activate<T, cuda>(gpu(), kind, ad.view(), y.view());
            check_close<T>(download(y), fa, 2);
            auto g = poisoned<T>(shape{n});
            gate<T, cuda>(gpu(), kind, ad.view(), bd.view(), g.view());
            check_close<T>(download(g), gated, 2);
        }
    }
}

TEST_CASE_TEMPLATE_DEFINE("cuda residual_add and broadcast_add", T, residual_case) {
    if (skip_without_gpu()) return;
    for (index_t C : {192, 36}) {
        const index_t B = 3, Tk = 11;
        const values x = rounded<T>(random_values(B * Tk * C, 7)), y = rounded<T>(random_values(B * Tk * C, 8)),
                     g = rounded<T>(random_values(C, 9)), table = rounded<T>(random_values(Tk * C, 10));
        for (bool scaled : {false, true}) {
            auto xd = upload<T>(x, shape{B, Tk, C}), yd = upload<T>(y, shape{B, Tk, C}), gd = upload<T>(g, shape{C});
            residual_add<T, cuda>(gpu(), xd.view(), yd.view(), scaled ? gd.data() : nullptr);
            values want(x.size());
            for (std::size_t i = 0; i < x.size(); ++i) want[i] = x[i] + (scaled ? g[i % C] : 1.0) * y[i];
            check_close<T>(download(xd), want);
        }
        auto xd = upload<T>(x, shape{B, Tk, C}), td = upload<T>(table, shape{Tk, C});
        broadcast_add<T, cuda>(gpu(), xd.view(), td.view());
        values want(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) want[i] = x[i] + table[i % (Tk * C)];
        check_close<T>(download(xd), want);
    }
}

TEST_CASE_TEMPLATE_DEFINE("cuda im2col pads the bottom/right corner with zeros", T, im2col_case) {
    if (skip_without_gpu()) return;
    struct image_case {
        index_t H, W, P;
    };
    for (const image_case ic : {image_case{37, 45, 16}, image_case{32, 64, 16}, image_case{9, 10, 4}}) {
        CAPTURE(ic.W);
        const index_t B = 2, Ch = 3;
        const values img = rounded<T>(random_values(B * Ch * ic.H * ic.W, 11));
        auto imd = upload<T>(img, shape{B, Ch, ic.H, ic.W});
        const patch_grid g = patch_grid_for(ic.H, ic.W, ic.P);
        const index_t row = Ch * ic.P * ic.P;
        auto out = poisoned<T>(shape{B, g.tokens(), row});
        im2col<T, cuda>(gpu(), imd.view(), ic.P, out.view());
        values want(static_cast<std::size_t>(out.numel()), 0.0);
        for (index_t b = 0; b < B; ++b)
            for (index_t t = 0; t < g.tokens(); ++t)
                for (index_t ch = 0; ch < Ch; ++ch)
                    for (index_t dy = 0; dy < ic.P; ++dy)
                        for (index_t dx = 0; dx < ic.P; ++dx) {
                            const index_t y = (t / g.width) * ic.P + dy, x = (t % g.width) * ic.P + dx;
                            if (y < ic.H && x < ic.W)
                                want[((b * g.tokens() + t) * row) + (ch * ic.P + dy) * ic.P + dx] =
                                    img[((b * Ch + ch) * ic.H + y) * ic.W + x];
                        }
        CHECK(worst(download(out), want) == 0);
    }
}

TEST_CASE_TEMPLATE_DEFINE("cuda linear and matmul (weights (out, in) and (in, out), bias)", T, linear_case) {
    if (skip_without_gpu()) return;
    struct linear_shape {
        index_t rows, in, out;
    };
    // The encoder's layer shapes and awkward ones (odd sizes, few rows).
    for (const linear_shape ls : {linear_shape{65, 72, 40}, linear_shape{300, 192, 192}, linear_shape{130, 768, 192},
                                  linear_shape{64, 64, 64}, linear_shape{70, 96, 256}, linear_shape{3, 32, 128},
                                  linear_shape{33, 100, 1000}}) {
        CAPTURE(ls.in);
        CAPTURE(ls.out);
        const index_t rows = ls.rows, in = ls.in, out = ls.out;
        const values x = rounded<T>(random_values(rows * in, 12)), w = rounded<T>(random_values(out * in, 13)),
                     bias = rounded<T>(random_values(out, 14));
        auto xd = upload<T>(x, shape{rows, in}), wd = upload<T>(w, shape{out, in}), bd = upload<T>(bias, shape{out});
        for (bool with_bias : {false, true}) {
            auto y = poisoned<T>(shape{rows, out});
            linear<T, cuda>(gpu(), xd.view(), wd.view(), with_bias ? bd.data() : nullptr, y.view());
            values want(static_cast<std::size_t>(rows * out));
            for (index_t r = 0; r < rows; ++r)
                for (index_t o = 0; o < out; ++o) {
                    double s = with_bias ? bias[o] : 0.0;
                    for (index_t i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
                    want[r * out + o] = s;
                }
            check_close<T>(download(y), want, 4);
        }
        // matmul: the same numbers read as W stored (in, out)
        auto y = poisoned<T>(shape{rows, out});
        auto w_io = upload<T>(w, shape{in, out});
        matmul<T, cuda>(gpu(), xd.view(), w_io.view(), y.view());
        values want(static_cast<std::size_t>(rows * out));
        for (index_t r = 0; r < rows; ++r)
            for (index_t o = 0; o < out; ++o) {
                double s = 0;
                for (index_t i = 0; i < in; ++i) s += x[r * in + i] * w[i * out + o];
                want[r * out + o] = s;
            }
        check_close<T>(download(y), want, 4);
    }
}

TEST_CASE("cuda float linear keeps full float precision (no TF32 unless allowed)") {
    if (skip_without_gpu()) return;
    // Values with more mantissa bits than TF32's 10: TF32 would be off by ~1e-3.
    const index_t rows = 64, in = 256, out = 64;
    const values x = rounded<float>(random_values(rows * in, 15)), w = rounded<float>(random_values(out * in, 16));
    auto xd = upload<float>(x, shape{rows, in}), wd = upload<float>(w, shape{out, in});
    auto y = poisoned<float>(shape{rows, out});
    linear<float, cuda>(gpu(), xd.view(), wd.view(), nullptr, y.view());
    values want(static_cast<std::size_t>(rows * out));
    for (index_t r = 0; r < rows; ++r)
        for (index_t o = 0; o < out; ++o) {
            double s = 0;
            for (index_t i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
            want[r * out + o] = s;
        }
    CHECK(worst(download(y), want) < 1e-5);
}

TEST_CASE_TEMPLATE_DEFINE("cuda mean_tokens and to_channels_first", T, pooling_case) {
    if (skip_without_gpu()) return;
    const index_t B = 3, Tk = 150, C = 50, h = 10, w = 15;
    const values x = rounded<T>(random_values(B * Tk * C, 17));
    auto xd = upload<T>(x, shape{B, Tk, C});
    auto mean = poisoned<T>(shape{B, C});
    mean_tokens<T, cuda>(gpu(), xd.view(), mean.view());
    values want(static_cast<std::size_t>(B * C), 0.0);
    for (index_t b = 0; b < B; ++b)
        for (index_t t = 0; t < Tk; ++t)
            for (index_t c = 0; c < C; ++c) want[b * C + c] += x[(b * Tk + t) * C + c] / Tk;
    check_close<T>(download(mean), want, 2);
    auto cf = poisoned<T>(shape{B, C, h, w});
    to_channels_first<T, cuda>(gpu(), xd.view(), cf.view());
    values moved(x.size());
    for (index_t b = 0; b < B; ++b)
        for (index_t t = 0; t < Tk; ++t)
            for (index_t c = 0; c < C; ++c) moved[(b * C + c) * Tk + t] = x[(b * Tk + t) * C + c];
    CHECK(worst(download(cf), moved) == 0);
}

TEST_CASE_TEMPLATE_DEFINE("cuda VRWKV6 lerp, mix slot, decay and group norm", T, vrwkv6_ops_case) {
    if (skip_without_gpu()) return;
    using Acc = accumulator_t<T>;
    const index_t B = 2, Tk = 9, C = 128, heads = 2, rows = B * Tk;
    const shape s{B, Tk, C};
    const values x = rounded<T>(random_values(rows * C, 18)), xx = rounded<T>(random_values(rows * C, 19)),
                 base = rounded<T>(random_values(C, 20)), dyn = rounded<T>(random_values(rows * C, 21));
    auto xd = upload<T>(x, s), xxd = upload<T>(xx, s), based = upload<T>(base, shape{C}), dynd = upload<T>(dyn, s);
    for (bool with_dyn : {false, true}) {
        auto out = poisoned<T>(s);
        const tensor_view<const T, cuda> dv = dynd.view();
        vrwkv6_lerp<T, cuda>(gpu(), xd.view(), xxd.view(), based.view(), with_dyn ? &dv : nullptr, out.view());
        values want(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) want[i] = x[i] + xx[i] * (base[i % C] + (with_dyn ? dyn[i] : 0));
        check_close<T>(download(out), want, 2);
    }
    const index_t R = vrwkv6_mix_rank, S = vrwkv6_mix_slots;
    const values m = rounded<T>(random_values(rows * S * R, 22)), w2 = rounded<T>(random_values(S * R * C, 23));
    auto md = upload<T>(m, shape{B, Tk, S * R}), w2d = upload<T>(w2, shape{S, R, C});
    for (index_t slot = 0; slot < S; ++slot) {
        CAPTURE(slot);
        auto out = poisoned<T>(s);
        vrwkv6_mix_slot<T, cuda>(gpu(), md.view(), w2d.view(), slot, out.view());
        values want(static_cast<std::size_t>(rows * C));
        for (index_t r = 0; r < rows; ++r)
            for (index_t c = 0; c < C; ++c) {
                double acc = 0;
                for (index_t j = 0; j < R; ++j) acc += m[r * S * R + slot * R + j] * w2[(slot * R + j) * C + c];
                want[r * C + c] = acc;
            }
        check_close<T>(download(out), want, 4);
    }
    const values part = rounded<T>(random_values(rows * C, 24, -2, 1)), td = rounded<T>(random_values(C, 25, -2, 1));
    auto partd = upload<T>(part, s), tdd = upload<T>(td, shape{C});
    auto decay = poisoned<Acc>(s);
    vrwkv6_decay<T, cuda>(gpu(), partd.view(), tdd.view(), decay.view());
    values want(part.size());
    for (std::size_t i = 0; i < part.size(); ++i) want[i] = std::exp(-std::exp(td[i % C] + part[i]));
    CHECK(worst(download(decay), want) < (std::is_same_v<Acc, double> ? 1e-12 : 1e-5));
    auto gw = upload<T>(base, shape{C}), gb = upload<T>(rounded<T>(random_values(C, 26)), shape{C});
    const values gbias = download(gb);
    auto gn = poisoned<T>(s);
    group_norm<T, cuda>(gpu(), xd.view(), heads, gw.view(), gb.view(), gn.view());
    const index_t n = C / heads;
    for (index_t r = 0; r < rows; ++r)
        for (index_t h = 0; h < heads; ++h) {
            double mean = 0, var = 0;
            for (index_t i = 0; i < n; ++i) mean += x[r * C + h * n + i];
            mean /= n;
            for (index_t i = 0; i < n; ++i) var += (x[r * C + h * n + i] - mean) * (x[r * C + h * n + i] - mean);
            const double inv = 1 / std::sqrt(var / n + group_norm_eps);
            for (index_t i = 0; i < n; ++i) {
                const index_t c = h * n + i;
                want[r * C + c] = (x[r * C + c] - mean) * inv * base[c] + gbias[c];
            }
        }
    check_close<T>(download(gn), values(want.begin(), want.begin() + rows * C), 4);
}

TEST_CASE_TEMPLATE_DEFINE("cuda Bi-WKV6 matches the SPEC 8 recurrences", T, wkv6_case) {
    if (skip_without_gpu()) return;
    using Acc = accumulator_t<T>;
    struct wkv_case {
        index_t B, tokens, heads, N;
    };
    for (const wkv_case wc : {wkv_case{2, 37, 2, 64}, wkv_case{1, 3, 3, 32}, wkv_case{1, 1, 1, 64}}) {
        CAPTURE(wc.tokens);
        const index_t C = wc.heads * wc.N, n = wc.B * wc.tokens * C;
        const shape s{wc.B, wc.tokens, C};
        const values r = rounded<T>(random_values(n, 27)), k = rounded<T>(random_values(n, 28)),
                     v = rounded<T>(random_values(n, 29)), u = rounded<T>(random_values(C, 30));
        const values d = rounded<Acc>(random_values(n, 31, 0.5, 1.0));
        auto rd = upload<T>(r, s), kd = upload<T>(k, s), vd = upload<T>(v, s), ud = upload<T>(u, shape{wc.heads, wc.N});
        auto dd = upload<Acc>(d, s);
        auto y = poisoned<T>(s);
        biwkv6<T, cuda>(gpu(), rd.view(), kd.view(), vd.view(), dd.view(), ud.view(), y.view());
        // y_t[i] = sum_j r_t[j] (u[j] k_t[j] v_t[i] + F_t[j,i] + G_t[j,i]), from the definitions:
        // token s != t enters with the product of the decays strictly between s and t.
        values want(static_cast<std::size_t>(n), 0.0);
        const index_t N = wc.N, Tn = wc.tokens;
        for (index_t b = 0; b < wc.B; ++b)
            for (index_t h = 0; h < wc.heads; ++h) {
                auto at = [&](const values& a, index_t tok, index_t ch) { return a[(b * Tn + tok) * C + h * N + ch]; };
                for (index_t t = 0; t < Tn; ++t) {
                    values coef(static_cast<std::size_t>(Tn * N));  // [s][j]: r_t[j] * weight of k_s[j]
                    for (index_t j = 0; j < N; ++j) {
                        const double rj = at(r, t, j);
                        coef[t * N + j] = rj * u[h * N + j] * at(k, t, j);
                        double prod = 1;
                        for (index_t src = t - 1; src >= 0; --src) {
                            coef[src * N + j] = rj * prod * at(k, src, j);
                            prod *= at(d, src, j);
                        }
                        prod = 1;
                        for (index_t src = t + 1; src < Tn; ++src) {
                            coef[src * N + j] = rj * prod * at(k, src, j);
                            prod *= at(d, src, j);
                        }
                    }
                    for (index_t i = 0; i < N; ++i) {
                        double acc = 0;
                        for (index_t src = 0; src < Tn; ++src)
                            for (index_t j = 0; j < N; ++j) acc += coef[src * N + j] * at(v, src, i);
                        want[(b * Tn + t) * C + h * N + i] = acc;
                    }
                }
            }
        check_close<T>(download(y), want, 8);
    }
}

TEST_CASE("cuda Bi-WKV6 rejects head sizes above 64 with an error") {
    if (skip_without_gpu()) return;
    const shape s{1, 2, 128};
    auto r = upload<float>(random_values(256, 1), s), d = upload<float>(random_values(256, 2, 0.5, 1), s);
    auto u = upload<float>(random_values(128, 3), shape{1, 128});
    auto y = poisoned<float>(s);
    auto run = [&] { biwkv6<float, cuda>(gpu(), r.view(), r.view(), r.view(), d.view(), u.view(), y.view()); };
    CHECK_THROWS_AS(run(), error);
}

TEST_CASE_TEMPLATE_APPLY(layer_norm_case, gpu_types);
TEST_CASE_TEMPLATE_APPLY(token_shift_case, gpu_types);
TEST_CASE_TEMPLATE_APPLY(activation_case, gpu_types);
TEST_CASE_TEMPLATE_APPLY(residual_case, gpu_types);
TEST_CASE_TEMPLATE_APPLY(im2col_case, gpu_types);
TEST_CASE_TEMPLATE_APPLY(linear_case, gpu_types);
TEST_CASE_TEMPLATE_APPLY(pooling_case, gpu_types);
TEST_CASE_TEMPLATE_APPLY(vrwkv6_ops_case, gpu_types);
TEST_CASE_TEMPLATE_APPLY(wkv6_case, gpu_types);

// ------------------------------------------------------------------ encoder

namespace {

// The fixture directory: ../shared/fixtures, else .carry/fixtures (copied
// there for the GPU machine, which has no ../shared).
std::string big_fixture(const std::string& name) {
    const std::string shared = vrwkv::testing::shared_fixture(name);
    if (file_exists(shared)) return shared;
    return std::string(VRWKV_CARRY_FIXTURES_DIR) + "/" + name;
}

struct fixture_errors {
    std::vector<double> layers;  // max abs error per block output
    double features = 0, logits = 0;
};

template <class T>
fixture_errors run_fixture(const tensor_archive& model, const tensor_archive& io) {
    executor<cuda>& ex = gpu();
    auto enc = encoder<T, cuda>::from_archive(ex, model);
    const model_config& c = enc.config();
    tensor<T, cuda> images = to_backend(ex, io.get<T>("input"));
    forward_options opt;
    std::vector<index_t> all;
    for (index_t i = 0; i < c.depth; ++i) all.push_back(i);
    opt.out_indices = all;
    auto out = enc.forward(ex, images.view(), opt);
    REQUIRE(out.features.size() == all.size());
    fixture_errors e;
    for (std::size_t j = 0; j < out.features.size(); ++j) {
        const stored_tensor& ref = io.at("layer" + std::to_string(out.indices[j]) + "_ref");
        CHECK(out.features[j].dims() == shape::from_range(ref.extents.begin(), ref.extents.end()));
        e.layers.push_back(max_abs(download(out.features[j]), ref));
    }
    e.features = max_abs(download(out.features.back()), io.at("features_ref"));
    REQUIRE(out.logits.dims() == shape{images.size(0), c.num_classes});
    e.logits = max_abs(download(out.logits), io.at("logits_ref"));
    return e;
}

void check_float_fixture(const tensor_archive& model, const tensor_archive& io) {
    const fixture_errors e = run_fixture<float>(model, io);
    for (std::size_t i = 0; i < e.layers.size(); ++i) {
        CAPTURE(i);
        CHECK(e.layers[i] < 1e-4);
    }
    CHECK(e.features < 1e-4);
    CHECK(e.logits < 1e-4);
}

template <class T>
void check_16bit_logits(const tensor_archive& model, const tensor_archive& io, double tol) {
    const fixture_errors e = run_fixture<T>(model, io);
    MESSAGE(std::string(dtype_name(dtype_of_v<T>)) << ": logits max abs error " << e.logits << ", last layer " << e.layers.back());
    CHECK(e.logits < tol);
}

}  // namespace

TEST_CASE("cuda encoder: vrwkv_mini and vrwkv6_mini match the float64 references") {
    if (skip_without_gpu()) return;
    for (const char* name : {"vrwkv_mini", "vrwkv6_mini"}) {
        CAPTURE(name);
        const tensor_archive model = load_safetensors(data_path(std::string(name) + ".safetensors"));
        const tensor_archive io = load_safetensors(data_path(std::string(name) + ".io.safetensors"));
        check_float_fixture(model, io);
        check_16bit_logits<vrwkv::half>(model, io, 1e-2);
        check_16bit_logits<bfloat16>(model, io, 5e-2);
    }
}

TEST_CASE("cuda encoder: vrwkv_t.pth matches the float64 reference (float, half, bfloat16)") {
    if (skip_without_gpu()) return;
    const std::string pth = big_fixture("vrwkv_t.pth"), io_file = big_fixture("vrwkv_t.io.safetensors");
    if (!file_exists(pth) || !file_exists(io_file)) {
        MESSAGE("skipped: vrwkv_t.pth / vrwkv_t.io.safetensors not in ../shared/fixtures or .carry/fixtures");
        return;
    }
    const tensor_archive model = load_checkpoint(pth);
    const tensor_archive io = load_safetensors(io_file);
    check_float_fixture(model, io);
    check_16bit_logits<vrwkv::half>(model, io, 1e-2);
    check_16bit_logits<bfloat16>(model, io, 5e-2);
}

TEST_CASE("cuda encoder: odd image sizes agree between float and double; graph replay equals eager") {
    if (skip_without_gpu()) return;
    executor<cuda>& ex = gpu();
    for (const char* name : {"vrwkv_mini", "vrwkv6_mini"}) {
        CAPTURE(name);
        const tensor_archive model = load_safetensors(data_path(std::string(name) + ".safetensors"));
        auto enc_f = encoder<float, cuda>::from_archive(ex, model);
        auto enc_d = encoder<double, cuda>::from_archive(ex, model);
        const values img = rounded<float>(random_values(3 * 3 * 50 * 70, 32, -2, 2));
        auto img_f = upload<float>(img, shape{3, 3, 50, 70});
        auto img_d = upload<double>(img, shape{3, 3, 50, 70});
        forward_options opt;
        opt.out_indices = std::vector<index_t>{0, enc_f.config().depth - 1};
        auto of = enc_f.forward(ex, img_f.view(), opt);
        auto od = enc_d.forward(ex, img_d.view(), opt);
        CHECK(of.grid.height == 4);
        CHECK(of.grid.width == 5);
        for (std::size_t j = 0; j < of.features.size(); ++j) CHECK(worst(download(of.features[j]), download(od.features[j])) < 1e-4);
        CHECK(worst(download(of.logits), download(od.logits)) < 1e-4);

        captured_forward<float> graph(ex, enc_f, img_f.view(), opt);
        const values eager = download(of.logits);
        float* logits = const_cast<float*>(graph.out().logits.data());  // poisoned: the replay must rewrite it
        cuda_check(cudaMemsetAsync(logits, 0xFF, sizeof(float) * graph.out().logits.numel(), ex.stream()),
                   "cudaMemsetAsync");
        graph.run(ex);
        CHECK(worst(download(graph.out().logits), eager) == 0);
    }
}
