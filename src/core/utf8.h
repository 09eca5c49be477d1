// UTF-8 checks for text that crosses the engine boundary.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace resident::internal {

// Offset of the first byte that does not start a valid UTF-8 sequence
// (overlong forms, surrogates and code points past U+10FFFF are invalid),
// or nullopt when all of `s` is valid.
std::optional<size_t> first_invalid_utf8(std::string_view s);

// Bytes at the end of `s` that begin a sequence the string cuts short (0-3).
size_t incomplete_utf8_tail(std::string_view s);

// `s` with each invalid byte replaced by U+FFFD and a cut-short tail dropped.
std::string sanitize_utf8(std::string_view s);

}  // namespace resident::internal
