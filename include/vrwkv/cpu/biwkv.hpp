#pragma once
// Bi-WKV on the CPU.
// exact: two O(T) scans per channel in log-sum-exp form. Each carried sum is
//   (num, den) * e^p with p its largest exponent, so |k| up to 60 and |w T| up
//   to 20 (and far beyond) neither overflow nor lose precision. The backward
//   scan stores its sums per token; the forward scan combines.
// compat: SPEC 5.1 evaluated in double with the channel's max k factored out
//   (every exponent then lies within |w T| + range(k) of zero).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "vrwkv/cpu/eigen.hpp"
#include "vrwkv/cpu/executor.hpp"
#include "vrwkv/ops/biwkv.hpp"

namespace vrwkv {

namespace cpu_detail {

// Channels handled together by one task: wide enough for vector loads,
// narrow enough that the per-token scratch (3 * T * width) stays bounded and
// that every thread gets at least two tasks (batch 1 at C = 192 would
// otherwise give 3 tasks to 2 threads).
inline index_t biwkv_block_width(const biwkv_params& p, int threads) {
    index_t width = 64;
    while (width > 8 && p.tokens * width > (index_t{1} << 22)) width /= 2;
    auto tasks = [&](index_t w) { return p.batch * ((p.channels + w - 1) / w); };
    while (width > 16 && tasks(width) < 2 * threads) width /= 2;
    return width;
}

// Loads `n` stored values as accumulator values.
template <class T, class Acc>
void load_row(const T* src, Acc* dst, index_t n) {
    for (index_t j = 0; j < n; ++j) dst[j] = convert<Acc>(src[j]);
}

template <class T, class Acc>
void biwkv_exact_block(const biwkv_params& p, const Acc* w, const Acc* u, const T* k, const T* v, T* y,
                       index_t b, index_t c0, index_t width, std::vector<Acc>& scratch) {
    using array = Eigen::Array<Acc, Eigen::Dynamic, 1>;
    using map = Eigen::Map<array>;
    using cmap = Eigen::Map<const array>;
    const index_t n_tok = p.tokens, C = p.channels;
    scratch.resize(static_cast<std::size_t>(3 * n_tok * width));
    Acc* g_num = scratch.data();
    Acc* g_den = g_num + n_tok * width;
    Acc* g_exp = g_den + n_tok * width;
    // A carried sum is (num, den) * e^{k_a - |t - a| w}, anchored at the token a
    // that last set its maximum. Recomputing the exponent from the anchor each
    // step (rather than subtracting w every step) keeps float from drifting
    // over long scans. Updates are branchless so Eigen vectorises them,
    // exponentials included.
    const cmap wj(w + c0, width), uj(u + c0, width);
    array s_num(width), s_den(width), s_k(width), s_at(width), kk(width), vv(width);
    array decayed(width), top(width), keep(width), add(width);
    const Acc neg_inf = -std::numeric_limits<Acc>::infinity();
    const index_t base = b * n_tok * C + c0;

    // One step of a scan at token t: fold token t (kk, vv) into the carried sum,
    // whose exponent seen from t is `decayed`.
    auto fold = [&](Acc t) {
        top = decayed.max(kk);
        keep = (decayed - top).exp();
        add = (kk - top).exp();
        s_num = s_num * keep + add * vv;
        s_den = s_den * keep + add;
        const auto new_anchor = kk >= decayed;
        s_k = new_anchor.select(kk, s_k);
        s_at = new_anchor.select(array::Constant(width, t), s_at);
    };

    // Backward scan: after visiting token t the state holds sum_{i >= t} e^{-(i-t)w + k_i} (v_i, 1);
    // token t - 1 needs exactly that (SPEC 5: sum over i > t-1).
    s_num.setZero(), s_den.setZero(), s_k.setConstant(neg_inf), s_at.setZero();
    for (index_t t = n_tok - 1; t >= 0; --t) {
        const Acc tf = static_cast<Acc>(t);
        load_row(k + base + t * C, kk.data(), width);
        load_row(v + base + t * C, vv.data(), width);
        map(g_num + t * width, width) = s_num;
        map(g_den + t * width, width) = s_den;
        map(g_exp + t * width, width) = s_k - (s_at - (tf + 1)) * wj;  // the state (tokens > t) seen from t
        decayed = s_k - (s_at - tf) * wj;
        fold(tf);
    }
    // Forward scan: before token t the state holds sum_{i < t} e^{-(t-i-1)w + k_i} (v_i, 1).
    s_num.setZero(), s_den.setZero(), s_k.setConstant(neg_inf), s_at.setZero();
    array fe(width), ge(width), self(width), num(width), den(width);
    for (index_t t = 0; t < n_tok; ++t) {
        const Acc tf = static_cast<Acc>(t);
        load_row(k + base + t * C, kk.data(), width);
        load_row(v + base + t * C, vv.data(), width);
        fe = s_k - (tf - 1 - s_at) * wj;
        ge = cmap(g_exp + t * width, width);
        self = uj + kk;
        top = fe.max(ge).max(self);
        keep = (fe - top).exp();  // forward part
        add = (ge - top).exp();   // backward part
        self = (self - top).exp();
        num = s_num * keep + cmap(g_num + t * width, width) * add + vv * self;
        den = s_den * keep + cmap(g_den + t * width, width) * add + self;
        num /= den;
        T* yt = y + base + t * C;
        for (index_t j = 0; j < width; ++j) yt[j] = convert<T>(num[j]);
        decayed = fe - wj;
        fold(tf);
    }
}

// SPEC 5.1 for one (batch, channel), elements `stride` apart.
template <class T, class Acc>
void biwkv_compat_channel(index_t n_tok, index_t stride, double w, double u, const T* k, const T* v, T* y) {
    const index_t L = (n_tok + biwkv_compat_chunks - 1) / biwkv_compat_chunks;
    double shift = -INFINITY;
    for (index_t i = 0; i < n_tok; ++i) shift = std::max(shift, static_cast<double>(convert<Acc>(k[i * stride])));
    auto ek = [&](index_t i) { return std::exp(static_cast<double>(convert<Acc>(k[i * stride])) - shift); };
    auto vv = [&](index_t i) { return static_cast<double>(convert<Acc>(v[i * stride])); };

    double A[biwkv_compat_chunks] = {}, Bs[biwkv_compat_chunks] = {};
    double Cs[biwkv_compat_chunks] = {}, D[biwkv_compat_chunks] = {};
    for (index_t j = 0; j < biwkv_compat_chunks; ++j) {
        const index_t t0 = j * L, n = std::min(n_tok - t0, L);
        for (index_t i = t0; i < t0 + n; ++i) {
            const double e = ek(i);
            const double fwd = e * std::exp(-w * static_cast<double>(i - t0));
            const double bwd = e * std::exp(-w * static_cast<double>(t0 + n - i));
            Cs[j] += fwd * vv(i), D[j] += fwd;
            A[j] += bwd * vv(i), Bs[j] += bwd;
        }
    }
    const double decay = std::exp(-w), grow = std::exp(w);
    for (index_t j = 0; j < biwkv_compat_chunks; ++j) {
        const index_t t0 = j * L, n = std::min(n_tok - t0, L);
        if (n <= 0) continue;
        double a = 0, b = 0, c = 0, d = 0;
        for (index_t m = 0; m < j; ++m) {
            const double f = std::exp(-w * static_cast<double>((j - m - 1) * L));
            a += A[m] * f, b += Bs[m] * f;
        }
        for (index_t m = j; m < biwkv_compat_chunks; ++m) {
            const double f = std::exp(-w * static_cast<double>((m - j) * L));
            c += Cs[m] * f, d += D[m] * f;
        }
        c -= ek(t0) * vv(t0);
        d -= ek(t0);
        for (index_t t = t0; t < t0 + n; ++t) {
            const double et = ek(t), eu = std::exp(u + static_cast<double>(convert<Acc>(k[t * stride])) - shift);
            y[t * stride] = convert<T>((c + a + eu * vv(t)) / (d + b + eu));
            a = decay * a + et * vv(t);
            b = decay * b + et;
            const index_t t2 = (t + 1) % n_tok;
            const double e2 = ek(t2) * grow;
            c = grow * c - e2 * vv(t2);
            d = grow * d - e2;
        }
    }
}

}  // namespace cpu_detail

template <>
struct biwkv_impl<cpu> {
    template <class T, class Acc>
    static void run(executor<cpu>& ex, const biwkv_params& p, const Acc* w, const Acc* u, const T* k, const T* v,
                    T* y) {
        if (p.mode == biwkv_mode::compat) {
            const index_t lanes = p.batch * p.channels;
#pragma omp parallel for num_threads(ex.threads()) schedule(static)
            for (index_t lane = 0; lane < lanes; ++lane) {
                const index_t b = lane / p.channels, c = lane % p.channels;
                const index_t off = b * p.tokens * p.channels + c;
                cpu_detail::biwkv_compat_channel<T, Acc>(p.tokens, p.channels, static_cast<double>(w[c]),
                                                         static_cast<double>(u[c]), k + off, v + off, y + off);
            }
            return;
        }
        const index_t width = cpu_detail::biwkv_block_width(p, ex.threads());
        const index_t blocks_per_row = (p.channels + width - 1) / width;
        const index_t tasks = p.batch * blocks_per_row;
#pragma omp parallel num_threads(ex.threads())
        {
            std::vector<Acc> scratch;
#pragma omp for schedule(dynamic, 1)
            for (index_t task = 0; task < tasks; ++task) {
                const index_t b = task / blocks_per_row, c0 = (task % blocks_per_row) * width;
                cpu_detail::biwkv_exact_block(p, w, u, k, v, y, b, c0, std::min(width, p.channels - c0), scratch);
            }
        }
    }
};

}  // namespace vrwkv
