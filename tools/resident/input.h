// Reading the rows of a batch job: JSON lines or CSV, every row kept in order.
// A line that cannot be read becomes a row with an error, never a lost row.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "resident/status.h"

namespace resident::cli {

struct InputRow {
    int64_t line = 0;                  // 1-based line of the row's start in the input
    nlohmann::ordered_json fields;     // the row's fields, in input order (an object)
    std::optional<std::string> error;  // why the row could not be read
};

enum class InputFormat { kAuto, kJsonl, kCsv };

Result<InputFormat> parse_input_format(std::string_view name);

// Reads all rows of `path`; kAuto picks the format from the extension (.csv,
// else JSON lines). Errors (the job cannot start): NotFound, InvalidArgument
// (an unknown extension with kAuto, a CSV without a header).
Result<std::vector<InputRow>> read_rows(const std::string& path, InputFormat format);

}  // namespace resident::cli
