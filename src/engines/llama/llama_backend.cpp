#include "engines/llama/llama_backend.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <fmt/format.h>
#include <llama.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "core/cpu_probe.h"
#include "core/crash_report.h"
#include "core/log.h"
#include "engines/llama/cpu_variants.h"
#include "resident/version.h"

namespace resident::internal::llama {
namespace {

thread_local LogCapture* tl_capture = nullptr;
thread_local bool tl_capturing_line = false;
thread_local int tl_assertions_throw = 0;

// ggml's abort hook. Inside an AssertionsThrow scope the assertion becomes an
// exception: ggml_abort is C, but x86-64 objects carry unwind tables, so it
// unwinds through that frame into llama.cpp's C++ (which catches it, frees
// what it built and returns an error). Elsewhere it does what ggml does
// without a hook (the message and a backtrace on stderr) and ggml aborts.
void on_ggml_abort(const char* message) {
    if (tl_assertions_throw > 0) {
        throw std::runtime_error(fmt::format("llama.cpp assertion failed: {}", message));
    }
    std::fprintf(stderr, "%s\n", message);
    void* frames[64];
    backtrace_symbols_fd(frames, backtrace(frames, 64), 2);
}

// llama.cpp logs from the calling thread of the API (and, rarely, from its
// compute threads); a capture only sees the lines of its own thread.
void route_log(ggml_log_level level, const char* text, void* /*user_data*/) {
    if (tl_capture != nullptr) {
        if (level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR) {
            tl_capturing_line = true;
        } else if (level != GGML_LOG_LEVEL_CONT) {
            tl_capturing_line = false;
        }
        if (tl_capturing_line) tl_capture->append(text);
    }
    auto& log = logger();
    if (!log.should_log(spdlog::level::debug)) return;
    std::string_view line(text);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (!line.empty()) log.debug("llama.cpp: {}", line);
}

// ggml builds some tables on first use, in function-local statics: the CPU
// backend's list of extra buffer types, which every model load reads, is one.
// Their initialisation is thread-safe, but the tsan build leaves ggml
// uninstrumented, so TSan cannot see its guards and reports two concurrent
// first loads as a race. Building the tables here, inside call_once, makes
// every later reader visibly happen after, in every build.
void build_lazy_tables() {
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        ggml_backend_dev_buffer_type(dev);
        auto extra_bufts =
            reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(ggml_backend_reg_get_proc_address(
                ggml_backend_dev_backend_reg(dev), "ggml_backend_dev_get_extra_bufts"));
        if (extra_bufts == nullptr) continue;
        for (ggml_backend_buffer_type_t* b = extra_bufts(dev); b != nullptr && *b != nullptr; ++b) {
            ggml_backend_buft_name(*b);
        }
    }
}

constexpr std::string_view kPluginPrefix = "libggml-cpu-";
constexpr std::string_view kPluginSuffix = ".so";

// The folder of libllama.so: the CPU plug-ins sit beside it, in the build
// folder as in the jar's unpacked native folder.
Result<std::filesystem::path> library_folder() {
    Dl_info where{};
    if (dladdr(reinterpret_cast<void*>(&llama_backend_init), &where) == 0 ||
        where.dli_fname == nullptr) {
        return internal_error("cannot tell where libllama.so was loaded from (dladdr failed)");
    }
    return std::filesystem::absolute(std::filesystem::path(where.dli_fname)).parent_path();
}

// Variant names of the plug-ins in `dir`: libggml-cpu-<name>.so.
std::vector<std::string> plugins_in(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string file = entry.path().filename().string();
        if (file.size() > kPluginPrefix.size() + kPluginSuffix.size() &&
            file.starts_with(kPluginPrefix) && file.ends_with(kPluginSuffix)) {
            names.push_back(file.substr(kPluginPrefix.size(),
                                        file.size() - kPluginPrefix.size() - kPluginSuffix.size()));
        }
    }
    return names;
}

std::filesystem::path plugin_path(const std::filesystem::path& dir, std::string_view variant) {
    return dir / fmt::format("{}{}{}", kPluginPrefix, variant, kPluginSuffix);
}

