#pragma once
// RGB uint8 images and the published evaluation preprocessing (SPEC section 10):
// short side to 256 with Pillow's bicubic resampling, bit for bit; center crop
// 224; (x - mean) / std into a float CHW tensor. Also a float resize path for
// inference at other resolutions. No decoder here (see io/image.hpp), so this
// header works on pixels from anywhere.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vrwkv/core/error.hpp"
#include "vrwkv/core/shape.hpp"
#include "vrwkv/core/tensor.hpp"
#include "vrwkv/core/tensor_view.hpp"
#include "vrwkv/cpu/allocator.hpp"

namespace vrwkv {

// Images with more pixels or a longer side are refused before allocating.
inline constexpr std::int64_t image_max_pixels = std::int64_t{1} << 28;  // 805 MB of RGB
inline constexpr int image_max_side = 1 << 24;

// RGB, 8 bits per channel, rows top to bottom, channels interleaved (HWC).
struct image_u8 {
    static constexpr int channels = 3;
    int height = 0;
    int width = 0;
    std::vector<std::uint8_t> pixels;  // height * width * 3

    image_u8() = default;
    image_u8(int rows, int cols) : height(rows), width(cols) {
        require(rows > 0 && cols > 0 && rows <= image_max_side && cols <= image_max_side &&
                    std::int64_t{rows} * cols <= image_max_pixels,
                "image size " + std::to_string(rows) + "x" + std::to_string(cols) +
                    " is empty or too large (at most " + std::to_string(image_max_pixels) + " pixels)");
        pixels.assign(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols) * channels, 0);
    }

    bool empty() const { return height == 0 || width == 0; }
    std::size_t row_bytes() const { return static_cast<std::size_t>(width) * channels; }
    std::uint8_t* row(int y) { return pixels.data() + static_cast<std::size_t>(y) * row_bytes(); }
    const std::uint8_t* row(int y) const { return pixels.data() + static_cast<std::size_t>(y) * row_bytes(); }
    std::uint8_t& at(int y, int x, int c) { return row(y)[static_cast<std::size_t>(x) * channels + c]; }
    std::uint8_t at(int y, int x, int c) const { return row(y)[static_cast<std::size_t>(x) * channels + c]; }
};

// Throws unless `img` is a non-empty image whose pixel buffer matches its size.
inline void require_valid_image(const image_u8& img, const std::string& what = "image") {
    require(img.height > 0 && img.width > 0,
            what + " is empty (" + std::to_string(img.height) + "x" + std::to_string(img.width) + ")");
    require(img.pixels.size() == static_cast<std::size_t>(img.height) * img.row_bytes(),
            what + " holds " + std::to_string(img.pixels.size()) + " bytes, expected height * width * 3 = " +
                std::to_string(static_cast<std::size_t>(img.height) * img.row_bytes()));
}

// Per-channel (x - mean) / stddev, RGB order, on 0..255 values.
struct normalization {
    std::array<float, 3> mean{123.675f, 116.28f, 103.53f};
    std::array<float, 3> stddev{58.395f, 57.12f, 57.375f};
};

// The evaluation pipeline's parameters; the defaults are the published ones.
struct preprocess_params {
    int short_side = 256;  // resize so the shorter side has this length
    int crop_size = 224;   // then take the central crop_size x crop_size square
    normalization norm{};
};

// A rectangle of an image: rows [top, top + height), columns [left, left + width).
struct pixel_window {
    int top = 0;
    int left = 0;
    int height = 0;
    int width = 0;
};

namespace detail {

// Pillow computes its coefficients with separately rounded products; a fused
// multiply-add (which -march=native allows the compiler to emit) rounds once
// and can move a 22-bit coefficient by one. Storing through volatile forces
// the product to be rounded on its own.
inline double rounded(double x) {
    volatile double v = x;
    return v;
}

// Pillow's bicubic_filter (a = -0.5), operation for operation.
inline double pillow_bicubic(double x) {
    constexpr double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) {
        const double t = rounded((a + 2.0) * x) - (a + 3.0);
        return rounded(t * x * x) + 1;
    }
    if (x < 2.0) {
        double t = rounded((x - 5) * x) + 8;
        t = rounded(t * x) - 4;
        return t * a;
    }
    return 0.0;
}

inline constexpr int pillow_precision_bits = 22;  // 32 - 8 - 2, as Pillow's PRECISION_BITS

