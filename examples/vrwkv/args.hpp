#pragma once
// Minimal command-line parsing for the vrwkv command: --name value options,
// --flag switches and positional arguments; unknown options are errors.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "vrwkv/core/error.hpp"

namespace vrwkv::cli {

class args {
public:
    // `options` take a value, `flags` do not.
    args(const std::vector<std::string>& argv, std::set<std::string> options, std::set<std::string> flags) {
        for (std::size_t i = 0; i < argv.size(); ++i) {
            const std::string& a = argv[i];
            if (a.rfind("--", 0) != 0 || a == "--") {
                positional_.push_back(a);
                continue;
            }
            std::string name = a.substr(2), value;
            const auto eq = name.find('=');
            const bool inline_value = eq != std::string::npos;
            if (inline_value) value = name.substr(eq + 1), name = name.substr(0, eq);
            if (flags.count(name)) {
                require(!inline_value, "option --" + name + " takes no value");
                flags_.insert(name);
            } else if (options.count(name)) {
                if (!inline_value) {
                    require(i + 1 < argv.size(), "option --" + name + " needs a value");
                    value = argv[++i];
                }
                values_[name].push_back(value);
            } else {
                throw error("unknown option --" + name);
            }
        }
    }

    bool flag(const std::string& name) const { return flags_.count(name) != 0; }
    bool has(const std::string& name) const { return values_.count(name) != 0; }
    std::string get(const std::string& name, const std::string& fallback) const {
        auto it = values_.find(name);
        return it == values_.end() ? fallback : it->second.back();
    }
    std::string required(const std::string& name) const {
        auto it = values_.find(name);
        require(it != values_.end(), "missing required option --" + name);
        return it->second.back();
    }
    const std::vector<std::string>& all(const std::string& name) const {
        static const std::vector<std::string> none;
        auto it = values_.find(name);
        return it == values_.end() ? none : it->second;
    }
    int integer(const std::string& name, int fallback) const {
        if (!has(name)) return fallback;
        const std::string v = get(name, "");
        try {
            std::size_t used = 0;
            const int n = std::stoi(v, &used);
            require(used == v.size(), "");
            return n;
        } catch (...) {
            throw error("option --" + name + " expects an integer, got '" + v + "'");
        }
    }
    double number(const std::string& name, double fallback) const {
        if (!has(name)) return fallback;
        const std::string v = get(name, "");
        try {
            std::size_t used = 0;
            const double d = std::stod(v, &used);
            require(used == v.size(), "");
            return d;
        } catch (...) {
            throw error("option --" + name + " expects a number, got '" + v + "'");
        }
    }
    const std::vector<std::string>& positional() const { return positional_; }

private:
    std::map<std::string, std::vector<std::string>> values_;
    std::set<std::string> flags_;
    std::vector<std::string> positional_;
};

inline std::string one_of(const std::string& value, const std::vector<std::string>& allowed, const std::string& what) {
    for (const std::string& a : allowed)
        if (a == value) return value;
    std::string list;
    for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
    throw error(what + " '" + value + "' is not one of: " + list);
}

}  // namespace vrwkv::cli
