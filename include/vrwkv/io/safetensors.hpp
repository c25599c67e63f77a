#pragma once
// safetensors reader and writer. Every header field is validated against the
// file before any byte is read: a corrupt or truncated file raises
// vrwkv::error and never reads out of bounds.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "vrwkv/io/json.hpp"
#include "vrwkv/io/tensor_archive.hpp"

namespace vrwkv {

// Headers larger than this are rejected (the format's own limit is 100 MB).
inline constexpr std::uint64_t safetensors_max_header_bytes = 100ull << 20;

inline std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    require(static_cast<bool>(in), "cannot open '" + path + "' for reading");
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    require(size >= 0, "cannot determine the size of '" + path + "'");
    in.seekg(0, std::ios::beg);
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), size);
    require(static_cast<bool>(in), "error reading '" + path + "'");
    return bytes;
}

inline tensor_archive parse_safetensors(const std::uint8_t* data, std::size_t size,
                                        const std::string& source = "safetensors data") {
    const std::string where = source + ": ";
    require(size >= 8, where + "file is " + std::to_string(size) +
                           " bytes, too short for the 8-byte header length of a safetensors file");
    std::uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
    require(header_len <= safetensors_max_header_bytes,
            where + "header length " + std::to_string(header_len) + " exceeds the 100 MiB limit (corrupt file?)");
    require(header_len <= size - 8, where + "header length " + std::to_string(header_len) + " runs past the end of the " +
                                        std::to_string(size) + "-byte file (truncated?)");
    const std::string header_text(reinterpret_cast<const char*>(data + 8), static_cast<std::size_t>(header_len));
    json::value header;
    try {
        header = json::parse(header_text);
    } catch (const error& e) {
        throw error(where + "header is not valid JSON (" + e.what() + ")");
    }
    require(header.is_object(), where + "header must be a JSON object");

    const std::uint8_t* payload = data + 8 + header_len;
    const std::uint64_t payload_size = size - 8 - header_len;
    tensor_archive archive;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;

    for (const auto& [name, entry] : header.members()) {
        if (name == "__metadata__") {
            for (const auto& [key, val] : entry.members(where + "__metadata__"))
                archive.metadata[key] = val.as_string(where + "__metadata__." + key);
            continue;
        }
        const std::string what = where + "tensor '" + name + "'";
        require(entry.is_object(), what + ": entry must be an object with dtype, shape and data_offsets");
        stored_tensor t;
        try {
            t.type = dtype_from_name(entry.at("dtype").as_string("dtype"));
        } catch (const error& e) {
            throw error(what + ": " + e.what());
        }
        std::uint64_t numel = 1;
        for (const json::value& d : entry.at("shape").items(what + " shape")) {
            const std::int64_t extent = d.as_int(what + " shape extent", 0, 9.0e15);
            t.extents.push_back(extent);
            require(extent == 0 || numel <= (1ull << 53) / static_cast<std::uint64_t>(extent),
                    what + ": shape " + t.shape_str() + " is too large");
            numel *= static_cast<std::uint64_t>(extent);
        }
        const auto& offsets = entry.at("data_offsets").items(what + " data_offsets");
        require(offsets.size() == 2, what + ": data_offsets must hold [begin, end]");
        const auto begin = static_cast<std::uint64_t>(offsets[0].as_int(what + " data_offsets[0]", 0, 9.0e15));
        const auto end = static_cast<std::uint64_t>(offsets[1].as_int(what + " data_offsets[1]", 0, 9.0e15));
        require(begin <= end, what + ": data_offsets begin " + std::to_string(begin) + " is after end " +
                                  std::to_string(end));
        require(end <= payload_size, what + ": data_offsets end " + std::to_string(end) +
                                         " runs past the data section of " + std::to_string(payload_size) +
                                         " bytes (truncated file?)");
        const std::uint64_t expected = numel * dtype_size(t.type);
        require(end - begin == expected, what + ": holds " + std::to_string(end - begin) + " bytes, but shape " +
                                             t.shape_str() + " of " + dtype_name(t.type) + " needs " +
                                             std::to_string(expected));
        t.bytes.assign(payload + begin, payload + end);
        ranges.emplace_back(begin, end);
        archive.tensors.emplace(name, std::move(t));
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < ranges.size(); ++i)
        require(ranges[i].first >= ranges[i - 1].second,
                where + "tensor data ranges overlap at byte " + std::to_string(ranges[i].first));
    return archive;
}

inline tensor_archive load_safetensors(const std::string& path) {
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);
    return parse_safetensors(bytes.data(), bytes.size(), "'" + path + "'");
}

inline std::vector<std::uint8_t> serialize_safetensors(const tensor_archive& archive) {
    std::string header = "{";
    bool first = true;
    if (!archive.metadata.empty()) {
        header += "\"__metadata__\":{";
        for (const auto& [k, v] : archive.metadata) {
            header += (first ? "" : ",") + json::quote(k) + ":" + json::quote(v);
            first = false;
        }
        header += "}";
    }
    std::uint64_t offset = 0;
    for (const auto& [name, t] : archive.tensors) {
        require(t.bytes.size() == static_cast<std::size_t>(t.numel()) * dtype_size(t.type),
                "tensor '" + name + "' holds " + std::to_string(t.bytes.size()) + " bytes, its shape needs " +
                    std::to_string(t.numel() * static_cast<index_t>(dtype_size(t.type))));
        std::string shape = "[";
        for (std::size_t i = 0; i < t.extents.size(); ++i) shape += (i ? "," : "") + std::to_string(t.extents[i]);
        shape += "]";
        header += std::string(header.size() > 1 ? "," : "") + json::quote(name) + ":{\"dtype\":\"" +
                  dtype_name(t.type) + "\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(offset) +
                  "," + std::to_string(offset + t.bytes.size()) + "]}";
        offset += t.bytes.size();
    }
    header += "}";
    while ((8 + header.size()) % 8 != 0) header += ' ';  // keeps the data 8-byte aligned

    std::vector<std::uint8_t> out(8 + header.size() + offset);
    std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(n >> (8 * i));
    std::memcpy(out.data() + 8, header.data(), header.size());
    std::size_t pos = 8 + header.size();
    for (const auto& [name, t] : archive.tensors) {
        if (!t.bytes.empty()) std::memcpy(out.data() + pos, t.bytes.data(), t.bytes.size());
        pos += t.bytes.size();
    }
    return out;
}

inline void save_safetensors(const std::string& path, const tensor_archive& archive) {
    const std::vector<std::uint8_t> bytes = serialize_safetensors(archive);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    require(static_cast<bool>(out), "cannot open '" + path + "' for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    require(static_cast<bool>(out), "error writing '" + path + "'");
}

}  // namespace vrwkv
