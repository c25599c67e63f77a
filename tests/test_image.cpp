// Image decoding and the evaluation preprocessing against Pillow.
//
// tests/data/pillow_cases.safetensors comes from tests/data/pillow_cases.py,
// run with Pillow 12.3.0 and numpy 2.5.2 on the GPU machine:
//   python3 tests/data/pillow_cases.py $OUT/pillow_cases.safetensors
// It holds deterministic pseudo-random sources and what Pillow makes of them:
//   pre.<case>.{src, cfg=(short side, crop), crop[, resized]}  the pipeline
//   rs.<case>.{src, out}     Image.resize(BICUBIC) to out's size
//   fl.<case>.{src, out}     per-channel mode "F" resize, then (x - mean) / std
//   dec.<case>.{bytes, rgb}  an encoded file and Image.open(...).convert("RGB")
#include "test_support.hpp"

#include <stb_image_write.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>
#include <string>
#include <vector>

#include "vrwkv/io/image.hpp"
#include "vrwkv/io/preprocess.hpp"
#include "vrwkv/io/safetensors.hpp"

using namespace vrwkv;
using vrwkv::testing::data_path;

namespace {

image_u8 to_image(const stored_tensor& t, const std::string& name) {
    REQUIRE_MESSAGE(t.type == dtype::u8, name);
    REQUIRE_MESSAGE((t.extents.size() == 3 && t.extents[2] == 3), name << " has shape " << t.shape_str());
    image_u8 img(static_cast<int>(t.extents[0]), static_cast<int>(t.extents[1]));
    REQUIRE(t.bytes.size() == img.pixels.size());
    img.pixels = t.bytes;
    return img;
}

// Number of bytes that differ, and the largest difference.
struct byte_diff {
    std::size_t mismatches = 0;
    int max_abs = 0;
};
byte_diff compare(const image_u8& a, const image_u8& b) {
    byte_diff d;
    if (a.height != b.height || a.width != b.width) return {a.pixels.size() + b.pixels.size() + 1, 256};
    for (std::size_t i = 0; i < a.pixels.size(); ++i) {
        const int e = std::abs(int(a.pixels[i]) - int(b.pixels[i]));
        d.mismatches += e != 0;
        d.max_abs = std::max(d.max_abs, e);
    }
    return d;
}

image_u8 random_image(int h, int w, unsigned seed) {
    std::mt19937 rng(seed);
    image_u8 img(h, w);
    for (auto& p : img.pixels) p = static_cast<std::uint8_t>(rng() & 0xff);
    return img;
}

// The case names that have tensor `<prefix>.<name>.<field>`.
std::vector<std::string> cases(const tensor_archive& a, const std::string& prefix, const std::string& field) {
    std::vector<std::string> names;
    for (const auto& kv : a.tensors) {
        const std::string& k = kv.first;
        const std::string tail = "." + field;
        const bool ends_with_tail =
            k.size() > tail.size() && k.compare(k.size() - tail.size(), tail.size(), tail) == 0;
        if (k.rfind(prefix + ".", 0) == 0 && ends_with_tail)
            names.push_back(k.substr(prefix.size() + 1, k.size() - prefix.size() - 1 - tail.size()));
    }
    return names;
}

std::string error_of_decode(const std::vector<std::uint8_t>& bytes, const image_limits& limits = {}) {
    try {
        decode_image(bytes, "test-bytes", limits);
    } catch (const error& e) {
        return e.what();
    }
    return "";
}

void append_bytes(void* context, void* data, int size) {
    auto* out = static_cast<std::vector<std::uint8_t>*>(context);
    out->insert(out->end(), static_cast<std::uint8_t*>(data), static_cast<std::uint8_t*>(data) + size);
}

std::vector<std::uint8_t> encode(const char* format, const image_u8& img, int components = 3) {
    std::vector<std::uint8_t> out;
    std::vector<std::uint8_t> px;  // stb writes interleaved 1..4 components
    for (std::size_t i = 0; i < img.pixels.size(); i += 3)
        for (int c = 0; c < components; ++c)
            px.push_back(c < 3 ? img.pixels[i + c] : std::uint8_t(255 - img.pixels[i]));
    const std::string f = format;
    int ok = 0;
    const int w = img.width, h = img.height;
    if (f == "png") ok = stbi_write_png_to_func(append_bytes, &out, w, h, components, px.data(), w * components);
    if (f == "bmp") ok = stbi_write_bmp_to_func(append_bytes, &out, w, h, components, px.data());
    if (f == "jpg") ok = stbi_write_jpg_to_func(append_bytes, &out, w, h, components, px.data(), 95);
    REQUIRE_MESSAGE(ok != 0, "stb could not write " << f);
    return out;
}

std::string write_temp(const std::string& name, const std::vector<std::uint8_t>& bytes) {
    const auto path =
        std::filesystem::temp_directory_path() / ("vrwkv_test_image_" + std::to_string(::getpid()) + "_" + name);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path.string();
}

}  // namespace

