#pragma once
// Type-erased named tensors as files hold them (safetensors, .pth): dtype,
// extents and little-endian row-major bytes, plus string metadata. Models are
// built from a tensor_archive, whatever file it came from.
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "vrwkv/core/dtype.hpp"
#include "vrwkv/core/tensor.hpp"
#include "vrwkv/cpu/allocator.hpp"

namespace vrwkv {

struct stored_tensor {
    dtype type = dtype::f32;
    std::vector<index_t> extents;
    std::vector<std::uint8_t> bytes;  // numel * dtype_size(type), row-major

    index_t numel() const {
        index_t n = 1;
        for (index_t e : extents) n *= e;
        return n;
    }
    std::string shape_str() const {
        std::string s = "(";
        for (std::size_t i = 0; i < extents.size(); ++i) s += (i ? ", " : "") + std::to_string(extents[i]);
        return s + (extents.size() == 1 ? ",)" : ")");
    }

    // Element i converted to double (any dtype).
    double element(index_t i) const {
        const std::uint8_t* p = bytes.data() + static_cast<std::size_t>(i) * dtype_size(type);
        auto load = [p](auto tag) {
            decltype(tag) x;
            std::memcpy(&x, p, sizeof x);
            return x;
        };
        switch (type) {
            case dtype::f64: return load(double{});
            case dtype::f32: return load(float{});
            case dtype::f16: return half::to_float(load(std::uint16_t{}));
            case dtype::bf16: return bfloat16::to_float(load(std::uint16_t{}));
            case dtype::i64: return static_cast<double>(load(std::int64_t{}));
            case dtype::i32: return load(std::int32_t{});
            case dtype::i16: return load(std::int16_t{});
            case dtype::i8: return load(std::int8_t{});
            case dtype::u8: case dtype::boolean: return load(std::uint8_t{});
        }
        return 0;
    }

    // Copies into an owning CPU tensor of T, converting the element type.
    template <class T>
    tensor<T, cpu> to_tensor(const std::string& name = "tensor") const {
        require(extents.size() <= static_cast<std::size_t>(max_rank),
                name + " has rank " + std::to_string(extents.size()) + "; at most 4 is supported");
        tensor<T, cpu> t(shape::from_range(extents.begin(), extents.end()));
        const index_t n = numel();
        if (type == dtype_of_v<T>) {
            std::memcpy(t.data(), bytes.data(), static_cast<std::size_t>(n) * sizeof(T));
        } else {
            for (index_t i = 0; i < n; ++i) t.data()[i] = convert<T>(element(i));
        }
        return t;
    }

    template <class T>
    static stored_tensor from_view(tensor_view<const T, cpu> v) {
        stored_tensor s;
        s.type = dtype_of_v<T>;
        s.extents.assign(v.dims().dims.begin(), v.dims().dims.begin() + v.rank());
        s.bytes.resize(static_cast<std::size_t>(v.numel()) * sizeof(T));
        if (v.is_contiguous()) {
            if (!s.bytes.empty()) std::memcpy(s.bytes.data(), v.data(), s.bytes.size());
        } else {
            T* out = reinterpret_cast<T*>(s.bytes.data());
            index_t i = 0;
            const shape& d = v.dims();
            std::array<index_t, max_rank> ix{};
            for (; i < v.numel(); ++i) {
                index_t off = 0;
                for (int r = 0; r < v.rank(); ++r) off += ix[r] * v.stride(r);
                std::memcpy(out + i, v.data() + off, sizeof(T));
                for (int r = v.rank() - 1; r >= 0; --r) {
                    if (++ix[r] < d[r]) break;
                    ix[r] = 0;
                }
            }
        }
        return s;
    }
    template <class T>
    static stored_tensor from_tensor(const tensor<T, cpu>& t) {
        return from_view<T>(t.view());
    }
};

struct tensor_archive {
    std::map<std::string, stored_tensor> tensors;
    std::map<std::string, std::string> metadata;

    bool contains(const std::string& name) const { return tensors.count(name) != 0; }
    const stored_tensor& at(const std::string& name) const {
        auto it = tensors.find(name);
        require(it != tensors.end(), "missing tensor '" + name + "'");
        return it->second;
    }
    template <class T>
    tensor<T, cpu> get(const std::string& name) const {
        return at(name).to_tensor<T>(name);
    }
};

}  // namespace vrwkv
