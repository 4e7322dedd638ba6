#include "ui/run_tensors.hpp"

#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace rmvk::ui {

namespace {

class HostRunTensors : public RunTensors {
  public:
    explicit HostRunTensors(std::map<std::string, rm::Tensor> tensors)
        : tensors_(std::make_shared<const std::map<std::string, rm::Tensor>>(std::move(tensors))) {}
    std::shared_ptr<const rm::Tensor> get(const std::string& name) const override {
        auto it = tensors_->find(name);
        if (it == tensors_->end()) return nullptr;
        return {tensors_, &it->second};  // shares ownership of the whole map
    }

  private:
    std::shared_ptr<const std::map<std::string, rm::Tensor>> tensors_;
};

class DeviceRunTensors : public RunTensors {
  public:
    DeviceRunTensors(std::shared_ptr<rmvk::Context> context, std::shared_ptr<const rm::Graph> graph,
                     const std::string& input_name, const rm::Tensor& input,
                     rmvk::Precision precision)
        : context_(std::move(context)), graph_(std::move(graph)) {
        runner_ = std::make_unique<rmvk::GraphRunner>(*context_, *graph_, 1,
                                                      rmvk::feature_map_run_options(precision));
        runner_->run({{input_name, input}});
        // The host graph keeps the weights; Relu outputs are read as relu of their input.
        runner_->release_weights();
#if defined(__GLIBC__)
        // On a CPU device (lavapipe) the freed buffers are C heap between the kept ones: hand
        // their pages back rather than leave them resident until reused.
        malloc_trim(0);
#endif
    }
    std::shared_ptr<const rm::Tensor> get(const std::string& name) const override {
        if (graph_->is_initializer(name)) return nullptr;
        std::lock_guard<std::mutex> lock(mutex_);  // one queue submission at a time
        try {
            return std::make_shared<const rm::Tensor>(runner_->read_tensor(name));
        } catch (const std::exception&) {
            return nullptr;  // not a tensor of this graph
        }
    }

  private:
    // Declared in the order they must outlive each other: the runner goes first.
    std::shared_ptr<rmvk::Context> context_;
    std::shared_ptr<const rm::Graph> graph_;
    std::unique_ptr<rmvk::GraphRunner> runner_;
    mutable std::mutex mutex_;
};

}  // namespace

std::shared_ptr<const RunTensors> host_run_tensors(std::map<std::string, rm::Tensor> tensors) {
    return std::make_shared<HostRunTensors>(std::move(tensors));
}

std::shared_ptr<const RunTensors> device_run_tensors(std::shared_ptr<rmvk::Context> context,
                                                     std::shared_ptr<const rm::Graph> graph,
                                                     const std::string& input_name,
                                                     const rm::Tensor& input,
                                                     rmvk::Precision precision) {
    return std::make_shared<DeviceRunTensors>(std::move(context), std::move(graph), input_name,
                                              input, precision);
}

}  // namespace rmvk::ui
