#pragma once
// Position-embedding resize (SPEC 1.3): PyTorch's F.interpolate(mode='bicubic',
// align_corners=False) on a (C, h0, w0) grid: cubic convolution a = -0.75,
// source x = (i + 0.5) * in / out - 0.5, taps clamped to the border, no
// antialiasing. Runs once per input size on the host, so it is plain code.
#include <cmath>
#include <vector>

#include "vrwkv/core/tensor.hpp"
#include "vrwkv/cpu/allocator.hpp"

namespace vrwkv {

inline constexpr double pytorch_bicubic_a = -0.75;

namespace detail {

// The four cubic-convolution weights for fractional offset t in [0, 1).
inline void pytorch_cubic_weights(double t, double w[4]) {
    const double a = pytorch_bicubic_a;
    auto near = [a](double x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };       // |x| <= 1
    auto far = [a](double x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };  // 1 < |x| < 2
    w[0] = far(t + 1), w[1] = near(t), w[2] = near(1 - t), w[3] = far(2 - t);
}

struct cubic_axis {
    std::vector<index_t> taps;  // 4 per output
    std::vector<double> weights;
};

inline cubic_axis pytorch_cubic_axis(index_t in, index_t out) {
    cubic_axis axis;
    axis.taps.resize(static_cast<std::size_t>(4 * out));
    axis.weights.resize(static_cast<std::size_t>(4 * out));
    const double scale = static_cast<double>(in) / static_cast<double>(out);
    for (index_t i = 0; i < out; ++i) {
        const double src = (static_cast<double>(i) + 0.5) * scale - 0.5;
        const double base = std::floor(src);
        pytorch_cubic_weights(src - base, &axis.weights[static_cast<std::size_t>(4 * i)]);
        for (index_t j = 0; j < 4; ++j) {
            const index_t tap = static_cast<index_t>(base) - 1 + j;
            axis.taps[static_cast<std::size_t>(4 * i + j)] = tap < 0 ? 0 : (tap >= in ? in - 1 : tap);
        }
    }
    return axis;
}

}  // namespace detail

// table: (h0 * w0, C) tokens in raster order -> (h * w, C).
template <class T>
tensor<T, cpu> resize_pos_embed(tensor_view<const T, cpu> table, index_t h0, index_t w0, index_t h, index_t w) {
    require(table.rank() == 2 && table.size(0) == h0 * w0,
            "pos_embed has shape " + table.dims().str() + ", expected (" + std::to_string(h0 * w0) + ", C)");
    require(h >= 1 && w >= 1, "position-embedding target grid must be at least 1x1");
    const index_t C = table.size(1);
    tensor<T, cpu> out(shape{h * w, C});
    if (h == h0 && w == w0) {
        for (index_t i = 0; i < out.numel(); ++i) out.data()[i] = table.data()[i];
        return out;
    }
    const detail::cubic_axis ay = detail::pytorch_cubic_axis(h0, h), ax = detail::pytorch_cubic_axis(w0, w);
    std::vector<double> acc(static_cast<std::size_t>(C));
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x) {
            std::fill(acc.begin(), acc.end(), 0.0);
            for (index_t i = 0; i < 4; ++i) {
                const double wy = ay.weights[static_cast<std::size_t>(4 * y + i)];
                const index_t sy = ay.taps[static_cast<std::size_t>(4 * y + i)];
                for (index_t j = 0; j < 4; ++j) {
                    const double wxy = wy * ax.weights[static_cast<std::size_t>(4 * x + j)];
                    const T* src = table.data() + (sy * w0 + ax.taps[static_cast<std::size_t>(4 * x + j)]) * C;
                    for (index_t c = 0; c < C; ++c) acc[static_cast<std::size_t>(c)] += wxy * convert<double>(src[c]);
                }
            }
            T* dst = out.data() + (y * w + x) * C;
            for (index_t c = 0; c < C; ++c) dst[c] = convert<T>(acc[static_cast<std::size_t>(c)]);
        }
    return out;
}

}  // namespace vrwkv
