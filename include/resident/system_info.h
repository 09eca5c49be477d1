// What this process runs on: the CPU, the instruction sets the OS lets it
// execute, and the CPU variant of llama.cpp's backend chosen for it, with the
// reason each other variant was skipped. The same facts back `resident
// --version`, `resident inspect --system`, Resident.systemInfo() in Java and
// the log line of each process's first model load.
#pragma once

#include <string>
#include <vector>

#include "resident/status.h"

namespace resident {

struct CpuVariantReport {
    std::string name;      // e.g. "icelake"
    bool present = false;  // its plug-in file sits beside libllama
    bool usable = false;   // every instruction set it needs passed the probe
    bool chosen = false;
    std::string reason;  // why it was not chosen; empty for the chosen one
};

struct SystemInfo {
    std::string resident_version;   // e.g. "0.1.0"
    std::string llama_cpp_version;  // e.g. "0.5.0 (de3ff815)"
    std::string cpu_vendor;         // e.g. "GenuineIntel"
    std::string cpu_brand;
    std::vector<std::string> usable_isas;  // e.g. {"SSE4.2", "AVX", ...}
    // "ran" when a child process executed one instruction of each set, else
    // why it could not (then cpuid and the OS's answers decide alone).
    std::string live_check;
    std::string cpu_variant;                 // the chosen variant
    std::string cpu_variant_path;            // its plug-in file
    std::string selected_by;                 // "the probe", or "RESIDENT_CPU_VARIANT" (a pin)
    std::vector<CpuVariantReport> variants;  // every known variant, best first

    // A few lines for people (`resident inspect --system`).
    std::string to_text() const;
    // One JSON object (Java's Resident.systemInfo(), `--json`).
    std::string to_json() const;
    // One line for logs: "CPU variant zen4 (selected by the probe; ...); skipped
    // sapphirerapids: AMX-TILE advertised, not enabled by the OS (...)".
    std::string summary() const;
};

// Initialises the CPU backend if this process has not yet (probe, choose,
// load the plug-in) and describes the result. Thread-safe; the answer is the
// same for the life of the process.
// Errors: FailedPrecondition when no variant can run here or the one pinned by
// RESIDENT_CPU_VARIANT cannot (the message lists each variant's reason);
// InvalidArgument for an unknown name in RESIDENT_CPU_VARIANT(_DENY);
// NotFound when the plug-in files are missing.
Result<SystemInfo> system_info();

}  // namespace resident
