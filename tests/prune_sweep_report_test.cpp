// The pruning sweep's JSON form (app/report/prune_sweep_report): what `rmvk prune --sweep --json`
// writes reads back field for field, unmeasured values stay unmeasured, and bad files give one
// line.
#include "app/report/prune_sweep_report.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace rmvk;

namespace {

PrunePoint point(const std::string& graph, bool pruned, double threshold) {
    PrunePoint p;
    p.graph = graph;
    p.pruned = pruned;
    p.threshold = threshold;
    p.channels = 275;
    p.macs = 16'500'000;
    p.structured_macs = 12'250'000;
    p.params = 96'300;
    p.val_accuracy = 93.14;
    p.test_accuracy = 92.59;
    p.ms_batch1 = 1.25;
    p.ms_batch100 = 488.5;
    return p;
}

void check_same(const PrunePoint& a, const PrunePoint& b) {
    CHECK(a.graph == b.graph);
    CHECK(a.pruned == b.pruned);
    CHECK(a.threshold == b.threshold);
    CHECK(a.channels == b.channels);
    CHECK(a.macs == b.macs);
    CHECK(a.structured_macs == b.structured_macs);
    CHECK(a.params == b.params);
    CHECK(a.val_accuracy == b.val_accuracy);
    CHECK(a.test_accuracy == b.test_accuracy);
    CHECK(a.ms_batch1 == b.ms_batch1);
    CHECK(a.ms_batch100 == b.ms_batch100);
}

PruneSweep sample() {
    PruneSweep s;
    s.model = "fashion_resnet_sparse";
    s.device = "llvmpipe";
    s.residual = point("residual", false, 0);
    s.plain = point("plain", false, 0);
    s.plain_pruned = {point("plain", true, 0), point("plain", true, 0.503)};
    s.residual_pruned = {point("residual", true, 0.69)};
    s.residual_pruned[0].test_accuracy = -1;  // not measured: no test split installed
    s.residual_pruned[0].ms_batch100 = -1;
    return s;
}

std::string error_of(const std::string& text) {
    try {
        prune_sweep_from_json(text);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("a sweep reads back as it was written") {
    const PruneSweep s = sample();
    const std::string text = prune_sweep_to_json(s);
    CHECK(text.find("\"test_accuracy\": null") != std::string::npos);
    const PruneSweep back = prune_sweep_from_json(text);
    CHECK(back.model == s.model);
    CHECK(back.device == s.device);
    check_same(back.residual, s.residual);
    check_same(back.plain, s.plain);
    REQUIRE(back.plain_pruned.size() == 2);
    check_same(back.plain_pruned[1], s.plain_pruned[1]);
    REQUIRE(back.residual_pruned.size() == 1);
    check_same(back.residual_pruned[0], s.residual_pruned[0]);
    CHECK(back.residual_pruned[0].test_accuracy == -1);
}

TEST_CASE("a point without structured MACs reads them as its dense MACs") {
    std::string text = prune_sweep_to_json(sample());
    const std::string key = "\"structured_macs\": 12250000,";
    for (size_t at; (at = text.find(key)) != std::string::npos;) text.erase(at, key.size());
    CHECK(prune_sweep_from_json(text).plain.structured_macs == 16'500'000);
}

TEST_CASE("bad sweep files give one line") {
    CHECK(error_of("{\"kind\": \"rmvk bench report\"}").find("not an rmvk prune sweep") == 0);
    CHECK(error_of("[1, 2").find("line 1") != std::string::npos);
    CHECK(error_of(std::string(100000, '[')).find("nested too deep") == 0);
    std::string text = prune_sweep_to_json(sample());
    text.erase(text.find("\"params\": 96300,"), 16);
    CHECK(error_of(text) == "missing key 'params'");
    text = prune_sweep_to_json(sample());
    text.replace(text.find("\"channels\": 275"), 15, "\"channels\": 1e300");
    CHECK(error_of(text) == "\"channels\": 1e+300 is out of range");
    text = prune_sweep_to_json(sample());
    text.replace(text.find("\"model\": \"fashion_resnet_sparse\""), 31, "\"model\": 7");
    CHECK(error_of(text).find("string") != std::string::npos);
}
