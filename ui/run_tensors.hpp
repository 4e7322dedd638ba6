#pragma once
// The tensors of one graph run, read one at a time for what is on screen rather than all kept
// on the host: a GPU run leaves them in its runner's device buffers and copies one back when a
// panel asks; a CPU run keeps them in host memory (the CPU executor produces them there).
#include <map>
#include <memory>
#include <string>

#include "app/engine/engine.hpp"
#include "rm/graph.hpp"

namespace rmvk::ui {

class RunTensors {
  public:
    virtual ~RunTensors() = default;
    // The tensor's values (shared: a panel may hold them while it shows them), or nullptr when
    // the run has no tensor by that name.
    virtual std::shared_ptr<const rm::Tensor> get(const std::string& name) const = 0;
};

// A CPU run's tensors.
std::shared_ptr<const RunTensors> host_run_tensors(std::map<std::string, rm::Tensor> tensors);

// Prepares `graph` on `context` with every intermediate kept on the device (every node on its
// own, so each tensor exists; no Winograd, whose weights are larger than the graph's), runs it
// once on `input` with its weights uploaded a few layers at a time (never all beside the
// tensors), frees the Relu outputs (read back as relu of their input) and answers from the
// tensors' buffers. `graph` is held for the runner's lifetime; `context` is shared by both
// graphs' runs. `precision`: how the device stores them.
std::shared_ptr<const RunTensors> device_run_tensors(std::shared_ptr<rmvk::Context> context,
                                                     std::shared_ptr<const rm::Graph> graph,
                                                     const std::string& input_name,
                                                     const rm::Tensor& input,
                                                     rmvk::Precision precision);

}  // namespace rmvk::ui
