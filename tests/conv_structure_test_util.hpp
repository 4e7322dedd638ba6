#pragma once
// Shared by the conv-structure tests: conv_structure_test (finding and checking structure) and
// structured_weights_test (the rest of rm on structured weights).
#include <cstring>
#include <filesystem>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "rm/conv_structure.hpp"
#include "rm/graph.hpp"
#include "rm/onnx_io.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/rm_transform.hpp"
#include "tensor_test_util.hpp"

namespace structtest {

using rmvk::test::same_bits;

// Same blocks (ranges, kinds, values bit for bit) and the same Dirac entries.
inline bool same_structure(const rm::ConvStructure& a, const rm::ConvStructure& b) {
    if (a.shape != b.shape || a.group != b.group || a.blocks.size() != b.blocks.size() ||
        a.diracs.size() != b.diracs.size())
        return false;
    for (size_t i = 0; i < a.blocks.size(); ++i) {
        const rm::DenseBlock &x = a.blocks[i], &y = b.blocks[i];
        if (x.out_begin != y.out_begin || x.out_end != y.out_end || x.in_begin != y.in_begin ||
            x.in_end != y.in_end || x.group != y.group || x.centre_only != y.centre_only ||
            !same_bits(*x.weight, *y.weight))
            return false;
    }
    for (size_t i = 0; i < a.diracs.size(); ++i)
        if (a.diracs[i].out != b.diracs[i].out || a.diracs[i].in != b.diracs[i].in ||
            std::memcmp(&a.diracs[i].scale, &b.diracs[i].scale, sizeof(float)) != 0)
            return false;
    return true;
}

// A [out, in, k, k] weight of zeros with the given (out, in, tap, value) entries.
inline rm::Tensor weight_with(rm::Shape shape,
                              std::vector<std::tuple<int64_t, int64_t, int64_t, float>> values) {
    rm::Tensor w(std::move(shape));
    const int64_t taps = w.shape[2] * w.shape[3];
    for (auto [o, i, t, v] : values) w.data[(o * w.shape[1] + i) * taps + t] = v;
    return w;
}

// The plain graphs of RM on the PyTorch fixtures and two small built-in ResNets.
inline std::vector<std::pair<std::string, rm::Graph>> plain_models() {
    std::vector<std::pair<std::string, rm::Graph>> out;
    namespace fs = std::filesystem;
    for (const auto& e : fs::directory_iterator(fs::path(RMVK_FIXTURE_DIR) / "pytorch"))
        if (e.path().extension() == ".onnx")
            out.emplace_back(e.path().stem().string(),
                             rm::rm_transform(rm::load_onnx(e.path().string())).plain);
    for (const char* arch : {"resnet18", "resnet50"}) {
        rm::ResNetConfig c;
        c.arch = arch;
        c.input_height = c.input_width = 40;
        c.base_width = 8;
        c.num_classes = 10;
        out.emplace_back(arch, rm::rm_transform(rm::build_resnet(c)).plain);
    }
    return out;
}

}  // namespace structtest
