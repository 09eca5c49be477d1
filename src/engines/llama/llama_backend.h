// Process-wide llama.cpp set-up: backend initialisation and log routing.
#pragma once

#include <string>
#include <vector>

#include "resident/status.h"
#include "resident/system_info.h"

namespace resident::internal::llama {

// Initialises llama.cpp once per process: routes its log to Resident's logger
// (debug level), probes the CPU, loads the best CPU variant that can run here
// (cpu_variants.h) and logs which one and why. Thread-safe; cheap after the
// first call, which also decides the answer for the life of the process.
// Errors: those of resident::system_info().
Status ensure_backend();

// What ensure_backend chose. Errors: as ensure_backend.
Result<SystemInfo> backend_system_info();

// The names of the extra (repacking) weight buffer types the chosen CPU
// variant offers, in the order llama.cpp prefers them, e.g. {"AMX",
// "CPU_REPACK"}; empty before ensure_backend or when it failed.
const std::vector<std::string>& cpu_extra_buffer_types();

// While alive, collects the warnings and errors llama.cpp logs on this thread,
// so a failed load can say why. Not for sharing between threads.
class LogCapture {
   public:
    LogCapture();
    ~LogCapture();
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;
    // The captured lines, trimmed and joined with "; ".
    std::string text() const;
    void append(const char* text);

   private:
    std::string text_;
    LogCapture* previous_;
};

// While alive, a failed GGML_ASSERT on this thread throws std::runtime_error
// (with ggml's message) out of ggml_abort instead of aborting the process.
// Only for calls into llama.cpp that catch std::exception and clean up after
// themselves: loading a model, whose loader asserts on some values a file can
// hold (a block count of 0, more experts used than exist) where it throws on
// others. Such a file is then a load error, not a dead executor. Elsewhere,
// and on other threads, an assertion still aborts (a broken invariant).
class AssertionsThrow {
   public:
    AssertionsThrow();
    ~AssertionsThrow();
    AssertionsThrow(const AssertionsThrow&) = delete;
    AssertionsThrow& operator=(const AssertionsThrow&) = delete;
};

}  // namespace resident::internal::llama
