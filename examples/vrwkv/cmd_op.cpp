// vrwkv op biwkv: Bi-WKV on named cases from a safetensors file.
#include <chrono>
#include <iostream>

#include "args.hpp"
#include "commands.hpp"
#include "gpu_entry.hpp"
#include "vrwkv/vrwkv.hpp"

namespace vrwkv::cli {

namespace {

// Every prefix p with p.w, p.u, p.k and p.v.
std::vector<std::string> biwkv_cases(const tensor_archive& a) {
    std::vector<std::string> names;
    for (const auto& [name, t] : a.tensors) {
        const std::string suffix = ".k";
        if (name.size() > suffix.size() && name.compare(name.size() - 2, 2, suffix) == 0) {
            const std::string prefix = name.substr(0, name.size() - 2);
            if (a.contains(prefix + ".w") && a.contains(prefix + ".u") && a.contains(prefix + ".v"))
                names.push_back(prefix);
        }
    }
    return names;
}

template <class T>
tensor_archive run_cases(const tensor_archive& a, biwkv_mode mode, int threads, double* ms) {
    executor<cpu> ex(threads);
    tensor_archive out;
    double total = 0;
    for (const std::string& name : biwkv_cases(a)) {
        auto w = a.get<T>(name + ".w"), u = a.get<T>(name + ".u");
        auto k = a.get<T>(name + ".k"), v = a.get<T>(name + ".v");
        tensor<T> y(k.dims());
        const auto start = std::chrono::steady_clock::now();
        try {
            biwkv<T, cpu>(ex, w.view(), u.view(), k.view(), v.view(), y.view(), mode);
        } catch (const error& e) {
            throw error("case '" + name + "': " + e.what());
        }
        total += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        out.tensors[name + ".y"] = stored_tensor::from_tensor(y);
    }
    *ms = total;
    return out;
}

tensor_archive run_biwkv_cpu(const tensor_archive& a, biwkv_mode mode, const std::string& dtype, int threads,
                             double* ms) {
    return dtype == "double" ? run_cases<double>(a, mode, threads, ms) : run_cases<float>(a, mode, threads, ms);
}

}  // namespace

int op_command(const std::vector<std::string>& argv) {
    require(!argv.empty() && argv[0] == "biwkv", "usage: vrwkv op biwkv --input CASES.safetensors --output OUT");
    const args a(std::vector<std::string>(argv.begin() + 1, argv.end()),
                 {"input", "output", "mode", "dtype", "device", "threads"}, {});
    const std::string device = one_of(a.get("device", "cpu"), {"cpu", "cuda"}, "--device");
    const std::string dtype = one_of(a.get("dtype", "float"), device == "cpu"
                                                                   ? std::vector<std::string>{"float", "double"}
                                                                   : std::vector<std::string>{"float", "half", "bfloat16", "double"},
                                     "--dtype for device " + device);
    const biwkv_mode mode = biwkv_mode_from_name(a.get("mode", "exact"));
    const std::string output = a.required("output");
    const tensor_archive cases = load_safetensors(a.required("input"));
    require(!biwkv_cases(cases).empty(), "no Bi-WKV case in the input: expected tensors <name>.w, .u, .k, .v");
    double ms = 0;
    const tensor_archive out = device == "cuda" ? run_biwkv_gpu(cases, mode, dtype, &ms)
                                                : run_biwkv_cpu(cases, mode, dtype, a.integer("threads", 0), &ms);
    save_safetensors(output, out);
    std::cout << "vrwkv op biwkv: " << out.tensors.size() << " case(s), " << biwkv_mode_name(mode) << " mode, "
              << device << "/" << dtype << ", " << ms << " ms; wrote " << output << "\n";
    return 0;
}

}  // namespace vrwkv::cli
