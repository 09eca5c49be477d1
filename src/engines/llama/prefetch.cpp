#include "engines/llama/prefetch.h"

#include <fcntl.h>  // readahead (GNU)
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string_view>

namespace resident::internal::llama {
namespace {

constexpr size_t kBlock = 32u << 20;  // large enough for the disk's sequential speed
// Below this share in the page cache a file is read ahead.
constexpr double kColdBelow = 0.9;

}  // namespace

uint64_t release_mapped_pages(const std::vector<std::string>& paths) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    uint64_t advised = 0;
    while (std::getline(maps, line)) {
        bool ours = false;
        for (const auto& p : paths) {
            ours = ours || (line.size() > p.size() &&
                            line.compare(line.size() - p.size(), p.size(), p) == 0 &&
                            line[line.size() - p.size() - 1] == ' ');
        }
        if (!ours) continue;
        uintptr_t begin = 0, end = 0;
        if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR, &begin, &end) != 2) continue;
        if (madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED) == 0) {
            advised += end - begin;
        }
    }
    return advised;
}

bool prefetch_enabled() {
    const char* v = std::getenv("RESIDENT_PREFETCH");
    return v != nullptr && std::string_view(v) == "1";
}

double cached_fraction(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    struct stat st {};
    double fraction = 1;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        const auto size = static_cast<size_t>(st.st_size);
        void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
        if (map != MAP_FAILED) {
            const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
            std::vector<unsigned char> resident((size + page - 1) / page);
            if (mincore(map, size, resident.data()) == 0) {
                size_t in = 0;
                for (unsigned char r : resident) in += r & 1;
                fraction = static_cast<double>(in) / static_cast<double>(resident.size());
            }
            munmap(map, size);
        }
    }
    close(fd);
    return fraction;
}

Prefetch::Prefetch(std::vector<std::string> paths) {
    std::vector<std::string> cold;
    for (auto& p : paths) {
        if (cached_fraction(p) < kColdBelow) cold.push_back(std::move(p));
    }
    if (!cold.empty()) thread_ = std::thread([this, cold] { run(cold); });
}

Prefetch::~Prefetch() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void Prefetch::run(const std::vector<std::string>& paths) {
    for (const auto& path : paths) {
        const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st {};
        const off_t size = fstat(fd, &st) == 0 ? st.st_size : 0;
        // readahead(2) fills the page cache without copying into this
        // process: the loader keeps the CPU (it repacks while this reads).
        for (off_t at = 0; at < size && !stop_; at += static_cast<off_t>(kBlock)) {
            if (readahead(fd, at, kBlock) != 0) break;
            read_ += std::min<uint64_t>(kBlock, static_cast<uint64_t>(size - at));
        }
        close(fd);
        if (stop_) return;
    }
}

}  // namespace resident::internal::llama
