// Running a helper program (pip) without a shell.
#pragma once

#include <string>
#include <vector>

#include "resident/status.h"

namespace resident::internal {

// Runs argv[0] (searched in PATH) with `argv`, stdout and stderr appended to
// `log_path`. Returns its exit code. Errors: NotFound when it cannot start.
Result<int> run_command(const std::vector<std::string>& argv, const std::string& log_path);

// The last `max_bytes` of a file, for error messages.
std::string file_tail(const std::string& path, size_t max_bytes = 800);

}  // namespace resident::internal
