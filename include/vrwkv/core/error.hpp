#pragma once
// vrwkv::error: every host-side check (shapes, dtypes, files, CUDA status)
// ends here, so users catch one type.
#include <stdexcept>
#include <string>

namespace vrwkv {

class error : public std::runtime_error {
public:
    explicit error(const std::string& what) : std::runtime_error("vrwkv: " + what) {}
};

// Throws vrwkv::error(message) when `condition` is false. The message is built
// by the caller, so keep this out of per-element loops.
inline void require(bool condition, const std::string& message) {
    if (!condition) throw error(message);
}

}  // namespace vrwkv
