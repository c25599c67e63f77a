#pragma once
// Owning, contiguous, row-major tensor on a backend. Movable, not copyable
// (copies are explicit through the backend's copy functions).
#include <utility>

#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/tensor_view.hpp"

namespace vrwkv {

template <class T, class Backend = cpu>
class tensor {
public:
    using value_type = T;
    using backend = Backend;

    tensor() = default;
    explicit tensor(const shape& s) { resize(s); }
    tensor(const tensor&) = delete;
    tensor& operator=(const tensor&) = delete;
    tensor(tensor&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)),
          shape_(std::exchange(o.shape_, shape{})),
          capacity_(std::exchange(o.capacity_, 0)) {}
    tensor& operator=(tensor&& o) noexcept {
        if (this != &o) {
            release();
            data_ = std::exchange(o.data_, nullptr);
            shape_ = std::exchange(o.shape_, shape{});
            capacity_ = std::exchange(o.capacity_, 0);
        }
        return *this;
    }
    ~tensor() { release(); }

    T* data() { return data_; }
    const T* data() const { return data_; }
    const shape& dims() const { return shape_; }
    int rank() const { return shape_.rank; }
    index_t size(int i) const { return shape_.dims[i < 0 ? i + shape_.rank : i]; }
    index_t numel() const { return shape_.numel(); }
    bool empty() const { return numel() == 0; }

    tensor_view<T, Backend> view() { return {data_, shape_}; }
    tensor_view<const T, Backend> view() const { return {data_, shape_}; }
    operator tensor_view<T, Backend>() { return view(); }
    operator tensor_view<const T, Backend>() const { return view(); }

    // Keeps the allocation when the element count is unchanged or smaller;
    // used to reuse scratch buffers across calls.
    void resize(const shape& s) {
        if (s.numel() > capacity_) {
            release();
            data_ = allocator<Backend>::template allocate<T>(static_cast<std::size_t>(s.numel()));
            capacity_ = s.numel();
        }
        shape_ = s;
    }

    template <class... I>
    T& operator()(I... idx) { return view()(idx...); }
    template <class... I>
    const T& operator()(I... idx) const { return view()(idx...); }

private:
    void release() {
        if (data_) allocator<Backend>::deallocate(data_);
        data_ = nullptr;
        capacity_ = 0;
    }

    T* data_ = nullptr;
    shape shape_{};
    index_t capacity_ = 0;
};

}  // namespace vrwkv
