#pragma once
// Shared by the Bi-WKV vs attention benchmarks (CPU and CUDA): a reporter that
// keeps names as registered and collects seconds per call, argv flags, and the
// --dtype dispatch.
#include <benchmark/benchmark.h>

#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "vrwkv/core/half.hpp"

namespace vrwkv::bench {

// Forwards to another reporter with names as registered (Google Benchmark
// appends "/real_time" or "/manual_time"; names stay "op/T:<T>/C:<C>") and
// keeps each benchmark's seconds per call.
class collecting_reporter : public benchmark::BenchmarkReporter {
public:
    explicit collecting_reporter(std::unique_ptr<benchmark::BenchmarkReporter> inner) : inner_(std::move(inner)) {}
    bool ReportContext(const Context& context) override { return follow_streams().ReportContext(context); }
    void ReportRuns(const std::vector<Run>& runs) override {
        std::vector<Run> renamed = runs;
        for (Run& r : renamed) {
            r.run_name.time_type.clear();
            if (r.run_type != Run::RT_Iteration || r.error_occurred || r.iterations <= 0) continue;
            // With --benchmark_repetitions: the fastest repetition, least disturbed by other load.
            const double s = r.real_accumulated_time / static_cast<double>(r.iterations);
            const auto it = seconds.find(r.benchmark_name());
            if (it == seconds.end() || s < it->second) seconds[r.benchmark_name()] = s;
        }
        follow_streams().ReportRuns(renamed);
    }
    void Finalize() override { follow_streams().Finalize(); }

    std::map<std::string, double> seconds;

private:
    // The library points this reporter at its streams (a --benchmark_out file,
    // say) through non-virtual setters: pass them on before each report.
    benchmark::BenchmarkReporter& follow_streams() {
        inner_->SetOutputStream(&GetOutputStream());
        inner_->SetErrorStream(&GetErrorStream());
        return *inner_;
    }

    std::unique_ptr<benchmark::BenchmarkReporter> inner_;
};

std::unique_ptr<benchmark::BenchmarkReporter> make_reporter(const std::string& format) {
    if (format == "json") return std::make_unique<benchmark::JSONReporter>();
    if (format != "console") throw std::invalid_argument("output format '" + format + "' (expected console or json)");
    return std::make_unique<benchmark::ConsoleReporter>(benchmark::ConsoleReporter::OO_Tabular);
}

// Removes "--name=value" from argv; returns value or `fallback`.
std::string take_flag(int& argc, char** argv, const std::string& name, const std::string& fallback) {
    const std::string prefix = "--" + name + "=";
    std::string value = fallback;
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0)
            value = argv[i] + prefix.size();
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    return value;
}

// The name every benchmark of these programs carries: "op/T:<T>/C:<C>".
inline std::string bench_name(const std::string& op, long long t, long long c) {
    return op + "/T:" + std::to_string(t) + "/C:" + std::to_string(c);
}

// Value of "--name=value" in argv (left in place for Google Benchmark), or `fallback`.
inline std::string peek_flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
    const std::string prefix = "--" + name + "=";
    std::string value = fallback;
    for (int i = 1; i < argc; ++i)
        if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) value = argv[i] + prefix.size();
    return value;
}

// Initialises Google Benchmark, calls `context()` (custom context lines),
// runs the registered benchmarks through collecting reporters (console or
// json, plus a --benchmark_out file) and fills `seconds` per benchmark.
// Returns the exit code: 0, 1 when nothing ran or flags were unknown, 2 for
// an unsupported output format. `console` tells where ratio tables belong.
template <class Context>
int run_collecting(int& argc, char** argv, Context&& context, std::map<std::string, double>& seconds, bool& console) {
    const std::string format = peek_flag(argc, argv, "benchmark_format", "console");
    const std::string out_file = peek_flag(argc, argv, "benchmark_out", "");
    const std::string out_format = peek_flag(argc, argv, "benchmark_out_format", "json");
    console = format == "console";
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    context();
    std::size_t ran = 0;
    try {
        collecting_reporter reporter(make_reporter(format));
        if (out_file.empty()) {
            ran = benchmark::RunSpecifiedBenchmarks(&reporter);
        } else {
            collecting_reporter file_reporter(make_reporter(out_format));
            ran = benchmark::RunSpecifiedBenchmarks(&reporter, &file_reporter);
        }
        seconds = reporter.seconds;
    } catch (const std::invalid_argument& e) {
        std::cerr << "unsupported " << e.what() << "\n";
        return 2;
    }
    benchmark::Shutdown();
    return ran == 0 ? 1 : 0;  // a filter that matches nothing is a mistake (the library said so)
}

// Calls f(type_tag<T>{}) for the storage type named by `dtype` (float, half
// or bf16); false, with a message on stderr, for any other name.
template <class T>
struct type_tag {
    using type = T;
};
template <class F>
bool with_dtype(const std::string& dtype, F&& f) {
    if (dtype == "float")
        f(type_tag<float>{});
    else if (dtype == "half")
        f(type_tag<vrwkv::half>{});
    else if (dtype == "bf16")
        f(type_tag<vrwkv::bfloat16>{});
    else {
        std::cerr << "unknown --dtype=" << dtype << " (expected float, half or bf16)\n";
        return false;
    }
    return true;
}

}  // namespace vrwkv::bench
