#pragma once
// Shared by the built-in model builders (resnet_builder.cpp, mobile_builder.cpp): a
// deterministic generator, a graph builder that creates initializers alongside its nodes, and
// the LSUV-style weight calibration.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "rm/graph.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/thread_pool.hpp"

namespace rm::build_detail {

// splitmix64: a tiny, well-mixed generator; each build owns its own state. Tensors are filled
// counter-style (value i = mix(tensor seed + i)) so large ones fill on all cores.
class Random {
  public:
    explicit Random(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E5ull) {}
    uint64_t next() { return mix(state_ += kGolden); }
    float uniform(float lo, float hi) { return lo + (hi - lo) * unit(next() >> 40); }
    void fill_uniform(FloatBuffer& v, float lo, float hi) {
        uint64_t seed = next();
        int64_t size = static_cast<int64_t>(v.size()), chunk = int64_t(1) << 16;
        parallel_for((size + chunk - 1) / chunk, size > chunk ? 0 : 1, [&](int64_t c) {
            int64_t end = std::min(size, (c + 1) * chunk);
            for (int64_t i = c * chunk; i < end; i += 2) {
                // One 64-bit draw gives two 24-bit uniforms.
                uint64_t z = mix(seed + static_cast<uint64_t>(i) * kGolden);
                v[i] = lo + (hi - lo) * unit(z >> 40);
                if (i + 1 < end) v[i + 1] = lo + (hi - lo) * unit((z >> 8) & 0xFFFFFF);
            }
        });
    }

  private:
    static constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
    static uint64_t mix(uint64_t z) {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    static float unit(uint64_t bits24) { return static_cast<float>(bits24) * (1.0f / 16777216.0f); }
    uint64_t state_;
};

// Builds the graph node by node, creating initializers alongside.
class Builder {
  public:
    Builder(Graph& g, uint64_t seed) : g_(g), rng_(seed) {}

    std::string conv(const std::string& name, const std::string& x, int64_t cin, int64_t cout,
                     int64_t k, int64_t stride, int64_t pad, int64_t group = 1) {
        Tensor w({cout, cin / group, k, k});
        // He-uniform: variance 2 / fan_in, the scale that keeps ReLU activations steady.
        float bound = std::sqrt(3.0f) * std::sqrt(2.0f / static_cast<float>(cin / group * k * k));
        rng_.fill_uniform(w.data, -bound, bound);
        g_.initializers[name + ".weight"] = std::move(w);
        Node n{name, Op::Conv, {x, name + ".weight"}, {name}, {}};
        n.attrs.kernel = {k, k};
        n.attrs.strides = {stride, stride};
        n.attrs.pads = {pad, pad, pad, pad};
        n.attrs.group = group;
        return add(std::move(n));
    }

    std::string batchnorm(const std::string& name, const std::string& x, int64_t c) {
        // Non-trivial statistics so that folding BN really changes the weights.
        Tensor gamma({c}), beta({c}), mean({c}), var({c});
        rng_.fill_uniform(gamma.data, 0.5f, 1.5f);
        rng_.fill_uniform(beta.data, -0.1f, 0.1f);
        rng_.fill_uniform(mean.data, -0.1f, 0.1f);
        rng_.fill_uniform(var.data, 0.5f, 2.0f);
        g_.initializers[name + ".weight"] = std::move(gamma);
        g_.initializers[name + ".bias"] = std::move(beta);
        g_.initializers[name + ".running_mean"] = std::move(mean);
        g_.initializers[name + ".running_var"] = std::move(var);
        return add(
            {name,
             Op::BatchNormalization,
             {x, name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var"},
             {name},
             {}});
    }

    std::string simple(const std::string& name, Op op, std::vector<std::string> inputs,
                       Attrs attrs = {}) {
        return add({name, op, std::move(inputs), {name}, std::move(attrs)});
    }

    std::string linear(const std::string& name, const std::string& x, int64_t in, int64_t out,
                       const std::string& output) {
        Tensor w({out, in}), b({out});
        float bound = 1.0f / std::sqrt(static_cast<float>(in));  // torch.nn.Linear's default
        rng_.fill_uniform(w.data, -bound, bound);
        rng_.fill_uniform(b.data, -bound, bound);
        g_.initializers[name + ".weight"] = std::move(w);
        g_.initializers[name + ".bias"] = std::move(b);
        Node n{name, Op::Gemm, {x, name + ".weight", name + ".bias"}, {output}, {}};
        n.attrs.trans_b = true;
        return add(std::move(n));
    }

  private:
    std::string add(Node n) {
        std::string out = n.outputs[0];
        g_.nodes.push_back(std::move(n));
        return out;
    }

    Graph& g_;
    Random rng_;
};

// Scales each conv so that its output has unit second moment on a random input.
void calibrate(Graph& g, const ResNetConfig& c, uint64_t seed);

// mobile_builder.cpp: MobileNetV2, MNASNet-1.0, RegNetX-400MF and -1.6GF.
std::vector<std::string> mobile_model_names();
bool is_mobile_arch(const std::string& name);
Graph build_mobile(const ResNetConfig& c);

}  // namespace rm::build_detail
