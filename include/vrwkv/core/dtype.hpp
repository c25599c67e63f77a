#pragma once
// Runtime element-type tags (for files and type-erased tensors) and the
// compile-time mapping from scalar types to them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "vrwkv/core/error.hpp"
#include "vrwkv/core/half.hpp"

namespace vrwkv {

enum class dtype : std::uint8_t { f64, f32, f16, bf16, i64, i32, i16, i8, u8, boolean };

inline std::size_t dtype_size(dtype t) {
    switch (t) {
        case dtype::f64: case dtype::i64: return 8;
        case dtype::f32: case dtype::i32: return 4;
        case dtype::f16: case dtype::bf16: case dtype::i16: return 2;
        case dtype::i8: case dtype::u8: case dtype::boolean: return 1;
    }
    return 0;
}

// Names as safetensors spells them.
inline const char* dtype_name(dtype t) {
    switch (t) {
        case dtype::f64: return "F64";
        case dtype::f32: return "F32";
        case dtype::f16: return "F16";
        case dtype::bf16: return "BF16";
        case dtype::i64: return "I64";
        case dtype::i32: return "I32";
        case dtype::i16: return "I16";
        case dtype::i8: return "I8";
        case dtype::u8: return "U8";
        case dtype::boolean: return "BOOL";
    }
    return "?";
}

inline dtype dtype_from_name(const std::string& name) {
    for (dtype t : {dtype::f64, dtype::f32, dtype::f16, dtype::bf16, dtype::i64, dtype::i32,
                    dtype::i16, dtype::i8, dtype::u8, dtype::boolean})
        if (name == dtype_name(t)) return t;
    throw error("unsupported dtype '" + name +
                "' (expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
}

inline bool is_floating(dtype t) {
    return t == dtype::f64 || t == dtype::f32 || t == dtype::f16 || t == dtype::bf16;
}

template <class T> struct dtype_of;
template <> struct dtype_of<double> { static constexpr dtype value = dtype::f64; };
template <> struct dtype_of<float> { static constexpr dtype value = dtype::f32; };
template <> struct dtype_of<half> { static constexpr dtype value = dtype::f16; };
template <> struct dtype_of<bfloat16> { static constexpr dtype value = dtype::bf16; };
template <> struct dtype_of<std::int64_t> { static constexpr dtype value = dtype::i64; };
template <> struct dtype_of<std::int32_t> { static constexpr dtype value = dtype::i32; };
template <> struct dtype_of<std::uint8_t> { static constexpr dtype value = dtype::u8; };
template <class T> inline constexpr dtype dtype_of_v = dtype_of<std::remove_cv_t<T>>::value;

// The type arithmetic happens in: 16-bit storage accumulates in float.
template <class T> struct accumulator { using type = T; };
template <> struct accumulator<half> { using type = float; };
template <> struct accumulator<bfloat16> { using type = float; };
template <class T> using accumulator_t = typename accumulator<std::remove_cv_t<T>>::type;

// Value conversion that also handles the 16-bit storage types.
template <class To, class From>
VRWKV_HOST_DEVICE inline To convert(From x) {
    if constexpr (std::is_same_v<To, half> || std::is_same_v<To, bfloat16>)
        return To(static_cast<float>(x));
    else if constexpr (std::is_same_v<From, half> || std::is_same_v<From, bfloat16>)
        return static_cast<To>(static_cast<float>(x));
    else
        return static_cast<To>(x);
}

template <class T>
inline constexpr bool is_scalar_v = std::is_same_v<T, float> || std::is_same_v<T, double> ||
                                    std::is_same_v<T, half> || std::is_same_v<T, bfloat16>;

}  // namespace vrwkv