// Pillow's precompute_coeffs for the outputs [begin, end) of one axis
// (in_size -> out_size): output i reads inputs first[i]..first[i]+count[i]-1.
struct resample_taps {
    int per_output = 0;                 // Pillow's ksize: stride of `weights`
    std::vector<int> first;             // first input index, per output
    std::vector<int> count;             // inputs used, per output
    std::vector<double> weights;        // normalised, per output then tap
    std::vector<std::int32_t> fixed;    // weights * 2^22 rounded away from zero

    int min_input() const { return first.front(); }
    int end_input() const { return first.back() + count.back(); }
};

inline resample_taps pillow_bicubic_taps(int in_size, int out_size, int begin, int end) {
    require(in_size > 0 && out_size > 0 && 0 <= begin && begin < end && end <= out_size,
            "resample: bad axis " + std::to_string(in_size) + " -> " + std::to_string(out_size) + " window [" +
                std::to_string(begin) + ", " + std::to_string(end) + ")");
    const double scale = static_cast<double>(in_size) / out_size;
    const double filterscale = std::max(scale, 1.0);  // widen the filter when shrinking: antialiasing
    const double support = 2.0 * filterscale;        // bicubic support is 2
    const double inv_filterscale = 1.0 / filterscale;
    resample_taps taps;
    taps.per_output = static_cast<int>(std::ceil(support)) * 2 + 1;
    const std::size_t n_out = static_cast<std::size_t>(end - begin);
    taps.first.resize(n_out);
    taps.count.resize(n_out);
    taps.weights.assign(n_out * static_cast<std::size_t>(taps.per_output), 0.0);
    taps.fixed.assign(taps.weights.size(), 0);
    for (int i = begin; i < end; ++i) {
        const std::size_t o = static_cast<std::size_t>(i - begin);
        const double center = (i + 0.5) * scale;
        const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
        const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
        double* w = taps.weights.data() + o * static_cast<std::size_t>(taps.per_output);
        double sum = 0.0;
        for (int j = 0; j < hi - lo; ++j) {
            w[j] = pillow_bicubic((j + lo - center + 0.5) * inv_filterscale);
            sum += w[j];
        }
        for (int j = 0; j < hi - lo; ++j)
            if (sum != 0.0) w[j] /= sum;
        std::int32_t* q = taps.fixed.data() + o * static_cast<std::size_t>(taps.per_output);
        constexpr double one = 1 << pillow_precision_bits;
        for (int j = 0; j < hi - lo; ++j)
            q[j] = static_cast<std::int32_t>(w[j] < 0 ? -0.5 + w[j] * one : 0.5 + w[j] * one);
        taps.first[o] = lo;
        taps.count[o] = hi - lo;
    }
    return taps;
}

// Sums are int32 as in Pillow: bicubic weights have sum(|w|) <= 1.25 even when
// renormalised at an edge, so |sum| < 255 * 1.25 * 2^22 + 2^21 < 2^31.
// Pillow's clip8: the sum carries the 2^21 rounding offset already.
inline std::uint8_t pillow_clip8(std::int32_t sum) {
    if (sum >= (std::int32_t{1} << pillow_precision_bits << 8)) return 255;
    if (sum <= 0) return 0;
    return static_cast<std::uint8_t>(sum >> pillow_precision_bits);
}

// Horizontal pass over source rows [row_begin, row_end): the columns `taps` covers.
inline image_u8 pillow_horizontal_u8(const image_u8& src, int row_begin, int row_end, const resample_taps& taps) {
    const int out_w = static_cast<int>(taps.first.size());
    image_u8 out(row_end - row_begin, out_w);
    for (int y = row_begin; y < row_end; ++y) {
        const std::uint8_t* in = src.row(y);
        std::uint8_t* o = out.row(y - row_begin);
        for (int x = 0; x < out_w; ++x) {
            const std::int32_t* k = taps.fixed.data() + static_cast<std::size_t>(x) * taps.per_output;
            const std::uint8_t* p = in + static_cast<std::size_t>(taps.first[x]) * 3;
            std::int32_t s0 = 1 << (pillow_precision_bits - 1), s1 = s0, s2 = s0;
            for (int j = 0; j < taps.count[x]; ++j, p += 3) {
                s0 += p[0] * k[j];
                s1 += p[1] * k[j];
                s2 += p[2] * k[j];
            }
            o[3 * x] = pillow_clip8(s0);
            o[3 * x + 1] = pillow_clip8(s1);
            o[3 * x + 2] = pillow_clip8(s2);
        }
    }
    return out;
}

