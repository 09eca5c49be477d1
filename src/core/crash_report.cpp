#include "core/crash_report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <link.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "resident/version.h"

namespace resident::internal {
namespace {

constexpr int kSignals[] = {SIGILL, SIGSEGV, SIGBUS, SIGFPE};
constexpr size_t kSignalCount = sizeof(kSignals) / sizeof(kSignals[0]);

// The prepared line, double-buffered: a writer fills the spare buffer and
// then publishes its index, so the handler always reads a complete line.
constexpr size_t kLineMax = 1536;
struct Line {
    char text[kLineMax];
    size_t size;
};
Line g_lines[2];
std::atomic<int> g_published{-1};

// Executable segments of Resident's, llama's, ggml's and ONNX Runtime's libraries.
struct CodeRange {
    uintptr_t begin;
    uintptr_t end;
};
constexpr size_t kMaxRanges = 64;
CodeRange g_ranges[kMaxRanges];
std::atomic<size_t> g_range_count{0};

struct sigaction g_previous[kSignalCount];
std::atomic<bool> g_in_jvm{false};
std::atomic<bool> g_reported{false};

std::mutex g_mu;
std::string g_variant = "not chosen yet";  // guarded by g_mu
std::vector<std::string> g_models;         // guarded by g_mu; one entry per load

void publish_locked() {
    std::string models = g_models.empty() ? "none" : fmt::format("{}", fmt::join(g_models, ", "));
    std::string line = fmt::format(
        " in native code: resident {} (llama.cpp {}, commit {}), CPU variant {}, models: {}. "
        "Report this line with the log above it; RESIDENT_CPU_VARIANT=<variant> (resident "
        "inspect --system lists them) pins another CPU variant.\n",
        RESIDENT_VERSION, RESIDENT_LLAMA_CPP_VERSION,
        std::string_view(RESIDENT_LLAMA_CPP_COMMIT).substr(0, 8), g_variant, models);
    if (line.size() > kLineMax) {
        line.resize(kLineMax - 5);
        line += "...\n";
    }
    const int spare = g_published.load(std::memory_order_relaxed) == 0 ? 1 : 0;
    std::memcpy(g_lines[spare].text, line.data(), line.size());
    g_lines[spare].size = line.size();
    g_published.store(spare, std::memory_order_release);
}

bool is_resident_library(const char* path) {
    if (path == nullptr) return false;
    const char* base = std::strrchr(path, '/');
    base = base ? base + 1 : path;
    return std::strncmp(base, "libresident", 11) == 0 || std::strncmp(base, "libllama", 8) == 0 ||
           std::strncmp(base, "libggml", 7) == 0 || std::strncmp(base, "libonnxruntime", 14) == 0;
}

int collect_range(dl_phdr_info* info, size_t, void* out) {
    if (!is_resident_library(info->dlpi_name)) return 0;
    auto* ranges = static_cast<std::vector<CodeRange>*>(out);
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
        ranges->push_back(
            {info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz});
    }
    return 0;
}

bool fault_in_resident_code(void* context) {
#if defined(__x86_64__)
    const auto* uc = static_cast<const ucontext_t*>(context);
    const auto pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
    const size_t n = g_range_count.load(std::memory_order_acquire);
    for (size_t i = 0; i < n; ++i) {
        if (pc >= g_ranges[i].begin && pc < g_ranges[i].end) return true;
    }
    return false;
#else
    (void)context;
    return false;
#endif
}

const char* signal_name(int sig) {
    switch (sig) {
        case SIGILL:
            return "SIGILL (illegal instruction)";
        case SIGSEGV:
            return "SIGSEGV (invalid memory access)";
        case SIGBUS:
            return "SIGBUS (bus error)";
        case SIGFPE:
            return "SIGFPE (arithmetic fault)";
    }
    return "signal";
}

void write_all(const char* text, size_t size) {
    while (size > 0) {
        const ssize_t n = write(STDERR_FILENO, text, size);
        if (n <= 0) return;
        text += n;
        size -= static_cast<size_t>(n);
    }
}

// Async-signal-safe: reads prepared memory, calls write, sigaction and raise.
void on_fault(int sig, siginfo_t* info, void* context) {
    size_t slot = 0;
    while (slot < kSignalCount && kSignals[slot] != sig) ++slot;
    if (slot == kSignalCount) return;
    const bool ours = !g_in_jvm.load(std::memory_order_relaxed) || fault_in_resident_code(context);
    if (ours && !g_reported.exchange(true)) {
        const int published = g_published.load(std::memory_order_acquire);
        constexpr char kPrefix[] = "\n[resident] fatal ";
        write_all(kPrefix, sizeof(kPrefix) - 1);
        const char* name = signal_name(sig);
        write_all(name, std::strlen(name));
        if (published >= 0) write_all(g_lines[published].text, g_lines[published].size);
    }
    const struct sigaction& previous = g_previous[slot];
    if ((previous.sa_flags & SA_SIGINFO) != 0 && previous.sa_sigaction != nullptr) {
        previous.sa_sigaction(sig, info, context);
        return;
    }
    if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN &&
        previous.sa_handler != nullptr) {
        previous.sa_handler(sig);
        return;
    }
    // The default action: for a fault, returning re-executes the instruction,
    // which now kills the process with this signal; a sent signal is raised
    // again (it stays blocked until this handler returns).
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    if (info == nullptr || info->si_code <= 0) raise(sig);
}

}  // namespace

void install_crash_report(bool in_jvm) {
    static std::once_flag once;
    std::call_once(once, [in_jvm] {
        g_in_jvm.store(in_jvm);
        {
            std::lock_guard lock(g_mu);
            publish_locked();
        }
        crash_report_refresh_code_ranges();
        for (size_t i = 0; i < kSignalCount; ++i) {
            struct sigaction sa;
            std::memset(&sa, 0, sizeof(sa));
            sa.sa_sigaction = on_fault;
            sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
            sigemptyset(&sa.sa_mask);
            sigaction(kSignals[i], &sa, &g_previous[i]);
        }
    });
}

void crash_report_refresh_code_ranges() {
    std::vector<CodeRange> ranges;
    dl_iterate_phdr(collect_range, &ranges);
    std::lock_guard lock(g_mu);
    // dl_iterate_phdr lists objects in load order and none of these is
    // unloaded, so the published prefix stays valid while a handler reads it:
    // only new ranges are appended, then the count grows.
    const size_t n = std::min(ranges.size(), kMaxRanges);
    for (size_t i = g_range_count.load(std::memory_order_relaxed); i < n; ++i) {
        g_ranges[i] = ranges[i];
    }
    g_range_count.store(n, std::memory_order_release);
}

void crash_report_set_cpu_variant(std::string_view variant) {
    std::lock_guard lock(g_mu);
    g_variant = variant;
    publish_locked();
}

void crash_report_add_model(std::string_view model) {
    std::lock_guard lock(g_mu);
    g_models.emplace_back(model);
    publish_locked();
}

void crash_report_remove_model(std::string_view model) {
    std::lock_guard lock(g_mu);
    auto it = std::find(g_models.begin(), g_models.end(), model);
    if (it != g_models.end()) g_models.erase(it);
    publish_locked();
}

}  // namespace resident::internal
