#include "engines/onnx/ort.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

#include "core/crash_report.h"
#include "fmt/format.h"

namespace resident::internal::onnx {

namespace {

std::mutex g_mu;
Ort::Env* g_env = nullptr;  // never destroyed: threads may still run sessions at exit
std::string g_version;

std::string module_dir() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&ort_version), &info) == 0 || !info.dli_fname) return "";
    return std::filesystem::path(info.dli_fname).parent_path().string();
}

Result<Ort::Env*> open_runtime() {
    install_crash_report(/*in_jvm=*/false);  // a no-op when the JNI layer did it first
    std::vector<std::string> tried;
    if (const char* e = std::getenv("RESIDENT_ONNXRUNTIME"); e && *e) tried.emplace_back(e);
    if (const std::string dir = module_dir(); !dir.empty())
        tried.push_back(dir + "/libonnxruntime.so.1");
    tried.emplace_back("libonnxruntime.so.1");
#ifdef RESIDENT_ORT_BUILD_LIBRARY
    tried.emplace_back(RESIDENT_ORT_BUILD_LIBRARY);
#endif
    void* lib = nullptr;
    std::string errors;
    for (const std::string& path : tried) {
        if (path.find('/') != std::string::npos && !std::filesystem::exists(path)) continue;
        lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (lib) break;
        errors += fmt::format("; {}: {}", path, dlerror());
    }
    if (!lib) {
        std::string where;
        for (const auto& t : tried) where += (where.empty() ? "" : ", ") + t;
        return failed_precondition(
            fmt::format("ONNX Runtime (libonnxruntime.so.1) was not found (looked in {}{}): run "
                        "scripts/bootstrap.sh, or set RESIDENT_ONNXRUNTIME to the library's path",
                        where, errors));
    }
    crash_report_refresh_code_ranges();  // a fault in the runtime is reported as ours
    using GetApiBase = const OrtApiBase* (*)();
    auto get_base = reinterpret_cast<GetApiBase>(dlsym(lib, "OrtGetApiBase"));
    const OrtApiBase* base = get_base ? get_base() : nullptr;
    const OrtApi* api = base ? base->GetApi(ORT_API_VERSION) : nullptr;
    if (!api) {
        return failed_precondition(
            fmt::format("the ONNX Runtime library {} does not offer API version {}: use "
                        "ONNX Runtime 1.{} or newer",
                        base ? base->GetVersionString() : "(no OrtGetApiBase)", ORT_API_VERSION,
                        ORT_API_VERSION));
    }
    Ort::InitApi(api);
    try {
        // Errors only: warnings (e.g. about unused initialisers) go nowhere useful.
        g_env = new Ort::Env(ORT_LOGGING_LEVEL_ERROR, "resident");
    } catch (const Ort::Exception& e) {
        return internal_error(fmt::format("ONNX Runtime did not start: {}", e.what()));
    }
    g_version = base->GetVersionString();
    return g_env;
}

}  // namespace

Result<Ort::Env*> ort_env() {
    std::lock_guard lock(g_mu);
    if (g_env) return g_env;
    return open_runtime();
}

std::string ort_version() {
    std::lock_guard lock(g_mu);
    return g_version;
}

}  // namespace resident::internal::onnx