// Vertical pass; `src` row 0 is input row `row_offset` of the axis `taps` describes.
inline image_u8 pillow_vertical_u8(const image_u8& src, int row_offset, const resample_taps& taps) {
    const int out_h = static_cast<int>(taps.first.size());
    const std::size_t n = src.row_bytes();
    image_u8 out(out_h, src.width);
    std::vector<std::int32_t> acc(n);
    for (int y = 0; y < out_h; ++y) {
        std::fill(acc.begin(), acc.end(), std::int32_t{1} << (pillow_precision_bits - 1));
        const std::int32_t* k = taps.fixed.data() + static_cast<std::size_t>(y) * taps.per_output;
        for (int j = 0; j < taps.count[y]; ++j) {
            const std::uint8_t* in = src.row(taps.first[y] + j - row_offset);
            const std::int32_t kj = k[j];
            for (std::size_t e = 0; e < n; ++e) acc[e] += in[e] * kj;
        }
        std::uint8_t* o = out.row(y);
        for (std::size_t e = 0; e < n; ++e) o[e] = pillow_clip8(acc[e]);
    }
    return out;
}

// Columns [left, left + width) of rows [top, top + height).
inline image_u8 copy_window(const image_u8& src, const pixel_window& w) {
    image_u8 out(w.height, w.width);
    for (int y = 0; y < w.height; ++y)
        std::copy_n(src.row(w.top + y) + static_cast<std::size_t>(w.left) * 3, out.row_bytes(), out.row(y));
    return out;
}

inline void require_resize_size(int height, int width, const std::string& what) {
    require(height > 0 && width > 0 && height <= image_max_side && width <= image_max_side,
            what + " size " + std::to_string(height) + "x" + std::to_string(width) +
                " must be positive and at most " + std::to_string(image_max_side) + " per side");
}

// Pillow's mode "F" passes: double weights and sums, float storage between passes.
inline std::vector<float> pillow_horizontal_f32(const std::vector<float>& src, int rows, int in_w,
                                                const resample_taps& taps) {
    const std::size_t out_w = taps.first.size();
    std::vector<float> out(static_cast<std::size_t>(rows) * out_w * 3);
    for (int y = 0; y < rows; ++y) {
        const float* in = src.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(in_w) * 3;
        float* o = out.data() + static_cast<std::size_t>(y) * out_w * 3;
        for (std::size_t x = 0; x < out_w; ++x) {
            const double* k = taps.weights.data() + x * static_cast<std::size_t>(taps.per_output);
            const float* p = in + static_cast<std::size_t>(taps.first[x]) * 3;
            double s0 = 0, s1 = 0, s2 = 0;
            for (int j = 0; j < taps.count[x]; ++j, p += 3) {
                s0 += p[0] * k[j];
                s1 += p[1] * k[j];
                s2 += p[2] * k[j];
            }
            o[3 * x] = static_cast<float>(s0);
            o[3 * x + 1] = static_cast<float>(s1);
            o[3 * x + 2] = static_cast<float>(s2);
        }
    }
    return out;
}

inline std::vector<float> pillow_vertical_f32(const std::vector<float>& src, int width, const resample_taps& taps) {
    const std::size_t n = static_cast<std::size_t>(width) * 3;
    const std::size_t out_h = taps.first.size();
    std::vector<float> out(out_h * n);
    std::vector<double> acc(n);
    for (std::size_t y = 0; y < out_h; ++y) {
        std::fill(acc.begin(), acc.end(), 0.0);
        const double* k = taps.weights.data() + y * static_cast<std::size_t>(taps.per_output);
        for (int j = 0; j < taps.count[y]; ++j) {
            const float* in = src.data() + static_cast<std::size_t>(taps.first[y] + j) * n;
            for (std::size_t e = 0; e < n; ++e) acc[e] += in[e] * k[j];
        }
        for (std::size_t e = 0; e < n; ++e) out[y * n + e] = static_cast<float>(acc[e]);
    }
    return out;
}

inline void require_normalization(const normalization& norm) {
    for (int c = 0; c < 3; ++c)
        require(std::isfinite(norm.mean[c]) && std::isfinite(norm.stddev[c]) && norm.stddev[c] > 0,
                "normalization channel " + std::to_string(c) + ": mean must be finite and stddev positive (got " +
                    std::to_string(norm.mean[c]) + ", " + std::to_string(norm.stddev[c]) + ")");
}

inline void require_chw_output(const tensor_view<float, cpu>& out, int height, int width, const std::string& what) {
    require_shape(out.dims(), shape{3, height, width}, what);
    require(out.data() != nullptr, what + " has no storage");
}

}  // namespace detail

