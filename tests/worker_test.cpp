// The UI's background worker: a finished job stays "busy" until its result is taken, so no
// second job can start and overwrite it, and each result says which kind of job made it.
#include "ui/worker.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <thread>

using rmvk::ui::JobKind;
using rmvk::ui::JobResult;
using rmvk::ui::Progress;
using rmvk::ui::Worker;

namespace {
void wait_until_finished(const Worker& worker) {
    while (worker.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}
}  // namespace

TEST_CASE("a finished job's result blocks the next job until it is polled") {
    Worker worker;
    REQUIRE(worker.start("first", [](Progress&) {
        JobResult r;
        r.warnings.push_back("from the first job");
        return r;
    }));
    wait_until_finished(worker);
    CHECK(worker.busy());
    CHECK_FALSE(worker.start("second", [](Progress&) { return JobResult{}; }));
    auto done = worker.poll();
    REQUIRE(done);
    CHECK(done->what == "first");
    CHECK(done->kind == JobKind::Work);
    REQUIRE(done->warnings.size() == 1);
    CHECK_FALSE(worker.busy());
    CHECK_FALSE(worker.poll());
}

TEST_CASE("a result keeps its job's kind, also when the job throws") {
    Worker worker;
    REQUIRE(worker.start(
        "dense timing", [](Progress&) -> JobResult { throw std::runtime_error("out of memory"); },
        JobKind::DenseTiming));
    wait_until_finished(worker);
    auto done = worker.poll();
    REQUIRE(done);
    CHECK(done->kind == JobKind::DenseTiming);
    CHECK(done->error == "out of memory");
    REQUIRE(worker.start("load", [](Progress&) { return JobResult{}; }));
    wait_until_finished(worker);
    done = worker.poll();
    REQUIRE(done);
    CHECK(done->kind == JobKind::Work);
}
