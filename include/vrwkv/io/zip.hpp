#pragma once
// Reader for the zip container torch.save writes: stored (uncompressed)
// entries in one top-level folder, data descriptors, ZIP64 records. Parsed
// from a byte buffer with every offset bounds-checked; local headers are
// cross-checked against the central directory, so a corrupt or truncated file
// raises vrwkv::error and never reads out of bounds. A small writer of stored
// archives (what torch.save produces) is included for tests and tools.
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "vrwkv/core/error.hpp"

namespace vrwkv::zip {

inline constexpr std::uint32_t local_header_signature = 0x04034b50;
inline constexpr std::uint32_t central_header_signature = 0x02014b50;
inline constexpr std::uint32_t end_of_central_directory_signature = 0x06054b50;
inline constexpr std::uint32_t zip64_end_signature = 0x06064b50;
inline constexpr std::uint32_t zip64_locator_signature = 0x07064b50;
inline constexpr std::uint32_t data_descriptor_signature = 0x08074b50;
inline constexpr std::uint16_t zip64_extra_id = 0x0001;
inline constexpr std::size_t local_header_size = 30;
inline constexpr std::size_t central_header_size = 46;
inline constexpr std::size_t end_record_size = 22;
inline constexpr std::size_t zip64_end_record_size = 56;
inline constexpr std::size_t zip64_locator_size = 20;
inline constexpr std::size_t max_comment_size = 0xffff;
inline constexpr std::uint64_t max_entries = 1u << 20;  // torch writes a few per tensor

// Flags that make an entry unreadable here: encryption (bits 0 and 6).
inline constexpr std::uint16_t encrypted_flags = 0x0041;
inline constexpr std::uint16_t data_descriptor_flag = 0x0008;

inline std::string method_name(std::uint16_t method) {
    switch (method) {
        case 0: return "stored";
        case 8: return "deflate";
        case 9: return "deflate64";
        case 12: return "bzip2";
        case 14: return "lzma";
        case 93: return "zstd";
        case 95: return "xz";
        default: return "unknown";
    }
}

// CRC-32 (IEEE 802.3, as zip uses), slice-by-8 so multi-GB checkpoints verify fast.
inline std::uint32_t crc32(const std::uint8_t* p, std::size_t n, std::uint32_t crc = 0) {
    static const auto tables = [] {
        std::array<std::array<std::uint32_t, 256>, 8> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[0][i] = c;
        }
        for (std::size_t s = 1; s < 8; ++s)
            for (std::size_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
        return t;
    }();
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        const std::uint32_t lo = crc ^ (std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
                                        std::uint32_t(p[3]) << 24);
        crc = tables[7][lo & 0xff] ^ tables[6][(lo >> 8) & 0xff] ^ tables[5][(lo >> 16) & 0xff] ^ tables[4][lo >> 24] ^
              tables[3][p[4]] ^ tables[2][p[5]] ^ tables[1][p[6]] ^ tables[0][p[7]];
    }
    for (; n > 0; --n, ++p) crc = tables[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
    return ~crc;
}

struct entry {
    std::string name;
    std::uint16_t flags = 0;
    std::uint16_t method = 0;
    std::uint32_t crc32 = 0;
    std::uint64_t compressed_size = 0;
    std::uint64_t size = 0;
    std::uint64_t local_header_offset = 0;
    std::uint64_t data_offset = 0;  // first byte of the entry's data in the file
};

// A view of an entry's bytes inside the archive's buffer.
struct byte_span {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
};

namespace detail {

// require() whose message is built only on failure: these checks run per
// field of every record, so building messages eagerly would dominate.
template <class Message>
void check(bool ok, Message&& message) {
    if (!ok)
        throw error(message());
}

// Little-endian fields at absolute offsets, each access checked against the buffer.
class bounded_bytes {
public:
    bounded_bytes(const std::uint8_t* data, std::size_t size, const std::string& where)
        : data_(data), size_(size), where_(where) {}