// Window `window` of `src` resized to out_height x out_width with Pillow's
// Image.resize(..., BICUBIC), byte for byte (Pillow 4 and later): the
// horizontal pass first, over only the rows the vertical pass reads, uint8 in
// between, 22-bit fixed-point weights. An axis whose size does not change is
// not resampled, as in Pillow. Only the window is computed.
inline image_u8 resize_bicubic_window(const image_u8& src, int out_height, int out_width, const pixel_window& window) {
    require_valid_image(src, "resize source");
    detail::require_resize_size(out_height, out_width, "resize output");
    require(window.height > 0 && window.width > 0 && window.top >= 0 && window.left >= 0 &&
                window.top <= out_height - window.height && window.left <= out_width - window.width,
            "resize window " + std::to_string(window.height) + "x" + std::to_string(window.width) + " at (" +
                std::to_string(window.top) + ", " + std::to_string(window.left) + ") does not fit in " +
                std::to_string(out_height) + "x" + std::to_string(out_width));
    const bool horizontal = out_width != src.width;
    const bool vertical = out_height != src.height;
    detail::resample_taps vtaps;
    int row_begin = window.top, row_end = window.top + window.height;
    if (vertical) {
        vtaps = detail::pillow_bicubic_taps(src.height, out_height, window.top, window.top + window.height);
        row_begin = vtaps.min_input();
        row_end = vtaps.end_input();
    }
    image_u8 rows = horizontal
        ? detail::pillow_horizontal_u8(src, row_begin, row_end,
                                       detail::pillow_bicubic_taps(src.width, out_width, window.left,
                                                                   window.left + window.width))
        : detail::copy_window(src, {row_begin, window.left, row_end - row_begin, window.width});
    return vertical ? detail::pillow_vertical_u8(rows, row_begin, vtaps) : rows;
}

// The whole of `src` resized to out_height x out_width (Pillow bicubic, exact).
inline image_u8 resize_bicubic(const image_u8& src, int out_height, int out_width) {
    return resize_bicubic_window(src, out_height, out_width, {0, 0, out_height, out_width});
}

// Size after resizing the short side to `short_side`: the long side is
// int(short_side * long / short), truncated; a square stays square.
inline std::array<int, 2> short_side_resize_size(int height, int width, int short_side) {
    require(height > 0 && width > 0, "image size " + std::to_string(height) + "x" + std::to_string(width) +
                                         " must be positive");
    require(short_side > 0, "short_side must be positive, got " + std::to_string(short_side));
    const bool portrait = width < height;
    const std::int64_t lng = portrait ? height : width, shrt = portrait ? width : height;
    const std::int64_t long_side = std::int64_t{short_side} * lng / shrt;  // exact floor, as Python's int()
    require(long_side <= image_max_side, "resizing " + std::to_string(height) + "x" + std::to_string(width) +
                                             " to short side " + std::to_string(short_side) +
                                             " gives a long side of " + std::to_string(long_side) +
                                             ", more than " + std::to_string(image_max_side));
    return portrait ? std::array<int, 2>{static_cast<int>(long_side), short_side}
                    : std::array<int, 2>{short_side, static_cast<int>(long_side)};
}

// The whole image with its short side resized to `short_side` (unchanged when it already is).
inline image_u8 resize_short_side(const image_u8& src, int short_side) {
    require_valid_image(src, "resize source");
    const auto hw = short_side_resize_size(src.height, src.width, short_side);
    return resize_bicubic(src, hw[0], hw[1]);
}

// Offset of a centred crop: round_half_even((size - crop) / 2), as Python's round().
inline int center_crop_origin(int size, int crop) {
    require(crop > 0 && crop <= size, "center crop of " + std::to_string(crop) + " does not fit in a side of " +
                                          std::to_string(size) + " pixels");
    const int d = size - crop;
    int half = d / 2;
    if (d % 2 == 1 && half % 2 == 1) ++half;  // k + 0.5 rounds to the even neighbour
    return half;
}

// The central crop x crop square; throws when the crop is larger than the image.
inline image_u8 center_crop(const image_u8& src, int crop) {
    require_valid_image(src, "crop source");
    const int top = center_crop_origin(src.height, crop), left = center_crop_origin(src.width, crop);
    return detail::copy_window(src, {top, left, crop, crop});
}

