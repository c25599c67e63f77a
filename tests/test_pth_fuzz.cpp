// Deterministic fuzzing of the .pth reader: truncated files, flipped bytes in
// every zip structure and in the pickle stream, and random opcode streams.
// Each case must end in vrwkv::error or a load (never a crash, a hang or
// another exception); damage the CRCs can see must never load silently.
// Run it under AddressSanitizer+UBSan too: tests/pth.cmake says how.
#include "test_support.hpp"

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "vrwkv/io/pickle.hpp"
#include "vrwkv/io/pth.hpp"
#include "vrwkv/io/zip.hpp"

using namespace vrwkv;
using vrwkv::testing::data_path;

namespace {

using bytes_t = std::vector<std::uint8_t>;

enum class outcome { error, same, different };

bool same_archive(const tensor_archive& a, const tensor_archive& b) {
    if (a.tensors.size() != b.tensors.size()) return false;
    for (const auto& [name, t] : a.tensors) {
        auto it = b.tensors.find(name);
        if (it == b.tensors.end() || it->second.type != t.type || it->second.extents != t.extents ||
            it->second.bytes != t.bytes)
            return false;
    }
    return true;
}

// Only vrwkv::error may escape the reader; anything else fails the test case.
outcome load(const bytes_t& b, const tensor_archive& reference) {
    try {
        const tensor_archive a = parse_pth(b.data(), b.size(), "fuzz");
        return same_archive(a, reference) ? outcome::same : outcome::different;
    } catch (const error&) {
        return outcome::error;
    }
}

struct tally {
    std::size_t errors = 0, same = 0, different = 0;
    void add(outcome o) { (o == outcome::error ? errors : o == outcome::same ? same : different)++; }
    std::size_t total() const { return errors + same + different; }
};

// Byte ranges [begin, end) of the entries the reader uses: data.pkl,
// byteorder and the storages of state-dict tensors. Others (.format_version,
// .data/serialization_id, the optimizer's storages) are never read, so
// flips there still load.
struct layout {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> payloads;
    std::string pickle_name;

    bool in_payload(std::uint64_t i) const {
        for (const auto& [b, e] : payloads)
            if (i >= b && i < e) return true;
        return false;
    }
};

layout layout_of(const bytes_t& file) {
    const zip::archive z(file.data(), file.size());
    layout l;
    const std::string folder = z.top_folder();
    std::set<std::string> used{folder + "data.pkl", folder + "byteorder"};
    const zip::byte_span s = z.read(folder + "data.pkl");
    const pickle::document doc = pickle::unpickle(s.data, s.size);
    const pickle::value* state = doc.root().find("state_dict");
    for (const auto& kv : (state ? *state : doc.root()).entries)
        if (kv.second->type == pickle::kind::tensor) used.insert(folder + "data/" + kv.second->tensor->storage->storage->key);
    for (const zip::entry& e : z.entries())
        if (used.count(e.name)) l.payloads.emplace_back(e.data_offset, e.data_offset + e.size);
    std::sort(l.payloads.begin(), l.payloads.end());
    l.pickle_name = folder + "data.pkl";
    return l;
}

std::vector<std::pair<std::string, bytes_t>> entries_of(const bytes_t& file) {
    const zip::archive z(file.data(), file.size());
    std::vector<std::pair<std::string, bytes_t>> files;
    for (const zip::entry& e : z.entries()) {
        const zip::byte_span s = z.read(e);
        files.emplace_back(e.name, bytes_t(s.data, s.data + s.size));
    }
    return files;
}

std::uint8_t mask_for(std::size_t i) {
    static const std::uint8_t masks[] = {0xff, 0x01, 0x80, 0x10, 0x7f};
    return masks[i % 5];
}

}  // namespace

