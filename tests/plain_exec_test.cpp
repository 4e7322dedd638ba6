// The Timing tab's plain execution without a window: what a dense timing of the plain graph
// costs in weights, when that is too much to start quietly, and the ratios it shows.
#include "ui/plain_exec.hpp"

#include <doctest/doctest.h>

#include <memory>

#include "rm/conv_structure.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/rm_transform.hpp"

using namespace rmvk::ui;

TEST_CASE("dense and stored weight bytes of structured conv weights") {
    rm::ResNetConfig c;
    c.arch = "resnet50";
    c.input_height = c.input_width = 32;
    c.base_width = 8;
    c.num_classes = 10;
    const rm::Graph plain = rm::rm_transform(rm::build_resnet(c)).plain;
    REQUIRE_FALSE(plain.structured_weights.empty());
    uint64_t dense = 0, stored = 0;
    for (const auto& [name, t] : plain.initializers) dense += uint64_t(t.size()) * 4;
    stored = dense;
    for (const auto& [name, s] : plain.structured_weights) {
        dense += uint64_t(rm::materialise(s).size()) * 4;
        stored += uint64_t(s.stored_values()) * 4;
    }
    CHECK(dense_weight_bytes(plain, 4) == dense);
    CHECK(dense_weight_bytes(plain, 2) == dense / 2);
    CHECK(stored_weight_bytes(plain, 4) == stored);
    CHECK(stored_weight_bytes(plain, 2) == stored / 2);
    // The point of measuring it on demand: dense is much more than what the graph stores.
    CHECK(dense > 2 * stored);

    rm::Graph residual = rm::build_resnet(c);
    uint64_t residual_bytes = 0;
    for (const auto& [name, t] : residual.initializers) residual_bytes += uint64_t(t.size()) * 4;
    CHECK(dense_weight_bytes(residual, 4) == residual_bytes);
}

TEST_CASE("dense weights over a quarter of the machine's memory are heavy") {
    const uint64_t gb = 1000ull * 1000 * 1000;
    CHECK(dense_weights_heavy(3260ull * 1000 * 1000, 8 * gb));  // ResNet-152 on an 8 GB laptop
    CHECK_FALSE(dense_weights_heavy(2 * gb, 8 * gb));
    CHECK(dense_weights_heavy(2 * gb + 1, 8 * gb));
    CHECK_FALSE(dense_weights_heavy(5 * gb, 0));  // unknown memory: no warning
}

TEST_CASE("ratios to the residual time, and none without both times") {
    CHECK(time_ratio_text(102, 100) == "1.02x");
    CHECK(time_ratio_text(645, 100) == "6.45x");
    CHECK(time_ratio_text(0, 100) == "-");
    CHECK(time_ratio_text(10, 0) == "-");
}

TEST_CASE("a timing setup stays the same only while model, image, device and storage do") {
    const auto model = std::make_shared<int>(0), other = std::make_shared<int>(0);
    const TimingSetup a{model, "sneaker.png", "llvmpipe", "fp32"};
    CHECK(a == TimingSetup{model, "sneaker.png", "llvmpipe", "fp32"});
    CHECK_FALSE(a == TimingSetup{other, "sneaker.png", "llvmpipe", "fp32"});
    CHECK_FALSE(a == TimingSetup{model, "shirt.png", "llvmpipe", "fp32"});
    CHECK_FALSE(a == TimingSetup{model, "sneaker.png", "CPU reference", "fp32"});
    CHECK_FALSE(a == TimingSetup{model, "sneaker.png", "llvmpipe", "fp16"});
    CHECK(std::string(plain_exec_name(PlainExec::Dense)) == "dense");
    CHECK(std::string(plain_exec_name(PlainExec::Structured)) == "structured");
}