    bool fits(std::uint64_t at, std::uint64_t n) const { return n <= size_ && at <= size_ - n; }
    void require_fits(std::uint64_t at, std::uint64_t n, const std::string& what) const {
        detail::check(fits(at, n), [&] {
            return where_ + what + " (" + std::to_string(n) + " bytes at " + std::to_string(at) +
                   ") runs past the end of the " + std::to_string(size_) + "-byte file (truncated?)";
        });
    }
    std::uint64_t le(std::uint64_t at, int bytes, const std::string& what) const {
        require_fits(at, static_cast<std::uint64_t>(bytes), what);
        std::uint64_t v = 0;
        for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | data_[at + static_cast<std::uint64_t>(i)];
        return v;
    }
    std::uint16_t u16(std::uint64_t at, const std::string& what) const {
        return static_cast<std::uint16_t>(le(at, 2, what));
    }
    std::uint32_t u32(std::uint64_t at, const std::string& what) const {
        return static_cast<std::uint32_t>(le(at, 4, what));
    }
    std::uint64_t u64(std::uint64_t at, const std::string& what) const { return le(at, 8, what); }
    std::string text(std::uint64_t at, std::uint64_t n, const std::string& what) const {
        require_fits(at, n, what);
        return std::string(reinterpret_cast<const char*>(data_ + at), static_cast<std::size_t>(n));
    }
    const std::uint8_t* at(std::uint64_t offset) const { return data_ + offset; }
    std::size_t size() const { return size_; }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    const std::string& where_;
};

// Values the ZIP64 extra field (id 1) overrides: only those saturated in the record.
struct zip64_fields {
    std::uint64_t size, compressed_size, offset;
    bool need_size, need_compressed, need_offset;
};

inline void read_zip64_extra(const bounded_bytes& b, std::uint64_t extra, std::uint64_t extra_len, zip64_fields& f,
                             const std::string& what) {
    std::uint64_t p = extra;
    const std::uint64_t end = extra + extra_len;
    bool found = false;
    while (p + 4 <= end) {
        const std::uint16_t id = b.u16(p, what + " extra field id");
        const std::uint16_t len = b.u16(p + 2, what + " extra field length");
        detail::check(p + 4 + len <= end, [&] {
            return what + ": extra field " + std::to_string(id) + " of " + std::to_string(len) +
                   " bytes runs past the extra area";
        });
        if (id == zip64_extra_id) {
            std::uint64_t q = p + 4;
            const std::uint64_t q_end = q + len;
            auto take = [&](std::uint64_t& field, const char* name) {
                detail::check(q + 8 <= q_end,
                              [&] { return what + ": ZIP64 extra field is too short to hold the " + name; });
                field = b.u64(q, what + " ZIP64 " + name);
                q += 8;
            };
            if (f.need_size)
                take(f.size, "uncompressed size");
            if (f.need_compressed)
                take(f.compressed_size, "compressed size");
            if (f.need_offset)
                take(f.offset, "local header offset");
            found = true;
        }
        p += 4 + len;
    }
    detail::check(found || !(f.need_size || f.need_compressed || f.need_offset),
                  [&] { return what + ": sizes or offset are 0xFFFFFFFF but there is no ZIP64 extra field"; });
}

}  // namespace detail

class archive {
public:
    // Parses and validates the directory; `data` must outlive the archive.
    archive(const std::uint8_t* data, std::size_t size, std::string source = "zip data")
        : data_(data), size_(size), where_(std::move(source) + ": ") {
        parse();
    }

    const std::vector<entry>& entries() const { return entries_; }
    const entry* find(const std::string& name) const {
        auto it = by_name_.find(name);
        return it == by_name_.end() ? nullptr : &entries_[it->second];
    }
    const std::string& where() const { return where_; }

    // The folder every entry lives in, with its trailing '/' (torch.save
    // names it after the file: "archive/", "vrwkv_mini/", ...).
    std::string top_folder() const {
        detail::check(!entries_.empty(), [&] { return where_ + "the zip archive is empty"; });
        const std::string& first = entries_.front().name;
        const std::size_t slash = first.find('/');
        detail::check(slash != std::string::npos && slash > 0, [&] {
            return where_ + "entry '" + first + "' is not inside a top-level folder, as torch.save writes every entry";
        });
        const std::string folder = first.substr(0, slash + 1);
        for (const entry& e : entries_)
            detail::check(e.name.compare(0, folder.size(), folder) == 0, [&] {
                return where_ + "entry '" + e.name + "' lies outside the top-level folder '" + folder +
                       "' (a torch.save archive has exactly one)";
            });
        return folder;
    }