TEST_CASE("the reference sample: decode, Pillow resize and tensor match the published pipeline") {
    const tensor_archive ref = load_safetensors(data_path("preprocess.safetensors"));
    const image_u8 img = load_image(data_path("sample_333x500.png"));
    CHECK(img.height == 333);
    CHECK(img.width == 500);
    const byte_diff decoded = compare(img, to_image(ref.at("image_u8"), "image_u8"));
    CHECK(decoded.mismatches == 0);

    const image_u8 resized = resize_short_side(img, 256);
    const byte_diff rs = compare(resized, to_image(ref.at("resized_u8"), "resized_u8"));
    CHECK(rs.mismatches == 0);
    MESSAGE("sample resize: " << rs.mismatches << " of " << resized.pixels.size() << " bytes differ from Pillow");

    const tensor<float> t = preprocess(img);
    const stored_tensor& expected = ref.at("tensor");
    REQUIRE(t.dims() == shape{3, 224, 224});
    REQUIRE(expected.shape_str() == "(3, 224, 224)");
    const double err = testing::max_abs_diff(t.data(), expected);
    CHECK(err <= 1e-6);
    MESSAGE("sample tensor max |diff| = " << err);

    // The same image written into one slot of a batch.
    tensor<float> batch(shape{2, 3, 224, 224});
    std::fill(batch.data(), batch.data() + batch.numel(), -7.0f);
    preprocess_into(img, batch.view().slice(1, 2).reshape(shape{3, 224, 224}));
    CHECK(batch.data()[0] == -7.0f);
    CHECK(testing::max_abs_diff(batch.data() + 3 * 224 * 224, expected) <= 1e-6);
}

TEST_CASE("the evaluation pipeline matches Pillow byte for byte on odd sizes") {
    const tensor_archive a = load_safetensors(data_path("pillow_cases.safetensors"));
    const auto names = cases(a, "pre", "src");
    CHECK(names.size() >= 9);  // up, portrait, eq, 1xN, Nx1, tiny, ...
    for (const std::string& name : names) {
        CAPTURE(name);
        const image_u8 src = to_image(a.at("pre." + name + ".src"), name);
        const tensor<std::int32_t> cfg = a.get<std::int32_t>("pre." + name + ".cfg");
        preprocess_params p;
        p.short_side = cfg.data()[0];
        p.crop_size = cfg.data()[1];
        const image_u8 expected_crop = to_image(a.at("pre." + name + ".crop"), name);
        const byte_diff crop = compare(resize_and_center_crop(src, p), expected_crop);
        CHECK(crop.mismatches == 0);
        CHECK(crop.max_abs == 0);
        if (a.contains("pre." + name + ".resized")) {
            const image_u8 full = resize_short_side(src, p.short_side);
            CHECK(compare(full, to_image(a.at("pre." + name + ".resized"), name)).mismatches == 0);
            CHECK(compare(center_crop(full, p.crop_size), expected_crop).mismatches == 0);
        }
        // The tensor is the crop, normalised per channel.
        const tensor<float> t = preprocess(src, p);
        REQUIRE(t.dims() == shape{3, p.crop_size, p.crop_size});
        double err = 0;
        for (int c = 0; c < 3; ++c)
            for (int y = 0; y < p.crop_size; ++y)
                for (int x = 0; x < p.crop_size; ++x) {
                    const float want = (float(expected_crop.at(y, x, c)) - p.norm.mean[c]) / p.norm.stddev[c];
                    err = std::max(err, double(std::fabs(t(c, y, x) - want)));
                }
        CHECK(err <= 1e-6);
    }
}

