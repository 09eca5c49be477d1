// Page-cache helpers of the loader.
//
// Prefetch reads a model's files into the page cache (readahead(2), no copy)
// ahead of llama.cpp's loader. It is off by default (RESIDENT_PREFETCH=1 turns
// it on) because it measured both ways on the 2-core VM at 7B: on a cold disk
// a private load took 5.5 s with it against 7.3 s without; with the host's
// cache behind the guest it took 6.7 s against 2.7-4.3 s (bench/big_model.py
// compares both). Files already 90% cached are skipped.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace resident::internal::llama {

class Prefetch {
   public:
    // Starts reading those of `paths` that are mostly not in the page cache.
    explicit Prefetch(std::vector<std::string> paths);
    // Stops reading (at the next block) and joins.
    ~Prefetch();
    Prefetch(const Prefetch&) = delete;
    Prefetch& operator=(const Prefetch&) = delete;

    // Bytes read so far.
    uint64_t bytes_read() const { return read_.load(); }

   private:
    void run(const std::vector<std::string>& paths);

    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> read_{0};
    std::thread thread_;
};

// Drops this process's page-table entries of every mapping of `paths`
// (madvise MADV_DONTNEED on /proc/self/maps' ranges): the pages stay in the
// page cache, and a later read faults them back in. Returns the bytes of
// mappings advised.
uint64_t release_mapped_pages(const std::vector<std::string>& paths);

// Whether loads prefetch: RESIDENT_PREFETCH=1.
bool prefetch_enabled();

// The share (0..1) of a file's pages in the page cache now; 1 when it cannot tell.
double cached_fraction(const std::string& path);

}  // namespace resident::internal::llama
