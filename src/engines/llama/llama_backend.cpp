#include "engines/llama/llama_backend.h"

#include <llama.h>

#include <mutex>

#include "core/log.h"

#ifdef RESIDENT_DYNAMIC_BACKENDS
#include <dlfcn.h>

#include <filesystem>
#endif

namespace resident::internal::llama {
namespace {

thread_local LogCapture* tl_capture = nullptr;
thread_local bool tl_capturing_line = false;

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

}  // namespace

void ensure_backend() {
    static std::once_flag once;
    std::call_once(once, [] {
        llama_log_set(route_log, nullptr);
#ifdef RESIDENT_DYNAMIC_BACKENDS
        // The CPU backend comes as plug-ins, one per instruction-set level,
        // beside libllama.so (as the jar unpacks them); ggml loads the best
        // one this CPU supports.
        Dl_info where{};
        if (dladdr(reinterpret_cast<void*>(&llama_backend_init), &where) != 0 &&
            where.dli_fname != nullptr) {
            const auto dir = std::filesystem::path(where.dli_fname).parent_path();
            ggml_backend_load_all_from_path(dir.c_str());
        }
        if (ggml_backend_dev_count() == 0) {
            logger().error(
                "no ggml backend could be loaded beside libllama.so: the "
                "libggml-cpu-*.so files must sit in the same folder");
        }
#endif
        llama_backend_init();
        build_lazy_tables();
    });
}

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
