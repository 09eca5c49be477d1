// A last word before a native crash. When the process dies of SIGILL,
// SIGSEGV, SIGBUS or SIGFPE in Resident's native code, one prepared line goes
// to stderr naming Resident, its version, the CPU variant and the models
// loaded, so that whoever reads an executor's log knows what to report. The
// handler then hands the signal on: to the handler it replaced (a JVM's, which
// writes its hs_err report and also handles the faults it causes on purpose),
// or to the default action, so the process still dies of the same signal.
#pragma once

#include <string_view>

namespace resident::internal {

// Installs the handlers once per process. Thread-safe, idempotent. Inside a
// JVM (`in_jvm`), only faults whose instruction lies in Resident's, llama's,
// ggml's or ONNX Runtime's code are reported, since the JVM faults on purpose
// elsewhere.
void install_crash_report(bool in_jvm);

// Re-reads which of Resident's libraries are mapped (after a plug-in loads), so
// faults in them count as Resident's. Thread-safe.
void crash_report_refresh_code_ranges();

// Sets the facts of the line: the CPU variant, or a model that starts or
// stops being resident. Thread-safe; not for signal handlers.
void crash_report_set_cpu_variant(std::string_view variant);
void crash_report_add_model(std::string_view model);
void crash_report_remove_model(std::string_view model);

}  // namespace resident::internal
