#pragma once
// 16-bit storage types shared by the CPU and CUDA backends. They only store;
// arithmetic happens in float (see accumulator_t). Bit layouts equal IEEE
// binary16 and bfloat16, so CUDA code may reinterpret them as __half and
// __nv_bfloat16.
#include <cstdint>
#include <cstring>

#include "vrwkv/core/host_device.hpp"

namespace vrwkv {

namespace detail {
VRWKV_HOST_DEVICE inline std::uint32_t float_bits(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
VRWKV_HOST_DEVICE inline float bits_float(std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}
}  // namespace detail

struct half {
    std::uint16_t bits = 0;

    half() = default;
    VRWKV_HOST_DEVICE explicit half(float f) : bits(from_float(f)) {}
    VRWKV_HOST_DEVICE explicit operator float() const { return to_float(bits); }

    static half from_bits(std::uint16_t b) { half h; h.bits = b; return h; }

    // Round to nearest even, with overflow to infinity and gradual underflow.
    VRWKV_HOST_DEVICE static std::uint16_t from_float(float f) {
        std::uint32_t x = detail::float_bits(f);
        std::uint32_t sign = (x >> 16) & 0x8000u;
        std::uint32_t abs = x & 0x7fffffffu;
        if (abs >= 0x7f800000u)  // inf or nan
            return static_cast<std::uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
        if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
        if (abs < 0x38800000u) {  // subnormal half (or zero)
            if (abs < 0x33000000u) return static_cast<std::uint16_t>(sign);
            std::uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
            int shift = 113 - static_cast<int>(abs >> 23) + 13;  // to 10-bit subnormal mantissa
            std::uint32_t result = mant >> shift;
            std::uint32_t rem = mant & ((1u << shift) - 1u);
            std::uint32_t halfway = 1u << (shift - 1);
            if (rem > halfway || (rem == halfway && (result & 1u))) ++result;
            return static_cast<std::uint16_t>(sign | result);
        }
        std::uint32_t result = ((abs - 0x38000000u) >> 13);
        std::uint32_t rem = abs & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (result & 1u))) ++result;
        return static_cast<std::uint16_t>(sign | result);
    }

    VRWKV_HOST_DEVICE static float to_float(std::uint16_t h) {
        std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
        std::uint32_t exp = (h >> 10) & 0x1fu;
        std::uint32_t mant = h & 0x3ffu;
        if (exp == 0x1fu) return detail::bits_float(sign | 0x7f800000u | (mant << 13));
        if (exp == 0) {
            if (mant == 0) return detail::bits_float(sign);
            // subnormal: value = mant * 2^-24
            float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
            return sign ? -v : v;
        }
        return detail::bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
    }
};

struct bfloat16 {
    std::uint16_t bits = 0;

    bfloat16() = default;
    VRWKV_HOST_DEVICE explicit bfloat16(float f) : bits(from_float(f)) {}
    VRWKV_HOST_DEVICE explicit operator float() const { return to_float(bits); }

    static bfloat16 from_bits(std::uint16_t b) { bfloat16 h; h.bits = b; return h; }

    VRWKV_HOST_DEVICE static std::uint16_t from_float(float f) {
        std::uint32_t x = detail::float_bits(f);
        if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // quiet nan
        std::uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
        return static_cast<std::uint16_t>((x + rounding) >> 16);
    }
    VRWKV_HOST_DEVICE static float to_float(std::uint16_t b) {
        return detail::bits_float(static_cast<std::uint32_t>(b) << 16);
    }
};

static_assert(sizeof(half) == 2 && sizeof(bfloat16) == 2, "16-bit storage types must be 2 bytes");

}  // namespace vrwkv
