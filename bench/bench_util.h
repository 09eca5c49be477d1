// What the benchmark programs share: leaving with a message, medians, timing.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "resident/status.h"

namespace resident::bench {

using Clock = std::chrono::steady_clock;

// The program's name in its error lines; each benchmark sets it first.
inline const char* g_program = "resident-bench";

[[noreturn]] inline void die(const Status& st, std::string_view what) {
    std::fprintf(stderr, "%s: %.*s: %s\n", g_program, static_cast<int>(what.size()), what.data(),
                 st.to_string().c_str());
    std::exit(1);
}

template <typename T>
T or_die(Result<T> r, std::string_view what) {
    if (!r.is_ok()) die(r.status(), what);
    return std::move(r).value();
}

inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace resident::bench
