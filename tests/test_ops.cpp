#include "test_support.hpp"

#include <random>

#include "vrwkv/model/random_checkpoint.hpp"
#include "vrwkv/vrwkv.hpp"

using namespace vrwkv;
using vrwkv::testing::data_path;

namespace {

std::mt19937& rng() {
    static std::mt19937 r(7);
    return r;
}
template <class T>
tensor<T> random_tensor(const shape& s, double scale = 1.0) {
    std::uniform_real_distribution<double> d(-scale, scale);
    tensor<T> t(s);
    for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = convert<T>(d(rng()));
    return t;
}

// Keys' cubic kernel with PyTorch's a = -0.75, as a function of distance.
double keys_kernel(double d) {
    const double a = -0.75, x = std::fabs(d);
    if (x <= 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
    if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
    return 0;
}

// Direct evaluation of F.interpolate(bicubic, align_corners=False) at one output pixel.
double pytorch_bicubic_at(const tensor<double>& img, index_t h0, index_t w0, index_t h, index_t w, index_t oy,
                          index_t ox, index_t c) {
    const double sy = (oy + 0.5) * double(h0) / double(h) - 0.5, sx = (ox + 0.5) * double(w0) / double(w) - 0.5;
    const index_t fy = static_cast<index_t>(std::floor(sy)), fx = static_cast<index_t>(std::floor(sx));
    double v = 0;
    for (index_t m = -1; m <= 2; ++m)
        for (index_t n = -1; n <= 2; ++n) {
            const index_t iy = std::clamp<index_t>(fy + m, 0, h0 - 1), ix = std::clamp<index_t>(fx + n, 0, w0 - 1);
            v += keys_kernel(sy - double(fy + m)) * keys_kernel(sx - double(fx + n)) * img(iy * w0 + ix, c);
        }
    return v;
}

}  // namespace

TEST_CASE("position-embedding resize equals PyTorch's bicubic formula evaluated directly") {
    const index_t C = 3;
    struct sizes { index_t h0, w0, h, w; };
    for (const sizes s : {sizes{4, 4, 6, 6}, sizes{14, 14, 64, 64}, sizes{14, 14, 5, 9}, sizes{4, 4, 1, 1},
                          sizes{3, 5, 7, 2}, sizes{14, 14, 14, 14}}) {
        CAPTURE(s.h);
        CAPTURE(s.w);
        const tensor<double> table = random_tensor<double>(shape{s.h0 * s.w0, C});
        const tensor<double> out = resize_pos_embed<double>(table.view(), s.h0, s.w0, s.h, s.w);
        REQUIRE(out.dims() == shape{s.h * s.w, C});
        double err = 0;
        for (index_t y = 0; y < s.h; ++y)
            for (index_t x = 0; x < s.w; ++x)
                for (index_t c = 0; c < C; ++c)
                    err = std::max(err, std::fabs(out(y * s.w + x, c) -
                                                  pytorch_bicubic_at(table, s.h0, s.w0, s.h, s.w, y, x, c)));
        CHECK(err < 1e-12);
    }
}

TEST_CASE("Q-Shift follows SPEC 3 for the whole-channel and per-head forms") {
    executor<cpu> ex(2);
    for (index_t head : {index_t(0), index_t(8)}) {
        CAPTURE(head);
        const index_t B = 2, H = 3, W = 5, C = 16;
        const tensor<double> x = random_tensor<double>(shape{B, H * W, C});
        const tensor<double> mix = random_tensor<double>(shape{C});
        tensor<double> out(x.dims()), delta(x.dims());
        token_shift_params p = make_token_shift_params<double, cpu>(x.view(), H, W, 1, 0.25, head);
        const tensor_view<const double> mixes[] = {mix.view()};
        const tensor_view<double> outs[] = {out.view()};
        token_shift_mix<double, cpu>(ex, p, x.view(), mixes, outs, 1);
        token_shift_delta<double, cpu>(ex, p, x.view(), delta.view());
        const index_t q = head ? head / 4 : C / 4;
        double err = 0;
        for (index_t b = 0; b < B; ++b)
            for (index_t y = 0; y < H; ++y)
                for (index_t xx = 0; xx < W; ++xx)
                    for (index_t c = 0; c < C; ++c) {
                        const index_t local = head ? c % head : c, quarter = local / q;
                        index_t sy = y, sx = xx;
                        if (quarter == 0) sx = xx - 1;
                        if (quarter == 1) sx = xx + 1;
                        if (quarter == 2) sy = y - 1;
                        if (quarter == 3) sy = y + 1;
                        const bool in = sy >= 0 && sy < H && sx >= 0 && sx < W;
                        const double shifted = in ? x(b, sy * W + sx, c) : 0.0;
                        const double xv = x(b, y * W + xx, c);
                        err = std::max(err, std::fabs(out(b, y * W + xx, c) - (xv * mix(c) + shifted * (1 - mix(c)))));
                        err = std::max(err, std::fabs(delta(b, y * W + xx, c) - (shifted - xv)));
                    }
        CHECK(err < 1e-15);
    }
}

TEST_CASE("linear and layer norm against plain loops, including 16-bit storage") {
    executor<cpu> ex(2);
    const tensor<double> x = random_tensor<double>(shape{2, 5, 7}), w = random_tensor<double>(shape{3, 7});
    const tensor<double> bias = random_tensor<double>(shape{3});
    tensor<double> y(shape{2, 5, 3});
    linear<double, cpu>(ex, x.view(), w.view(), bias.data(), y.view());
    tensor<half> xh(x.dims()), wh(w.dims()), yh(y.dims());
    for (index_t i = 0; i < x.numel(); ++i) xh.data()[i] = half(float(x.data()[i]));
    for (index_t i = 0; i < w.numel(); ++i) wh.data()[i] = half(float(w.data()[i]));
    linear<half, cpu>(ex, xh.view(), wh.view(), nullptr, yh.view());
    double err = 0, err_half = 0;
    for (index_t r = 0; r < 10; ++r)
        for (index_t o = 0; o < 3; ++o) {
            double s = 0;
            for (index_t i = 0; i < 7; ++i) s += x.data()[r * 7 + i] * w(o, i);
            err = std::max(err, std::fabs(y.data()[r * 3 + o] - (s + bias(o))));
            err_half = std::max(err_half, std::fabs(convert<double>(yh.data()[r * 3 + o]) - s));
        }
    CHECK(err < 1e-14);
    CHECK(err_half < 2e-2);
    CHECK_THROWS_WITH_AS((linear<double, cpu>(ex, x.view(), bias.view().reshape(shape{1, 3}), nullptr, y.view())),
                         doctest::Contains("features"), error);

    const tensor<double> g = random_tensor<double>(shape{7}), bb = random_tensor<double>(shape{7});
    tensor<double> n(x.dims());
    layer_norm<double, cpu>(ex, x.view(), g.view(), bb.view(), n.view());
    double lerr = 0;
    for (index_t r = 0; r < 10; ++r) {
        double mean = 0, var = 0;
        for (index_t i = 0; i < 7; ++i) mean += x.data()[r * 7 + i] / 7;
        for (index_t i = 0; i < 7; ++i) var += (x.data()[r * 7 + i] - mean) * (x.data()[r * 7 + i] - mean) / 7;
        for (index_t i = 0; i < 7; ++i)
            lerr = std::max(lerr, std::fabs(n.data()[r * 7 + i] -
                                            ((x.data()[r * 7 + i] - mean) / std::sqrt(var + 1e-5) * g(i) + bb(i))));
    }
    CHECK(lerr < 1e-13);
}

namespace {
struct my_encoder : configs::defaults {
    static constexpr index_t embed_dims = 64, depth = 2, img_size = 32, num_classes = 5;
    static constexpr bool post_norm = true, layer_scale = true;
};
}  // namespace

TEST_CASE("compile-time configurations") {
    const model_config t = make_config<configs::vrwkv_t>();
    CHECK(t.embed_dims == 192);
    CHECK(t.depth == 12);
    CHECK_FALSE(t.post_norm);
    const model_config l = make_config<configs::vrwkv_l>();
    CHECK(l.embed_dims == 1024);
    CHECK(l.depth == 24);
    CHECK(l.key_norm);
    CHECK(l.head == head_kind::mlp_tanh);
    const model_config b6 = make_config<configs::vrwkv6_b>();
    CHECK(b6.version == 6);
    CHECK(b6.num_heads == 12);
    const model_config m = make_config<my_encoder>();
    CHECK(m.embed_dims == 64);
    CHECK(m.num_classes == 5);
    CHECK(m.post_norm);
}

namespace {

tensor<float> pad_to(const tensor<float>& img, index_t H, index_t W) {
    tensor<float> out(shape{img.size(0), img.size(1), H, W});
    for (index_t i = 0; i < out.numel(); ++i) out.data()[i] = 0;
    for (index_t b = 0; b < img.size(0); ++b)
        for (index_t c = 0; c < img.size(1); ++c)
            for (index_t y = 0; y < img.size(2); ++y)
                for (index_t x = 0; x < img.size(3); ++x) out(b, c, y, x) = img(b, c, y, x);
    return out;
}

}  // namespace

TEST_CASE("inputs of any size: corner padding equals explicit zero padding, pos-embed resize runs") {
    executor<cpu> ex(2);
    auto enc = encoder<float, cpu>::from_archive(ex, load_safetensors(data_path("vrwkv_mini.safetensors")));
    const tensor<float> odd = random_tensor<float>(shape{1, 3, 70, 50});
    const tensor<float> padded = pad_to(odd, 80, 64);
    auto a = enc.forward(ex, odd.view());
    auto b = enc.forward(ex, padded.view());
    CHECK(a.grid.height == 5);
    CHECK(a.grid.width == 4);
    REQUIRE(a.features.size() == 4);  // the checkpoint's config asks for out_indices 0..3
    CHECK(a.features[3].dims() == shape{1, 64, 5, 4});
    CHECK(vrwkv::testing::max_abs_diff(a.features[3].data(), b.features[3].data(), a.features[3].numel()) == 0);
    CHECK(vrwkv::testing::max_abs_diff(a.logits.data(), b.logits.data(), a.logits.numel()) == 0);

    const tensor<float> tiny = random_tensor<float>(shape{2, 3, 1, 1});
    auto t = enc.forward(ex, tiny.view());
    CHECK(t.features[3].dims() == shape{2, 64, 1, 1});
    for (index_t i = 0; i < t.logits.numel(); ++i) CHECK(std::isfinite(t.logits.data()[i]));
}

TEST_CASE("bad inputs and checkpoints raise vrwkv::error") {
    executor<cpu> ex(1);
    tensor_archive ckpt = load_safetensors(data_path("vrwkv_mini.safetensors"));
    auto enc = encoder<float, cpu>::from_archive(ex, ckpt);
    const tensor<float> gray = random_tensor<float>(shape{1, 1, 64, 64});
    CHECK_THROWS_WITH_AS(enc.forward(ex, gray.view()), doctest::Contains("expected (B, 3, H, W)"), error);
    forward_options bad;
    bad.out_indices = std::vector<index_t>{7};
    const tensor<float> img = random_tensor<float>(shape{1, 3, 64, 64});
    CHECK_THROWS_WITH_AS(enc.forward(ex, img.view(), bad), doctest::Contains("block 7"), error);

    tensor_archive missing = ckpt;
    missing.tensors.erase("backbone.layers.2.ffn.value.weight");
    CHECK_THROWS_WITH_AS((encoder<float, cpu>::from_archive(ex, missing)),
                         doctest::Contains("backbone.layers.2.ffn.value.weight"), error);
    tensor_archive wrong = ckpt;
    wrong.tensors["backbone.layers.1.att.key.weight"].extents = {32, 128};
    CHECK_THROWS_WITH_AS((encoder<float, cpu>::from_archive(ex, wrong)), doctest::Contains("expected (64, 64)"), error);
    tensor_archive meta = ckpt;
    meta.metadata["config"] = "{\"embed_dims\": 96}";
    CHECK_THROWS_WITH_AS((encoder<float, cpu>::from_archive(ex, meta)), doctest::Contains("embed_dims"), error);
    meta.metadata["config"] = "{\"embed_dims\": ";
    CHECK_THROWS_WITH_AS((encoder<float, cpu>::from_archive(ex, meta)), doctest::Contains("not valid JSON"), error);
    tensor_archive empty;
    CHECK_THROWS_WITH_AS(infer_config(empty), doctest::Contains("not a Vision-RWKV checkpoint"), error);
}

namespace {
// The published layouts at a small width, so the test stays fast.
template <class Published>
struct narrow : Published {
    static constexpr index_t embed_dims = Published::version == 6 ? 128 : 64, depth = 2, num_classes = 7;
    static constexpr index_t num_heads = Published::version == 6 ? 2 : 0;
};
}  // namespace

TEST_CASE("every published layout round-trips through a checkpoint and runs") {
    executor<cpu> ex(2);
    for (const model_config& c :
         {make_config<narrow<configs::vrwkv_t>>(), make_config<narrow<configs::vrwkv_s>>(),
          make_config<narrow<configs::vrwkv_b>>(), make_config<narrow<configs::vrwkv_l>>(),
          make_config<narrow<configs::vrwkv6_t>>(), make_config<narrow<configs::vrwkv6_s>>(),
          make_config<narrow<configs::vrwkv6_b>>()}) {
        CAPTURE(c.to_json());
        const tensor_archive a = random_checkpoint(c, 3);
        const auto bytes = serialize_safetensors(a);
        const model_config back = infer_config(parse_safetensors(bytes.data(), bytes.size()));
        CHECK(back.to_json() == c.to_json());
        CHECK(back.head == c.head);
        CHECK(back.num_classes == c.num_classes);
        auto enc = encoder<float, cpu>::from_archive(ex, a);
        const tensor<float> img = random_tensor<float>(shape{1, 3, 40, 56});
        auto out = enc.forward(ex, img.view());
        REQUIRE(out.logits.dims() == shape{1, c.num_classes});
        bool finite = true;
        for (index_t i = 0; i < out.logits.numel(); ++i) finite = finite && std::isfinite(out.logits.data()[i]);
        CHECK(finite);
    }
}

TEST_CASE("forward into a reused output equals a fresh forward, across sizes") {
    executor<cpu> ex(2);
    auto enc = encoder<float, cpu>::from_archive(ex, load_safetensors(data_path("vrwkv_mini.safetensors")));
    encoder_output<float, cpu> reused;
    forward_options opt;
    for (const shape& s : {shape{2, 3, 64, 64}, shape{1, 3, 33, 90}, shape{2, 3, 64, 64}}) {
        const tensor<float> img = random_tensor<float>(s);
        enc.forward(ex, img.view(), opt, reused);
        auto fresh = enc.forward(ex, img.view(), opt);
        REQUIRE(reused.features.size() == fresh.features.size());
        for (std::size_t i = 0; i < fresh.features.size(); ++i) {
            REQUIRE(reused.features[i].dims() == fresh.features[i].dims());
            CHECK(vrwkv::testing::max_abs_diff(reused.features[i].data(), fresh.features[i].data(),
                                               fresh.features[i].numel()) == 0);
        }
        CHECK(vrwkv::testing::max_abs_diff(reused.logits.data(), fresh.logits.data(), fresh.logits.numel()) == 0);
    }
}