// Short-side resize then center crop, as uint8; computes only the crop.
inline image_u8 resize_and_center_crop(const image_u8& src, const preprocess_params& params = {}) {
    require_valid_image(src, "preprocess source");
    require(params.crop_size > 0 && params.crop_size <= params.short_side,
            "crop_size " + std::to_string(params.crop_size) + " must be positive and at most short_side " +
                std::to_string(params.short_side) + " (the crop must fit in the resized image)");
    const auto hw = short_side_resize_size(src.height, src.width, params.short_side);
    const int crop = params.crop_size;
    return resize_bicubic_window(src, hw[0], hw[1],
                                 {center_crop_origin(hw[0], crop), center_crop_origin(hw[1], crop), crop, crop});
}

// out(c, y, x) = (img(y, x, c) - mean[c]) / stddev[c] in float; out is (3, H, W), any strides.
inline void normalize_into(const image_u8& img, tensor_view<float, cpu> out, const normalization& norm = {}) {
    require_valid_image(img, "normalize source");
    detail::require_normalization(norm);
    detail::require_chw_output(out, img.height, img.width, "normalized image output");
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < img.height; ++y) {
            const std::uint8_t* in = img.row(y) + c;
            for (int x = 0; x < img.width; ++x)
                out(c, y, x) = (static_cast<float>(in[3 * x]) - norm.mean[c]) / norm.stddev[c];
        }
}

// The published evaluation pipeline into `out` (3, crop, crop), e.g. one image
// of a batch: batch.view().slice(b, b + 1).reshape(shape{3, crop, crop}).
inline void preprocess_into(const image_u8& img, tensor_view<float, cpu> out, const preprocess_params& params = {}) {
    detail::require_normalization(params.norm);
    detail::require_chw_output(out, params.crop_size, params.crop_size, "preprocess output");
    normalize_into(resize_and_center_crop(img, params), out, params.norm);
}

// The published evaluation pipeline: a (3, crop, crop) float tensor.
inline tensor<float, cpu> preprocess(const image_u8& img, const preprocess_params& params = {}) {
    require(params.crop_size > 0, "crop_size must be positive, got " + std::to_string(params.crop_size));
    tensor<float, cpu> out(shape{3, params.crop_size, params.crop_size});
    preprocess_into(img, out.view(), params);
    return out;
}

// High-resolution inference: the whole image resized straight to out's
// (3, H, W) size (no crop, aspect ratio not kept), normalised. The resize is
// Pillow's bicubic in mode "F" (antialiased when shrinking, double weights,
// float between passes), so it matches per-channel Image.resize on float
// images up to float rounding; it does not quantise to uint8.
inline void preprocess_resized_into(const image_u8& img, tensor_view<float, cpu> out, const normalization& norm = {}) {
    require_valid_image(img, "preprocess source");
    detail::require_normalization(norm);
    require(out.rank() == 3 && out.size(0) == 3 && out.size(1) > 0 && out.size(2) > 0 &&
                out.size(1) <= image_max_side && out.size(2) <= image_max_side,
            "preprocess output has shape " + out.dims().str() + ", expected (3, height, width) with sides in 1.." +
                std::to_string(image_max_side));
    require(out.data() != nullptr, "preprocess output has no storage");
    const int out_h = static_cast<int>(out.size(1)), out_w = static_cast<int>(out.size(2));
    require(std::int64_t{out_h} * out_w <= image_max_pixels && std::int64_t{img.height} * out_w <= image_max_pixels,
            "resizing " + std::to_string(img.height) + "x" + std::to_string(img.width) + " to " +
                std::to_string(out_h) + "x" + std::to_string(out_w) + " needs more than " +
                std::to_string(image_max_pixels) + " pixels");
    std::vector<float> plane(img.pixels.begin(), img.pixels.end());
    int width = img.width;
    if (out_w != img.width) {
        plane = detail::pillow_horizontal_f32(plane, img.height, img.width,
                                              detail::pillow_bicubic_taps(img.width, out_w, 0, out_w));
        width = out_w;
    }
    if (out_h != img.height)
        plane = detail::pillow_vertical_f32(plane, width, detail::pillow_bicubic_taps(img.height, out_h, 0, out_h));
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < out_h; ++y) {
            const float* in = plane.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(out_w) * 3 + c;
            for (int x = 0; x < out_w; ++x) out(c, y, x) = (in[3 * x] - norm.mean[c]) / norm.stddev[c];
        }
}

inline tensor<float, cpu> preprocess_resized(const image_u8& img, int height, int width,
                                             const normalization& norm = {}) {
    detail::require_resize_size(height, width, "preprocess output");
    tensor<float, cpu> out(shape{3, height, width});
    preprocess_resized_into(img, out.view(), norm);
    return out;
}

}  // namespace vrwkv
