#pragma once
// Linear layers on the CPU through Eigen's GEMM (threaded by Eigen). 16-bit
// storage is widened to float around the product.
#include <type_traits>
#include <vector>

#include "vrwkv/cpu/eigen.hpp"
#include "vrwkv/cpu/executor.hpp"
#include "vrwkv/ops/linear.hpp"

namespace vrwkv {

template <>
struct linear_impl<cpu> {
    template <class T>
    static void run(executor<cpu>& ex, const linear_params& p, const T* x, const T* weight, const T* bias, T* y) {
        if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
            gemm(ex, p, x, weight, bias, y);
        } else {
            std::vector<float> xf(static_cast<std::size_t>(p.rows * p.in_features));
            std::vector<float> wf(static_cast<std::size_t>(p.out_features * p.in_features));
            std::vector<float> bf(bias ? static_cast<std::size_t>(p.out_features) : 0);
            std::vector<float> yf(static_cast<std::size_t>(p.rows * p.out_features));
            for (std::size_t i = 0; i < xf.size(); ++i) xf[i] = static_cast<float>(x[i]);
            for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = static_cast<float>(weight[i]);
            for (std::size_t i = 0; i < bf.size(); ++i) bf[i] = static_cast<float>(bias[i]);
            gemm(ex, p, xf.data(), wf.data(), bias ? bf.data() : nullptr, yf.data());
            for (std::size_t i = 0; i < yf.size(); ++i) y[i] = T(yf[i]);
        }
    }

private:
    template <class S>
    static void gemm(executor<cpu>& ex, const linear_params& p, const S* x, const S* weight, const S* bias, S* y) {
        using matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        Eigen::Map<const matrix> X(x, p.rows, p.in_features);
        Eigen::Map<matrix> Y(y, p.rows, p.out_features);
        if (Eigen::nbThreads() != ex.threads()) Eigen::setNbThreads(ex.threads());
        if (p.weight_in_out)
            Y.noalias() = X * Eigen::Map<const matrix>(weight, p.in_features, p.out_features);
        else
            Y.noalias() = X * Eigen::Map<const matrix>(weight, p.out_features, p.in_features).transpose();
        if (bias) Y.rowwise() += Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>>(bias, p.out_features);
    }
};

}  // namespace vrwkv