    // The bytes of a stored entry, CRC-checked unless told otherwise.
    byte_span read(const entry& e, bool verify_crc = true) const {
        detail::check(e.method == 0, [&] {
            return where_ + "entry '" + e.name + "' is compressed with " + method_name(e.method) + " (method " +
                   std::to_string(e.method) +
                   "); only stored (uncompressed) entries are supported, as torch.save writes "
                   "them: re-save the checkpoint with torch.save instead of re-zipping it";
        });
        byte_span s{data_ + e.data_offset, static_cast<std::size_t>(e.size)};
        if (verify_crc) {
            const std::uint32_t crc = crc32(s.data, s.size);
            detail::check(crc == e.crc32, [&] {
                return where_ + "entry '" + e.name + "' fails its CRC-32 check (stored " + hex(e.crc32) +
                       ", data gives " + hex(crc) + "): the file is corrupt";
            });
        }
        return s;
    }
    byte_span read(const std::string& name, bool verify_crc = true) const {
        const entry* e = find(name);
        detail::check(e != nullptr, [&] { return where_ + "the archive has no entry '" + name + "'"; });
        return read(*e, verify_crc);
    }

private:
    static std::string hex(std::uint32_t v) {
        static const char* digits = "0123456789abcdef";
        std::string s = "0x";
        for (int i = 7; i >= 0; --i) s += digits[(v >> (4 * i)) & 0xf];
        return s;
    }

    struct directory {
        std::uint64_t entries, offset, size, end;  // end: where the directory must stop
    };

    std::uint64_t find_end_record(const detail::bounded_bytes& b) const {
        detail::check(size_ >= end_record_size, [&] {
            return where_ + "file is " + std::to_string(size_) + " bytes, too short for a zip archive (truncated?)";
        });
        const std::uint64_t last = size_ - end_record_size;
        const std::uint64_t first = last > max_comment_size ? last - max_comment_size : 0;
        for (std::uint64_t p = last + 1; p-- > first;) {  // raw reads: p + 22 <= size_ holds here
            const std::uint8_t* q = b.at(p);
            if (q[0] != 'P' || q[1] != 'K' || q[2] != 5 || q[3] != 6)
                continue;
            if (p + end_record_size + (q[20] | (q[21] << 8)) == size_)
                return p;
        }
        throw error(where_ + "no zip end-of-central-directory record found: not a zip archive, or truncated");
    }

