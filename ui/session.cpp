#include "ui/session.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/model_loader.hpp"
#include "rm/non_finite.hpp"
#include "ui/plain_exec.hpp"
#include "ui/worker.hpp"

namespace rmvk::ui {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string display_name_for(const std::string& spec) {
    if (spec.empty()) return fs::path(rm::default_model_path()).filename().string();
    if (spec.rfind("builtin:", 0) == 0) return spec;
    return fs::path(spec).filename().string();
}

// Largest sum of live activation bytes when each tensor is freed after its last reader.
uint64_t peak_activation_bytes(const rm::Graph& graph, const rm::ShapeMap& shapes) {
    std::map<std::string, size_t> last_use;
    for (size_t i = 0; i < graph.nodes.size(); ++i)
        for (const auto& in : graph.nodes[i].inputs)
            if (!in.empty() && !graph.is_initializer(in)) last_use[in] = i;
    for (const auto& out : graph.outputs) last_use[out] = graph.nodes.size();
    auto bytes_of = [&](const std::string& t) {
        auto it = shapes.find(t);
        return it == shapes.end() ? uint64_t(0) : uint64_t(rm::element_count(it->second)) * 4;
    };
    uint64_t live = 0, peak = 0;
    for (const auto& in : graph.inputs) live += bytes_of(in.name);
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
        for (const auto& out : graph.nodes[i].outputs) live += bytes_of(out);
        peak = std::max(peak, live);
        for (const auto& [tensor, last] : last_use)
            if (last == i) live -= std::min(live, bytes_of(tensor));
    }
    return peak;
}

bool ends_in_softmax(const rm::Graph& graph) {
    return !graph.nodes.empty() && graph.nodes.back().op == rm::Op::Softmax;
}

std::vector<TopClass> top_classes(const rm::Tensor& out, bool already_probabilities,
                                  const std::vector<std::string>& labels) {
    std::vector<float> p(out.data.begin(), out.data.end());
    if (!already_probabilities && !p.empty()) {
        float mx = *std::max_element(p.begin(), p.end());
        double sum = 0;
        for (float& v : p) sum += (v = std::exp(v - mx));
        for (float& v : p) v = static_cast<float>(v / sum);
    }
    std::vector<size_t> idx(p.size());
    std::iota(idx.begin(), idx.end(), 0);
    size_t k = std::min<size_t>(5, idx.size());
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](size_t a, size_t b) { return p[a] > p[b]; });
    std::vector<TopClass> top;
    for (size_t i = 0; i < k; ++i)
        top.push_back({int64_t(idx[i]),
                       idx[i] < labels.size() ? labels[idx[i]] : "class " + std::to_string(idx[i]),
                       p[idx[i]]});
    return top;
}

// A smooth deterministic pattern when no image fits the model (e.g. a builtin with 5 channels).
rm::Tensor synthetic_input(const rm::Shape& shape) {
    rm::Tensor t(shape);
    int64_t c = shape.size() > 1 ? shape[1] : 1, h = shape.size() > 2 ? shape[2] : 1,
            w = shape.size() > 3 ? shape[3] : 1;
    for (int64_t ci = 0; ci < c; ++ci)
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x)
                t.data[(ci * h + y) * w + x] =
                    float(std::sin(0.21 * x + 0.5 * ci) * std::cos(0.17 * y - 0.3 * ci));
    return t;
}

// `dense`: structured conv weights run materialised (a timing only: no intermediates kept).
GraphRun run_cpu_graph(const rm::Graph& graph, const rm::ShapeMap& shapes,
                       const std::string& input_name, const rm::Tensor& input, int repeats,
                       Progress& progress, const std::string& label, float base, float span,
                       bool dense = false) {
    GraphRun run;
    run.runs = repeats;
    std::map<std::string, rm::Tensor> tensors;
    std::vector<double> node_ms(graph.nodes.size(), 0.0);
    for (int r = 0; r < repeats; ++r) {
        auto last = Clock::now();
        rm::CpuRunOptions options;
        options.keep_intermediates = !dense;
        options.dense_structured = dense;
        options.on_node = [&](size_t done, size_t total) {
            if (done >= 1 && done <= node_ms.size()) node_ms[done - 1] += ms_since(last);
            last = Clock::now();
            float f = (r + float(done) / float(std::max<size_t>(total, 1))) / float(repeats);
            progress.set(
                label + " (run " + std::to_string(r + 1) + "/" + std::to_string(repeats) + ")",
                base + span * f);
        };
        tensors = rm::run_cpu(graph, {{input_name, input}}, options);
    }
    tensors[input_name] = input;
    run.tensors = host_run_tensors(std::move(tensors));
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
        rmvk::NodeTiming t;
        t.node = graph.nodes[i].name;
        t.op = graph.nodes[i].op;
        t.device_ms = node_ms[i] / repeats;
        run.total_ms += t.device_ms;
        run.timings.push_back(t);
    }
    // What the CPU reference reads: structured conv weights as stored, or materialised.
    run.weight_bytes = dense ? dense_weight_bytes(graph, 4) : stored_weight_bytes(graph, 4);
    run.peak_activation_bytes = peak_activation_bytes(graph, shapes);
    run.output = graph.outputs.empty() ? "" : graph.outputs[0];
    return run;
}

