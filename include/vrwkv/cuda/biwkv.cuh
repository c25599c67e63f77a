#pragma once
// Bi-WKV on CUDA (SPEC 5): the op's backend. Exact mode with float
// accumulation (float, half, bfloat16 storage) runs the resident kernel
// (biwkv_resident.cuh) when k and v fit in the device's shared memory, else
// the fused single kernel (biwkv_fused.cuh); compat mode and double run the
// tiled kernels (biwkv_tiled.cuh).
#include <type_traits>

#include "vrwkv/cuda/biwkv_fused.cuh"
#include "vrwkv/cuda/biwkv_resident.cuh"
#include "vrwkv/cuda/biwkv_tiled.cuh"
#include "vrwkv/cuda/executor.cuh"
#include "vrwkv/ops/biwkv.hpp"

namespace vrwkv {

template <>
struct biwkv_impl<cuda> {
    template <class T, class Acc>
    static void run(executor<cuda>& ex, const biwkv_params& p, const Acc* w, const Acc* u, const T* k, const T* v,
                    T* y) {
        static_assert(std::is_same_v<Acc, accumulator_t<T>>, "biwkv (cuda): w and u must be in the accumulator type");
        if constexpr (std::is_same_v<Acc, float>) {
            if (p.mode == biwkv_mode::exact) {
                if (cuda_detail::biwkv_resident_launch<cuda_detail::biwkv_resident_default>(ex, p, w, u, k, v, y))
                    return;
                cuda_detail::biwkv_fused_launch<cuda_detail::biwkv_fused_default>(ex, p, w, u, k, v, y);
                return;
            }
        }
        using one = typename cuda_detail::biwkv_configs<Acc>::one_tile;
        using multi = typename cuda_detail::biwkv_configs<Acc>::multi_tile;
        if (p.tokens <= index_t{one::len} * one::max_subchunks)
            run_with<one>(ex, p, w, u, k, v, y);
        else
            run_with<multi>(ex, p, w, u, k, v, y);
    }

private:
    template <class Config, class T, class Acc>
    static void run_with(executor<cuda>& ex, const biwkv_params& p, const Acc* w, const Acc* u, const T* k,
                         const T* v, T* y) {
        if (p.mode == biwkv_mode::compat)
            cuda_detail::biwkv_launch<Config, true>(ex, p, w, u, k, v, y);
        else
            cuda_detail::biwkv_launch<Config, false>(ex, p, w, u, k, v, y);
    }
};

}  // namespace vrwkv
