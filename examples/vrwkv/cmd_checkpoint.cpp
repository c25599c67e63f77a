// vrwkv info and vrwkv convert: inspect a checkpoint, or re-save it as safetensors.
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "model_cli.hpp"
#include "vrwkv/io/safetensors.hpp"

namespace vrwkv::cli {

int info_command(const std::vector<std::string>& argv) {
    const args a(argv, {"mode", "img-size"}, {"post-norm"});
    require(a.positional().size() == 1, "usage: vrwkv info M.pth|M.safetensors [--post-norm]");
    const std::string path = a.positional()[0];
    const tensor_archive ckpt = load_checkpoint(path);
    const model_config c = infer_config(ckpt, load_options_from(a));
    std::cout << path << "\n  architecture: " << describe(c) << "\n  config: " << c.to_json()
              << "\n  parameters: " << parameter_count(ckpt) << " in " << ckpt.tensors.size() << " tensors\n";
    if (!ckpt.metadata.count("config"))
        std::cout << "  note: no `config` metadata; post_norm cannot be inferred from weights (now "
                  << (c.post_norm ? "on" : "off") << ", set with --post-norm)\n";
    std::size_t width = 0;
    for (const auto& [name, t] : ckpt.tensors) width = std::max(width, name.size());
    for (const auto& [name, t] : ckpt.tensors)
        std::cout << "  " << std::left << std::setw(static_cast<int>(width)) << name << "  " << std::setw(4)
                  << dtype_name(t.type) << "  " << t.shape_str() << "\n";
    return 0;
}

int convert_command(const std::vector<std::string>& argv) {
    const args a(argv, {"mode", "img-size"}, {"post-norm"});
    require(a.positional().size() == 2, "usage: vrwkv convert M.pth M.safetensors [--post-norm]");
    tensor_archive ckpt = load_checkpoint(a.positional()[0]);
    const model_config c = infer_config(ckpt, load_options_from(a));
    ckpt.metadata["config"] = c.to_json();
    ckpt.metadata["format"] = "pt";
    save_safetensors(a.positional()[1], ckpt);
    std::cout << "vrwkv convert: " << describe(c) << ", " << ckpt.tensors.size() << " tensors, "
              << parameter_count(ckpt) << " parameters; wrote " << a.positional()[1] << "\n";
    return 0;
}

}  // namespace vrwkv::cli