TEST_CASE("truncated checkpoints always fail with vrwkv::error") {
    for (const std::string name : {"pth_tricky.pth", "vrwkv_mini.pth"}) {
        INFO(name);
        const bytes_t file = read_file_bytes(data_path(name));
        const tensor_archive reference = parse_pth(file.data(), file.size());
        std::vector<std::size_t> cuts;
        if (file.size() < 16384) {
            for (std::size_t n = 0; n < file.size(); ++n) cuts.push_back(n);
        } else {
            for (std::size_t n = 0; n < 64; ++n) cuts.push_back(n);
            for (std::size_t n = 1; n <= 1024; ++n) cuts.push_back(file.size() - n);
            for (std::size_t k = 1; k < 128; ++k) cuts.push_back(file.size() * k / 128);
        }
        tally t;
        for (std::size_t n : cuts) {
            const bytes_t cut(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n));
            const outcome o = load(cut, reference);
            t.add(o);
            if (o != outcome::error) FAIL_CHECK("a truncation to " << n << " bytes loaded");
        }
        CHECK(t.errors == cuts.size());
        bytes_t longer = file;
        longer.push_back(0);
        CHECK(load(longer, reference) == outcome::error);  // trailing junk hides the end record
    }
}

TEST_CASE("flipped bytes in zip headers, directory, end records and payload: error or the identical tensors") {
    // pth_tricky: every byte outside the payloads, every 7th inside.
    // vrwkv_mini: the first local header, the data descriptor and header
    // after it, the last directory records with the ZIP64 and classic end
    // records, and a sample of payload bytes.
    for (const std::string name : {"pth_tricky.pth", "vrwkv_mini.pth"}) {
        INFO(name);
        const bytes_t file = read_file_bytes(data_path(name));
        const tensor_archive reference = parse_pth(file.data(), file.size());
        const layout l = layout_of(file);
        std::vector<std::size_t> offsets;
        if (file.size() < 16384) {
            for (std::size_t i = 0; i < file.size(); ++i)
                if (!l.in_payload(i) || i % 7 == 0) offsets.push_back(i);
        } else {
            const std::uint64_t first_payload_end = l.payloads.front().second;
            for (std::size_t i = 0; i < l.payloads.front().first + 64; ++i) offsets.push_back(i);
            for (std::size_t i = first_payload_end; i < first_payload_end + 96; ++i) offsets.push_back(i);
            for (std::size_t i = file.size() - 512; i < file.size(); ++i) offsets.push_back(i);
            for (std::size_t i = 97; i < file.size(); i += 16411) offsets.push_back(i);
        }
        tally t;
        std::size_t payload_flips = 0;
        bytes_t bad = file;
        for (std::size_t k = 0; k < offsets.size(); ++k) {
            const std::size_t i = offsets[k];
            bad[i] ^= mask_for(k);
            const outcome o = load(bad, reference);
            bad[i] ^= mask_for(k);
            t.add(o);
            const bool in_payload = l.in_payload(i);
            payload_flips += in_payload;
            if (o == outcome::different) FAIL_CHECK("flipping byte " << i << " loaded different tensors");
            if (in_payload && o != outcome::error) FAIL_CHECK("flipping payload byte " << i << " escaped the CRC");
        }
        MESSAGE(name << ": " << t.total() << " flips (" << payload_flips << " in payloads): " << t.errors
                     << " errors, " << t.same << " loaded unchanged (fields the reader ignores)");
        CHECK(t.errors > t.total() / 2);
    }
}

