#pragma once
// Shared by the Bi-WKV vs attention benchmarks (CPU and CUDA): a reporter that
// keeps names as registered and collects seconds per call, and argv flags.
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

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

}  // namespace vrwkv::bench
