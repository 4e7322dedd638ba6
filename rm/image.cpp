// Image input: decoding (stb_image), the preprocessing a model asks for in its metadata, and
// class names. Resizing reproduces Pillow's bilinear filter (what torchvision's Resize does on
// PIL images) including its 8-bit fixed-point arithmetic, so rmvk feeds a model the same
// numbers as the PyTorch pipeline it was trained with.
#include "rm/image.hpp"

#include <stb_image.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>

#include "rm/error.hpp"
#include "rm/model_loader.hpp"

namespace rm {
namespace {

// One 8-bit plane per channel, row-major.
struct Planes {
    int width = 0, height = 0;
    std::vector<std::vector<uint8_t>> channels;
};

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

const std::string* find_meta(const Graph& graph, const std::string& key) {
    // "rmvk.<key>" is what rmvk writes; a bare "<key>" is accepted from other exporters.
    for (const std::string& k : {"rmvk." + key, key}) {
        auto it = graph.metadata.find(k);
        if (it != graph.metadata.end()) return &it->second;
    }
    return nullptr;
}

std::vector<float> parse_floats(const std::string& key, const std::string& text) {
    std::vector<float> values;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        try {
            size_t used = 0;
            values.push_back(std::stof(item, &used));
        } catch (const std::exception&) {
            throw Error("model metadata '" + key + "': '" + text + "' is not a list of numbers");
        }
    }
    if (values.empty()) throw Error("model metadata '" + key + "' is empty");
    return values;
}

int64_t parse_int(const std::string& key, const std::string& text) {
    try {
        size_t used = 0;
        long long v = std::stoll(text, &used);
        if (used == text.size() && v >= 0 && v <= 100000) return v;
    } catch (const std::exception&) {
    }
    throw Error("model metadata '" + key + "': '" + text + "' is not a size");
}

// A mean/std list for `channels` channels: one value applies to all.
std::vector<float> per_channel(const std::string& key, std::vector<float> v, int64_t channels) {
    if (v.size() == 1) return std::vector<float>(static_cast<size_t>(channels), v[0]);
    if (static_cast<int64_t>(v.size()) != channels)
        throw Error("model metadata '" + key + "' has " + std::to_string(v.size()) +
                    " values for " + std::to_string(channels) + " channels");
    return v;
}

// Pillow's bilinear resampling along one axis (Resample.c: precompute_coeffs and
// normalize_coeffs_8bpc): a triangle filter widened by the scale when shrinking (antialias),
// weights rounded to 22-bit fixed point, results rounded and clipped to 8 bits.
constexpr int kPrecisionBits = 32 - 8 - 2;

struct AxisWeights {
    std::vector<int> first;                  // first source index per output index
    std::vector<std::vector<int32_t>> taps;  // fixed-point weights from `first` on
};

// Weights of outputs [out_first, out_first + out_count) of an in_size -> out_size resize: only
// the centre crop is ever kept, so only its outputs are computed (the same numbers Pillow
// computes for them, in a time and memory bounded by the crop, whatever the aspect ratio).
AxisWeights axis_weights(int in_size, int out_size, int out_first, int out_count) {
    const double scale = static_cast<double>(in_size) / out_size;
    const double filter_scale = std::max(scale, 1.0);
    const double support = 1.0 * filter_scale;
    const double inv_scale = 1.0 / filter_scale;  // multiplied, not divided, as Pillow does
    AxisWeights w;
    w.first.resize(static_cast<size_t>(out_count));
    w.taps.resize(static_cast<size_t>(out_count));
    for (int i = 0; i < out_count; ++i) {
        const double center = (out_first + i + 0.5) * scale;
        int lo = std::max(static_cast<int>(center - support + 0.5), 0);
        int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
        std::vector<double> k;
        double total = 0.0;
        for (int x = lo; x < hi; ++x) {
            double d = std::abs((x - center + 0.5) * inv_scale);
            double v = d < 1.0 ? 1.0 - d : 0.0;
            k.push_back(v);
            total += v;
        }
        auto& taps = w.taps[static_cast<size_t>(i)];
        for (double v : k) {
            if (total != 0.0) v /= total;
            double scaled = v * (1 << kPrecisionBits);
            taps.push_back(static_cast<int32_t>(v < 0 ? scaled - 0.5 : scaled + 0.5));
        }
        w.first[static_cast<size_t>(i)] = lo;
    }
    return w;
}

uint8_t clip8(int64_t acc) {
    if (acc >= (int64_t{1} << kPrecisionBits << 8)) return 255;
    if (acc <= 0) return 0;
    return static_cast<uint8_t>(acc >> kPrecisionBits);
}

// The crop [left, left + crop_w) x [top, top + crop_h) of the plane resized to resized_w x
// resized_h. Horizontal pass first, then vertical, each rounding to 8 bits, as Pillow does; an
// axis whose size does not change is left untouched.
std::vector<uint8_t> resize_crop(const std::vector<uint8_t>& in, int in_w, int in_h, int resized_w,
                                 int resized_h, int left, int top, int crop_w, int crop_h) {
    // Source rows the crop needs: those under its vertical taps, or its own rows when the
    // height does not change.
    const bool scale_v = resized_h != in_h;
    AxisWeights v;
    int row_lo = top, row_hi = top + crop_h;
    if (scale_v) {
        v = axis_weights(in_h, resized_h, top, crop_h);
        row_lo = in_h;
        row_hi = 0;
        for (size_t y = 0; y < v.first.size(); ++y) {
            if (v.taps[y].empty()) continue;
            row_lo = std::min(row_lo, v.first[y]);
            row_hi = std::max(row_hi, v.first[y] + static_cast<int>(v.taps[y].size()));
        }
        row_hi = std::max(row_hi, row_lo);
    }

    // Horizontal pass over those rows, for the crop's columns only.
    const bool scale_h = resized_w != in_w;
    AxisWeights h;
    if (scale_h) h = axis_weights(in_w, resized_w, left, crop_w);
    std::vector<uint8_t> mid(static_cast<size_t>(row_hi - row_lo) * crop_w);
    for (int r = row_lo; r < row_hi; ++r) {
        const uint8_t* row = &in[static_cast<size_t>(r) * in_w];
        uint8_t* out = &mid[static_cast<size_t>(r - row_lo) * crop_w];
        for (int x = 0; x < crop_w; ++x) {
            if (!scale_h) {
                out[x] = row[left + x];
                continue;
            }
            int64_t acc = int64_t{1} << (kPrecisionBits - 1);
            const auto& taps = h.taps[static_cast<size_t>(x)];
            const int first = h.first[static_cast<size_t>(x)];
            for (size_t t = 0; t < taps.size(); ++t) acc += int64_t{row[first + t]} * taps[t];
            out[x] = clip8(acc);
        }
    }
    if (!scale_v) return mid;

    std::vector<uint8_t> crop(static_cast<size_t>(crop_w) * crop_h);
    for (int y = 0; y < crop_h; ++y) {
        const auto& taps = v.taps[static_cast<size_t>(y)];
        const int first = v.first[static_cast<size_t>(y)] - row_lo;
        for (int x = 0; x < crop_w; ++x) {
            int64_t acc = int64_t{1} << (kPrecisionBits - 1);
            for (size_t t = 0; t < taps.size(); ++t)
                acc += int64_t{mid[(first + t) * crop_w + x]} * taps[t];
            crop[static_cast<size_t>(y) * crop_w + x] = clip8(acc);
        }
    }
    return crop;
}

// The image's channels converted to what the model wants: luma as Pillow's convert("L")
// computes it (ITU-R 601, 16-bit fixed point, rounded), or gray replicated to RGB. Alpha is
// dropped, as in Pillow's RGBA -> RGB/L conversions.
Planes to_planes(const Image& image, int64_t channels) {
    Planes p;
    p.width = image.width;
    p.height = image.height;
    const size_t n = static_cast<size_t>(image.width) * image.height;
    const int src = image.channels;
    auto at = [&](size_t i, int c) { return image.pixels[i * src + c]; };
    const bool colour = src >= 3;
    for (int64_t c = 0; c < channels; ++c) p.channels.emplace_back(n);
    for (size_t i = 0; i < n; ++i) {
        if (channels == 1) {
            p.channels[0][i] =
                colour ? static_cast<uint8_t>(
                             (at(i, 0) * 19595u + at(i, 1) * 38470u + at(i, 2) * 7471u + 0x8000u) >>
                             16)
                       : at(i, 0);
        } else {
            for (int64_t c = 0; c < channels; ++c)
                p.channels[static_cast<size_t>(c)][i] =
                    colour ? at(i, static_cast<int>(c)) : at(i, 0);
        }
    }
    return p;
}

// Python's round(): halves go to the even neighbour (torchvision's CenterCrop uses it).
int round_half_even(double v) {
    double r = std::nearbyint(v);  // default rounding mode: to nearest, ties to even
    return static_cast<int>(r);
}

}  // namespace

