#pragma once
// Subcommands of the vrwkv program; each returns the process exit code.
#include <string>
#include <vector>

namespace vrwkv::cli {

int run_command(const std::vector<std::string>& args);      // vrwkv run
int op_command(const std::vector<std::string>& args);       // vrwkv op biwkv
int info_command(const std::vector<std::string>& args);     // vrwkv info
int convert_command(const std::vector<std::string>& args);  // vrwkv convert
int classify_command(const std::vector<std::string>& args); // vrwkv classify
int demo_command(const std::vector<std::string>& args);     // vrwkv demo

}  // namespace vrwkv::cli
