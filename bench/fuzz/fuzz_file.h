// The fuzz input as a file: the readers under test take paths. An anonymous
// in-memory file (memfd), reached through /proc/self/fd, rewritten per input.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace resident::fuzz {

inline std::string as_file(const uint8_t* data, size_t size) {
    static const int fd = memfd_create("resident-fuzz", 0);
    if (fd < 0) std::abort();
    if (ftruncate(fd, 0) != 0) std::abort();
    for (size_t done = 0; done < size;) {
        const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
        if (n <= 0) std::abort();
        done += static_cast<size_t>(n);
    }
    return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace resident::fuzz
