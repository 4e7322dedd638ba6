#include "rm/explain_pixel.hpp"

#include <doctest/doctest.h>

#include <cmath>

#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/shape_inference.hpp"

using namespace rm;

namespace {

struct Run {
    Graph residual;
    RmResult rm;
    GraphCost rc, pc;
    std::map<std::string, Tensor> res, plain;
};

Run run(const std::string& spec) {
    Run r;
    r.residual = build_resnet(*parse_builtin_spec(spec));
    r.rm = rm_transform(r.residual);
    r.rc = compute_cost(r.residual, infer_shapes(r.residual));
    r.pc = compute_cost(r.rm.plain, infer_shapes(r.rm.plain));
    const ValueInfo& in = r.residual.inputs.at(0);
    Shape s = in.shape;
    s[0] = 1;
    Tensor x(s);
    // A deterministic input with both signs.
    for (int64_t i = 0; i < x.size(); ++i) x.data[size_t(i)] = float(std::sin(0.37 * double(i)));
    CpuRunOptions o;
    o.keep_intermediates = true;
    o.threads = 2;
    r.res = run_cpu(r.residual, {{in.name, x}}, o);
    r.plain = run_cpu(r.rm.plain, {{in.name, x}}, o);
    return r;
}

void check_pixel(const Run& r, const std::string& block, int64_t c, int64_t y, int64_t x) {
    BlockExplanation e = explain_block(r.residual, r.rc, r.rm, r.pc, block);
    WorkedPixel w =
        work_pixel(e, r.residual, r.rm.plain, lookup_in(r.res), lookup_in(r.plain), c, y, x);
    CHECK(w.agree);
    CHECK(w.difference <= 1e-4 * w.max_abs_ref);
    // Term by term: the main branch is the bias plus the original columns, the shortcut is the
    // merge columns (the reserved copy of x), both within float rounding.
    const double tol = 1e-5 * (1 + w.max_abs_ref);
    CHECK(std::abs(w.residual[0].value - (w.plain[0].value + w.plain[1].value)) <= tol);
    CHECK(std::abs(w.residual[1].value - (w.plain[2].value + w.plain[3].value)) <= tol);
    CHECK(w.residual[3].value == std::max(0.0, w.residual[2].value));
    // The reserved channel is x itself all the way to the last conv.
    REQUIRE(w.reserved.size() >= 3);
    for (size_t i = 1; i + 1 < w.reserved.size(); ++i)
        CHECK(w.reserved[i].value == doctest::Approx(w.reserved[0].value).epsilon(1e-6));
}

}  // namespace

TEST_CASE("worked pixel of a BasicBlock: identity and projection shortcuts agree term by term") {
    Run r = run("builtin:resnet18?size=32x32&classes=10&width=8");
    check_pixel(r, "layer1.0", 3, 2, 5);
    check_pixel(r, "layer2.0", 5, 1, 3);  // stride 2 with projection
}

TEST_CASE("worked pixel of a Bottleneck with projection") {
    Run r = run("builtin:resnet50?size=32x32&classes=10&width=8");
    check_pixel(r, "layer2.0", 7, 1, 2);
    check_pixel(r, "layer1.1", 0, 0, 0);  // identity, a corner (padding)
}

TEST_CASE("a worked pixel outside the output is refused with its shape") {
    Run r = run("builtin:resnet18?size=32x32&classes=10&width=8");
    BlockExplanation e = explain_block(r.residual, r.rc, r.rm, r.pc, "layer1.0");
    CHECK_THROWS_WITH_AS(
        work_pixel(e, r.residual, r.rm.plain, lookup_in(r.res), lookup_in(r.plain), 0, 99, 0),
        doctest::Contains("outside the block output"), Error);
}
