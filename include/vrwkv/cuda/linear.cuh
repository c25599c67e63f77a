#pragma once
// Linear layers on the GPU through cuBLAS (cublasGemmEx on the executor's
// handle and stream).
// - float keeps full float precision (the executor sets CUBLAS_PEDANTIC_MATH)
//   unless the executor allows TF32; double is a float64 GEMM;
// - half / bfloat16 run on the tensor cores with float accumulation (the
//   handle is switched to the default math mode, without reduced-precision
//   reductions, for the call).
// Row-major y (rows x out) = x (rows x in) W^T is the column-major product
// y^T = W x^T, so no transposes are materialised. A bias is broadcast into y
// first and the GEMM adds onto it (beta = 1): one rounding, as on the CPU.
// (A WMMA kernel in which one block owns 64 rows and all 192 output columns,
// so x is read once, was tried for VRWKV-T's C x C and 4C -> C layers: it ran
// 1.3x and 2.1x slower than cuBLAS, about 1.4 us per 32-deep slice of K.)
#include <climits>
#include <type_traits>

#include "vrwkv/cuda/kernels_common.cuh"
#include "vrwkv/ops/linear.hpp"

namespace vrwkv {

namespace cuda_kernels {

// Sets the handle's math mode for a scope (when `active`) and restores it.
class scoped_cublas_math {
public:
    scoped_cublas_math(cublasHandle_t handle, cublasMath_t mode, bool active) : handle_(active ? handle : nullptr) {
        if (!handle_) return;
        cublas_check(cublasGetMathMode(handle_, &saved_), "cublasGetMathMode");
        cublas_check(cublasSetMathMode(handle_, mode), "cublasSetMathMode");
    }
    scoped_cublas_math(const scoped_cublas_math&) = delete;
    scoped_cublas_math& operator=(const scoped_cublas_math&) = delete;
    ~scoped_cublas_math() {
        if (handle_) cublasSetMathMode(handle_, saved_);
    }

private:
    cublasHandle_t handle_;
    cublasMath_t saved_ = CUBLAS_DEFAULT_MATH;
};

// y[r, c] = bias[c] (raw bits: only moves elements).
template <class R, class I>
__global__ void broadcast_rows_kernel(I total, I cols, const R* bias, R* y) {
    wait_for_previous_grid();
    for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += static_cast<I>(gridDim.x) * blockDim.x)
        y[i] = bias[i % cols];
}

// ------------------------------------------------------------------ cuBLAS

// y (rows x out, row stride ldy) = x (rows x in, row stride ldx) times W
// stored (out, in) (W^T) or, with w_in_out, (in, out); beta = 1 adds onto y.
template <class T>
void gemm_rows(executor<cuda>& ex, index_t rows, index_t in, index_t out, const T* x, index_t ldx, const T* w,
               bool w_in_out, index_t ldw, T* y, index_t ldy, bool accumulate) {
    using Acc = accumulator_t<T>;
    static_assert(std::is_same_v<Acc, float> || std::is_same_v<Acc, double>, "gemm: unsupported element type");
    require(in <= INT_MAX && out <= INT_MAX && ldx <= INT_MAX && ldw <= INT_MAX && ldy <= INT_MAX,
            "linear: in/out features above INT_MAX are not supported by cuBLAS");
    if (rows == 0 || out == 0) return;
    constexpr bool sixteen_bit = !std::is_same_v<T, Acc>;
    const scoped_cublas_math math(
        ex.cublas(), static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION),
        sixteen_bit);
    constexpr cudaDataType_t type = cublas_type<T>::value;
    constexpr cublasComputeType_t compute = std::is_same_v<Acc, double> ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
    const Acc alpha = 1, beta = accumulate ? 1 : 0;
    // Read column-major, W stored (out, in) is the (in x out) matrix W^T (so op T gives W),
    // and stored (in, out) it is (out x in): the matrix wanted, used as is.
    const cublasOperation_t op_w = w_in_out ? CUBLAS_OP_N : CUBLAS_OP_T;
    // cuBLAS counts rows in int: chunk the rows (pointer offsets stay in index_t).
    const index_t max_rows = INT_MAX / 2;
    for (index_t r0 = 0; r0 < rows; r0 += max_rows) {
        const int n = static_cast<int>(rows - r0 < max_rows ? rows - r0 : max_rows);
        cublas_check(cublasGemmEx(ex.cublas(), op_w, CUBLAS_OP_N, static_cast<int>(out), n, static_cast<int>(in), &alpha,
                                  w, type, static_cast<int>(ldw), x + r0 * ldx, type, static_cast<int>(ldx), &beta,
                                  y + r0 * ldy, type, static_cast<int>(ldy), compute, CUBLAS_GEMM_DEFAULT),
                     "cublasGemmEx");
    }
}

}  // namespace cuda_kernels

template <>
struct linear_impl<cuda> {
    template <class T>
    static void run(executor<cuda>& ex, const linear_params& p, const T* x, const T* weight, const T* bias, T* y) {
        using namespace cuda_kernels;
        if (p.rows == 0 || p.out_features == 0) return;
        if (bias) {
            using R = raw_bits_t<T>;
            const index_t total = p.rows * p.out_features;
            with_index_type(total, [&](auto index) {
                using I = decltype(index);
                launch_dependent<broadcast_rows_kernel<R, I>>(
                    ex, grid_for(ex, total), default_threads, 0, "broadcast_rows_kernel", static_cast<I>(total),
                    static_cast<I>(p.out_features), reinterpret_cast<const R*>(bias), reinterpret_cast<R*>(y));
            });
        }
        gemm_rows<T>(ex, p.rows, p.in_features, p.out_features, x, p.in_features, weight, p.weight_in_out,
                     p.weight_in_out ? p.out_features : p.in_features, y, p.out_features, bias != nullptr);
    }
};

}  // namespace vrwkv
