#pragma once
// Q-Shift fused with the mixes on the CPU: one pass over x per output row.
#include "vrwkv/cpu/executor.hpp"
#include "vrwkv/ops/token_shift.hpp"

namespace vrwkv {

template <>
struct token_shift_impl<cpu> {
    template <class T>
    static void run(executor<cpu>& ex, const token_shift_params& p, const T* x, const T* const* mixes,
                    T* const* outs) {
        using Acc = accumulator_t<T>;
        const index_t C = p.channels, H = p.height, W = p.width, s = p.shift;
        // Token offsets for the four directions (left, right, up, down).
        const index_t offset[4] = {-s, s, -s * W, s * W};
        const index_t rows = p.batch * H * W;
#pragma omp parallel for num_threads(ex.threads()) schedule(static) if (rows * C > 16384)
        for (index_t row = 0; row < rows; ++row) {
            const index_t yx = row % (H * W), py = yx / W, px = yx % W;
            const bool inside[4] = {px >= s, px < W - s, py >= s, py < H - s};
            const T* xr = x + row * C;
            for (index_t c = 0; c < C; ++c) {
                const int dir = token_shift_direction(p, c);
                Acc shifted;
                if (dir < 0) shifted = convert<Acc>(xr[c]);
                else shifted = inside[dir] ? convert<Acc>(xr[offset[dir] * C + c]) : Acc(0);
                const Acc xv = convert<Acc>(xr[c]);
                if (p.output == token_shift_output::delta) {
                    outs[0][row * C + c] = convert<T>(shifted - xv);
                    continue;
                }
                for (index_t j = 0; j < p.outputs; ++j) {
                    const Acc m = convert<Acc>(mixes[j][c]);
                    outs[j][row * C + c] = convert<T>(xv * m + shifted * (Acc(1) - m));
                }
            }
        }
    }
};

}  // namespace vrwkv
