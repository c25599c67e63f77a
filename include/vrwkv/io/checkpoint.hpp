#pragma once
// One entry point for weight files: sniffs the first bytes and reads a
// PyTorch zip checkpoint (.pth) or a safetensors file; anything else (the
// legacy non-zip torch format included) gets an error saying what to do.
#include <cstdint>
#include <string>
#include <vector>

#include "vrwkv/io/pth.hpp"
#include "vrwkv/io/safetensors.hpp"
#include "vrwkv/io/tensor_archive.hpp"

namespace vrwkv {

enum class checkpoint_format { pth, safetensors, legacy_pth, unknown };

inline checkpoint_format sniff_checkpoint(const std::uint8_t* data, std::size_t size) {
    if (size >= 4 && data[0] == 'P' && data[1] == 'K' && data[2] == 3 && data[3] == 4) return checkpoint_format::pth;
    // Before PyTorch 1.6 torch.save wrote bare pickles (PROTO opcode first),
    // and before 0.4 tar files ("ustar" at byte 257).
    if (size >= 2 && data[0] == 0x80 && data[1] <= 5) return checkpoint_format::legacy_pth;
    if (size >= 262 && std::string(reinterpret_cast<const char*>(data + 257), 5) == "ustar")
        return checkpoint_format::legacy_pth;
    // safetensors: 8-byte little-endian header length, then the JSON header.
    if (size >= 9 && data[8] == '{') return checkpoint_format::safetensors;
    return checkpoint_format::unknown;
}

inline tensor_archive parse_checkpoint(const std::uint8_t* data, std::size_t size,
                                       const std::string& source = "checkpoint data") {
    switch (sniff_checkpoint(data, size)) {
        case checkpoint_format::pth: return parse_pth(data, size, source);
        case checkpoint_format::safetensors: return parse_safetensors(data, size, source);
        case checkpoint_format::legacy_pth:
            throw error(source +
                        " is a legacy (non-zip) torch.save checkpoint, written by PyTorch before 1.6 or with "
                        "_use_new_zipfile_serialization=False; it is not supported. Re-save it with PyTorch >= 1.6: "
                        "python -c \"import torch; torch.save(torch.load('IN.pth', map_location='cpu', "
                        "weights_only=False), 'OUT.pth')\"");
        case checkpoint_format::unknown: break;
    }
    throw error(source + " is neither a PyTorch zip checkpoint (.pth, starting with \"PK\\x03\\x04\") nor a "
                         "safetensors file (8-byte header length, then a JSON header)");
}

inline tensor_archive load_checkpoint(const std::string& path) {
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);
    return parse_checkpoint(bytes.data(), bytes.size(), "'" + path + "'");
}

}  // namespace vrwkv
