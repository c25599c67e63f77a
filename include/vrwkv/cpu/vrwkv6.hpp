#pragma once
// VRWKV6 ops on the CPU.
#include <cmath>
#include <type_traits>
#include <vector>

#include "vrwkv/cpu/eigen.hpp"
#include "vrwkv/cpu/executor.hpp"
#include "vrwkv/ops/vrwkv6.hpp"

namespace vrwkv {

template <>
struct vrwkv6_impl<cpu> {
    template <class T>
    static void lerp(executor<cpu>& ex, const vrwkv6_params& p, const T* x, const T* xx, const T* base, const T* dyn,
                     T* out) {
        using Acc = accumulator_t<T>;
        const index_t rows = p.batch * p.tokens, C = p.channels;
#pragma omp parallel for num_threads(ex.threads()) schedule(static) if (rows * C > 65536)
        for (index_t row = 0; row < rows; ++row)
            for (index_t c = 0; c < C; ++c) {
                const index_t i = row * C + c;
                const Acc m = convert<Acc>(base[c]) + (dyn ? convert<Acc>(dyn[i]) : Acc(0));
                out[i] = convert<T>(convert<Acc>(x[i]) + convert<Acc>(xx[i]) * m);
            }
    }

    template <class T>
    static void mix_slot(executor<cpu>& ex, const vrwkv6_params& p, const T* m, const T* w2, T* out) {
        const index_t rows = p.batch * p.tokens, C = p.channels, R = vrwkv6_mix_rank;
        const index_t stride = vrwkv6_mix_slots * R;
        if constexpr (std::is_floating_point_v<T>) {
            // a strided view of the slot's 32 columns times its (32, C) block, through Eigen's GEMM
            using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
            using strided = Eigen::Map<const matrix, 0, Eigen::OuterStride<>>;
            if (Eigen::nbThreads() != ex.threads()) Eigen::setNbThreads(ex.threads());
            Eigen::Map<matrix>(out, rows, C).noalias() =
                strided(m + p.slot * R, rows, R, Eigen::OuterStride<>(stride)) *
                Eigen::Map<const matrix>(w2 + p.slot * R * C, R, C);
        } else {
            using Acc = accumulator_t<T>;
#pragma omp parallel for num_threads(ex.threads()) schedule(static)
            for (index_t row = 0; row < rows; ++row) {
                std::vector<Acc> acc(static_cast<std::size_t>(C), Acc(0));
                const T* mr = m + row * stride + p.slot * R;
                for (index_t j = 0; j < R; ++j) {
                    const Acc mj = convert<Acc>(mr[j]);
                    const T* wrow = w2 + (p.slot * R + j) * C;
                    for (index_t c = 0; c < C; ++c) acc[static_cast<std::size_t>(c)] += mj * convert<Acc>(wrow[c]);
                }
                for (index_t c = 0; c < C; ++c) out[row * C + c] = convert<T>(acc[static_cast<std::size_t>(c)]);
            }
        }
    }

    template <class T, class Acc>
    static void decay(executor<cpu>& ex, const vrwkv6_params& p, const T* part, const T* time_decay, Acc* out) {
        const index_t rows = p.batch * p.tokens, C = p.channels;
        using array = Eigen::Array<Acc, Eigen::Dynamic, 1>;
        std::vector<Acc> base(static_cast<std::size_t>(C));
        for (index_t c = 0; c < C; ++c) base[static_cast<std::size_t>(c)] = convert<Acc>(time_decay[c]);
#pragma omp parallel for num_threads(ex.threads()) schedule(static) if (rows * C > 65536)
        for (index_t row = 0; row < rows; ++row) {
            array x(C);
            for (index_t c = 0; c < C; ++c) x[c] = base[static_cast<std::size_t>(c)] + convert<Acc>(part[row * C + c]);
            Eigen::Map<array>(out + row * C, C) = (-x.exp()).exp();
        }
    }

