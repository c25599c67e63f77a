#pragma once
// Non-owning view of strided memory that lives on `Backend`.
#include <array>
#include <cstddef>
#include <type_traits>

#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/dtype.hpp"
#include "vrwkv/core/shape.hpp"

namespace vrwkv {

template <class T, class Backend = cpu>
class tensor_view {
public:
    using value_type = T;
    using backend = Backend;

    tensor_view() = default;
    tensor_view(T* data, const shape& s) : data_(data), shape_(s), strides_(contiguous_strides(s)) {}
    tensor_view(T* data, const shape& s, const std::array<index_t, max_rank>& strides)
        : data_(data), shape_(s), strides_(strides) {}
    // A view of T converts to a view of const T.
    template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
    tensor_view(const tensor_view<U, Backend>& o) : data_(o.data()), shape_(o.dims()), strides_(o.strides()) {}

    T* data() const { return data_; }
    const shape& dims() const { return shape_; }
    int rank() const { return shape_.rank; }
    index_t size(int i) const { return shape_.dims[i < 0 ? i + shape_.rank : i]; }
    index_t numel() const { return shape_.numel(); }
    const std::array<index_t, max_rank>& strides() const { return strides_; }
    index_t stride(int i) const { return strides_[i]; }
    bool empty() const { return numel() == 0; }

    bool is_contiguous() const {
        index_t run = 1;
        for (int i = shape_.rank - 1; i >= 0; --i) {
            if (shape_.dims[i] != 1 && strides_[i] != run) return false;
            run *= shape_.dims[i];
        }
        return true;
    }

    // Element access (host memory only; views of device memory must not be
    // dereferenced on the host).
    template <class... I>
    T& operator()(I... idx) const {
        static_assert(sizeof...(I) <= max_rank, "too many indices");
        const index_t ix[] = {static_cast<index_t>(idx)...};
        index_t off = 0;
        for (std::size_t d = 0; d < sizeof...(I); ++d) off += ix[d] * strides_[d];
        return data_[off];
    }

    // Same memory, new shape; requires a contiguous view with as many elements.
    tensor_view reshape(const shape& s) const {
        require(is_contiguous(), "reshape needs a contiguous tensor");
        require(s.numel() == numel(), "cannot reshape " + shape_.str() + " to " + s.str());
        return tensor_view(data_, s);
    }

    // Sub-range [begin, end) of the first dimension.
    tensor_view slice(index_t begin, index_t end) const {
        require(shape_.rank >= 1 && 0 <= begin && begin <= end && end <= shape_.dims[0],
                "slice [" + std::to_string(begin) + ", " + std::to_string(end) + ") out of range for " +
                    shape_.str());
        shape s = shape_;
        s.dims[0] = end - begin;
        return tensor_view(data_ + begin * strides_[0], s, strides_);
    }

private:
    T* data_ = nullptr;
    shape shape_{};
    std::array<index_t, max_rank> strides_{};
};

template <class T, class B>
void require_contiguous(const tensor_view<T, B>& v, const std::string& what) {
    require(v.is_contiguous(), what + " must be contiguous (row-major)");
}

}  // namespace vrwkv
