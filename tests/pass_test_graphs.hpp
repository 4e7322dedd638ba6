#pragma once
// Small hand-built graphs and comparison helpers shared by the graph-pass tests.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>

#include "rm/compare.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/graph.hpp"

namespace passtest {

class GraphMaker {
  public:
    explicit GraphMaker(rm::Shape input, uint64_t seed = 1) : state_(seed * 7919 + 13) {
        g.name = "test";
        g.inputs.push_back({"input", std::move(input)});
    }

    float uniform(float lo, float hi) {
        state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
        return lo + (hi - lo) * static_cast<float>(state_ >> 40) / 16777216.0f;
    }

    rm::Tensor random(rm::Shape s, float lo, float hi) {
        rm::Tensor t(std::move(s));
        for (auto& v : t.data) v = uniform(lo, hi);
        return t;
    }

    std::string conv(const std::string& name, const std::string& x, int64_t cin, int64_t cout,
                     int64_t k, int64_t stride = 1, std::vector<int64_t> pads = {},
                     int64_t group = 1, int64_t dilation = 1, bool bias = false) {
        if (pads.empty()) pads = std::vector<int64_t>(4, dilation * (k - 1) / 2);
        float bound = std::sqrt(6.0f / static_cast<float>(cin / group * k * k));
        g.initializers[name + ".weight"] = random({cout, cin / group, k, k}, -bound, bound);
        rm::Node n{name, rm::Op::Conv, {x, name + ".weight"}, {name}, {}};
        if (bias) {
            g.initializers[name + ".bias"] = random({cout}, -0.5f, 0.5f);
            n.inputs.push_back(name + ".bias");
        }
        n.attrs.kernel = {k, k};
        n.attrs.strides = {stride, stride};
        n.attrs.pads = pads;
        n.attrs.group = group;
        n.attrs.dilations = {dilation, dilation};
        g.nodes.push_back(n);
        return name;
    }

    std::string bn(const std::string& name, const std::string& x, int64_t c) {
        g.initializers[name + ".weight"] = random({c}, 0.5f, 1.5f);
        g.initializers[name + ".bias"] = random({c}, -0.3f, 0.3f);
        g.initializers[name + ".running_mean"] = random({c}, -0.5f, 0.5f);
        g.initializers[name + ".running_var"] = random({c}, 0.3f, 2.0f);
        g.nodes.push_back(
            {name,
             rm::Op::BatchNormalization,
             {x, name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var"},
             {name},
             {}});
        return name;
    }

    std::string op(const std::string& name, rm::Op op, std::vector<std::string> inputs,
                   rm::Attrs attrs = {}) {
        g.nodes.push_back({name, op, std::move(inputs), {name}, std::move(attrs)});
        return name;
    }

    void output(const std::string& t) { g.outputs.push_back(t); }

    rm::Graph g;

  private:
    uint64_t state_;
};

inline rm::Tensor random_input(const rm::Shape& shape, uint64_t seed = 5) {
    GraphMaker m({1}, seed);
    return m.random(shape, -1.0f, 1.0f);
}

// Runs both graphs on the same input and compares their first outputs with rmvk's one
// comparison. A NaN/Inf or a shape change sets max_abs_diff to Inf, so that the callers'
// tighter-than-kMatchTolerance checks on it fail too.
inline rm::OutputComparison compare_outputs(const rm::Graph& ref, const rm::Graph& test,
                                            const rm::Tensor& input) {
    std::map<std::string, rm::Tensor> in{{ref.inputs.at(0).name, input}};
    auto a = rm::run_cpu(ref, in).at(ref.outputs.at(0));
    std::map<std::string, rm::Tensor> in2{{test.inputs.at(0).name, input}};
    auto b = rm::run_cpu(test, in2).at(test.outputs.at(0));
    rm::OutputComparison c = rm::compare_outputs(a, b);
    if (!c.finite() || c.shapes_differ()) c.max_abs_diff = INFINITY;
    return c;
}

inline int count_op(const rm::Graph& g, rm::Op op) {
    return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(),
                                          [&](const rm::Node& n) { return n.op == op; }));
}

}  // namespace passtest
