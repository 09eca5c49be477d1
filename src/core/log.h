// Resident's logger: one spdlog logger writing to stderr. The level comes from
// RESIDENT_LOG_LEVEL (trace, debug, info, warn, error, off; default info).
#pragma once

#include <spdlog/spdlog.h>

namespace resident::internal {

spdlog::logger& logger();

}  // namespace resident::internal
