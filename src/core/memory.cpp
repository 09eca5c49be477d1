#include "resident/memory.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace resident {
namespace {

// Value of `key` in a "Key:   123 kB" file such as /proc/meminfo, in bytes.
uint64_t read_kb_field(const char* path, const std::string& key) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key, 0) == 0) {
            std::istringstream fields(line.substr(key.size()));
            uint64_t kb = 0;
            fields >> kb;
            return kb * 1024;
        }
    }
    return 0;
}

// A number in a one-line file, or 0 for "max", absent files and garbage.
uint64_t read_number_file(const std::string& path) {
    std::ifstream in(path);
    std::string text;
    if (!(in >> text) || text == "max") return 0;
    try {
        return std::stoull(text);
    } catch (...) {
        return 0;
    }
}

std::string own_cgroup_dir() {
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("0::", 0) == 0) return "/sys/fs/cgroup" + line.substr(3);
    }
    return "";
}

}  // namespace

uint64_t available_memory_bytes() {
    uint64_t avail = read_kb_field("/proc/meminfo", "MemAvailable:");
    const std::string cg = own_cgroup_dir();
    if (!cg.empty()) {
        const uint64_t limit = read_number_file(cg + "/memory.max");
        const uint64_t used = read_number_file(cg + "/memory.current");
        if (limit > 0) avail = std::min(avail, limit > used ? limit - used : 0);
    }
    return avail;
}

uint64_t cgroup_memory_limit_bytes() {
    const std::string cg = own_cgroup_dir();
    return cg.empty() ? 0 : read_number_file(cg + "/memory.max");
}

uint64_t total_memory_bytes() { return read_kb_field("/proc/meminfo", "MemTotal:"); }

uint64_t current_rss_bytes() { return read_kb_field("/proc/self/status", "VmRSS:"); }
uint64_t peak_rss_bytes() { return read_kb_field("/proc/self/status", "VmHWM:"); }

std::string format_bytes(uint64_t bytes) {
    char buf[32];
    const double b = static_cast<double>(bytes);
    if (bytes >= (1ull << 30)) {
        std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1ull << 30));
    } else if (bytes >= (1ull << 20)) {
        std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1ull << 20));
    } else if (bytes >= 1024) {
        std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024);
    } else {
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    }
    return buf;
}

}  // namespace resident
