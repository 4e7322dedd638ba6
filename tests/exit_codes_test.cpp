// The exit status of `rmvk run --graph both`, `rmvk convert` and `rmvk eval --graph both`, run as
// a script would: 0 match, 1 error, 2 usage, 3 mismatch, 4 not finite. The broken models are
// made here from the bundled one (one NaN in a weight), so no fixture or Python is needed.
#include "app/cli/exit_codes.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "rm/model_loader.hpp"
#include "rm/npy.hpp"
#include "rm/onnx_io.hpp"

namespace fs = std::filesystem;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Result {
    int code = -1;
    std::string out;  // stdout and stderr together
};

Result run_rmvk(const std::string& args) {
    Result r;
    FILE* pipe = popen((std::string(RMVK_BINARY) + " " + args + " 2>&1").c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, pipe)) r.out.append(buf, n);
    const int status = pclose(pipe);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

bool has(const Result& r, const std::string& text) {
    return r.out.find(text) != std::string::npos;
}

// A scratch directory with the bundled model, one with a NaN in a weight, inputs and a tiny
// Fashion-MNIST-shaped test set.
struct Scratch {
    fs::path dir = fs::temp_directory_path() / ("rmvk_exit_codes_" + std::to_string(getpid()));
    std::string good, nan_fc, nan_bn, sample, nan_input, wrong_input, data_dir;

    Scratch() {
        fs::create_directories(dir / "data");
        rm::Graph g = rm::load_model("");
        good = (dir / "good.onnx").string();
        rm::save_onnx(g, good);

        rm::Graph fc = g;
        fc.initializers.at(gemm_weight(fc)).data[3] = kNaN;
        nan_fc = (dir / "nan_fc.onnx").string();
        rm::save_onnx(fc, nan_fc);

        // A NaN in the first BN's running variance: one channel of the first feature map.
        rm::Graph bn = g;
        for (const auto& n : bn.nodes)
            if (n.op == rm::Op::BatchNormalization) {
                bn.initializers.at(n.inputs.at(4)).data[0] = kNaN;
                break;
            }
        nan_bn = (dir / "nan_bn.onnx").string();
        rm::save_onnx(bn, nan_bn);

        sample = std::string(RMVK_TEST_DIR) + "/../assets/samples/sneaker_0.png";
        nan_input = (dir / "nan.npy").string();
        rm::write_npy(nan_input, rm::Tensor({1, 1, 28, 28}, kNaN));
        wrong_input = (dir / "wrong.npy").string();
        rm::write_npy(wrong_input, rm::Tensor({1, 3, 28, 28}, 0.5f));
        data_dir = (dir / "data").string();
        write_test_set();
    }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    static std::string gemm_weight(const rm::Graph& g) {
        for (const auto& n : g.nodes)
            if (n.op == rm::Op::Gemm) return n.inputs.at(1);
        FAIL("the bundled model has no Gemm");
        return "";
    }

    // Four 28x28 images (IDX, gzip), labels 0..3: enough for eval to run both graphs.
    void write_test_set() const {
        auto write = [&](const char* name, uint32_t magic, std::vector<uint32_t> dims,
                         const std::vector<unsigned char>& body) {
            std::vector<unsigned char> b;
            dims.insert(dims.begin(), magic);
            for (uint32_t v : dims)
                for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
            b.insert(b.end(), body.begin(), body.end());
            gzFile f = gzopen((dir / "data" / name).string().c_str(), "wb");
            REQUIRE(f != nullptr);
            gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
            gzclose(f);
        };
        std::vector<unsigned char> pixels(4 * 28 * 28);
        for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i * 7);
        write("t10k-images-idx3-ubyte.gz", 0x803, {4, 28, 28}, pixels);
        write("t10k-labels-idx1-ubyte.gz", 0x801, {4}, {0, 1, 2, 3});
    }
};

const Scratch& scratch() {
    static const Scratch s;
    return s;
}

}  // namespace

TEST_CASE("the documented codes are distinct and each --help states them") {
    using namespace rmvk::cli;
    CHECK(exit_code_for(rm::Verdict::match) == 0);
    CHECK(exit_code_for(rm::Verdict::mismatch) == 3);
    CHECK(exit_code_for(rm::Verdict::not_finite) == 4);
    CHECK(kExitError == 1);
    CHECK(kExitUsage == 2);
    for (const char* cmd : {"run", "convert", "eval"}) {
        CAPTURE(cmd);
        Result r = run_rmvk(std::string(cmd) + " --help");
        CHECK(r.code == 0);
        CHECK(has(r, "exit status:"));
        CHECK(has(r, "3  the residual and plain outputs do not match"));
        CHECK(has(r, "4  an output holds NaN or Inf"));
    }
}