// Times `graph` as the engine runs it for real (fused dispatches, reused buffers); the runner
// is gone when this returns, so that only one graph's weights are on the device at a time.
// `structured`: RunOptions::structured (off: structured conv weights run materialised).
GraphRun time_gpu_graph(rmvk::Context& context, const rm::Graph& graph,
                        const std::string& input_name, const rm::Tensor& input, int repeats,
                        Progress& progress, const std::string& label, float base, float span,
                        rmvk::Precision precision, bool structured = true) {
    GraphRun run;
    run.runs = repeats;
    progress.set(label + ": preparing pipelines", base);
    rmvk::RunOptions options;
    options.warm_up = true;
    options.precision = precision;
    options.structured = structured;
    rmvk::GraphRunner runner(context, graph, 1, options);
    std::map<std::string, double> sum;
    for (int r = 0; r < repeats; ++r) {
        progress.set(label + " (run " + std::to_string(r + 1) + "/" + std::to_string(repeats) + ")",
                     base + span * float(r + 1) / float(repeats));
        rmvk::RunResult result = runner.run({{input_name, input}});
        if (r == 0) run.timings = result.timings;
        for (const auto& t : result.timings) sum[t.node] += t.device_ms;
        run.total_ms += result.device_total_ms / repeats;
    }
    for (auto& t : run.timings) t.device_ms = sum[t.node] / repeats;
    auto mem = runner.memory();
    run.weight_bytes = mem.weight_bytes;
    run.peak_activation_bytes = mem.peak_activation_bytes;
    run.output = graph.outputs.empty() ? "" : graph.outputs[0];
    return run;
}

// The first node, in graph order, with a NaN/Inf in an output: reads every tensor back once,
// one at a time.
std::string first_non_finite(const rm::Graph& graph, const GraphRun& run,
                             const std::string& input_name) {
    auto holds = [&](const std::string& tensor) {
        auto t = run.tensor(tensor);
        return t && rm::find_non_finite(*t).count > 0;
    };
    if (holds(input_name)) return "input";
    for (const auto& node : graph.nodes)
        for (const auto& out : node.outputs)
            if (holds(out)) return node.name;
    return "";
}

Comparison compare(const LoadedModel& model, const GraphRun& residual, const GraphRun& plain,
                   bool fp16) {
    Comparison c;
    const auto a_held = residual.tensor(residual.output), b_held = plain.tensor(plain.output);
    if (!a_held || !b_held) throw rm::Error("a run kept no output tensor");
    const rm::Tensor& a = *a_held;
    const rm::Tensor& b = *b_held;
    c.values = rm::compare_outputs(a, b);
    if (fp16) c.values.relative_tolerance = rm::kFp16MatchTolerance;
    c.residual_first_non_finite = first_non_finite(model.residual, residual, model.input_name);
    c.plain_first_non_finite = first_non_finite(model.rm.plain, plain, model.input_name);
    c.residual_top = top_classes(a, ends_in_softmax(model.residual), model.labels);
    c.plain_top = top_classes(b, ends_in_softmax(model.rm.plain), model.labels);
    return c;
}

}  // namespace

std::shared_ptr<const LoadedModel> load_model_for_ui(const std::string& spec, Progress& progress) {
    auto model = std::make_shared<LoadedModel>();
    model->spec = spec;
    model->display_name = display_name_for(spec);
    progress.set("loading " + model->display_name, 0.05f);
    model->residual = rm::load_model(spec);
    for (const auto& w : rm::non_finite_initializer_warnings(model->residual))
        model->warnings.push_back(model->display_name + ": " + w);
    if (model->residual.inputs.empty())
        throw rm::Error(model->display_name + ": the model has no input");
    if (model->residual.outputs.empty())
        throw rm::Error(model->display_name + ": the model has no output");
    model->input_name = model->residual.inputs[0].name;
    progress.set("inferring shapes", 0.25f);
    model->residual_shapes = rm::infer_shapes(model->residual, 1);
    progress.set("RM: folding BN, reserving and merging", 0.4f);
    model->rm = rm::rm_transform(model->residual);
    model->plain_shapes = rm::infer_shapes(model->rm.plain, 1);
    progress.set("counting MACs", 0.8f);
    model->residual_cost = rm::compute_cost(model->residual, model->residual_shapes);
    model->plain_cost = rm::compute_cost(model->rm.plain, model->plain_shapes);
    model->preprocessing = rm::preprocessing_for(model->residual);
    const rm::Shape& out_shape = model->residual_shapes.at(model->residual.outputs[0]);
    model->num_classes = out_shape.empty() ? 0 : out_shape.back();
    model->labels = rm::class_labels(model->residual, model->num_classes);
    progress.set("model ready", 1.0f);
    return model;
}

