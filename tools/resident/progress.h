// What the local jobs (`resident run`, `resident classify`) share: progress on
// stderr and worker threads.
#pragma once

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "job.h"

namespace resident::cli {

// Prints progress to stderr from its own thread until stopped.
class ProgressReporter {
   public:
    // `done` counts the rows finished; `rate` says how fast, e.g. "12.5 tok/s".
    ProgressReporter(ProgressMode mode, int64_t total, std::function<int64_t()> done,
                     std::function<std::string(double seconds)> rate)
        : done_(std::move(done)),
          rate_(std::move(rate)),
          total_(total),
          start_(std::chrono::steady_clock::now()) {
        if (mode == ProgressMode::kAuto)
            mode = isatty(STDERR_FILENO) ? ProgressMode::kBar : ProgressMode::kLines;
        mode_ = mode;
        if (mode_ != ProgressMode::kNone) thread_ = std::thread([this] { loop(); });
    }
    ~ProgressReporter() { stop(); }

    void stop() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

   private:
    void loop() {
        const auto period = mode_ == ProgressMode::kBar ? std::chrono::milliseconds(250)
                                                        : std::chrono::milliseconds(10000);
        std::unique_lock lock(mu_);
        while (!cv_.wait_for(lock, period, [&] { return stop_; })) print(false);
        print(true);
    }

    void print(bool last) {
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        const int64_t done = done_();
        const std::string rate = rate_(secs);
        const double eta = done > 0 ? secs * static_cast<double>(total_ - done) / done : 0;
        if (mode_ == ProgressMode::kBar) {
            constexpr int kWidth = 28;
            const int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
            std::fprintf(stderr, "\r[%s%s] %lld/%lld rows  %s  ETA %.0fs  ",
                         std::string(filled, '#').c_str(),
                         std::string(kWidth - filled, '.').c_str(), static_cast<long long>(done),
                         static_cast<long long>(total_), rate.c_str(), eta);
            if (last) std::fputc('\n', stderr);
        } else if (!last) {
            std::fprintf(stderr, "[resident] %lld/%lld rows, %s, ETA %.0f s\n",
                         static_cast<long long>(done), static_cast<long long>(total_), rate.c_str(),
                         eta);
        }
        std::fflush(stderr);
    }

    const std::function<int64_t()> done_;
    const std::function<std::string(double)> rate_;
    const int64_t total_;
    const std::chrono::steady_clock::time_point start_;
    ProgressMode mode_ = ProgressMode::kNone;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;  // guarded by mu_
    std::thread thread_;
};

// Runs `body(worker)` on `n` threads and waits for them.
template <typename F>
void on_threads(int32_t n, F&& body) {
    std::vector<std::thread> threads;
    for (int32_t w = 0; w < n; ++w) threads.emplace_back([&, w] { body(w); });
    for (auto& t : threads) t.join();
}

}  // namespace resident::cli