TEST_CASE("plain bicubic resize matches Pillow, and any window of it matches the whole") {
    const tensor_archive a = load_safetensors(data_path("pillow_cases.safetensors"));
    const auto names = cases(a, "rs", "src");
    CHECK(names.size() >= 6);
    std::mt19937 rng(7);
    for (const std::string& name : names) {
        CAPTURE(name);
        const image_u8 src = to_image(a.at("rs." + name + ".src"), name);
        const image_u8 expected = to_image(a.at("rs." + name + ".out"), name);
        const image_u8 full = resize_bicubic(src, expected.height, expected.width);
        CHECK(compare(full, expected).mismatches == 0);
        for (int trial = 0; trial < 5; ++trial) {
            pixel_window w;
            w.top = static_cast<int>(rng() % expected.height);
            w.left = static_cast<int>(rng() % expected.width);
            w.height = 1 + static_cast<int>(rng() % (expected.height - w.top));
            w.width = 1 + static_cast<int>(rng() % (expected.width - w.left));
            CHECK(compare(resize_bicubic_window(src, expected.height, expected.width, w),
                          detail::copy_window(expected, w)).mismatches == 0);
        }
    }
    // Same size: a copy, as Pillow.
    const image_u8 img = random_image(5, 4, 1);
    CHECK(compare(resize_bicubic(img, 5, 4), img).mismatches == 0);
}

TEST_CASE("float resize path matches Pillow's mode F bicubic, normalised") {
    const tensor_archive a = load_safetensors(data_path("pillow_cases.safetensors"));
    const auto names = cases(a, "fl", "src");
    CHECK(names.size() >= 3);
    for (const std::string& name : names) {
        CAPTURE(name);
        const image_u8 src = to_image(a.at("fl." + name + ".src"), name);
        const stored_tensor& expected = a.at("fl." + name + ".out");
        REQUIRE(expected.extents.size() == 3);
        const tensor<float> t = preprocess_resized(src, static_cast<int>(expected.extents[1]),
                                                   static_cast<int>(expected.extents[2]));
        const double err = testing::max_abs_diff(t.data(), expected);
        CHECK(err <= 1e-5);
        MESSAGE("float resize " << name << ": max |diff| = " << err);
    }
    // No resize: plain normalisation.
    const image_u8 img = random_image(3, 2, 2);
    const tensor<float> t = preprocess_resized(img, 3, 2);
    CHECK(t(2, 1, 1) == (float(img.at(1, 1, 2)) - 103.53f) / 57.375f);
}

TEST_CASE("decoding Pillow-written files: PNG, GIF, BMP exact, JPEG close") {
    const tensor_archive a = load_safetensors(data_path("pillow_cases.safetensors"));
    const auto names = cases(a, "dec", "bytes");
    CHECK(names.size() >= 9);
    for (const std::string& name : names) {
        CAPTURE(name);
        const stored_tensor& bytes = a.at("dec." + name + ".bytes");
        const image_u8 expected = to_image(a.at("dec." + name + ".rgb"), name);
        const image_u8 img = decode_image(bytes.bytes, name);
        REQUIRE(img.height == expected.height);
        REQUIRE(img.width == expected.width);
        const byte_diff d = compare(img, expected);
        if (name.rfind("jpeg", 0) == 0) {
            CHECK(d.max_abs <= 4);  // stb's IDCT and upsampling are not libjpeg's
            MESSAGE(name << ": stb vs Pillow max |diff| " << d.max_abs << ", " << d.mismatches << " of "
                         << img.pixels.size() << " bytes differ");
        } else {
            CHECK(d.mismatches == 0);
        }
        // A cut-short file is refused, never decoded into different pixels
        // (cutting only a BMP's last row padding loses nothing).
        const std::size_t n = bytes.bytes.size();
        std::size_t refused = 0, tried = 0;
        for (std::size_t keep = 0; keep < n; keep += (keep + 40 < n ? 1 + n / 150 : 1)) {
            ++tried;
            try {
                const image_u8 cut = decode_image(bytes.bytes.data(), keep, name);
                CHECK_MESSAGE(compare(cut, img).mismatches == 0, "kept " << keep << " of " << n << " bytes");
            } catch (const error&) {
                ++refused;
            }
        }
        CHECK(refused + 2 >= tried);
    }
}

