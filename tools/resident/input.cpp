#include "input.h"

#include <csv.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "fmt/format.h"

namespace resident::cli {

Result<InputFormat> parse_input_format(std::string_view name) {
    if (name == "auto") return InputFormat::kAuto;
    if (name == "jsonl" || name == "json") return InputFormat::kJsonl;
    if (name == "csv") return InputFormat::kCsv;
    return invalid_argument(fmt::format("unknown input format '{}': use auto, jsonl or csv", name));
}

namespace {

std::vector<InputRow> read_jsonl(std::istream& in) {
    std::vector<InputRow> rows;
    std::string text;
    for (int64_t line = 1; std::getline(in, text); ++line) {
        if (!text.empty() && text.back() == '\r') text.pop_back();
        if (text.find_first_not_of(" \t") == std::string::npos) continue;  // blank: not a row
        InputRow row;
        row.line = line;
        try {
            row.fields = nlohmann::ordered_json::parse(text);
            if (!row.fields.is_object()) {
                row.error = fmt::format(
                    "line {} is JSON but not an object: write one object per line", line);
                row.fields = nlohmann::ordered_json::object();
            }
        } catch (const nlohmann::json::exception& e) {
            row.error =
                fmt::format("line {} is not valid JSON ({}): fix or remove it", line, e.what());
            row.fields = nlohmann::ordered_json::object();
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

// libcsv hands over fields and record ends through callbacks.
struct CsvState {
    std::vector<std::optional<std::string>> record;
    std::vector<std::vector<std::optional<std::string>>> records;
    std::vector<int64_t> record_lines;
    int64_t line = 1;          // line the parser has reached
    int64_t record_start = 1;  // line the current record began on
};

void on_field(void* data, size_t len, void* user) {
    auto* s = static_cast<CsvState*>(user);
    // An empty unquoted field (null data) is null, as Spark's CSV reader has it: a row's empty
    // id or prompt means the same to both (docs/rows.md). A quoted "" stays empty text.
    if (data == nullptr) {
        s->record.emplace_back(std::nullopt);
    } else {
        s->record.emplace_back(std::string(static_cast<const char*>(data), len));
    }
}

void on_record(int /*terminator*/, void* user) {
    auto* s = static_cast<CsvState*>(user);
    s->records.push_back(std::move(s->record));
    s->record_lines.push_back(s->record_start);
    s->record.clear();
}

Result<std::vector<InputRow>> read_csv(std::istream& in, const std::string& path) {
    csv_parser parser;
    if (csv_init(&parser, CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0)
        return internal_error("libcsv failed to start");
    CsvState state;
    std::string chunk;
    // Fed line by line so each record knows the line it started on.
    while (std::getline(in, chunk)) {
        chunk += '\n';
        const size_t before = state.records.size();
        if (csv_parse(&parser, chunk.data(), chunk.size(), on_field, on_record, &state) !=
            chunk.size()) {
            csv_free(&parser);
            return invalid_argument(fmt::format("'{}' line {}: {}", path, state.line,
                                                csv_strerror(csv_error(&parser))));
        }
        ++state.line;
        if (state.records.size() > before || state.record.empty()) state.record_start = state.line;
    }
    csv_fini(&parser, on_field, on_record, &state);
    csv_free(&parser);
    if (state.records.empty()) {
        return invalid_argument(
            fmt::format("'{}' has no header line: a CSV input needs one", path));
    }
    std::vector<std::string> header;
    for (const auto& name : state.records.front()) header.push_back(name.value_or(""));
    std::vector<InputRow> rows;
    for (size_t r = 1; r < state.records.size(); ++r) {
        const auto& rec = state.records[r];
        if (rec.size() == 1 && rec[0].value_or("").empty()) continue;  // blank line
        InputRow row;
        row.line = state.record_lines[r];
        row.fields = nlohmann::ordered_json::object();
        if (rec.size() != header.size()) {
            row.error = fmt::format(
                "line {} has {} fields but the header has {}: quote fields "
                "that contain commas",
                row.line, rec.size(), header.size());
        } else {
            for (size_t i = 0; i < header.size(); ++i) {
                if (rec[i]) {
                    row.fields[header[i]] = *rec[i];
                } else {
                    row.fields[header[i]] = nullptr;
                }
            }
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace

Result<std::vector<InputRow>> read_rows(const std::string& path, InputFormat format) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return not_found(fmt::format("input file '{}' cannot be read: check the path", path));
    if (format == InputFormat::kAuto) {
        format = path.ends_with(".csv") ? InputFormat::kCsv : InputFormat::kJsonl;
    }
    if (format == InputFormat::kCsv) return read_csv(in, path);
    return read_jsonl(in);
}

}  // namespace resident::cli