TEST_CASE("flipped and truncated pickle streams (re-zipped with valid CRCs) give vrwkv::error or a load") {
    const bytes_t file = read_file_bytes(data_path("pth_tricky.pth"));
    const tensor_archive reference = parse_pth(file.data(), file.size());
    std::vector<std::pair<std::string, bytes_t>> files = entries_of(file);
    const std::string pkl_name = layout_of(file).pickle_name;
    std::size_t pkl_index = 0;
    while (files[pkl_index].first != pkl_name) ++pkl_index;
    const bytes_t pkl = files[pkl_index].second;

    tally t;
    for (std::size_t i = 0; i < pkl.size(); ++i) {
        files[pkl_index].second = pkl;
        files[pkl_index].second[i] ^= mask_for(i);
        t.add(load(zip::write_stored(files), reference));
    }
    for (std::size_t n = 0; n < pkl.size(); n += 3) {
        files[pkl_index].second.assign(pkl.begin(), pkl.begin() + static_cast<std::ptrdiff_t>(n));
        CHECK(load(zip::write_stored(files), reference) == outcome::error);
    }
    MESSAGE("pth_tricky data.pkl: " << t.total() << " flips: " << t.errors << " errors, " << t.same
                                    << " unchanged, " << t.different << " loaded other tensors or values");
    CHECK(t.errors > 0);
    CHECK(t.same + t.different > 0);  // e.g. flips inside meta values still load

    // The published checkpoint's stream: through the pickle machine and the
    // JSON rendering (the storages are the same megabyte every time).
    const bytes_t mini = read_file_bytes(data_path("vrwkv_mini.pth"));
    const zip::archive z(mini.data(), mini.size());
    const zip::byte_span s = z.read(layout_of(mini).pickle_name);
    const bytes_t stream(s.data, s.data + s.size);
    std::size_t parsed = 0;
    std::size_t flips = 0;
    bytes_t bad = stream;
    for (std::size_t i = 0; i < stream.size(); i += 5, ++flips) {
        bad[i] ^= mask_for(i);
        try {
            const pickle::document doc = pickle::unpickle(bad.data(), bad.size(), "fuzz");
            CHECK(pickle::to_json(doc.root()).size() < (4u << 20));
            ++parsed;
        } catch (const error&) {
        }
        bad[i] ^= mask_for(i);
    }
    MESSAGE("vrwkv_mini data.pkl: " << flips << " flips, " << parsed << " still parse");
}

TEST_CASE("random opcode streams never crash the pickle machine") {
    std::mt19937 rng(20240303);  // fixed seed: the same streams on every run
    auto pick = [&rng](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    static const std::uint8_t plain[] = {'(', '0', '1', '2', 'N', 0x88, 0x89, ')', 't', 0x85, 0x86, 0x87, ']', 'l', 'a',
                                         'e', '}', 'd', 's', 'u', 'R', 'b', 'Q', 0x81, 0x8f, 0x90, 0x91, 0x93, 0x94, 0x92};
    static const char* const texts[] = {"storage", "0", "1", "cpu", "w", "state_dict", "meta", "FloatStorage"};
    static const char* const globals[] = {"torch._utils\n_rebuild_tensor_v2\n", "collections\nOrderedDict\n",
                                          "torch\nFloatStorage\n", "torch\nHalfStorage\n", "torch\nSize\n",
                                          "builtins\nset\n", "torch._utils\n_rebuild_parameter\n", "x\ny\n"};
    std::size_t parsed = 0, loaded = 0;
    for (int round = 0; round < 3000; ++round) {
        bytes_t s{0x80, 2};
        const std::size_t ops = 1 + pick(120);
        for (std::size_t k = 0; k < ops; ++k) {
            switch (pick(8)) {
                case 0: s.push_back('K'), s.push_back(static_cast<std::uint8_t>(pick(8))); break;
                case 1: s.push_back(pick(2) ? 'q' : 'h'), s.push_back(static_cast<std::uint8_t>(pick(4))); break;
                case 2: {
                    const std::string t = texts[pick(8)];
                    s.push_back(0x8c), s.push_back(static_cast<std::uint8_t>(t.size()));
                    s.insert(s.end(), t.begin(), t.end());
                    break;
                }
                case 3: {
                    const std::string g = globals[pick(8)];
                    s.push_back('c');
                    s.insert(s.end(), g.begin(), g.end());
                    break;
                }
                case 4: s.push_back(static_cast<std::uint8_t>(rng())); break;  // any byte at all
                default: s.push_back(plain[pick(sizeof plain)]); break;
            }
        }
        s.push_back('.');
        try {
            const pickle::document doc = pickle::unpickle(s.data(), s.size(), "fuzz");
            CHECK(pickle::to_json(doc.root()).size() < (4u << 20));
            ++parsed;
        } catch (const error&) {
        }
        // The same stream as a checkpoint with a small storage "0".
        const bytes_t archive = zip::write_stored({{"f/data.pkl", s}, {"f/data/0", bytes_t(16, 0x3f)}});
        try {
            parse_pth(archive.data(), archive.size(), "fuzz");
            ++loaded;
        } catch (const error&) {
        }
    }
    MESSAGE("3000 random streams: " << parsed << " parse, " << loaded << " load as checkpoints");
    CHECK(parsed > 0);
}
