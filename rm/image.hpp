#pragma once
#include <map>
#include <string>
#include <vector>

#include "rm/graph.hpp"

namespace rm {

// How a model wants its images: read from ONNX metadata_props when present, else defaults
// (ImageNet for 3-channel inputs: resize shorter side to 256*H/224, centre crop, mean/std).
struct Preprocessing {
    int64_t channels = 3;
    int64_t height = 224;
    int64_t width = 224;
    int64_t resize_shorter = 256;  // 0: resize directly to height x width
    std::vector<float> mean{0.485f, 0.456f, 0.406f};
    std::vector<float> std{0.229f, 0.224f, 0.225f};
    bool invert = false;  // reserved for datasets drawn dark-on-light
};

Preprocessing preprocessing_for(const Graph& graph);

// Class names: from metadata ("labels", newline separated), or the bundled ImageNet list for
// 1000-class models, else "class N".
std::vector<std::string> class_labels(const Graph& graph, int64_t num_classes);

// An image file (PNG/JPEG/BMP via stb_image) as a [1, C, H, W] tensor ready for the model.
struct Image {
    int width = 0, height = 0, channels = 0;
    std::vector<unsigned char> pixels;  // interleaved 8-bit, as loaded
};
Image read_image(const std::string& path);  // throws rm::Error naming the file
Tensor preprocess(const Image& image, const Preprocessing& pre);

// True when `path` looks like an image rather than .npy.
bool is_image_path(const std::string& path);

}  // namespace rm