std::string default_image_for(const LoadedModel&) {
    fs::path dir = fs::path(rm::asset_dir()) / "samples";
    std::error_code ec;
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(dir, ec))
        if (rm::is_image_path(entry.path().string())) found.push_back(entry.path().string());
    std::sort(found.begin(), found.end());
    return found.empty() ? "" : found.front();
}

std::shared_ptr<const RunSet> run_both(std::shared_ptr<const LoadedModel> held,
                                       const std::string& image_path, const std::string& device,
                                       int repeats, Progress& progress, rmvk::Precision precision) {
    const LoadedModel& model = *held;
    auto runs = std::make_shared<RunSet>();
    runs->device = device.empty() ? kCpuDevice : device;
    runs->image_path = image_path;
    const rm::Shape& in_shape = model.residual_shapes.at(model.input_name);
    if (!image_path.empty()) {
        progress.set("reading " + fs::path(image_path).filename().string(), 0.02f);
        runs->image = rm::read_image(image_path);
        runs->input = rm::preprocess(runs->image, model.preprocessing);
        if (runs->input.shape != in_shape)
            throw rm::Error(image_path + ": preprocessed to " + rm::to_string(runs->input.shape) +
                            " but the model wants " + rm::to_string(in_shape));
    } else {
        runs->input = synthetic_input(in_shape);
    }
    repeats = std::max(1, repeats);
    if (runs->device == kCpuDevice) {
        runs->residual =
            run_cpu_graph(model.residual, model.residual_shapes, model.input_name, runs->input,
                          repeats, progress, "residual graph on CPU", 0.05f, 0.45f);
        runs->plain =
            run_cpu_graph(model.rm.plain, model.plain_shapes, model.input_name, runs->input,
                          repeats, progress, "plain graph on CPU", 0.5f, 0.45f);
    } else {
        progress.set("opening " + runs->device, 0.03f);
        rmvk::ContextOptions options;
        options.device = runs->device;
        auto context = std::make_shared<rmvk::Context>(options);
        runs->device = context->device().name;
        runs->device_timing = context->device().timestamp_valid_bits > 0;
        runs->precision = precision;
        runs->residual =
            time_gpu_graph(*context, model.residual, model.input_name, runs->input, repeats,
                           progress, "residual graph on " + runs->device, 0.05f, 0.3f, precision);
        runs->plain =
            time_gpu_graph(*context, model.rm.plain, model.input_name, runs->input, repeats,
                           progress, "plain graph on " + runs->device, 0.35f, 0.3f, precision);
        progress.set("measuring device peak", 0.65f);
        runs->peak_gflops = rmvk::measure_peak(*context).fma_gflops;
        // Feature maps: each graph prepared once more with every tensor kept on the device,
        // read back when a panel shows one. The plain graph first: its run holds more tensors
        // until it frees its Relu outputs, better beside none of the residual graph's.
        progress.set("plain graph on " + runs->device + ": keeping every feature map", 0.7f);
        runs->plain.tensors =
            device_run_tensors(context, std::shared_ptr<const rm::Graph>(held, &model.rm.plain),
                               model.input_name, runs->input, precision);
        progress.set("residual graph on " + runs->device + ": keeping every feature map", 0.8f);
        runs->residual.tensors =
            device_run_tensors(context, std::shared_ptr<const rm::Graph>(held, &model.residual),
                               model.input_name, runs->input, precision);
    }
    progress.set("comparing outputs", 0.97f);
    runs->comparison =
        compare(model, runs->residual, runs->plain, runs->precision == rmvk::Precision::Fp16);
    return runs;
}

GraphRun time_plain_dense(std::shared_ptr<const LoadedModel> held, const RunSet& runs,
                          Progress& progress) {
    const LoadedModel& model = *held;
    const int repeats = std::max(1, runs.plain.runs);
    if (runs.device == kCpuDevice)
        return run_cpu_graph(model.rm.plain, model.plain_shapes, model.input_name, runs.input,
                             repeats, progress, "plain graph dense on CPU", 0.05f, 0.9f, true);
    progress.set("opening " + runs.device, 0.03f);
    rmvk::ContextOptions options;
    options.device = runs.device;
    rmvk::Context context(options);
    return time_gpu_graph(context, model.rm.plain, model.input_name, runs.input, repeats, progress,
                          "plain graph dense on " + runs.device, 0.05f, 0.9f, runs.precision,
                          false);
}

std::vector<std::string> device_choices() {
    std::vector<std::string> out{kCpuDevice};
    for (const auto& d : rmvk::list_devices()) out.push_back(d.name);
    return out;
}

}  // namespace rmvk::ui
