#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace rm {

// Number of worker threads for a request: 0 means one per hardware thread.
inline int resolve_threads(int threads) {
    if (threads > 0) return threads;
    unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
}

// Runs fn(i) for i in [0, count) on up to `threads` threads that pull indices from a shared
// counter (tasks of uneven cost balance themselves). Threads live only for this call, so there
// is no pool to own or shut down. The first exception thrown by fn is rethrown here.
template <typename Fn>
void parallel_for(int64_t count, int threads, Fn&& fn) {
    int workers = static_cast<int>(std::min<int64_t>(resolve_threads(threads), count));
    if (workers <= 1) {
        for (int64_t i = 0; i < count; ++i) fn(i);
        return;
    }
    std::atomic<int64_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto work = [&] {
        try {
            for (int64_t i = next++; i < count; i = next++) fn(i);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
            next = count;
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(static_cast<size_t>(workers - 1));
    for (int t = 1; t < workers; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace rm
