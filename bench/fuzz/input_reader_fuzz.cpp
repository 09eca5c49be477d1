// The CLI's JSONL and CSV readers (tools/resident/input.cpp) over any bytes;
// the first byte picks the format. Every row must come back, well-formed or
// holding its error; a crash or a sanitizer report is a bug.
#include "fuzz_file.h"
#include "resident/input.h"  // tools/resident/input.h

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const auto format =
        (data[0] & 1) != 0 ? resident::cli::InputFormat::kCsv : resident::cli::InputFormat::kJsonl;
    const std::string path = resident::fuzz::as_file(data + 1, size - 1);
    auto rows = resident::cli::read_rows(path, format);
    if (rows.is_ok()) {
        for (const auto& row : *rows) {
            if (!row.error && !row.fields.is_object()) __builtin_trap();
        }
    }
    return 0;
}
