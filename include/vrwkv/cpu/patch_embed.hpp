#pragma once
// im2col for the patch embedding on the CPU.
#include "vrwkv/cpu/executor.hpp"
#include "vrwkv/ops/patch_embed.hpp"

namespace vrwkv {

template <>
struct im2col_impl<cpu> {
    template <class T>
    static void run(executor<cpu>& ex, const im2col_params& p, const T* image, T* patches) {
        const index_t P = p.patch, gh = p.grid.height, gw = p.grid.width;
        const index_t row_len = p.channels * P * P;
        const index_t rows = p.batch * gh * gw;
#pragma omp parallel for num_threads(ex.threads()) schedule(static) if (rows * row_len > 65536)
        for (index_t row = 0; row < rows; ++row) {
            const index_t b = row / (gh * gw), gy = (row / gw) % gh, gx = row % gw;
            T* dst = patches + row * row_len;
            for (index_t ch = 0; ch < p.channels; ++ch)
                for (index_t dy = 0; dy < P; ++dy) {
                    const index_t y = gy * P + dy;
                    for (index_t dx = 0; dx < P; ++dx) {
                        const index_t x = gx * P + dx;
                        *dst++ = (y < p.height && x < p.width)
                                     ? image[((b * p.channels + ch) * p.height + y) * p.width + x]
                                     : T(0.0f);
                    }
                }
        }
    }
};

}  // namespace vrwkv
