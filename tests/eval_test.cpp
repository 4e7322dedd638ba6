// Fashion-MNIST evaluation: the IDX reader's checks, and rmvk's predictions on the first test
// images against the PyTorch predictions recorded by assets/train_fashion_resnet.py
// (assets/fashion_resnet_first500.txt), for the residual and the plain graph.
#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/fashion_mnist.hpp"
#include "rm/image.hpp"
#include "rm/model_loader.hpp"
#include "rm/rm_transform.hpp"

namespace fs = std::filesystem;

namespace {

// Without the dataset the comparison cannot run: a skip on a developer machine, a failure in CI.
bool dataset_or_skip() {
    if (rm::fashion_mnist_available()) return true;
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true")
        FAIL(
            "Fashion-MNIST test set missing in CI (install the Debian package "
            "dataset-fashion-mnist)");
    MESSAGE("SKIPPED: Fashion-MNIST test set not installed (Debian package dataset-fashion-mnist)");
    return false;
}

struct Reference {
    std::vector<int> label, prediction;
    std::vector<double> margin;  // top-1 minus top-2 logit in PyTorch
    double accuracy = 0;
};

Reference read_reference(const std::string& file = "fashion_resnet_first500.txt") {
    std::ifstream in(rm::asset_dir() + "/" + file);
    REQUIRE(in.good());
    Reference ref;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("# accuracy_first500 ", 0) == 0) ref.accuracy = std::stod(line.substr(20));
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ss(line);
        int index = 0, label = 0, pred = 0;
        double margin = 0;
        ss >> index >> label >> pred >> margin;
        REQUIRE(index == static_cast<int>(ref.label.size()));
        ref.label.push_back(label);
        ref.prediction.push_back(pred);
        ref.margin.push_back(margin);
    }
    REQUIRE(ref.label.size() == 500);
    return ref;
}

std::vector<int> predict(const rm::Graph& g, const rm::LabelledImages& set,
                         const rm::Preprocessing& pre) {
    std::vector<int> out;
    constexpr int64_t kBatch = 100;
    for (int64_t begin = 0; begin < set.count; begin += kBatch) {
        const int64_t n = std::min(kBatch, set.count - begin);
        rm::Tensor x({n, 1, 28, 28});
        for (int64_t i = 0; i < n; ++i) {
            rm::Image img{28, 28, 1, {}};
            auto first = set.pixels.begin() + (begin + i) * 784;
            img.pixels.assign(first, first + 784);
            rm::Tensor one = rm::preprocess(img, pre);
            std::copy(one.data.begin(), one.data.end(), x.data.begin() + i * 784);
        }
        const rm::Tensor y = rm::run_cpu(g, {{g.inputs[0].name, x}}).at(g.outputs[0]);
        for (int64_t i = 0; i < n; ++i)
            out.push_back(static_cast<int>(
                std::max_element(y.ptr() + i * 10, y.ptr() + i * 10 + 10) - (y.ptr() + i * 10)));
    }
    return out;
}

std::string run_command(const std::string& cmd, int& status) {
    std::string out;
    FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    status = pclose(pipe);
    return out;
}

void write_gz(const fs::path& path, const std::vector<unsigned char>& bytes) {
    gzFile f = gzopen(path.string().c_str(), "wb");
    REQUIRE(f != nullptr);
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
}

// An IDX header: magic then dimensions, each big-endian 32-bit.
std::vector<unsigned char> idx_header(uint32_t magic, const std::vector<uint32_t>& dims) {
    std::vector<uint32_t> words{magic};
    words.insert(words.end(), dims.begin(), dims.end());
    std::vector<unsigned char> b;
    for (uint32_t v : words)
        for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
    return b;
}

}  // namespace

TEST_CASE("IDX reader: a tiny valid set, then bad magic, truncation, bad labels, missing package") {
    const fs::path dir = fs::temp_directory_path() / "rmvk_eval_test_idx";
    fs::create_directories(dir);
    auto images = idx_header(0x803, {2, 3, 4});
    for (int i = 0; i < 24; ++i) images.push_back(static_cast<unsigned char>(i * 10));
    auto labels = idx_header(0x801, {2});
    labels.push_back(7);
    labels.push_back(9);
    write_gz(dir / "t10k-images-idx3-ubyte.gz", images);
    write_gz(dir / "t10k-labels-idx1-ubyte.gz", labels);
    rm::LabelledImages set = rm::read_fashion_mnist_test(dir.string());
    CHECK(set.count == 2);
    CHECK(set.rows == 3);
    CHECK(set.cols == 4);
    CHECK(set.pixels[23] == 230);
    CHECK(set.labels == std::vector<uint8_t>{7, 9});
    CHECK(rm::read_fashion_mnist_test(dir.string(), 1).count == 1);

    auto bad_labels = labels;
    bad_labels.back() = 10;
    write_gz(dir / "t10k-labels-idx1-ubyte.gz", bad_labels);
    CHECK_THROWS_AS(rm::read_fashion_mnist_test(dir.string()), rm::Error);

    write_gz(dir / "t10k-labels-idx1-ubyte.gz", idx_header(0x803, {2}));  // wrong magic
    CHECK_THROWS_WITH_AS(rm::read_fashion_mnist_test(dir.string()), doctest::Contains("magic"),
                         rm::Error);

    write_gz(dir / "t10k-labels-idx1-ubyte.gz", labels);
    images.resize(images.size() - 5);
    write_gz(dir / "t10k-images-idx3-ubyte.gz", images);
    CHECK_THROWS_WITH_AS(rm::read_fashion_mnist_test(dir.string()), doctest::Contains("truncated"),
                         rm::Error);

    fs::remove_all(dir);
    CHECK_THROWS_WITH_AS(rm::read_fashion_mnist_test(dir.string()),
                         doctest::Contains("dataset-fashion-mnist"), rm::Error);
    int status = 0;
    const std::string out =
        run_command(std::string(RMVK_BINARY) + " eval --data-dir " + dir.string(), status);
    CHECK(status != 0);
    CHECK(out.find("dataset-fashion-mnist") != std::string::npos);
}

