#pragma once
// Token mean and channels-first layout on the CPU.
#include <algorithm>
#include <vector>

#include "vrwkv/cpu/executor.hpp"
#include "vrwkv/ops/pooling.hpp"

namespace vrwkv {

template <>
struct pooling_impl<cpu> {
    template <class T>
    static void mean_tokens(executor<cpu>&, const token_layout_params& p, const T* x, T* out) {
        using Acc = accumulator_t<T>;
        std::vector<Acc> sum(static_cast<std::size_t>(p.channels));
        for (index_t b = 0; b < p.batch; ++b) {
            std::fill(sum.begin(), sum.end(), Acc(0));
            for (index_t t = 0; t < p.tokens; ++t)
                for (index_t c = 0; c < p.channels; ++c)
                    sum[static_cast<std::size_t>(c)] += convert<Acc>(x[(b * p.tokens + t) * p.channels + c]);
            for (index_t c = 0; c < p.channels; ++c)
                out[b * p.channels + c] = convert<T>(sum[static_cast<std::size_t>(c)] / static_cast<Acc>(p.tokens));
        }
    }
    template <class T>
    static void to_channels_first(executor<cpu>&, const token_layout_params& p, const T* x, T* out) {
        for (index_t b = 0; b < p.batch; ++b)
            for (index_t t = 0; t < p.tokens; ++t)
                for (index_t c = 0; c < p.channels; ++c)
                    out[(b * p.channels + c) * p.tokens + t] = x[(b * p.tokens + t) * p.channels + c];
    }
};

}  // namespace vrwkv