// Probes the CPU and chooses the variant (x86-64); elsewhere ggml's own choice.
Result<SystemInfo> choose_and_load() {
    SystemInfo info;
    info.resident_version = RESIDENT_VERSION;
    info.llama_cpp_version = fmt::format("{} ({})", RESIDENT_LLAMA_CPP_VERSION,
                                         std::string_view(RESIDENT_LLAMA_CPP_COMMIT).substr(0, 8));
    RESIDENT_ASSIGN_OR_RETURN(const std::filesystem::path dir, library_folder());
    const std::vector<std::string> present = plugins_in(dir);
    if (present.empty()) {
        return not_found(fmt::format(
            "no CPU backend of llama.cpp beside {}: the libggml-cpu-*.so files must sit in the "
            "same folder as libllama.so (rebuild with scripts/bootstrap.sh, or use the jar as "
            "built)",
            dir.string()));
    }
#if defined(__x86_64__)
    CpuFacts facts = read_cpu_facts();
    run_live_checks(facts);
    info.cpu_vendor = facts.vendor;
    info.cpu_brand = facts.brand;
    info.live_check = facts.live_unavailable.empty() ? "ran" : facts.live_unavailable;
    for (size_t i = 0; i < kIsaCount; ++i) {
        if (check_isa(facts, static_cast<Isa>(i)).usable) {
            info.usable_isas.emplace_back(isa_name(static_cast<Isa>(i)));
        }
    }
    RESIDENT_ASSIGN_OR_RETURN(const VariantPolicy policy, variant_policy_from_env());
    RESIDENT_ASSIGN_OR_RETURN(VariantChoice choice, choose_cpu_variant(facts, present, policy));
    info.cpu_variant = choice.chosen;
    info.variants = std::move(choice.variants);
    info.selected_by = policy.pin.empty() ? "the probe" : "RESIDENT_CPU_VARIANT";
    info.cpu_variant_path = plugin_path(dir, info.cpu_variant).string();
    LogCapture capture;
    if (ggml_backend_load(info.cpu_variant_path.c_str()) == nullptr) {
        return internal_error(
            fmt::format("ggml could not load the CPU variant {}: {}", info.cpu_variant_path,
                        capture.text().empty() ? "no reason given" : capture.text()));
    }
#else
    // No probe for this architecture: ggml scores its own variants.
    ggml_backend_load_all_from_path(dir.c_str());
    info.selected_by = "ggml's own scoring (no probe for this architecture)";
    info.live_check = "not an x86-64 machine";
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        if (ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_CPU) {
            info.cpu_variant = ggml_backend_dev_description(dev);
        }
    }
#endif
    if (ggml_backend_dev_count() == 0) {
        return internal_error(fmt::format("no ggml backend could be loaded from {}", dir.string()));
    }
    return info;
}

struct BackendState {
    Status status;
    SystemInfo info;
};

const BackendState& backend_state() {
    // A function-local static: initialised once, by the first caller, while
    // every other caller waits.
    static const BackendState state = [] {
        install_crash_report(/*in_jvm=*/false);  // a no-op when the JNI layer did it first
        llama_log_set(route_log, nullptr);
        ggml_set_abort_callback(on_ggml_abort);
        BackendState s;
        auto chosen = choose_and_load();
        if (!chosen.is_ok()) {
            s.status = chosen.status();
            logger().error("llama.cpp's CPU backend: {}", s.status.message());
            return s;
        }
        s.info = std::move(chosen).value();
        llama_backend_init();
        build_lazy_tables();
        crash_report_set_cpu_variant(s.info.cpu_variant);
        crash_report_refresh_code_ranges();
        logger().info("{}", s.info.summary());
        return s;
    }();
    return state;
}

}  // namespace

Status ensure_backend() { return backend_state().status; }

const std::vector<std::string>& cpu_extra_buffer_types() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        if (!ensure_backend().is_ok()) return out;
        ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
        if (cpu == nullptr) return out;
        auto get =
            reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(ggml_backend_reg_get_proc_address(
                ggml_backend_dev_backend_reg(cpu), "ggml_backend_dev_get_extra_bufts"));
        if (get == nullptr) return out;
        for (ggml_backend_buffer_type_t* b = get(cpu); b != nullptr && *b != nullptr; ++b) {
            out.emplace_back(ggml_backend_buft_name(*b));
        }
        return out;
    }();
    return names;
}

Result<SystemInfo> backend_system_info() {
    const BackendState& s = backend_state();
    if (!s.status.is_ok()) return s.status;
    return s.info;
}

AssertionsThrow::AssertionsThrow() { ++tl_assertions_throw; }
AssertionsThrow::~AssertionsThrow() { --tl_assertions_throw; }

LogCapture::LogCapture() : previous_(tl_capture) { tl_capture = this; }
LogCapture::~LogCapture() { tl_capture = previous_; }

void LogCapture::append(const char* text) { text_ += text; }

std::string LogCapture::text() const {
    std::string out;
    size_t start = 0;
    while (start < text_.size()) {
        size_t end = text_.find('\n', start);
        if (end == std::string::npos) end = text_.size();
        std::string_view line(text_.data() + start, end - start);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            line.remove_prefix(1);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
        if (!line.empty()) {
            if (!out.empty()) out += "; ";
            out += line;
        }
        start = end + 1;
    }
    return out;
}

}  // namespace resident::internal::llama
