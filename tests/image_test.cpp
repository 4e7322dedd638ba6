// Image preprocessing against torchvision (fixtures from tests/fixtures/preprocess/
// make_preprocess_fixture.py: PIL + torchvision.transforms on committed PNGs).
#include "rm/image.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "rm/error.hpp"
#include "rm/npy.hpp"

namespace {

const std::string kDir = std::string(RMVK_FIXTURE_DIR) + "/preprocess/";

rm::Graph graph_with_input(rm::Shape shape, std::map<std::string, std::string> metadata = {}) {
    rm::Graph g;
    g.inputs.push_back({"input", std::move(shape)});
    g.metadata = std::move(metadata);
    return g;
}

// Largest difference in 8-bit pixel steps after undoing Normalize: x = value * std + mean.
double max_pixel_diff(const rm::Tensor& got, const rm::Tensor& want, const rm::Preprocessing& pre) {
    REQUIRE(got.shape == want.shape);
    const int64_t plane = want.shape[2] * want.shape[3];
    double worst = 0.0;
    for (int64_t i = 0; i < want.size(); ++i) {
        const size_t c = static_cast<size_t>(i / plane % want.shape[1]);
        const double g = got.data[i] * pre.std[c] + pre.mean[c];
        const double w = want.data[i] * pre.std[c] + pre.mean[c];
        worst = std::max(worst, std::abs(g - w) * 255.0);
    }
    return worst;
}

float max_abs_diff(const rm::Tensor& a, const rm::Tensor& b) {
    REQUIRE(a.shape == b.shape);
    float worst = 0.0f;
    for (int64_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a.data[i] - b.data[i]));
    return worst;
}

}  // namespace

// Pillow's bilinear filter is reproduced with its fixed-point arithmetic, so the pixels are
// identical; only float rounding of Normalize remains (tolerance: 1e-3 of an 8-bit step).
constexpr double kPixelTolerance = 1e-3;

TEST_CASE("ImageNet defaults match Resize(256) + CenterCrop(224) + Normalize (downscaling)") {
    rm::Graph g = graph_with_input({-1, 3, 224, 224});
    rm::Preprocessing pre = rm::preprocessing_for(g);
    CHECK(pre.channels == 3);
    CHECK(pre.resize_shorter == 256);
    rm::Tensor got = rm::preprocess(rm::read_image(kDir + "rgb_400x300.png"), pre);
    rm::Tensor want = rm::read_npy(kDir + "imagenet_224_from_400x300.npy");
    const double diff = max_pixel_diff(got, want, pre);
    MESSAGE("max difference: " << diff << " / 255");
    CHECK(diff <= kPixelTolerance);
    CHECK(max_abs_diff(got, want) < 1e-5f);
}

TEST_CASE("ImageNet defaults scale with the input size (64x64: Resize(73), upscaling)") {
    rm::Graph g = graph_with_input({1, 3, 64, 64});
    rm::Preprocessing pre = rm::preprocessing_for(g);
    CHECK(pre.resize_shorter == 73);
    rm::Tensor got = rm::preprocess(rm::read_image(kDir + "rgb_120x90.png"), pre);
    rm::Tensor want = rm::read_npy(kDir + "imagenet_64_from_120x90.npy");
    CHECK(max_pixel_diff(got, want, pre) <= kPixelTolerance);
}

TEST_CASE("a 1x100001 image: only the centre crop is resized, so it is neither refused nor slow") {
    // Resize(256) makes it 256 x 25.6 million; the 224x224 centre crop sees only the middle of
    // the strip, which is white while the rest is black.
    rm::Image strip{1, 100001, 1, std::vector<unsigned char>(100001, 0)};
    std::fill(strip.pixels.begin() + 49990, strip.pixels.begin() + 50011, 255);
    rm::Preprocessing pre = rm::preprocessing_for(graph_with_input({1, 3, 224, 224}));
    rm::Tensor t = rm::preprocess(strip, pre);
    REQUIRE(t.shape == rm::Shape{1, 3, 224, 224});
    for (int64_t c = 0; c < 3; ++c) {
        const float white =
            (1.0f - pre.mean[static_cast<size_t>(c)]) / pre.std[static_cast<size_t>(c)];
        const float* p = t.ptr() + c * 224 * 224;
        CHECK(*std::min_element(p, p + 224 * 224) == white);
        CHECK(*std::max_element(p, p + 224 * 224) == white);
    }
}

TEST_CASE("1-channel model without metadata: luma, plain resize to 28x28, [0, 1]") {
    rm::Graph g = graph_with_input({-1, 1, 28, 28});
    rm::Preprocessing pre = rm::preprocessing_for(g);
    CHECK(pre.resize_shorter == 0);
    CHECK(pre.mean == std::vector<float>{0.0f});
    CHECK(pre.std == std::vector<float>{1.0f});
    rm::Tensor got = rm::preprocess(rm::read_image(kDir + "rgb_400x300.png"), pre);
    rm::Tensor want = rm::read_npy(kDir + "gray_28_from_400x300.npy");
    CHECK(max_pixel_diff(got, want, pre) <= kPixelTolerance);
}

