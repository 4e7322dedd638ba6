#include "ui/worker.hpp"

#include <exception>

namespace rmvk::ui {

Worker::~Worker() {
    if (thread_.joinable()) thread_.join();
}

bool Worker::start(std::string title, std::function<JobResult(Progress&)> job, JobKind kind) {
    if (busy_) return false;
    if (thread_.joinable()) thread_.join();  // a finished job's thread, at most ending now
    busy_ = true;
    running_ = true;
    title_ = std::move(title);
    {
        std::lock_guard lock(progress_.mutex);
        progress_.started = std::chrono::steady_clock::now();
        progress_.stages.clear();
        progress_.stage.clear();
    }
    progress_.set(title_, 0.0f);
    thread_ = std::jthread([this, kind, job = std::move(job)] {
        JobResult result;
        try {
            result = job(progress_);
        } catch (const std::exception& e) {
            result.error = e.what();
        } catch (...) {
            result.error = "unknown error";
        }
        result.kind = kind;
        result.what = title_;
        {
            std::lock_guard lock(progress_.mutex);
            result.stages = progress_.stages;
            result.seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - progress_.started)
                    .count();
        }
        {
            std::lock_guard lock(mutex_);
            done_ = std::move(result);
        }
        running_ = false;
    });
    return true;
}

std::optional<JobResult> Worker::poll() {
    std::lock_guard lock(mutex_);
    std::optional<JobResult> out = std::move(done_);
    done_.reset();
    if (out) busy_ = false;
    return out;
}

}  // namespace rmvk::ui
