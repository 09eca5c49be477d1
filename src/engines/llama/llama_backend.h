// Process-wide llama.cpp set-up: backend initialisation and log routing.
#pragma once

#include <string>

namespace resident::internal::llama {

// Initialises llama.cpp once per process and routes its log to Resident's
// logger (debug level). Thread-safe; cheap after the first call.
void ensure_backend();

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

}  // namespace resident::internal::llama
