#pragma once
// Image files (PNG, JPEG, BMP, GIF, binary PNM) to RGB image_u8, with stb_image.
// This header only declares stb's functions: link the compiled stb library
// (Debian's libstb-dev, -lstb) through the vrwkv::image target.
//
// stb alone reads zeros past the end of a truncated BMP, PNM or GIF, writes
// past its Huffman tables on a bad JPEG, and loops forever on some damaged HDR
// files. So the headers are read here first: sizes are checked against the
// limits before stb allocates, truncated files are refused, JPEG Huffman
// tables are checked, and the formats whose damage is not checked here (HDR,
// PSD, PIC, TGA) are refused. Grey, grey + alpha and RGBA become RGB (grey
// replicated, alpha dropped: Pillow's convert("RGB")), 16-bit samples keep
// their high byte, a GIF gives its first frame, EXIF orientation is ignored
// (as Pillow's Image.open). JPEG: stb's IDCT and chroma upsampling differ
// from libjpeg's, so pixels differ from Pillow's decode by a few levels (2 at
// most in the tests); PNG, BMP, GIF and PNM are exact.
#include <stb_image.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "vrwkv/core/error.hpp"
#include "vrwkv/io/preprocess.hpp"

namespace vrwkv {

enum class image_format { unknown, png, jpeg, bmp, gif, pnm };

inline const char* image_format_name(image_format f) {
    switch (f) {
        case image_format::png: return "PNG";
        case image_format::jpeg: return "JPEG";
        case image_format::bmp: return "BMP";
        case image_format::gif: return "GIF";
        case image_format::pnm: return "PNM";
        case image_format::unknown: break;
    }
    return "unknown";
}

// Refused before anything is allocated. max_pixels cannot exceed image_max_pixels.
struct image_limits {
    int max_side = 1 << 16;
    std::int64_t max_pixels = image_max_pixels;
    std::uint64_t max_file_bytes = std::uint64_t{1} << 30;  // also below stb's int length
};

namespace detail {

inline bool starts_with(const std::uint8_t* data, std::size_t size, const char* magic, std::size_t n) {
    return size >= n && std::memcmp(data, magic, n) == 0;
}

inline image_format sniff_image_format(const std::uint8_t* data, std::size_t size) {
    if (starts_with(data, size, "\x89PNG\r\n\x1a\n", 8)) return image_format::png;
    if (starts_with(data, size, "\xff\xd8\xff", 3)) return image_format::jpeg;
    if (starts_with(data, size, "BM", 2)) return image_format::bmp;
    if (starts_with(data, size, "GIF87a", 6) || starts_with(data, size, "GIF89a", 6)) return image_format::gif;
    if (size >= 3 && data[0] == 'P' && (data[1] == '5' || data[1] == '6') &&
        (data[2] == ' ' || data[2] == '\t' || data[2] == '\n' || data[2] == '\r'))
        return image_format::pnm;
    return image_format::unknown;
}

// Names formats users meet that are not decoded, for a clearer message.
inline std::string describe_unsupported_format(const std::uint8_t* data, std::size_t size) {
    if (starts_with(data, size, "#?RADIANCE", 10) || starts_with(data, size, "#?RGBE", 6))
        return "Radiance HDR images are not supported";
    if (starts_with(data, size, "8BPS", 4)) return "Photoshop (PSD) images are not supported";
    if (starts_with(data, size, "\x53\x80\xf6\x34", 4)) return "Softimage PIC images are not supported";
    if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4))
        return "TIFF images are not supported";
    if (size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WEBP", 4) == 0)
        return "WebP images are not supported";
    if (size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '4')
        return "plain (ASCII) and 1-bit PNM images are not supported (binary P5/P6 are)";
    return "not a recognised image file";
}

inline std::uint32_t read_le(const std::uint8_t* p, int bytes) {
    std::uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}
inline std::uint32_t read_be(const std::uint8_t* p, int bytes) {
    std::uint32_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
    return v;
}

// What the header says, read here rather than by stb: the size limits are
// checked before stb allocates, and the bytes the pixels need are known for
// the formats whose stb decoders do not notice truncation.
struct image_header {
    std::uint64_t width = 0;
    std::uint64_t height = 0;
    std::uint64_t required_bytes = 0;  // the data must be at least this long
    std::string problem;               // non-empty: the header is unusable
};

// PNG: IHDR first; every chunk up to IEND must be present.
inline image_header png_header(const std::uint8_t* data, std::size_t size) {
    image_header h;
    if (size < 33 || std::memcmp(data + 12, "IHDR", 4) != 0) {
        h.problem = "no IHDR chunk";
        h.required_bytes = 33;
        return h;
    }
    h.width = read_be(data + 16, 4);
    h.height = read_be(data + 20, 4);
    std::uint64_t pos = 8;
    while (pos + 8 <= size) {
        const bool end = std::memcmp(data + pos + 4, "IEND", 4) == 0;
        pos += 12 + std::uint64_t{read_be(data + pos, 4)};  // length, type, data, CRC
        if (end) {
            h.required_bytes = pos;
            return h;
        }
    }
    h.required_bytes = pos > size ? pos : pos + 12;  // a chunk runs past the end, or IEND is missing
    return h;
}

// JPEG: every marker segment up to EOI, skipping entropy-coded data. The frame
// header (SOFn) gives the size; Huffman tables are checked because stb writes
// past its table arrays when a DHT segment declares more than 256 codes.
inline image_header jpeg_header(const std::uint8_t* data, std::size_t size) {
    image_header h;
    bool frame = false;
    std::size_t pos = 2;
    auto fail = [&](const std::string& why) {
        h.problem = why + " at byte " + std::to_string(pos);
        return h;
    };
    for (;;) {
        if (pos + 2 > size) break;
        if (data[pos] != 0xff) return fail("corrupt marker");
        const std::uint8_t marker = data[pos + 1];
        if (marker == 0xff) {  // fill byte
            ++pos;
            continue;
        }
        if (marker == 0xd9) {  // end of image
            if (!frame) return fail("no frame header (SOFn) before the end of the image");
            return h;
        }
        if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {  // no length field
            pos += 2;
            continue;
        }
        if (pos + 4 > size) break;
        const std::size_t length = read_be(data + pos + 2, 2);
        if (length < 2) return fail("bad segment length");
        const std::size_t end = pos + 2 + length;
        if (end > size) break;
        const bool sof = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
        if (sof && !frame) {
            if (length < 8) return fail("short frame header");
            h.height = read_be(data + pos + 5, 2);
            h.width = read_be(data + pos + 7, 2);
            frame = true;
        }
        if (marker == 0xc4) {  // DHT: (class/id, 16 code counts, values) repeated
            for (std::size_t p = pos + 4; p < end;) {
                if (p + 17 > end) return fail("short Huffman table");
                std::size_t codes = 0;
                for (int i = 1; i <= 16; ++i) codes += data[p + i];
                if (codes > 256) return fail("Huffman table with " + std::to_string(codes) + " codes (at most 256)");
                p += 17 + codes;
                if (p > end) return fail("Huffman table longer than its segment");
            }
        }
        if (marker == 0xda && !frame) return fail("image data before the frame header");
        pos = end;
        if (marker == 0xda) {  // entropy-coded data: runs to the next marker other than RSTn or a stuffed 0xff00
            auto is_marker = [&](std::size_t i) {
                return data[i] == 0xff && data[i + 1] != 0 && (data[i + 1] < 0xd0 || data[i + 1] > 0xd7);
            };
            while (pos + 1 < size && !is_marker(pos)) ++pos;
            if (pos + 1 >= size) break;
        }
    }
    if (!frame) h.problem = "truncated before the frame header";
    h.required_bytes = size + 1;  // the data ends before the end-of-image marker
    return h;
}

// BMP: uncompressed rows up to the last pixel byte (compressed: left to stb).
inline image_header bmp_header(const std::uint8_t* data, std::size_t size) {
    image_header h;
    if (size < 34) {
        h.problem = "header shorter than 34 bytes";
        h.required_bytes = 34;
        return h;
    }
    const std::uint64_t offset = read_le(data + 10, 4);
    const std::uint32_t header = read_le(data + 14, 4);
    std::uint64_t bpp = 0;
    bool uncompressed = true;
    if (header == 12) {
        h.width = read_le(data + 18, 2);
        h.height = read_le(data + 20, 2);
        bpp = read_le(data + 24, 2);
    } else {
        const auto w = static_cast<std::int32_t>(read_le(data + 18, 4));
        const auto ht = static_cast<std::int32_t>(read_le(data + 22, 4));
        h.width = w < 0 ? 0 : std::uint64_t(w);  // stb refuses negative widths
        h.height = ht < 0 ? std::uint64_t(-std::int64_t{ht}) : std::uint64_t(ht);  // negative: top-down rows
        bpp = read_le(data + 28, 2);
        const std::uint32_t compression = read_le(data + 30, 4);
        uncompressed = compression == 0 || compression == 3;
    }
    if (uncompressed && h.width > 0 && h.height > 0 && bpp > 0 && bpp <= 32 && h.width <= (1u << 24) &&
        h.height <= (1u << 24)) {
        const std::uint64_t stride = (h.width * bpp + 31) / 32 * 4;
        h.required_bytes = offset + (h.height - 1) * stride + (h.width * bpp + 7) / 8;
    }
    return h;
}

// GIF: the logical screen size; the first frame's data blocks must be complete.
inline image_header gif_header(const std::uint8_t* data, std::size_t size) {
    image_header h;
    if (size < 13) {
        h.problem = "header shorter than 13 bytes";
        h.required_bytes = 13;
        return h;
    }
    h.width = read_le(data + 6, 2);
    h.height = read_le(data + 8, 2);
    auto color_table = [](std::uint8_t flags) -> std::uint64_t { return (flags & 0x80) ? 3u << ((flags & 7) + 1) : 0; };
    std::uint64_t pos = 13 + color_table(data[10]);
    auto skip_sub_blocks = [&] {
        while (pos < size) {
            const std::uint8_t n = data[pos];
            pos += 1 + n;
            if (n == 0) return;
        }
        pos = std::max<std::uint64_t>(pos, size + 1);  // ran out: the data is cut short
    };
    while (pos < size) {
        const std::uint8_t block = data[pos];
        if (block == 0x21) {  // extension: label, then sub-blocks
            pos += 2;
            skip_sub_blocks();
        } else if (block == 0x2c) {  // image descriptor, local colours, LZW code size, data
            if (pos + 10 > size) break;
            pos += 10 + color_table(data[pos + 9]) + 1;
            skip_sub_blocks();
            h.required_bytes = pos;
            return h;
        } else {
            if (block == 0x3b) h.problem = "no image in the file";
            return h;  // other blocks: left to stb
        }
    }
    h.required_bytes = std::max<std::uint64_t>(pos, size + 1);
    return h;
}

// PNM (P5/P6): header, then width * height * channels samples of 1 or 2 bytes.
inline image_header pnm_header(const std::uint8_t* data, std::size_t size) {
    image_header h;
    std::size_t pos = 2;
    auto skip_space_and_comments = [&] {
        while (pos < size) {
            if (data[pos] == '#') {
                while (pos < size && data[pos] != '\n' && data[pos] != '\r') ++pos;
            } else if (data[pos] == ' ' || data[pos] == '\t' || data[pos] == '\n' || data[pos] == '\r' ||
                       data[pos] == '\v' || data[pos] == '\f') {
                ++pos;
            } else {
                break;
            }
        }
    };
    auto number = [&] {
        skip_space_and_comments();
        std::uint64_t v = 0;
        while (pos < size && data[pos] >= '0' && data[pos] <= '9' && v < (std::uint64_t{1} << 32))
            v = v * 10 + (data[pos++] - '0');
        return v;
    };
    const std::uint64_t channels = data[1] == '6' ? 3 : 1;
    h.width = number();
    h.height = number();
    const std::uint64_t maxval = number();
    if (maxval == 0 || maxval > 65535) {
        h.problem = "bad maximum sample value";
        return h;
    }
    if (h.width <= (1u << 24) && h.height <= (1u << 24))  // one whitespace byte ends the header
        h.required_bytes = pos + 1 + h.width * h.height * channels * (maxval > 255 ? 2 : 1);
    return h;
}

inline image_header read_image_header(image_format format, const std::uint8_t* data, std::size_t size) {
    switch (format) {
        case image_format::png: return png_header(data, size);
        case image_format::jpeg: return jpeg_header(data, size);
        case image_format::bmp: return bmp_header(data, size);
        case image_format::gif: return gif_header(data, size);
        case image_format::pnm: return pnm_header(data, size);
        case image_format::unknown: break;
    }
    image_header h;
    h.problem = "unknown format";
    return h;
}

inline std::string stb_reason() {
    const char* r = stbi_failure_reason();
    return r ? r : "no reason given";
}

struct stb_free {
    void operator()(unsigned char* p) const { stbi_image_free(p); }
};

}  // namespace detail

