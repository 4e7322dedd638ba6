// The GUI's scripted start-up, without a window: which model opens after each finished job,
// when each one-off request is due, the --keys taps and the last frame.
#include "ui/startup_script.hpp"

#include <doctest/doctest.h>

using namespace rmvk::ui;

namespace {

// What a finished job asks to open next: `model` on `image`.
void check_load(const std::optional<StartupScript::Load>& next, const std::string& model,
                const std::string& image) {
    REQUIRE(next);
    CHECK(next->model == model);
    CHECK(next->image == image);
}

// The next --keys event: the left (else right) key going down (else up).
void check_key(StartupScript& s, bool left, bool down) {
    auto k = s.next_key();
    REQUIRE(k);
    CHECK(k->left == left);
    CHECK(k->down == down);
}

}  // namespace

TEST_CASE("a model that fails to open falls back to the bundled one, then start-up is done") {
    GuiOptions o;
    o.model = "broken.onnx";
    o.image = "cat.png";
    o.frames = 10;
    StartupScript s(o);
    CHECK(s.scripted());
    CHECK_FALSE(s.started_up());
    check_load(s.after_job(true, false, ""), "", "cat.png");
    CHECK_FALSE(s.started_up());
    CHECK_FALSE(s.after_job(false, true, "cat.png"));
    CHECK(s.started_up());
    // Jobs after start-up (a run from the Timing tab) open nothing.
    CHECK_FALSE(s.after_job(true, true, "cat.png"));
    CHECK(s.started_up());
}

TEST_CASE("--open-after-start opens a second model on the image shown, once the first is up") {
    GuiOptions o;
    o.open_after_start = "corrupt.onnx";
    StartupScript s(o);
    CHECK_FALSE(s.scripted());
    check_load(s.after_job(false, true, "samples/0.png"), "corrupt.onnx", "samples/0.png");
    CHECK_FALSE(s.started_up());
    CHECK_FALSE(s.after_job(true, true, "samples/0.png"));  // it failed: the first model stays
    CHECK(s.started_up());
}

TEST_CASE("a failed default model is not retried, and nothing opens without a model") {
    GuiOptions o;
    o.open_after_start = "x.onnx";
    StartupScript s(o);
    CHECK_FALSE(s.after_job(true, false, ""));
    CHECK(s.started_up());
}

TEST_CASE("one-off requests are due once, after start-up") {
    GuiOptions o;
    o.select = "layer2.0.conv1";
    o.sweep = true;
    StartupScript s(o);
    CHECK(s.take_select() == "layer2.0.conv1");
    CHECK(s.take_select() == "");
    CHECK_FALSE(s.take_requests());
    CHECK_FALSE(s.take_sweep(true));
    CHECK(s.sweep_pending());
    s.after_job(false, true, "");
    CHECK_FALSE(s.take_sweep(false));  // no model shown: not yet
    CHECK(s.take_sweep(true));
    CHECK_FALSE(s.take_sweep(true));
    CHECK_FALSE(s.sweep_pending());
    CHECK(s.take_requests());
    CHECK_FALSE(s.take_requests());
}

TEST_CASE("--plain-exec dense: the dense timing is due once, after start-up, only with a run") {
    GuiOptions o;
    o.plain_exec_dense = true;
    StartupScript s(o);
    CHECK(s.dense_timing_pending());
    CHECK_FALSE(s.take_dense_timing(true));  // still starting up
    s.after_job(false, true, "");
    CHECK(s.take_dense_timing(true));
    CHECK_FALSE(s.take_dense_timing(true));
    CHECK_FALSE(s.dense_timing_pending());

    // Start-up without a run (the model failed): nothing to time, and nothing left to wait for.
    StartupScript failed(o);
    failed.after_job(true, false, "");
    CHECK_FALSE(failed.take_dense_timing(false));
    CHECK_FALSE(failed.dense_timing_pending());

    GuiOptions structured;
    StartupScript plain(structured);
    plain.after_job(false, true, "");
    CHECK_FALSE(plain.dense_timing_pending());
    CHECK_FALSE(plain.take_dense_timing(true));
}

TEST_CASE("--keys: each key down one frame and up the next") {
    GuiOptions o;
    o.keys = {"left", "right"};
    StartupScript s(o);
    check_key(s, true, true);
    check_key(s, true, false);
    check_key(s, false, true);
    check_key(s, false, false);
    CHECK_FALSE(s.next_key());
}

TEST_CASE("the last scripted frame: settled, after frames - 1 settled ones") {
    GuiOptions o;
    o.frames = 3;
    StartupScript s(o);
    CHECK_FALSE(s.is_last_frame(true, 1));
    CHECK(s.is_last_frame(true, 2));
    CHECK_FALSE(s.is_last_frame(false, 5));
    GuiOptions interactive;
    CHECK_FALSE(StartupScript(interactive).is_last_frame(true, 100));
}