TEST_CASE("rmvk run --graph both: 0 match, 4 NaN in a weight, 1 unreadable, 2 usage") {
    const Scratch& s = scratch();
    Result ok = run_rmvk("run " + s.good + " --input " + s.sample + " --graph both --device cpu");
    CHECK(ok.code == 0);
    CHECK(has(ok, "\noutputs match"));

    Result fc = run_rmvk("run " + s.nan_fc + " --input " + s.sample + " --graph both --device cpu");
    CHECK(fc.code == 4);
    // fc.weight[0][3] feeds logit 0 only.
    CHECK(has(fc,
              "OUTPUTS NOT FINITE: residual output 1 NaN/Inf value, the first (NaN) at "
              "index 0; plain output 1 NaN/Inf value, the first (NaN) at index 0"));
    CHECK_FALSE(has(fc, "outputs match"));

    // One graph alone is not compared: the run itself succeeded.
    CHECK(run_rmvk("run " + s.nan_fc + " --input " + s.sample + " --device cpu").code == 0);

    CHECK(run_rmvk("run " + s.good + " --input " + (s.dir / "missing.npy").string() +
                   " --graph both --device cpu")
              .code == 1);
    CHECK(run_rmvk("run " + s.good + " --input " + s.wrong_input + " --graph both --device cpu")
              .code == 1);
    CHECK(run_rmvk("run " + (s.dir / "missing.onnx").string() + " --input " + s.sample).code == 1);
    CHECK(run_rmvk("run " + s.good + " --input " + s.sample + " --graph neither").code == 2);
    CHECK(run_rmvk("run " + s.good).code == 2);
}

TEST_CASE("rmvk run --graph both on a Vulkan device: NaN in a weight exits 4 there too") {
    const Scratch& s = scratch();
    Result devices = run_rmvk("devices");
    if (devices.code != 0 || !has(devices, "[0]")) {
        MESSAGE("SKIPPED: no Vulkan device");
        return;
    }
    Result ok = run_rmvk("run " + s.good + " --input " + s.sample + " --graph both --device 0");
    CHECK(ok.code == 0);
    Result fc = run_rmvk("run " + s.nan_fc + " --input " + s.sample + " --graph both --device 0");
    CHECK(fc.code == 4);
    CHECK(has(fc, "OUTPUTS NOT FINITE"));
}

TEST_CASE("rmvk convert: its verify exits 4 on a NaN weight (the file is still written)") {
    const Scratch& s = scratch();
    const std::string out = (s.dir / "plain.onnx").string();
    Result ok = run_rmvk("convert " + s.good + " -o " + out);
    CHECK(ok.code == 0);
    CHECK(has(ok, "outputs match"));
    Result fc = run_rmvk("convert " + s.nan_fc + " -o " + out);
    CHECK(fc.code == 4);
    CHECK(has(fc, "OUTPUTS NOT FINITE"));
    CHECK(fs::exists(out));
    CHECK(run_rmvk("convert " + s.nan_fc + " -o " + out + " --no-verify").code == 0);
    CHECK(run_rmvk("convert " + s.good).code == 2);
    CHECK(run_rmvk("convert " + (s.dir / "missing.onnx").string() + " -o " + out).code == 1);
}

TEST_CASE("rmvk eval --graph both: 0 match, 4 NaN in a weight") {
    const Scratch& s = scratch();
    const std::string data = " --data-dir " + s.data_dir + " --batch 3";
    Result ok = run_rmvk("eval " + s.good + " --graph both" + data);
    CHECK(ok.code == 0);
    CHECK(has(ok, "\noutputs match"));
    Result fc = run_rmvk("eval " + s.nan_fc + " --graph both" + data);
    CHECK(fc.code == 4);
    // 4 images x 10 logits; the NaN weight is row 0 of fc: logit 0 of every image.
    CHECK(has(fc, "residual output 4 NaN/Inf values, the first (NaN) at index 0"));
    CHECK(run_rmvk("eval " + s.good + " --graph both --limit 0" + data).code == 2);
}

TEST_CASE(
    "an all-NaN input exits 4, with a warning naming the count; NaN weights are named on "
    "load") {
    const Scratch& s = scratch();
    Result in =
        run_rmvk("run " + s.good + " --input " + s.nan_input + " --graph both --device cpu");
    CHECK(in.code == 4);
    CHECK(has(in, "rmvk run: warning: input '" + s.nan_input +
                      "' holds 784 NaN/Inf values of 784, the first (NaN) at index 0\n"));
    // ReLU keeps NaN (as PyTorch does): every logit is NaN, not a plausible class.
    CHECK(has(in, "residual output 10 NaN/Inf values"));
    CHECK(has(in, "plain output 10 NaN/Inf values"));

    Result fc = run_rmvk("run " + s.nan_fc + " --input " + s.sample + " --device cpu");
    CHECK(has(fc, "rmvk run: warning: initializer '" + Scratch::gemm_weight(rm::load_model("")) +
                      "' (weight of Gemm "));
    CHECK(has(fc, "holds 1 NaN/Inf value of "));

    // A NaN variance reaches the output through ReLU, max-pool and every later layer.
    Result bn = run_rmvk("run " + s.nan_bn + " --input " + s.sample + " --graph both --device cpu");
    CHECK(bn.code == 4);
    CHECK(has(bn, "(variance of BatchNormalization "));
    CHECK(has(bn, "rmvk run: warning: initializer"));
    for (const char* cmd : {"convert", "info", "eval"}) {
        CAPTURE(cmd);
        std::string args = std::string(cmd) + " " + s.nan_fc;
        if (std::string(cmd) == "convert") args += " -o " + (s.dir / "p2.onnx").string();
        if (std::string(cmd) == "eval") args += " --data-dir " + s.data_dir;
        CHECK(has(run_rmvk(args), std::string("rmvk ") + cmd + ": warning: initializer '"));
    }
    // A finite model and input say nothing of the kind.
    CHECK_FALSE(
        has(run_rmvk("run " + s.good + " --input " + s.sample + " --device cpu"), "warning"));
}