TEST_CASE("bundled model metadata: 28x28 grayscale PNG, no resize, Fashion-MNIST mean/std, exact") {
    rm::Graph g = graph_with_input({-1, 1, 28, 28}, {{"rmvk.mean", "0.2860"},
                                                     {"rmvk.std", "0.3530"},
                                                     {"rmvk.input_size", "28x28"},
                                                     {"rmvk.grayscale", "1"},
                                                     {"rmvk.resize_shorter", "0"}});
    rm::Preprocessing pre = rm::preprocessing_for(g);
    CHECK(pre.mean == std::vector<float>{0.2860f});
    CHECK(pre.std == std::vector<float>{0.3530f});
    rm::Image img = rm::read_image(kDir + "sneaker_0.png");
    CHECK(img.width == 28);
    CHECK(img.channels == 1);
    rm::Tensor got = rm::preprocess(img, pre);
    rm::Tensor want = rm::read_npy(kDir + "fashion_28_from_sneaker_0.npy");
    CHECK(max_abs_diff(got, want) == 0.0f);
}

TEST_CASE("channel conversion: gray replicated to RGB, RGB to Pillow's luma") {
    rm::Preprocessing pre;
    pre.channels = 3;
    pre.height = pre.width = 2;
    pre.resize_shorter = 0;
    pre.mean = {0, 0, 0};
    pre.std = {1, 1, 1};
    rm::Image gray{2, 2, 1, {0, 51, 102, 255}};
    rm::Tensor t = rm::preprocess(gray, pre);
    for (int c = 0; c < 3; ++c) CHECK(t.data[c * 4 + 1] == doctest::Approx(0.2f));

    pre.channels = 1;
    pre.mean = {0};
    pre.std = {1};
    // (R*19595 + G*38470 + B*7471 + 32768) >> 16, as Pillow's convert("L").
    rm::Image rgba{2, 1, 4, {255, 0, 0, 7, 10, 200, 30, 255}};
    pre.height = 1;
    t = rm::preprocess(rgba, pre);
    CHECK(t.data[0] == doctest::Approx(76.0f / 255.0f));
    CHECK(t.data[1] == doctest::Approx(124.0f / 255.0f));
}

TEST_CASE("class labels: metadata, bundled ImageNet list, numbered fallback") {
    rm::Graph g = graph_with_input({1, 1, 28, 28}, {{"rmvk.labels", "cat\ndog"}});
    CHECK(rm::class_labels(g, 2) == std::vector<std::string>{"cat", "dog"});
    CHECK(rm::class_labels(g, 3)[2] == "class 2");
    rm::Graph plain = graph_with_input({1, 3, 224, 224});
    auto imagenet = rm::class_labels(plain, 1000);
    REQUIRE(imagenet.size() == 1000);
    CHECK(imagenet[0] == "tench");
    CHECK(imagenet[999] == "toilet tissue");
    CHECK(rm::class_labels(plain, 10)[7] == "class 7");
}

TEST_CASE("bad input: clear errors, no crash") {
    CHECK_THROWS_AS(rm::read_image(kDir + "does_not_exist.png"), rm::Error);
    const std::string junk =
        (std::filesystem::temp_directory_path() / "rmvk_image_test_junk.png").string();
    { std::ofstream(junk) << "not an image at all"; }
    CHECK_THROWS_AS(rm::read_image(junk), rm::Error);
    std::filesystem::remove(junk);
    // 35 bytes that claim a 20000x20000 TGA: refused from the header, not decoded into 1.2 GB.
    CHECK_THROWS_WITH_AS(rm::read_image(std::string(RMVK_TEST_DIR) +
                                        "/fuzz/regressions/image/tga_20000x20000_in_35_bytes.tga"),
                         doctest::Contains("20000x20000 image is larger than rmvk reads"),
                         rm::Error);
    CHECK_THROWS_AS(rm::preprocessing_for(graph_with_input({1, 4, 8, 8})), rm::Error);
    CHECK_THROWS_AS(rm::preprocessing_for(graph_with_input({1, 3, 8, 8}, {{"rmvk.std", "0"}})),
                    rm::Error);
    CHECK_THROWS_AS(rm::preprocessing_for(graph_with_input({1, 3, 8, 8}, {{"rmvk.mean", "a,b"}})),
                    rm::Error);
    rm::Preprocessing pre;
    CHECK_THROWS_AS(rm::preprocess(rm::Image{2, 2, 3, {1, 2, 3}}, pre), rm::Error);
    CHECK(rm::is_image_path("x/Sneaker.PNG"));
    CHECK_FALSE(rm::is_image_path("x/input.npy"));
}
