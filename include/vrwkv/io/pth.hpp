#pragma once
// PyTorch checkpoints (torch.save's zip format) without Python: the zip
// container is read in place, data.pkl is run through the bounded pickle
// machine, and every tensor of the state dict is copied out as contiguous
// row-major bytes (views with storage offsets, strides and shared storages
// are honoured). Keys are kept exactly as stored ("backbone.", "head.").
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "vrwkv/core/dtype.hpp"
#include "vrwkv/io/pickle.hpp"
#include "vrwkv/io/safetensors.hpp"
#include "vrwkv/io/tensor_archive.hpp"
#include "vrwkv/io/zip.hpp"

namespace vrwkv {

// A tensor may be larger than its storage only through zero strides (expand);
// such broadcasts are materialised up to this size.
inline constexpr std::uint64_t pth_max_expanded_bytes = 1ull << 30;
// Element counts and offsets stay below this, so products never overflow.
inline constexpr std::uint64_t pth_max_elements = 1ull << 60;

namespace detail {

inline dtype pth_storage_dtype(const std::string& type, const std::string& what) {
    static const std::pair<const char*, dtype> known[] = {
        {"torch.FloatStorage", dtype::f32},  {"torch.DoubleStorage", dtype::f64}, {"torch.HalfStorage", dtype::f16},
        {"torch.BFloat16Storage", dtype::bf16}, {"torch.LongStorage", dtype::i64}, {"torch.IntStorage", dtype::i32},
        {"torch.ShortStorage", dtype::i16}, {"torch.CharStorage", dtype::i8},    {"torch.ByteStorage", dtype::u8},
        {"torch.BoolStorage", dtype::boolean}, {"torch.UntypedStorage", dtype::u8}};
    for (const auto& [name, t] : known)
        if (type == name) return t;
    throw error(what + ": storage type '" + type +
                "' is not supported (expected Float, Double, Half, BFloat16, Long, Int, Short, Char, Byte or Bool "
                "storage)");
}

// Copies a strided view into contiguous row-major order, N bytes per element.
template <std::size_t N>
void gather_strided(const std::uint8_t* src, std::uint8_t* dst, std::uint64_t offset,
                    const std::vector<std::int64_t>& sizes, const std::vector<std::int64_t>& strides) {
    const std::size_t rank = sizes.size();
    if (rank == 0) {
        std::memcpy(dst, src + offset * N, N);
        return;
    }
    const auto inner = static_cast<std::uint64_t>(sizes[rank - 1]);
    const auto inner_stride = static_cast<std::uint64_t>(strides[rank - 1]);
    std::vector<std::uint64_t> index(rank - 1, 0);
    std::uint64_t outer = 1;
    for (std::size_t d = 0; d + 1 < rank; ++d) outer *= static_cast<std::uint64_t>(sizes[d]);
    for (std::uint64_t o = 0; o < outer; ++o) {
        std::uint64_t base = offset;
        for (std::size_t d = 0; d + 1 < rank; ++d) base += index[d] * static_cast<std::uint64_t>(strides[d]);
        if (inner_stride == 1) {
            std::memcpy(dst, src + base * N, inner * N);
        } else {
            for (std::uint64_t j = 0; j < inner; ++j) std::memcpy(dst + j * N, src + (base + j * inner_stride) * N, N);
        }
        dst += inner * N;
        for (std::size_t d = rank - 1; d-- > 0;) {
            if (++index[d] < static_cast<std::uint64_t>(sizes[d])) break;
            index[d] = 0;
        }
    }
}

class pth_reader {
public:
    pth_reader(const std::uint8_t* data, std::size_t size, const std::string& source)
        : where_(source + ": "), zip_(data, size, source) {}

    tensor_archive read() {
        folder_ = zip_.top_folder();
        if (const zip::entry* order = zip_.find(folder_ + "byteorder")) {
            const zip::byte_span b = zip_.read(*order);
            const std::string text(reinterpret_cast<const char*>(b.data), b.size);
            require(text == "little", where_ + "byteorder is '" + text.substr(0, 16) +
                                          "': only little-endian checkpoints are supported");
        }
        const zip::entry* pkl = zip_.find(folder_ + "data.pkl");
        require(pkl != nullptr, where_ + "the archive has no '" + folder_ +
                                    "data.pkl': not a torch.save checkpoint (legacy or TorchScript file?)");
        const zip::byte_span stream = zip_.read(*pkl);
        const pickle::document doc = pickle::unpickle(stream.data, stream.size, where_ + folder_ + "data.pkl");
        const pickle::value& root = doc.root();
        require(root.type == pickle::kind::dict,
                where_ + "the checkpoint holds no dict; expected a state dict or {'state_dict': {...}}");

        const pickle::value* state = find_state_dict(root);
        tensor_archive out;
        for (const auto& [key, v] : state->entries) {
            if (key->type != pickle::kind::string) continue;
            require(!is_unsupported_tensor(*v), where_ + "tensor '" + key->text + "' is stored through " + v->text +
                                                    ": quantized, sparse, nested and meta tensors are not supported");
            if (v->type != pickle::kind::tensor) continue;  // not a weight
            out.tensors.insert_or_assign(key->text, materialise(*v->tensor, key->text));
        }
        require(!out.tensors.empty(), where_ + "the state dict holds no tensors");
        if (state != &root) {
            const pickle::value* meta = root.find("meta");
            if (meta != nullptr && meta->type != pickle::kind::tensor) out.metadata["meta"] = pickle::to_json(*meta);
        }
        return out;
    }

private:
    struct storage_bytes {
        const std::uint8_t* data;
        std::uint64_t numel;
        dtype type;
    };