    directory read_directory_location(const detail::bounded_bytes& b, std::uint64_t eocd) const {
        const std::string what = "end-of-central-directory record";
        const std::uint16_t disk = b.u16(eocd + 4, what);
        const std::uint16_t cd_disk = b.u16(eocd + 6, what);
        const std::uint16_t on_disk = b.u16(eocd + 8, what);
        const std::uint16_t total = b.u16(eocd + 10, what);
        const std::uint32_t cd_size = b.u32(eocd + 12, what);
        const std::uint32_t cd_offset = b.u32(eocd + 16, what);
        directory d{total, cd_offset, cd_size, eocd};

        const bool has_locator =
            eocd >= zip64_locator_size && b.u32(eocd - zip64_locator_size, "ZIP64 locator") == zip64_locator_signature;
        if (has_locator) {
            const std::uint64_t loc = eocd - zip64_locator_size;
            const std::uint32_t z_disk = b.u32(loc + 4, "ZIP64 locator");
            const std::uint64_t z_offset = b.u64(loc + 8, "ZIP64 locator");
            const std::uint32_t disks = b.u32(loc + 16, "ZIP64 locator");
            detail::check(z_disk == 0 && disks <= 1,
                          [&] { return where_ + "multi-disk (split) zip archives are not supported"; });
            detail::check(z_offset <= loc && loc - z_offset >= zip64_end_record_size, [&] {
                return where_ + "ZIP64 end record offset " + std::to_string(z_offset) +
                       " does not lie before its locator at " + std::to_string(loc);
            });
            const std::string w = "ZIP64 end-of-central-directory record";
            detail::check(b.u32(z_offset, w) == zip64_end_signature,
                          [&] { return where_ + w + " at byte " + std::to_string(z_offset) + " has a bad signature"; });
            const std::uint64_t record_size = b.u64(z_offset + 4, w);
            detail::check(record_size >= zip64_end_record_size - 12 && record_size <= loc - z_offset - 12, [&] {
                return where_ + w + " claims " + std::to_string(record_size) +
                       " bytes, which does not fit before its locator";
            });
            const std::uint32_t z_this_disk = b.u32(z_offset + 16, w);
            const std::uint32_t z_cd_disk = b.u32(z_offset + 20, w);
            const std::uint64_t z_on_disk = b.u64(z_offset + 24, w);
            const std::uint64_t z_total = b.u64(z_offset + 32, w);
            const std::uint64_t z_cd_size = b.u64(z_offset + 40, w);
            const std::uint64_t z_cd_offset = b.u64(z_offset + 48, w);
            detail::check(z_this_disk == 0 && z_cd_disk == 0,
                          [&] { return where_ + "multi-disk (split) zip archives are not supported"; });
            detail::check(z_on_disk == z_total, [&] {
                return where_ + w + " counts " + std::to_string(z_on_disk) + " entries on this disk of " +
                       std::to_string(z_total) + " (split archives are not supported)";
            });
            // The classic record must agree wherever it is not saturated.
            auto agree = [&](std::uint64_t classic, std::uint64_t saturated, std::uint64_t wide, const char* field) {
                detail::check(classic == saturated || classic == wide, [&] {
                    return where_ + "end-of-central-directory " + field + " " + std::to_string(classic) +
                           " disagrees with the ZIP64 record's " + std::to_string(wide);
                });
            };
            agree(total, 0xffff, z_total, "entry count");
            agree(on_disk, 0xffff, z_on_disk, "entry count on this disk");
            agree(cd_size, 0xffffffff, z_cd_size, "directory size");
            agree(cd_offset, 0xffffffff, z_cd_offset, "directory offset");
            d = directory{z_total, z_cd_offset, z_cd_size, z_offset};
        } else {
            detail::check(disk == 0 && cd_disk == 0,
                          [&] { return where_ + "multi-disk (split) zip archives are not supported"; });
            detail::check(on_disk == total, [&] {
                return where_ + "end record counts " + std::to_string(on_disk) + " entries on this disk of " +
                       std::to_string(total) + " (split archives are not supported)";
            });
            detail::check(total != 0xffff && cd_size != 0xffffffff && cd_offset != 0xffffffff, [&] {
                return where_ + "end record has ZIP64 markers (0xFFFF...) but no ZIP64 locator precedes it";
            });
        }
        detail::check(d.offset <= d.end && d.size <= d.end - d.offset, [&] {
            return where_ + "central directory (offset " + std::to_string(d.offset) + ", " + std::to_string(d.size) +
                   " bytes) does not fit before the end record at byte " + std::to_string(d.end);
        });
        detail::check(d.entries <= max_entries && d.entries <= d.size / central_header_size, [&] {
            return where_ + "end record claims " + std::to_string(d.entries) + " entries, more than a " +
                   std::to_string(d.size) + "-byte central directory can hold";
        });
        return d;
    }