    // Per (batch, head): a backward scan accumulates r_t . G_t into y, then a
    // forward scan adds r_t . (u k_t v_t^T + F_t). State: N x N, [key j][value i].
    template <class T, class Acc>
    static void wkv6(executor<cpu>& ex, const vrwkv6_params& p, const T* r, const T* k, const T* v, const Acc* decay,
                     const T* u, T* y) {
        const index_t N = p.head_size, C = p.channels, T_ = p.tokens;
        const index_t lanes = p.batch * p.heads;
#pragma omp parallel for num_threads(ex.threads()) schedule(dynamic, 1)
        for (index_t lane = 0; lane < lanes; ++lane) {
            const index_t b = lane / p.heads, h = lane % p.heads;
            const index_t base = b * T_ * C + h * N;
            std::vector<Acc> state(static_cast<std::size_t>(N * N));
            std::vector<Acc> partial(static_cast<std::size_t>(T_ * N));
            auto at = [&](index_t j, index_t i) -> Acc& { return state[static_cast<std::size_t>(j * N + i)]; };
            // backward: G_{T-1} = 0, G_{t-1} = decay_t * G_t + kv_t
            std::fill(state.begin(), state.end(), Acc(0));
            for (index_t t = T_ - 1; t >= 0; --t) {
                const index_t o = base + t * C;
                Acc* yt = partial.data() + t * N;
                for (index_t i = 0; i < N; ++i) yt[i] = 0;
                for (index_t j = 0; j < N; ++j) {
                    const Acc rj = convert<Acc>(r[o + j]);
                    for (index_t i = 0; i < N; ++i) yt[i] += rj * at(j, i);
                }
                for (index_t j = 0; j < N; ++j) {
                    const Acc dj = decay[o + j], kj = convert<Acc>(k[o + j]);
                    for (index_t i = 0; i < N; ++i) at(j, i) = dj * at(j, i) + kj * convert<Acc>(v[o + i]);
                }
            }
            // forward: F_0 = 0, F_{t+1} = decay_t * F_t + kv_t
            std::fill(state.begin(), state.end(), Acc(0));
            for (index_t t = 0; t < T_; ++t) {
                const index_t o = base + t * C;
                Acc* yt = partial.data() + t * N;
                for (index_t j = 0; j < N; ++j) {
                    const Acc rj = convert<Acc>(r[o + j]), kj = convert<Acc>(k[o + j]);
                    const Acc ruk = rj * convert<Acc>(u[h * N + j]) * kj;
                    for (index_t i = 0; i < N; ++i) yt[i] += rj * at(j, i) + ruk * convert<Acc>(v[o + i]);
                }
                for (index_t i = 0; i < N; ++i) y[o + i] = convert<T>(yt[i]);
                for (index_t j = 0; j < N; ++j) {
                    const Acc dj = decay[o + j], kj = convert<Acc>(k[o + j]);
                    for (index_t i = 0; i < N; ++i) at(j, i) = dj * at(j, i) + kj * convert<Acc>(v[o + i]);
                }
            }
        }
    }

    template <class T>
    static void group_norm(executor<cpu>& ex, const vrwkv6_params& p, const T* x, const T* weight, const T* bias,
                           T* y) {
        using Acc = accumulator_t<T>;
        const index_t rows = p.batch * p.tokens * p.heads, n = p.head_size;
#pragma omp parallel for num_threads(ex.threads()) schedule(static) if (rows * n > 65536)
        for (index_t g = 0; g < rows; ++g) {
            const index_t c0 = (g % p.heads) * n;
            const T* xg = x + g * n;
            T* yg = y + g * n;
            Acc mean = 0, var = 0;
            for (index_t i = 0; i < n; ++i) mean += convert<Acc>(xg[i]);
            mean /= static_cast<Acc>(n);
            for (index_t i = 0; i < n; ++i) {
                const Acc d = convert<Acc>(xg[i]) - mean;
                var += d * d;
            }
            const Acc inv = Acc(1) / std::sqrt(var / static_cast<Acc>(n) + static_cast<Acc>(p.eps));
            for (index_t i = 0; i < n; ++i)
                yg[i] = convert<T>((convert<Acc>(xg[i]) - mean) * inv * convert<Acc>(weight[c0 + i]) +
                                   convert<Acc>(bias[c0 + i]));
        }
    }
};

}  // namespace vrwkv
