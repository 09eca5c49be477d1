// The row contract's reading of JSON values that front ends share: the CLI
// reads rows from JSON lines, the JVM sends its rows as JSON. One rule, so an
// id gives the same key (and seed) from either.
#pragma once

#include <optional>
#include <string>

namespace resident::internal {

// A row id as the contract's text (docs/rows.md): text as it is; a number or
// a boolean as JSON writes it (7, 7.0, 10000000.0, true); nullopt for null
// and for values that are no id (arrays, objects). `Json` is any
// nlohmann::basic_json (the CLI keeps field order, the JNI does not).
template <typename Json>
std::optional<std::string> row_id_text(const Json& v) {
    if (v.is_string()) return v.template get<std::string>();
    if (v.is_number() || v.is_boolean()) return v.dump();
    return std::nullopt;
}

}  // namespace resident::internal
