#pragma once
// Extents of a tensor of rank 0..4, row-major by default.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "vrwkv/core/error.hpp"

namespace vrwkv {

inline constexpr int max_rank = 4;
using index_t = std::int64_t;

struct shape {
    int rank = 0;
    std::array<index_t, max_rank> dims{};

    shape() = default;
    shape(std::initializer_list<index_t> extents) {
        require(extents.size() <= max_rank,
                "tensor rank " + std::to_string(extents.size()) + " exceeds the maximum of 4");
        for (index_t e : extents) {
            require(e >= 0, "negative extent " + std::to_string(e) + " in a tensor shape");
            dims[rank++] = e;
        }
    }
    template <class It>
    static shape from_range(It first, It last) {
        shape s;
        for (; first != last; ++first) {
            require(s.rank < max_rank, "tensor rank exceeds the maximum of 4");
            require(*first >= 0, "negative extent in a tensor shape");
            s.dims[s.rank++] = static_cast<index_t>(*first);
        }
        return s;
    }

    index_t operator[](int i) const { return dims[i]; }
    index_t& operator[](int i) { return dims[i]; }
    index_t numel() const {
        index_t n = 1;
        for (int i = 0; i < rank; ++i) n *= dims[i];
        return n;
    }
    bool operator==(const shape& o) const {
        if (rank != o.rank) return false;
        for (int i = 0; i < rank; ++i)
            if (dims[i] != o.dims[i]) return false;
        return true;
    }
    bool operator!=(const shape& o) const { return !(*this == o); }

    std::string str() const {
        std::string s = "(";
        for (int i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
        return s + (rank == 1 ? ",)" : ")");
    }
};

// Row-major strides (in elements) of a shape.
inline std::array<index_t, max_rank> contiguous_strides(const shape& s) {
    std::array<index_t, max_rank> st{};
    index_t run = 1;
    for (int i = s.rank - 1; i >= 0; --i) {
        st[i] = run;
        run *= s.dims[i];
    }
    return st;
}

// Throws with both shapes spelled out when `actual` differs from `expected`.
inline void require_shape(const shape& actual, const shape& expected, const std::string& what) {
    require(actual == expected,
            what + " has shape " + actual.str() + ", expected " + expected.str());
}

}  // namespace vrwkv
