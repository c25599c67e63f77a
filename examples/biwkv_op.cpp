// Bi-WKV as a standalone op: the O(T) bidirectional "attention" of Vision-RWKV.
//   y[b, t, c] = sum_i e^{s(t,i)} v[b, i, c] / sum_i e^{s(t,i)}
//   s(t, i) = u[c] + k[b, i, c] if i == t, else -(|t - i| - 1) w[c] + k[b, i, c]
// Build: part of the project (target example_biwkv_op), or g++ -std=c++17 -fopenmp -O2
//        -I include -I /usr/include/eigen3 examples/biwkv_op.cpp
#include <vrwkv/vrwkv.hpp>

#include <cmath>
#include <iostream>

int main() {
    const vrwkv::index_t B = 2, T = 4096, C = 64;
    vrwkv::executor<vrwkv::cpu> ex(2);  // two threads

    // Inputs: tokens (B, T, C); per-channel decay w and bonus u (already divided by T,
    // as the encoder's spatial mix does with its learned spatial_decay / spatial_first).
    vrwkv::tensor<float> k(vrwkv::shape{B, T, C}), v(vrwkv::shape{B, T, C}), y(vrwkv::shape{B, T, C});
    vrwkv::tensor<float> w(vrwkv::shape{C}), u(vrwkv::shape{C});
    for (vrwkv::index_t i = 0; i < k.numel(); ++i) {
        k.data()[i] = std::sin(0.01f * static_cast<float>(i));
        v.data()[i] = std::cos(0.03f * static_cast<float>(i));
    }
    for (vrwkv::index_t c = 0; c < C; ++c) {
        w.data()[c] = 5.0f * static_cast<float>(c) / static_cast<float>(C * T);  // decay over the whole sequence
        u.data()[c] = 0.5f;
    }

    // exact: the definition, evaluated stably in O(T) per channel.
    vrwkv::biwkv<float, vrwkv::cpu>(ex, w.view(), u.view(), k.view(), v.view(), y.view());
    std::cout << "exact  y[0, 0, 0] = " << y(0, 0, 0) << "\n";

    // compat: the function the published checkpoints were trained with.
    vrwkv::biwkv<float, vrwkv::cpu>(ex, w.view(), u.view(), k.view(), v.view(), y.view(), vrwkv::biwkv_mode::compat);
    std::cout << "compat y[0, 0, 0] = " << y(0, 0, 0) << "\n";

    // Shapes are checked on the host: a mismatch is a vrwkv::error, never a crash.
    try {
        vrwkv::tensor<float> bad(vrwkv::shape{B, T, C + 1});
        vrwkv::biwkv<float, vrwkv::cpu>(ex, w.view(), u.view(), k.view(), v.view(), bad.view());
    } catch (const vrwkv::error& e) {
        std::cout << "as expected: " << e.what() << "\n";
    }
    return 0;
}