    // Tensors torch rebuilds some other way than from a dense storage view.
    static bool is_unsupported_tensor(const pickle::value& v) {
        return v.type == pickle::kind::object &&
               (v.text.compare(0, 21, "torch._utils._rebuild") == 0 || v.text.compare(0, 14, "torch._tensor.") == 0);
    }

    static bool holds_tensors(const pickle::value& d) {
        for (const auto& kv : d.entries)
            if (kv.second->type == pickle::kind::tensor) return true;
        return false;
    }

    // {'state_dict': sd, ...} (mmcls and most trainers), {'model': sd}, or sd itself.
    const pickle::value* find_state_dict(const pickle::value& root) const {
        for (const char* wrapper : {"state_dict", "model"}) {
            const pickle::value* inner = root.find(wrapper);
            if (inner != nullptr && inner->type == pickle::kind::dict && (holds_tensors(*inner) || !holds_tensors(root)))
                return inner;
        }
        return &root;
    }

    const storage_bytes& storage(const pickle::storage_info& info, dtype type, const std::string& what) {
        auto it = storages_.find(info.key);
        if (it != storages_.end()) {
            require(it->second.type == type && it->second.numel == static_cast<std::uint64_t>(info.numel),
                    what + ": storage '" + info.key + "' is referenced with two different types or sizes");
            return it->second;
        }
        const std::string name = folder_ + "data/" + info.key;
        const zip::entry* e = zip_.find(name);
        require(e != nullptr, what + ": its storage '" + name + "' is missing from the archive");
        const zip::byte_span b = zip_.read(*e);
        const std::uint64_t elem = dtype_size(type);
        const auto numel = static_cast<std::uint64_t>(info.numel);
        require(numel <= b.size / elem && numel * elem == b.size,
                what + ": storage '" + name + "' holds " + std::to_string(b.size) + " bytes, but its persistent id says " +
                    std::to_string(numel) + " elements of " + dtype_name(type) + " (" + std::to_string(elem) + " bytes each)");
        return storages_.emplace(info.key, storage_bytes{b.data, numel, type}).first->second;
    }

    stored_tensor materialise(const pickle::tensor_info& t, const std::string& name) {
        const std::string what = where_ + "tensor '" + name + "'";
        const pickle::storage_info& info = *t.storage->storage;
        const dtype type = pth_storage_dtype(info.type, what);
        const storage_bytes& s = storage(info, type, what);
        const std::uint64_t elem = dtype_size(type);

        stored_tensor out;
        out.type = type;
        std::uint64_t numel = 1;
        for (std::int64_t extent : t.sizes) {
            const auto e = static_cast<std::uint64_t>(extent);
            require(e == 0 || numel <= pth_max_elements / e, what + ": shape is too large");
            numel *= e;
            out.extents.push_back(extent);
        }
        const auto offset = static_cast<std::uint64_t>(t.offset);
        if (numel == 0) {
            require(offset <= s.numel, what + ": storage offset " + std::to_string(offset) + " lies past its storage of " +
                                           std::to_string(s.numel) + " elements");
            return out;
        }
        // The furthest element the view touches must lie inside the storage.
        std::uint64_t last = offset;
        bool contiguous = true;
        std::uint64_t expected_stride = 1;
        for (std::size_t d = t.sizes.size(); d-- > 0;) {
            const auto extent = static_cast<std::uint64_t>(t.sizes[d]);
            const auto stride = static_cast<std::uint64_t>(t.strides[d]);
            require(extent == 1 || stride <= pth_max_elements / (extent - 1), what + ": strides are too large");
            const std::uint64_t span = (extent - 1) * stride;
            require(last <= pth_max_elements - span, what + ": strides are too large");
            last += span;
            if (extent != 1 && stride != expected_stride) contiguous = false;
            expected_stride *= extent;
        }
        require(last < s.numel, what + ": the view (offset " + std::to_string(offset) + ", shape " + out.shape_str() +
                                    ") reaches element " + std::to_string(last) + " of a storage of " +
                                    std::to_string(s.numel) + " elements");
        const std::uint64_t bytes = numel * elem;
        require(bytes <= s.numel * elem || bytes <= pth_max_expanded_bytes,
                what + ": broadcasting a storage of " + std::to_string(s.numel) + " elements to shape " + out.shape_str() +
                    " needs more than " + std::to_string(pth_max_expanded_bytes) + " bytes");
        out.bytes.resize(static_cast<std::size_t>(bytes));
        if (contiguous) {
            std::memcpy(out.bytes.data(), s.data + offset * elem, static_cast<std::size_t>(bytes));
            return out;
        }
        switch (elem) {
            case 1: gather_strided<1>(s.data, out.bytes.data(), offset, t.sizes, t.strides); break;
            case 2: gather_strided<2>(s.data, out.bytes.data(), offset, t.sizes, t.strides); break;
            case 4: gather_strided<4>(s.data, out.bytes.data(), offset, t.sizes, t.strides); break;
            default: gather_strided<8>(s.data, out.bytes.data(), offset, t.sizes, t.strides); break;
        }
        return out;
    }

    std::string where_;
    zip::archive zip_;
    std::string folder_;
    std::map<std::string, storage_bytes> storages_;
};

}  // namespace detail

// Every tensor of the checkpoint's state dict, plus metadata["meta"]: a JSON
// rendering of the checkpoint's 'meta' entry when it has one.
inline tensor_archive parse_pth(const std::uint8_t* data, std::size_t size, const std::string& source = "pth data") {
    return detail::pth_reader(data, size, source).read();
}

inline tensor_archive load_pth(const std::string& path) {
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);
    return parse_pth(bytes.data(), bytes.size(), "'" + path + "'");
}

}  // namespace vrwkv
