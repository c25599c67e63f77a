// The vrwkv command end to end: exit codes, messages and written outputs.
#include "test_support.hpp"

#include <array>
#include <fstream>
#include <cstdio>
#include <sys/wait.h>

using namespace vrwkv;
using vrwkv::testing::data_path;

namespace {

struct result {
    int code;
    std::string output;  // stdout and stderr
};

result vrwkv_cli(const std::string& arguments) {
    const std::string cmd = std::string(VRWKV_CLI_PATH) + " " + arguments + " 2>&1";
    FILE* pipe = popen(cmd.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string out;
    std::array<char, 4096> buf{};
    while (fgets(buf.data(), static_cast<int>(buf.size()), pipe)) out += buf.data();
    const int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string scratch(const std::string& name) { return std::string(VRWKV_TEST_SCRATCH_DIR) + "/" + name; }

}  // namespace

TEST_CASE("vrwkv run reproduces vrwkv_mini in float and double") {
    const std::string io = data_path("vrwkv_mini.io.safetensors");
    const tensor_archive ref = load_safetensors(io);
    for (const std::string dtype : {"float", "double"}) {
        CAPTURE(dtype);
        const std::string out = scratch("run_" + dtype + ".safetensors");
        const result r = vrwkv_cli("run --checkpoint " + data_path("vrwkv_mini.safetensors") + " --input " + io +
                                   " --output " + out + " --dtype " + dtype + " --all-layers --threads 2");
        INFO(r.output);
        REQUIRE(r.code == 0);
        CHECK(r.output.find("logits (2, 10)") != std::string::npos);
        const tensor_archive got = load_safetensors(out);
        const double tol = dtype == "float" ? 1e-4 : 1e-9;
        CHECK(got.at("logits").type == (dtype == "float" ? dtype::f32 : dtype::f64));
        CHECK(vrwkv::testing::max_abs_diff(got.get<double>("logits").data(), ref.at("logits_ref")) < tol);
        CHECK(vrwkv::testing::max_abs_diff(got.get<double>("features").data(), ref.at("features_ref")) < tol);
        for (int i = 0; i < 4; ++i)
            CHECK(vrwkv::testing::max_abs_diff(got.get<double>("layer" + std::to_string(i)).data(),
                                               ref.at("layer" + std::to_string(i) + "_ref")) < (dtype == "float" ? 1e-4 : 1e-6));
    }
}

TEST_CASE("vrwkv run loads .pth checkpoints like safetensors") {
    const std::string io = data_path("vrwkv6_mini.io.safetensors");
    const std::string out = scratch("run_pth.safetensors");
    const result r = vrwkv_cli("run --checkpoint " + data_path("vrwkv6_mini.pth") + " --input " + io + " --output " + out);
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(vrwkv::testing::max_abs_diff(load_safetensors(out).get<double>("logits").data(),
                                       load_safetensors(io).at("logits_ref")) < 1e-4);
}

TEST_CASE("vrwkv op biwkv writes every case, exact and compat") {
    const std::string cases = data_path("biwkv_cases.safetensors");
    const tensor_archive ref = load_safetensors(cases);
    for (const std::string mode : {"exact", "compat"}) {
        const std::string out = scratch("op_" + mode + ".safetensors");
        const result r = vrwkv_cli("op biwkv --input " + cases + " --output " + out + " --mode " + mode);
        INFO(r.output);
        REQUIRE(r.code == 0);
        CHECK(r.output.find("6 case(s)") != std::string::npos);
        const tensor_archive got = load_safetensors(out);
        for (const char* name : {"t196_c192", "t1024_c64", "t50_c32", "t7_c40", "t1_c32", "t196_c64_bigk"}) {
            CAPTURE(name);
            const std::string key = std::string(name) + (mode == "exact" ? ".y_ref" : ".y_official_v1_math");
            CHECK(vrwkv::testing::max_abs_diff(got.get<double>(std::string(name) + ".y").data(), ref.at(key)) < 1e-4);
        }
    }
}

TEST_CASE("vrwkv info and convert") {
    const result info = vrwkv_cli("info " + data_path("vrwkv_mini.pth"));
    INFO(info.output);
    REQUIRE(info.code == 0);
    CHECK(info.output.find("VRWKV (C=64, depth 4") != std::string::npos);
    CHECK(info.output.find("backbone.layers.3.ffn.value.weight") != std::string::npos);
    const std::string out = scratch("converted.safetensors");
    const result conv = vrwkv_cli("convert " + data_path("vrwkv_mini.pth") + " " + out);
    INFO(conv.output);
    REQUIRE(conv.code == 0);
    const tensor_archive a = load_safetensors(out), b = load_safetensors(data_path("vrwkv_mini.safetensors"));
    CHECK(a.metadata.count("config") == 1);
    for (const auto& [name, t] : b.tensors) CHECK(a.at(name).bytes == t.bytes);
}

TEST_CASE("bad input gives a clear message and exit code 1") {
    const std::string ckpt = data_path("vrwkv_mini.safetensors");
    result r = vrwkv_cli("run --checkpoint /nonexistent.safetensors --input x --output y");
    CHECK(r.code == 1);
    CHECK(r.output.find("cannot open") != std::string::npos);
    r = vrwkv_cli("run --checkpoint " + ckpt + " --input " + data_path("biwkv_cases.safetensors") + " --output " +
                  scratch("x.safetensors"));
    CHECK(r.code == 1);
    CHECK(r.output.find("missing tensor 'input'") != std::string::npos);
    r = vrwkv_cli("run --checkpoint " + data_path("sample_333x500.png") + " --input x --output y");
    CHECK(r.code == 1);
    r = vrwkv_cli("run --checkpoint " + ckpt + " --frobnicate");
    CHECK(r.code == 1);
    CHECK(r.output.find("unknown option --frobnicate") != std::string::npos);
    r = vrwkv_cli("run --checkpoint " + ckpt + " --input x --output y --dtype int8");
    CHECK(r.code == 1);
    CHECK(r.output.find("is not one of") != std::string::npos);
    r = vrwkv_cli("op biwkv --input " + data_path("vrwkv_mini.io.safetensors") + " --output " + scratch("y.safetensors"));
    CHECK(r.code == 1);
    CHECK(r.output.find("no Bi-WKV case") != std::string::npos);
    r = vrwkv_cli("nonsense");
    CHECK(r.code == 2);
}

TEST_CASE("vrwkv classify reproduces the published pipeline's logits for vrwkv_t") {
    const std::string pth = vrwkv::testing::shared_fixture("vrwkv_t.pth");
    const std::string ref = vrwkv::testing::shared_fixture("vrwkv_t.sample.safetensors");
    if (!vrwkv::testing::file_exists(pth)) {
        MESSAGE("skipped: " << pth << " not present");
        return;
    }
    const std::string out = scratch("classify.safetensors");
    const result r = vrwkv_cli("classify --checkpoint " + pth + " --image " + data_path("sample_333x500.png") +
                               " --topk 3 --output " + out);
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(r.output.find("1. class") != std::string::npos);
    CHECK(vrwkv::testing::max_abs_diff(load_safetensors(out).get<double>("logits").data(),
                                       load_safetensors(ref).at("logits_ref")) < 1e-4);
}

TEST_CASE("vrwkv classify: undecodable images give a clear error and exit code 1") {
    const std::string garbage = scratch("garbage.png"), truncated = scratch("truncated.png");
    {
        std::ofstream(garbage) << "this is not an image";
        const auto png = read_file_bytes(data_path("sample_333x500.png"));
        std::ofstream t(truncated, std::ios::binary);
        t.write(reinterpret_cast<const char*>(png.data()), 5000);
    }
    for (const std::string& f : {garbage, truncated}) {
        const result r = vrwkv_cli("classify --checkpoint " + data_path("vrwkv_mini.safetensors") + " --image " + f);
        INFO(r.output);
        CHECK(r.code == 1);
        CHECK(r.output.find(f) != std::string::npos);
    }
    const result batch = vrwkv_cli("classify --checkpoint " + data_path("vrwkv_mini.safetensors") + " --image " +
                                   data_path("sample_333x500.png") + " --image " + data_path("sample_333x500.png"));
    INFO(batch.output);
    CHECK(batch.code == 0);
    CHECK(batch.output.find("2 image(s)") != std::string::npos);
}
