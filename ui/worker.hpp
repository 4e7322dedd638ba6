#pragma once
// One background job at a time (load, convert, run) with a result handed back to the UI thread.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ui/session.hpp"

namespace rmvk::ui {

// A stage of a job and when it began, in seconds since the job started.
struct JobStage {
    std::string stage;
    double start_s = 0;
};

struct Progress {
    std::atomic<float> fraction{0};
    mutable std::mutex mutex;
    std::string stage;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::vector<JobStage> stages;  // every distinct stage in order (the state dump's last_job)
    void set(const std::string& s, float f) {
        std::lock_guard lock(mutex);
        if (s != stage)
            stages.push_back(
                {s, std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                        .count()});
        stage = s;
        fraction = f;
    }
    std::string get_stage() const {
        std::lock_guard lock(mutex);
        return stage;
    }
};

// Which kind of job produced a result: the plain graph's dense timing is taken apart from the
// jobs that bring a new model or new runs.
enum class JobKind { Work, DenseTiming };

// What a job produced: a new model and/or new runs; error set when it failed.
struct JobResult {
    JobKind kind = JobKind::Work;
    std::shared_ptr<const LoadedModel> model;
    std::shared_ptr<const RunSet> runs;
    std::shared_ptr<const GraphRun> plain_dense;  // the plain graph timed dense (time_plain_dense)
    std::string error;
    std::vector<std::string> warnings;  // it worked, but not quite as asked
    std::string what;                   // the job's title, for the error dialog
    std::vector<JobStage> stages;       // where its time went
    double seconds = 0;                 // start to finish
};

class Worker {
  public:
    ~Worker();
    // True from start() until its result has been taken by poll(): no second job starts while
    // a finished one's result still waits, so results are never mixed up or dropped. Set and
    // cleared on the UI thread only (start and poll), so a frame never sees it flicker.
    bool busy() const { return busy_; }
    // True while the job's thread is still working (the result may not be there yet).
    bool running() const { return running_; }
    // Starts `job` unless one is busy (returns false then); its result carries `kind`.
    bool start(std::string title, std::function<JobResult(Progress&)> job,
               JobKind kind = JobKind::Work);
    // The finished job's result, once.
    std::optional<JobResult> poll();
    const Progress& progress() const { return progress_; }
    const std::string& title() const { return title_; }

  private:
    std::jthread thread_;
    bool busy_ = false;  // the UI thread's: start() to the poll() that returns the result
    std::atomic<bool> running_{false};
    std::mutex mutex_;
    std::optional<JobResult> done_;
    Progress progress_;
    std::string title_;
};

}  // namespace rmvk::ui
