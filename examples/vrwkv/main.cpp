// The vrwkv command: run encoders and ops from the shell.
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "gpu_entry.hpp"
#include "vrwkv/core/error.hpp"

namespace {

const char* const usage = R"(usage: vrwkv <command> [options]

commands:
  run       --checkpoint M --input IN.safetensors --output OUT.safetensors
            [--dtype float|double|half|bfloat16] [--device cpu|cuda] [--mode exact|compat]
            [--post-norm] [--all-layers] [--threads N] [--img-size N]
  op biwkv  --input CASES.safetensors --output OUT.safetensors [--mode exact|compat]
            [--dtype float|double|half|bfloat16] [--device cpu|cuda]
  info      M.pth|M.safetensors            architecture, parameter count, tensor table
  convert   M.pth M.safetensors            writes the `config` metadata too
  classify  --checkpoint M --image F [--image F2 ...] [--topk 5] [--labels FILE]
            [--device cpu|cuda] [--output OUT.safetensors]
  compare   --checkpoint M --input IN.safetensors [--dtype float|half|bfloat16] [--tolerance X]
  demo      [--checkpoint M] [--size N]    the library at work on a bundled image
)";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        std::cout << usage;
        return argc < 2 ? 2 : 0;
    }
    const std::string command = argv[1];
    const std::vector<std::string> rest(argv + 2, argv + argc);
    try {
        if (command == "run") return vrwkv::cli::run_command(rest);
        if (command == "op") return vrwkv::cli::op_command(rest);
        if (command == "info") return vrwkv::cli::info_command(rest);
        if (command == "convert") return vrwkv::cli::convert_command(rest);
        if (command == "classify") return vrwkv::cli::classify_command(rest);
        if (command == "demo") return vrwkv::cli::demo_command(rest);
        if (command == "compare") return vrwkv::cli::compare_main(argc - 1, argv + 1);
        std::cerr << "vrwkv: unknown command '" << command << "'\n" << usage;
        return 2;
    } catch (const vrwkv::error& e) {
        std::cerr << "vrwkv " << command << ": " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "vrwkv " << command << ": unexpected error: " << e.what() << "\n";
        return 1;
    }
}
