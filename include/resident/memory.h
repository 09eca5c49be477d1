// What this process and machine have in memory: for the check made before a
// model loads and for job summaries. Linux only (reads /proc and cgroup v2).
// All functions are thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace resident {

// Bytes a new allocation can take now: MemAvailable, capped by the cgroup's
// limit minus its usage when the process runs in a limited cgroup.
uint64_t available_memory_bytes();
// Resident set size now, and its peak since the process started.
uint64_t current_rss_bytes();
// The memory.max of this process's cgroup (v2), or 0 when unlimited or absent.
uint64_t cgroup_memory_limit_bytes();
// MemTotal of the machine.
uint64_t total_memory_bytes();
uint64_t peak_rss_bytes();
// "1.25 GiB", "512.0 MiB", "17 B".
std::string format_bytes(uint64_t bytes);

}  // namespace resident
