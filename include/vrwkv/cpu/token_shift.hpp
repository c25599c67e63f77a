#pragma once
// Q-Shift fused with the mixes on the CPU: one pass over x per output row.
// Channels are handled in runs that share a direction, so the inner loops
// are branch-free and vectorise.
#include <algorithm>

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
        const index_t offset[4] = {-s, s, -s * W, s * W};  // token offsets: from left, right, up, down
        const index_t rows = p.batch * H * W;
#pragma omp parallel for num_threads(ex.threads()) schedule(static) if (rows * C > 16384)
        for (index_t row = 0; row < rows; ++row) {
            const index_t yx = row % (H * W), py = yx / W, px = yx % W;
            const bool inside[4] = {px >= s, px < W - s, py >= s, py < H - s};
            const T* xr = x + row * C;
            index_t c = 0;
            while (c < C) {
                // the run of channels [c, end) shares one direction
                const int dir = token_shift_direction(p, c);
                index_t end = c + 1;
                while (end < C && token_shift_direction(p, end) == dir) ++end;
                const T* src = dir < 0 ? xr : (inside[dir] ? xr + offset[dir] * C : nullptr);
                if (p.output == token_shift_output::delta) {
                    T* o = outs[0] + row * C;
                    for (index_t i = c; i < end; ++i)
                        o[i] = convert<T>((src ? convert<Acc>(src[i]) : Acc(0)) - convert<Acc>(xr[i]));
                } else {
                    for (index_t j = 0; j < p.outputs; ++j) {
                        const T* m = mixes[j];
                        T* o = outs[j] + row * C;
                        if (src) {
                            for (index_t i = c; i < end; ++i) {
                                const Acc mi = convert<Acc>(m[i]), xi = convert<Acc>(xr[i]);
                                o[i] = convert<T>(xi * mi + convert<Acc>(src[i]) * (Acc(1) - mi));
                            }
                        } else {
                            for (index_t i = c; i < end; ++i) o[i] = convert<T>(convert<Acc>(xr[i]) * convert<Acc>(m[i]));
                        }
                    }
                }
                c = end;
            }
        }
    }
};

}  // namespace vrwkv
