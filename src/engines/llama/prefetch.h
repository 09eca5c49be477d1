// Reads a model's files from disk ahead of llama.cpp's loader. A cold load
// through the mapping faults pages in a few at a time (measured at 7B: 6.2 s
// to load what `cat` reads in 4.4 s); one thread reading the files start to
// end in large blocks fills the page cache at the disk's sequential speed, and
// the loader then finds its pages there. Files already in the page cache are
// skipped, so a warm load pays nothing.
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

// Whether loads prefetch: yes unless RESIDENT_PREFETCH=0 (for measuring).
bool prefetch_enabled();

// The share (0..1) of a file's pages in the page cache now; 1 when it cannot tell.
double cached_fraction(const std::string& path);

}  // namespace resident::internal::llama
