// Fuzz target: rm::read_image (stb_image: PNG, JPEG, BMP, GIF, TGA, PNM, PSD, HDR) and
// rm::preprocess with the two pipelines rmvk uses: ImageNet style (resize the shorter side, centre
// crop, 3 channels; at 32x32, as preprocessing_for sets it up for a 32x32 model, since 224x224
// would make each run 50 times slower without reaching other code) and Fashion-MNIST (plain
// resize to 28x28, 1 channel, inverted). Any file must give a tensor of the model's input shape
// or throw rm::Error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "rm/error.hpp"
#include "rm/image.hpp"
#include "tests/fuzz/fuzz_file.hpp"

namespace {

rm::Preprocessing imagenet_32() {
    rm::Preprocessing p;
    p.height = 32;
    p.width = 32;
    p.resize_shorter = 37;  // round(256 * 32 / 224)
    return p;
}

rm::Preprocessing fashion_mnist() {
    rm::Preprocessing p;
    p.channels = 1;
    p.height = 28;
    p.width = 28;
    p.resize_shorter = 0;
    p.mean = {0.0f};
    p.std = {1.0f};
    p.invert = true;
    return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // The extension only names the file; stb_image detects the format from the bytes.
    const std::string path = rmvk_fuzz::scratch().write("input.png", data, size);
    try {
        const rm::Image image = rm::read_image(path);
        for (const rm::Preprocessing& pre : {imagenet_32(), fashion_mnist()}) {
            const rm::Tensor t = rm::preprocess(image, pre);
            if (t.shape != rm::Shape{1, pre.channels, pre.height, pre.width}) std::abort();
        }
    } catch (const rm::Error&) {
    }
    return 0;
}