Preprocessing preprocessing_for(const Graph& graph) {
    Preprocessing pre;
    if (!graph.inputs.empty()) {
        const Shape& s = graph.inputs[0].shape;
        if (s.size() == 4 && s[1] > 0 && s[2] > 0 && s[3] > 0) {
            pre.channels = s[1];
            pre.height = s[2];
            pre.width = s[3];
        }
    }
    if (const auto* v = find_meta(graph, "grayscale"))
        pre.channels = (*v == "1" || lower(*v) == "true") ? 1 : 3;
    if (const auto* v = find_meta(graph, "input_size")) {
        auto x = v->find('x');
        if (x == std::string::npos)
            throw Error("model metadata 'rmvk.input_size': '" + *v + "' is not HxW");
        pre.height = parse_int("rmvk.input_size", v->substr(0, x));
        pre.width = parse_int("rmvk.input_size", v->substr(x + 1));
    }
    if (pre.channels != 1 && pre.channels != 3)
        throw Error("model input has " + std::to_string(pre.channels) +
                    " channels; images can feed only 1- or 3-channel models");
    if (pre.height <= 0 || pre.width <= 0 || pre.height > 8192 || pre.width > 8192)
        throw Error("model input size " + std::to_string(pre.height) + "x" +
                    std::to_string(pre.width) + " cannot be made from an image");

    const bool has_meta =
        find_meta(graph, "mean") || find_meta(graph, "std") || find_meta(graph, "resize_shorter");
    if (pre.channels == 3) {
        // ImageNet evaluation: shorter side to 256 for a 224 crop, scaled with the input size.
        pre.resize_shorter = static_cast<int64_t>(std::lround(256.0 * pre.height / 224.0));
    } else if (!has_meta) {
        // A 1-channel model without instructions: plain resize and pixels in [0, 1].
        pre.resize_shorter = 0;
        pre.mean = {0.0f};
        pre.std = {1.0f};
    }
    if (const auto* v = find_meta(graph, "resize_shorter"))
        pre.resize_shorter = parse_int("rmvk.resize_shorter", *v);
    if (const auto* v = find_meta(graph, "mean")) pre.mean = parse_floats("rmvk.mean", *v);
    if (const auto* v = find_meta(graph, "std")) pre.std = parse_floats("rmvk.std", *v);
    if (const auto* v = find_meta(graph, "invert")) pre.invert = (*v == "1" || lower(*v) == "true");
    pre.mean = per_channel("rmvk.mean", pre.mean, pre.channels);
    pre.std = per_channel("rmvk.std", pre.std, pre.channels);
    for (float s : pre.std)
        if (!(s > 0.0f)) throw Error("model metadata 'rmvk.std' must be positive");
    return pre;
}

