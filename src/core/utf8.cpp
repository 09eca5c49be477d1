#include "core/utf8.h"

#include <cstdint>

namespace resident::internal {
namespace {

// Length of the valid sequence starting at s[i]; 0 when invalid; -n when the
// sequence is a valid prefix of n bytes cut short by the end of `s`.
int sequence_length(std::string_view s, size_t i) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    if (b0 < 0x80) return 1;
    int len;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3;
        if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
        if (b0 == 0xED) hi = 0x9F;  // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
    } else {
        return 0;
    }
    for (int k = 1; k < len; ++k) {
        if (i + k >= s.size()) return -k;
        const auto b = static_cast<uint8_t>(s[i + k]);
        const uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (b < l || b > h) return 0;
    }
    return len;
}

}  // namespace

std::optional<size_t> first_invalid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const int n = sequence_length(s, i);
        if (n <= 0) return i;
        i += n;
    }
    return std::nullopt;
}

size_t incomplete_utf8_tail(std::string_view s) {
    const size_t start = s.size() > 3 ? s.size() - 3 : 0;
    for (size_t i = start; i < s.size(); ++i) {
        const int n = sequence_length(s, i);
        if (n < 0 && i + static_cast<size_t>(-n) == s.size()) return s.size() - i;
    }
    return 0;
}

std::string sanitize_utf8(std::string_view s) {
    s.remove_suffix(incomplete_utf8_tail(s));
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const int n = sequence_length(s, i);
        if (n <= 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

}  // namespace resident::internal
