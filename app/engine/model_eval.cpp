#include "app/engine/model_eval.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"

namespace rmvk {

rm::Tensor BatchRunner::run(const rm::Graph& graph, const rm::Tensor& x) {
    const std::string& out = graph.outputs.at(0);
    if (!context_) {
        auto outputs = rm::run_cpu(graph, {{graph.inputs.at(0).name, x}});
        return std::move(outputs.at(out));
    }
    auto& r = runners_[x.shape.at(0)];
    if (!r) r = std::make_unique<GraphRunner>(*context_, graph, x.shape.at(0));
    auto outputs = r->run({{graph.inputs.at(0).name, x}}).outputs;
    auto it = outputs.find(out);
    if (it == outputs.end()) throw rm::Error("graph '" + graph.name + "' produced no output");
    return std::move(it->second);
}

std::string BatchRunner::device_name() const {
    return context_ ? context_->device().name + " (Vulkan)" : "cpu (reference executor)";
}

double top1_accuracy(BatchRunner& runner, const rm::Graph& graph, const rm::LabelledImages& set,
                     const rm::Preprocessing& pre, int64_t batch,
                     const std::function<bool(int64_t)>& keep_going) {
    runner.forget();
    int64_t correct = 0;
    for (int64_t begin = 0; begin < set.count; begin += batch) {
        const int64_t end = std::min(set.count, begin + batch);
        const rm::Tensor y = runner.run(graph, rm::image_batch(set, begin, end, pre));
        if (y.shape.size() != 2 || y.shape[0] != end - begin || y.shape[1] != 10)
            throw rm::Error("the model gives output " + rm::to_string(y.shape) +
                            "; Fashion-MNIST needs 10 class scores per image");
        for (int64_t i = 0; i < end - begin; ++i) {
            const float* row = y.ptr() + i * 10;
            if (std::max_element(row, row + 10) - row == set.labels[static_cast<size_t>(begin + i)])
                ++correct;
        }
        if (keep_going && !keep_going(end)) {
            runner.forget();
            return std::numeric_limits<double>::quiet_NaN();
        }
    }
    runner.forget();  // the graph may die before the runner
    return set.count > 0 ? 100.0 * static_cast<double>(correct) / static_cast<double>(set.count)
                         : std::numeric_limits<double>::quiet_NaN();
}

double median_device_ms(Context& context, const rm::Graph& graph, int64_t batch, int runs) {
    RunOptions options;
    options.warm_up = true;
    GraphRunner runner(context, graph, batch, options);
    rm::Shape shape = graph.inputs.at(0).shape;
    shape.at(0) = batch;
    rm::Tensor x(shape);
    uint32_t state = 12345;  // images-like values in [0, 1), the same every time
    for (auto& v : x.data) {
        state = state * 1664525u + 1013904223u;
        v = static_cast<float>(state >> 8) / 16777216.0f;
    }
    std::vector<double> ms;
    for (int i = 0; i < std::max(runs, 1); ++i)
        ms.push_back(runner.run({{graph.inputs.at(0).name, x}}).device_total_ms);
    std::sort(ms.begin(), ms.end());
    const size_t n = ms.size();
    return n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
}

}  // namespace rmvk