    // Reads the local header of `e`, checks it against the central record,
    // and sets e.data_offset. Data must end before the central directory.
    void check_local_header(const detail::bounded_bytes& b, entry& e, std::uint64_t directory_offset) const {
        const std::string what = "local header of '" + e.name + "'";
        const std::uint64_t p = e.local_header_offset;
        detail::check(p <= directory_offset && b.fits(p, local_header_size),
                      [&] { return where_ + what + " offset " + std::to_string(p) + " lies outside the data area"; });
        detail::check(b.u32(p, what) == local_header_signature,
                      [&] { return where_ + what + " at byte " + std::to_string(p) + " has a bad signature"; });
        const std::uint16_t flags = b.u16(p + 6, what);
        const std::uint16_t method = b.u16(p + 8, what);
        const std::uint32_t crc = b.u32(p + 14, what);
        const std::uint32_t csize = b.u32(p + 18, what);
        const std::uint32_t usize = b.u32(p + 22, what);
        const std::uint16_t name_len = b.u16(p + 26, what);
        const std::uint16_t extra_len = b.u16(p + 28, what);
        const std::string name = b.text(p + local_header_size, name_len, what + " name");
        detail::check(name == e.name,
                      [&] { return where_ + what + " names '" + name + "' (the central directory disagrees)"; });
        detail::check(method == e.method, [&] {
            return where_ + what + " says method " + std::to_string(method) + ", the central directory says " +
                   std::to_string(e.method);
        });
        detail::check((flags & encrypted_flags) == 0 && (e.flags & encrypted_flags) == 0,
                      [&] { return where_ + "entry '" + e.name + "' is encrypted, which is not supported"; });
        const std::uint64_t extra = p + local_header_size + name_len;
        b.require_fits(extra, extra_len, what + " extra field");
        e.data_offset = extra + extra_len;
        detail::check(e.data_offset <= directory_offset && e.compressed_size <= directory_offset - e.data_offset, [&] {
            return where_ + "data of '" + e.name + "' (" + std::to_string(e.compressed_size) + " bytes at " +
                   std::to_string(e.data_offset) + ") overruns the central directory at byte " +
                   std::to_string(directory_offset);
        });
        const std::uint64_t data_end = e.data_offset + e.compressed_size;

        if (flags & data_descriptor_flag) {
            // Sizes and CRC follow the data: signature (optional), CRC, then
            // 4- or 8-byte sizes (8 for ZIP64 entries).
            std::uint64_t q = data_end;
            if (b.fits(q, 4) && q + 4 <= directory_offset && b.u32(q, what) == data_descriptor_signature)
                q += 4;
            bool matched = false;
            for (int width : {4, 8}) {
                const std::uint64_t len = 4 + 2 * static_cast<std::uint64_t>(width);
                if (q + len > directory_offset)
                    continue;
                if (b.u32(q, "data descriptor") == e.crc32 &&
                    b.le(q + 4, width, "data descriptor") == e.compressed_size &&
                    b.le(q + 4 + static_cast<std::uint64_t>(width), width, "data descriptor") == e.size)
                    matched = true;
            }
            detail::check(matched, [&] {
                return where_ + "data descriptor of '" + e.name +
                       "' is missing or disagrees with the central directory (CRC, sizes)";
            });
        } else {
            detail::zip64_fields f{usize, csize, 0, usize == 0xffffffff, csize == 0xffffffff, false};
            detail::read_zip64_extra(b, extra, extra_len, f, where_ + what);
            detail::check(crc == e.crc32 && f.size == e.size && f.compressed_size == e.compressed_size, [&] {
                return where_ + what + " disagrees with the central directory (CRC " + hex(crc) + " vs " +
                       hex(e.crc32) + ", sizes " + std::to_string(f.compressed_size) + "/" + std::to_string(f.size) +
                       " vs " + std::to_string(e.compressed_size) + "/" + std::to_string(e.size) + ")";
            });
        }
    }

    void parse() {
        const detail::bounded_bytes b(data_, size_, where_);
        const std::uint64_t eocd = find_end_record(b);
        const directory d = read_directory_location(b, eocd);

        std::uint64_t p = d.offset;
        const std::uint64_t cd_end = d.offset + d.size;
        entries_.reserve(static_cast<std::size_t>(d.entries));
        for (std::uint64_t i = 0; i < d.entries; ++i) {
            const std::string what = "central directory record " + std::to_string(i);
            detail::check(p + central_header_size <= cd_end,
                          [&] { return where_ + what + " runs past the end of the central directory"; });
            detail::check(b.u32(p, what) == central_header_signature,
                          [&] { return where_ + what + " at byte " + std::to_string(p) + " has a bad signature"; });
            entry e;
            e.flags = b.u16(p + 8, what);
            e.method = b.u16(p + 10, what);
            e.crc32 = b.u32(p + 16, what);
            const std::uint32_t csize = b.u32(p + 20, what);
            const std::uint32_t usize = b.u32(p + 24, what);
            const std::uint16_t name_len = b.u16(p + 28, what);
            const std::uint16_t extra_len = b.u16(p + 30, what);
            const std::uint16_t comment_len = b.u16(p + 32, what);
            const std::uint16_t disk = b.u16(p + 34, what);
            const std::uint32_t offset = b.u32(p + 42, what);
            const std::uint64_t record_end = p + central_header_size + name_len + extra_len + comment_len;
            detail::check(record_end <= cd_end,
                          [&] { return where_ + what + " (name, extra, comment) runs past the central directory"; });
            e.name = b.text(p + central_header_size, name_len, what + " name");
            detail::check(!e.name.empty(), [&] { return where_ + what + " has an empty name"; });
            const std::string entry_what = "central record of '" + e.name + "'";
            detail::zip64_fields f{
                usize, csize, offset, usize == 0xffffffff, csize == 0xffffffff, offset == 0xffffffff};
            detail::read_zip64_extra(b, p + central_header_size + name_len, extra_len, f, where_ + entry_what);
            detail::check(disk == 0 || disk == 0xffff,
                          [&] { return where_ + "multi-disk (split) zip archives are not supported"; });
            e.size = f.size;
            e.compressed_size = f.compressed_size;
            e.local_header_offset = f.offset;
            detail::check(e.method != 0 || e.size == e.compressed_size, [&] {
                return where_ + "stored entry '" + e.name + "' has compressed size " +
                       std::to_string(e.compressed_size) + " but size " + std::to_string(e.size);
            });
            check_local_header(b, e, d.offset);
            detail::check(by_name_.emplace(e.name, entries_.size()).second,
                          [&] { return where_ + "entry '" + e.name + "' appears twice in the central directory"; });
            entries_.push_back(std::move(e));
            p = record_end;
        }
        detail::check(p == cd_end, [&] {
            return where_ + "central directory holds " + std::to_string(cd_end - p) +
                   " bytes after its last record (entry count wrong?)";
        });
    }