// The format of encoded image bytes, from their first bytes.
inline image_format sniff_image_format(const std::uint8_t* data, std::size_t size) {
    return data ? detail::sniff_image_format(data, size) : image_format::unknown;
}

// Decodes a whole encoded image (PNG, JPEG, BMP, GIF, binary PNM) to RGB.
// `source` names the data in error messages (a path, "request body", ...).
inline image_u8 decode_image(const std::uint8_t* data, std::size_t size, const std::string& source = "image data",
                             const image_limits& limits = {}) {
    const std::string what = "cannot decode image '" + source + "': ";
    require(data != nullptr || size == 0, what + "no data");
    require(size > 0, what + "the file is empty");
    require(size <= limits.max_file_bytes && size <= static_cast<std::size_t>(std::numeric_limits<int>::max()),
            what + "it is " + std::to_string(size) + " bytes, more than the limit of " +
                std::to_string(limits.max_file_bytes));
    const image_format format = detail::sniff_image_format(data, size);
    require(format != image_format::unknown,
            what + detail::describe_unsupported_format(data, size) + " (supported: PNG, JPEG, BMP, GIF, PNM)");
    const std::string kind = image_format_name(format);

    const detail::image_header header = detail::read_image_header(format, data, size);
    require(header.problem.empty(), what + "bad " + kind + " header: " + header.problem);
    require(header.width > 0 && header.height > 0 && header.width <= std::uint64_t(limits.max_side) &&
                header.height <= std::uint64_t(limits.max_side) &&
                header.width * header.height <= std::uint64_t(limits.max_pixels),
            what + kind + " of " + std::to_string(header.width) + "x" + std::to_string(header.height) +
                " pixels is empty or exceeds the limits (" + std::to_string(limits.max_side) + " per side, " +
                std::to_string(limits.max_pixels) + " in all)");
    require(header.required_bytes <= size, what + "truncated " + kind + ": needs at least " +
                                               std::to_string(header.required_bytes) + " bytes, the data has " +
                                               std::to_string(size));

    int w = 0, h = 0, n = 0;
    std::unique_ptr<unsigned char, detail::stb_free> pixels(
        stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &n, image_u8::channels));
    require(pixels != nullptr, what + "corrupt or truncated " + kind + " (stb: " + detail::stb_reason() + ")");
    require(std::uint64_t(w) == header.width && std::uint64_t(h) == header.height,
            what + kind + " decoded to " + std::to_string(w) + "x" + std::to_string(h) + ", its header says " +
                std::to_string(header.width) + "x" + std::to_string(header.height));
    image_u8 img(h, w);
    std::memcpy(img.pixels.data(), pixels.get(), img.pixels.size());
    return img;
}

inline image_u8 decode_image(const std::vector<std::uint8_t>& bytes, const std::string& source = "image data",
                             const image_limits& limits = {}) {
    return decode_image(bytes.data(), bytes.size(), source, limits);
}

// Reads and decodes an image file.
inline image_u8 load_image(const std::string& path, const image_limits& limits = {}) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    require(static_cast<bool>(in), "cannot open image '" + path + "' for reading");
    const std::streamoff size = in.tellg();
    require(size >= 0, "cannot read image '" + path + "' (not a regular file?)");
    require(static_cast<std::uint64_t>(size) <= limits.max_file_bytes,
            "image '" + path + "' is " + std::to_string(size) + " bytes, more than the limit of " +
                std::to_string(limits.max_file_bytes));
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    in.seekg(0);
    if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), size);
    require(static_cast<bool>(in), "error reading image '" + path + "'");
    return decode_image(bytes, path, limits);
}

}  // namespace vrwkv