std::vector<std::string> class_labels(const Graph& graph, int64_t num_classes) {
    std::vector<std::string> labels;
    if (const auto* v = find_meta(graph, "labels")) {
        std::stringstream ss(*v);
        for (std::string line; std::getline(ss, line);) labels.push_back(line);
    } else if (num_classes == 1000) {
        std::ifstream in(asset_dir() + "/labels/imagenet.txt");
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) labels.push_back(line);
        if (labels.size() != 1000) labels.clear();  // a damaged list is worse than numbers
    }
    if (num_classes < 0) num_classes = 0;
    labels.resize(static_cast<size_t>(std::max<int64_t>(num_classes, 0)));
    for (int64_t i = 0; i < num_classes; ++i)
        if (labels[static_cast<size_t>(i)].empty())
            labels[static_cast<size_t>(i)] = "class " + std::to_string(i);
    return labels;
}

Image read_image(const std::string& path) {
    int w = 0, h = 0, c = 0;
    // The header is read first: a 35-byte TGA can claim 20000x20000 pixels, which stb_image
    // would allocate (1.2 GB) and zero-fill before noticing the data is missing.
    constexpr int64_t kMaxPixels = int64_t{1} << 26;  // 67 megapixels, 8192x8192
    if (stbi_info(path.c_str(), &w, &h, &c) && int64_t{w} * h > kMaxPixels)
        throw Error(path + ": a " + std::to_string(w) + "x" + std::to_string(h) +
                    " image is larger than rmvk reads (67 megapixels)");
    std::unique_ptr<unsigned char, void (*)(void*)> data(stbi_load(path.c_str(), &w, &h, &c, 0),
                                                         stbi_image_free);
    if (!data) {
        const char* why = stbi_failure_reason();
        throw Error(path + ": cannot read image (" + std::string(why ? why : "unknown reason") +
                    ")");
    }
    if (w <= 0 || h <= 0 || c < 1 || c > 4) throw Error(path + ": unsupported image layout");
    Image img;
    img.width = w;
    img.height = h;
    img.channels = c;
    img.pixels.assign(data.get(), data.get() + static_cast<size_t>(w) * h * c);
    return img;
}

