#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>
#include <memory>

namespace resident::internal {

spdlog::logger& logger() {
    static const std::shared_ptr<spdlog::logger> instance = [] {
        auto l = std::make_shared<spdlog::logger>(
            "resident", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        l->set_pattern("[resident %L] %v");
        const char* level = std::getenv("RESIDENT_LOG_LEVEL");
        l->set_level(level ? spdlog::level::from_str(level) : spdlog::level::info);
        return l;
    }();
    return *instance;
}

}  // namespace resident::internal