TEST_CASE("first 500 test images: residual and plain agree with PyTorch's predictions") {
    if (!dataset_or_skip()) return;
    // The bundled model, and the sparsity-trained one (its shortcuts carry per-channel Muls).
    std::string model, reference;
    SUBCASE("fashion_resnet.onnx") {
        reference = "fashion_resnet_first500.txt";
    }
    SUBCASE("fashion_resnet_sparse.onnx") {
        model = rm::asset_dir() + "/fashion_resnet_sparse.onnx";
        reference = "fashion_resnet_sparse_first500.txt";
    }
    const Reference ref = read_reference(reference);
    const rm::LabelledImages set = rm::read_fashion_mnist_test(rm::kFashionMnistDir, 500);
    rm::Graph residual = rm::load_model(model);
    const rm::Preprocessing pre = rm::preprocessing_for(residual);
    const rm::Graph plain = rm::rm_transform(residual).plain;
    const auto res = predict(residual, set, pre);
    const auto pln = predict(plain, set, pre);

    int correct_res = 0, correct_plain = 0, near_ties = 0;
    for (size_t i = 0; i < 500; ++i) {
        REQUIRE(set.labels[i] == ref.label[i]);
        correct_res += res[i] == set.labels[i];
        correct_plain += pln[i] == set.labels[i];
        CHECK_MESSAGE(res[i] == pln[i],
                      "image " << i << ": residual " << res[i] << ", plain " << pln[i]);
        // fp32 summation order may flip only a near tie between the two best classes.
        if (ref.margin[i] < 1e-3)
            ++near_ties;
        else
            CHECK_MESSAGE(res[i] == ref.prediction[i], "image " << i << ": rmvk " << res[i]
                                                                << ", PyTorch "
                                                                << ref.prediction[i]);
    }
    MESSAGE("residual " << correct_res << "/500, plain " << correct_plain
                        << "/500, PyTorch recorded " << ref.accuracy * 500 << "/500, near ties "
                        << near_ties);
    CHECK(std::abs(correct_res - ref.accuracy * 500) <= near_ties + 0.01);
    CHECK(correct_plain == correct_res);
}

TEST_CASE(
    "rmvk eval --graph both on the first 100 images prints PyTorch's accuracy for both graphs") {
    if (!dataset_or_skip()) return;
    const Reference ref = read_reference();
    int expected = 0;
    for (size_t i = 0; i < 100; ++i) expected += ref.prediction[i] == ref.label[i];
    int status = 0;
    const std::string out =
        run_command(std::string(RMVK_BINARY) +
                        " eval --dataset fashion-mnist --graph both --limit 100 --batch 50",
                    status);
    INFO(out);
    CHECK(status == 0);
    std::smatch m;
    REQUIRE(std::regex_search(out, m, std::regex(R"(residual: (\d+)/100 correct)")));
    CHECK(std::stoi(m[1]) == expected);
    REQUIRE(std::regex_search(out, m, std::regex(R"(plain: (\d+)/100 correct)")));
    CHECK(std::stoi(m[1]) == expected);
    CHECK(out.find("top-1 differs on 0 images") != std::string::npos);
    CHECK(out.find("outputs match") != std::string::npos);

    // The same 100 images on the Vulkan device (lavapipe in CI): the same counts, no disagreement.
    const std::string gpu = run_command(
        std::string(RMVK_BINARY) + " eval --device 0 --graph both --limit 100 --batch 50", status);
    INFO(gpu);
    CHECK(status == 0);
    REQUIRE(std::regex_search(gpu, m, std::regex(R"(residual: (\d+)/100 correct)")));
    CHECK(std::stoi(m[1]) == expected);
    REQUIRE(std::regex_search(gpu, m, std::regex(R"(plain: (\d+)/100 correct)")));
    CHECK(std::stoi(m[1]) == expected);
    CHECK(gpu.find("top-1 differs on 0 images") != std::string::npos);
    CHECK(gpu.find("(Vulkan") != std::string::npos);
    CHECK(run_command(std::string(RMVK_BINARY) + " eval --device no-such-gpu --limit 1", status)
              .find("no-such-gpu") != std::string::npos);
    CHECK(status != 0);
    CHECK(run_command(std::string(RMVK_BINARY) + " eval --dataset mnist", status)
              .find("fashion-mnist") != std::string::npos);
    CHECK(status != 0);
}