Tensor preprocess(const Image& image, const Preprocessing& pre) {
    if (image.width <= 0 || image.height <= 0 || image.channels < 1 || image.channels > 4 ||
        image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels)
        throw Error("image is empty or its pixel buffer does not match its size");
    const int out_h = static_cast<int>(pre.height), out_w = static_cast<int>(pre.width);
    Planes planes = to_planes(image, pre.channels);

    // Size before cropping, as torchvision's Resize(int) computes it (longer side truncated).
    int resized_w = out_w, resized_h = out_h;
    if (pre.resize_shorter > 0) {
        const int64_t shorter = std::min(image.width, image.height);
        const int64_t longer = std::max(image.width, image.height);
        const int64_t new_long = pre.resize_shorter * longer / shorter;
        // Only the crop is computed, so any size will do as long as it fits in an int.
        if (new_long > std::numeric_limits<int>::max())
            throw Error("preprocessing: a " + std::to_string(image.width) + "x" +
                        std::to_string(image.height) + " image is too elongated to resize");
        const bool wide = image.width >= image.height;
        resized_w = static_cast<int>(wide ? new_long : pre.resize_shorter);
        resized_h = static_cast<int>(wide ? pre.resize_shorter : new_long);
        if (resized_w < out_w || resized_h < out_h)
            throw Error("preprocessing: resize to " + std::to_string(pre.resize_shorter) +
                        " is smaller than the " + std::to_string(out_h) + "x" +
                        std::to_string(out_w) + " crop");
    }
    const int top = round_half_even((resized_h - out_h) / 2.0);
    const int left = round_half_even((resized_w - out_w) / 2.0);

    Tensor t({1, pre.channels, pre.height, pre.width});
    const size_t plane = static_cast<size_t>(out_h) * out_w;
    for (int64_t c = 0; c < pre.channels; ++c) {
        const std::vector<uint8_t> r =
            resize_crop(planes.channels[static_cast<size_t>(c)], image.width, image.height,
                        resized_w, resized_h, left, top, out_w, out_h);
        const float mean = pre.mean[static_cast<size_t>(c)], std = pre.std[static_cast<size_t>(c)];
        float* dst = t.ptr() + c * plane;
        for (size_t i = 0; i < plane; ++i) {
            int v = r[i];
            if (pre.invert) v = 255 - v;
            // Same float32 steps as ToTensor (x / 255) then Normalize ((x - mean) / std).
            float f = static_cast<float>(v) / 255.0f;
            dst[i] = (f - mean) / std;
        }
    }
    return t;
}

bool is_image_path(const std::string& path) {
    auto dot = path.rfind('.');
    if (dot == std::string::npos) return false;
    const std::string ext = lower(path.substr(dot + 1));
    return ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "bmp" || ext == "tga" ||
           ext == "gif" || ext == "pgm" || ext == "ppm" || ext == "pnm" || ext == "psd" ||
           ext == "hdr";
}

}  // namespace rm