TEST_CASE("decoding round trips through stb's own writers") {
    const image_u8 img = random_image(13, 21, 3);  // odd width: BMP rows are padded
    CHECK(compare(decode_image(encode("png", img)), img).mismatches == 0);
    CHECK(compare(decode_image(encode("bmp", img)), img).mismatches == 0);
    const image_u8 jpg = decode_image(encode("jpg", img));
    CHECK(jpg.height == 13);
    CHECK(jpg.width == 21);

    // Grey is replicated, alpha dropped.
    const image_u8 grey = decode_image(encode("png", img, 1));
    const image_u8 rgba = decode_image(encode("png", img, 4));
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x)
            for (int c = 0; c < 3; ++c) {
                CHECK(grey.at(y, x, c) == img.at(y, x, 0));
                CHECK(rgba.at(y, x, c) == img.at(y, x, c));
            }

    // Binary PNM.
    std::string header = "P6\n# made by a test\n21 13\n255\n";
    std::vector<std::uint8_t> pnm(header.begin(), header.end());
    pnm.insert(pnm.end(), img.pixels.begin(), img.pixels.end());
    CHECK(compare(decode_image(pnm), img).mismatches == 0);
    pnm.pop_back();
    CHECK(error_of_decode(pnm).find("truncated PNM") != std::string::npos);

    // From a file.
    const std::string path = write_temp("roundtrip.png", encode("png", img));
    CHECK(compare(load_image(path), img).mismatches == 0);
    std::filesystem::remove(path);
}

TEST_CASE("damaged, unsupported and oversized files give a clear vrwkv::error") {
    const image_u8 img = random_image(40, 30, 4);
    for (const char* format : {"png", "bmp", "jpg"}) {
        CAPTURE(format);
        const std::vector<std::uint8_t> bytes = encode(format, img);
        for (std::size_t keep : {std::size_t{0}, std::size_t{1}, std::size_t{10},
                                 bytes.size() / 3, bytes.size() - 20}) {
            CAPTURE(keep);
            const std::string msg = error_of_decode(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + keep));
            CHECK(msg.find("cannot decode image 'test-bytes'") != std::string::npos);
        }
    }
    // Truncated BMP: stb alone would fill the missing rows with zeros.
    std::vector<std::uint8_t> bmp = encode("bmp", img);
    bmp.resize(bmp.size() - 100);
    CHECK(error_of_decode(bmp).find("truncated BMP") != std::string::npos);

    std::vector<std::uint8_t> garbage(500);
    std::mt19937 rng(5);
    for (auto& b : garbage) b = static_cast<std::uint8_t>(rng());
    garbage[0] = 'x';
    CHECK(error_of_decode(garbage).find("not a recognised image file") != std::string::npos);

    // A PNG signature followed by garbage: stb's reason is passed on.
    std::vector<std::uint8_t> fake_png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    fake_png.insert(fake_png.end(), garbage.begin(), garbage.end());
    CHECK(error_of_decode(fake_png).find("bad PNG header: no IHDR chunk") != std::string::npos);
    // A complete PNG whose compressed data is damaged: stb's reason is passed on.
    std::vector<std::uint8_t> damaged = encode("png", img);
    for (std::size_t i = 45; i < 80; ++i) damaged[i] = 0xff;
    const std::string png_msg = error_of_decode(damaged);
    CHECK(png_msg.find("corrupt or truncated PNG (stb: ") != std::string::npos);
    MESSAGE("damaged PNG: " << png_msg);

    // A JPEG Huffman table declaring more than 256 codes (stb would write past its tables).
    std::vector<std::uint8_t> bad_dht = encode("jpg", img);
    std::size_t dht = 2;
    while (dht + 1 < bad_dht.size() && !(bad_dht[dht] == 0xff && bad_dht[dht + 1] == 0xc4)) ++dht;
    REQUIRE(dht + 21 < bad_dht.size());
    bad_dht[dht + 5 + 15] = 255;  // the count of 16-bit codes
    bad_dht[dht + 5 + 14] = 255;
    CHECK(error_of_decode(bad_dht).find("Huffman table with") != std::string::npos);
    // Image data before any frame header.
    const std::vector<std::uint8_t> no_frame = {0xff, 0xd8, 0xff, 0xda, 0, 2, 1, 2, 3, 0xff, 0xd9};
    CHECK(error_of_decode(no_frame).find("before the frame header") != std::string::npos);

    const std::string hdr = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 4 +X 4\n";
    CHECK(error_of_decode(std::vector<std::uint8_t>(hdr.begin(), hdr.end())).find("HDR") != std::string::npos);
    const std::vector<std::uint8_t> tiff = {'I', 'I', '*', 0, 8, 0, 0, 0, 0, 0};
    CHECK(error_of_decode(tiff).find("TIFF") != std::string::npos);
    CHECK(error_of_decode({}).find("empty") != std::string::npos);

    // Size limits apply before the pixels are allocated.
    image_limits small;
    small.max_pixels = 100;
    CHECK(error_of_decode(encode("png", img), small).find("exceeds the limits") != std::string::npos);
    // A PNG header claiming 100000 x 100000 pixels.
    std::vector<std::uint8_t> huge = encode("png", random_image(1, 1, 6));
    for (int i = 0; i < 2; ++i) {
        const std::uint32_t v = 100000;
        for (int b = 0; b < 4; ++b) huge[16 + 4 * i + b] = static_cast<std::uint8_t>(v >> (24 - 8 * b));
    }
    const std::string huge_msg = error_of_decode(huge);
    CHECK(!huge_msg.empty());
    MESSAGE("huge PNG: " << huge_msg);

    // Files: the path is in the message.
    const std::string missing = data_path("img_does_not_exist.png");
    CHECK_THROWS_WITH_AS(load_image(missing), doctest::Contains(missing.c_str()), error);
    const std::string truncated = write_temp("truncated.png", std::vector<std::uint8_t>(
                                                                   fake_png.begin(), fake_png.begin() + 30));
    CHECK_THROWS_WITH_AS(load_image(truncated), doctest::Contains(truncated.c_str()), error);
    std::filesystem::remove(truncated);
    CHECK_THROWS_AS(load_image(std::filesystem::temp_directory_path().string()), error);
}

