#pragma once
// Accuracy on labelled images and device time of one graph: what `rmvk prune` and the app's
// Pruning view measure each pruned model by.
#include <functional>
#include <memory>

#include "app/engine/engine.hpp"
#include "rm/fashion_mnist.hpp"
#include "rm/graph.hpp"
#include "rm/image.hpp"

namespace rmvk {

// Runs a graph on batches, on a Vulkan device or (context null) the CPU reference executor.
class BatchRunner {
  public:
    explicit BatchRunner(Context* context) : context_(context) {}
    // The graph's first output for input batch `x`. A GraphRunner is prepared per batch size
    // and kept until forget() (a graph's address says nothing: a new one may reuse it).
    rm::Tensor run(const rm::Graph& graph, const rm::Tensor& x);
    void forget() { runners_.clear(); }
    std::string device_name() const;

  private:
    Context* context_;
    std::map<int64_t, std::unique_ptr<GraphRunner>> runners_;
};

// Top-1 accuracy in percent of a 10-class model on `set` (the runner forgets its previous
// graph first). `keep_going(done)` is asked after
// every batch; false stops early (returns NaN).
double top1_accuracy(BatchRunner& runner, const rm::Graph& graph, const rm::LabelledImages& set,
                     const rm::Preprocessing& pre, int64_t batch = 100,
                     const std::function<bool(int64_t done)>& keep_going = {});

// Median over `runs` runs of the summed dispatch device times (ms) at `batch`, after a
// warm-up run.
double median_device_ms(Context& context, const rm::Graph& graph, int64_t batch, int runs);

}  // namespace rmvk