    const std::uint8_t* data_;
    std::size_t size_;
    std::string where_;
    std::vector<entry> entries_;
    std::map<std::string, std::size_t> by_name_;
};

// Writes a zip archive of stored entries (as torch.save does). With `zip64`,
// every size and offset goes through ZIP64 extra fields and the ZIP64 end
// records, as a writer does for archives over 4 GiB.
inline std::vector<std::uint8_t> write_stored(
    const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& files, bool zip64 = false) {
    std::vector<std::uint8_t> out;
    auto put = [&out](std::uint64_t v, int bytes) {
        for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    };
    auto put_text = [&out](const std::string& s) { out.insert(out.end(), s.begin(), s.end()); };
    detail::check(files.size() < 0xffff || zip64, [&] { return "zip::write_stored: too many entries without ZIP64"; });
    const std::uint32_t saturated = 0xffffffff;
    std::vector<std::uint64_t> offsets;
    for (const auto& [name, bytes] : files) {
        detail::check(name.size() <= 0xffff, [&] { return "zip::write_stored: entry name too long"; });
        detail::check(zip64 || bytes.size() < saturated,
                      [&] { return "zip::write_stored: entry over 4 GiB needs ZIP64"; });
        offsets.push_back(out.size());
        put(local_header_signature, 4);
        put(zip64 ? 45 : 20, 2);
        put(0, 2);  // flags
        put(0, 2);  // method: stored
        put(0, 4);  // time, date
        put(crc32(bytes.data(), bytes.size()), 4);
        put(zip64 ? saturated : bytes.size(), 4);
        put(zip64 ? saturated : bytes.size(), 4);
        put(name.size(), 2);
        put(zip64 ? 20 : 0, 2);
        put_text(name);
        if (zip64) {
            put(zip64_extra_id, 2), put(16, 2), put(bytes.size(), 8), put(bytes.size(), 8);
        }
        out.insert(out.end(), bytes.begin(), bytes.end());
    }
    const std::uint64_t cd_offset = out.size();
    for (std::size_t i = 0; i < files.size(); ++i) {
        const auto& [name, bytes] = files[i];
        put(central_header_signature, 4);
        put(zip64 ? 45 : 20, 2);
        put(zip64 ? 45 : 20, 2);
        put(0, 2), put(0, 2), put(0, 4);
        put(crc32(bytes.data(), bytes.size()), 4);
        put(zip64 ? saturated : bytes.size(), 4);
        put(zip64 ? saturated : bytes.size(), 4);
        put(name.size(), 2);
        put(zip64 ? 28 : 0, 2);
        put(0, 2), put(0, 2), put(0, 2), put(0, 4);  // comment, disk, attributes
        put(zip64 ? saturated : offsets[i], 4);
        put_text(name);
        if (zip64) {
            put(zip64_extra_id, 2), put(24, 2), put(bytes.size(), 8), put(bytes.size(), 8), put(offsets[i], 8);
        }
    }
    const std::uint64_t cd_size = out.size() - cd_offset;
    if (zip64) {
        const std::uint64_t z_offset = out.size();
        put(zip64_end_signature, 4);
        put(zip64_end_record_size - 12, 8);
        put(45, 2), put(45, 2), put(0, 4), put(0, 4);
        put(files.size(), 8), put(files.size(), 8), put(cd_size, 8), put(cd_offset, 8);
        put(zip64_locator_signature, 4), put(0, 4), put(z_offset, 8), put(1, 4);
    }
    put(end_of_central_directory_signature, 4);
    put(0, 2), put(0, 2);
    put(zip64 ? 0xffff : files.size(), 2);
    put(zip64 ? 0xffff : files.size(), 2);
    put(zip64 ? saturated : cd_size, 4);
    put(zip64 ? saturated : cd_offset, 4);
    put(0, 2);
    return out;
}

}  // namespace vrwkv::zip