TEST_CASE("geometry: short side sizes, half-even crop origins, 1xN images") {
    CHECK(short_side_resize_size(333, 500, 256) == std::array<int, 2>{256, 384});
    CHECK(short_side_resize_size(500, 333, 256) == std::array<int, 2>{384, 256});
    CHECK(short_side_resize_size(256, 256, 256) == std::array<int, 2>{256, 256});
    CHECK(short_side_resize_size(1, 40, 256) == std::array<int, 2>{256, 10240});
    CHECK(short_side_resize_size(3, 5, 256) == std::array<int, 2>{256, 426});
    CHECK(center_crop_origin(256, 224) == 16);
    CHECK(center_crop_origin(225, 224) == 0);  // 0.5 -> 0
    CHECK(center_crop_origin(227, 224) == 2);  // 1.5 -> 2
    CHECK(center_crop_origin(229, 224) == 2);  // 2.5 -> 2
    CHECK(center_crop_origin(224, 224) == 0);
    CHECK_THROWS_AS(center_crop_origin(200, 224), error);

    // A single row stretched: every output row is the same.
    const image_u8 row = random_image(1, 7, 8);
    const image_u8 r = resize_bicubic(row, 4, 9);
    for (int y = 1; y < 4; ++y) CHECK(std::equal(r.row(0), r.row(0) + r.row_bytes(), r.row(y)));
    // A 1x1 image becomes a constant image.
    const image_u8 dot = random_image(1, 1, 9);
    const tensor<float> t = preprocess(dot);
    CHECK(t(1, 0, 0) == t(1, 223, 223));
}

TEST_CASE("bad arguments are refused with a message") {
    const image_u8 img = random_image(20, 30, 10);
    CHECK_THROWS_WITH_AS(center_crop(img, 25), doctest::Contains("does not fit"), error);
    preprocess_params p;
    p.short_side = 200;  // crop 224 cannot fit
    CHECK_THROWS_WITH_AS(preprocess(img, p), doctest::Contains("crop_size 224"), error);
    p = {};
    p.norm.stddev[1] = 0;
    CHECK_THROWS_WITH_AS(preprocess(img, p), doctest::Contains("stddev"), error);
    image_u8 broken = img;
    broken.pixels.pop_back();
    CHECK_THROWS_WITH_AS(preprocess(broken), doctest::Contains("expected height * width * 3"), error);
    CHECK_THROWS_AS(preprocess(image_u8{}), error);
    tensor<float> wrong(shape{3, 224, 225});
    CHECK_THROWS_WITH_AS(preprocess_into(img, wrong.view()), doctest::Contains("(3, 224, 224)"), error);
    CHECK_THROWS_AS(resize_bicubic(img, 0, 5), error);
    CHECK_THROWS_AS(resize_bicubic_window(img, 10, 10, {5, 5, 6, 1}), error);
    CHECK_THROWS_AS(image_u8(1 << 20, 1 << 20), error);
    CHECK_THROWS_AS(short_side_resize_size(1, 1 << 20, 1 << 10), error);
}
