#include "core/utf8.h"

#include <gtest/gtest.h>

namespace resident::internal {
namespace {

TEST(Utf8, AcceptsValidText) {
    EXPECT_EQ(first_invalid_utf8("plain ascii"), std::nullopt);
    EXPECT_EQ(first_invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), std::nullopt);
    EXPECT_EQ(first_invalid_utf8(""), std::nullopt);
}

TEST(Utf8, FindsTheFirstBadByte) {
    EXPECT_EQ(first_invalid_utf8("ab\xFF"
                                 "cd"),
              2u);
    EXPECT_EQ(first_invalid_utf8("\xC0\xAF"), 0u);          // overlong '/'
    EXPECT_EQ(first_invalid_utf8("x\xED\xA0\x80"), 1u);     // surrogate
    EXPECT_EQ(first_invalid_utf8("\xF4\x90\x80\x80"), 0u);  // past U+10FFFF
    EXPECT_EQ(first_invalid_utf8("ok\xE2\x82"), 2u);        // cut short
}

TEST(Utf8, MeasuresACutShortTail) {
    EXPECT_EQ(incomplete_utf8_tail("abc"), 0u);
    EXPECT_EQ(incomplete_utf8_tail("ab\xE2\x82"), 2u);
    EXPECT_EQ(incomplete_utf8_tail("ab\xF0\x9F\x98"), 3u);
    EXPECT_EQ(incomplete_utf8_tail("ab\xF0\x9F\x98\x80"), 0u);
}

TEST(Utf8, SanitizeReplacesBadBytesAndDropsTheTail) {
    EXPECT_EQ(sanitize_utf8("a\xFF"
                            "b"),
              "a\xEF\xBF\xBD"
              "b");
    EXPECT_EQ(sanitize_utf8("ab\xE2\x82"), "ab");
    EXPECT_EQ(first_invalid_utf8(sanitize_utf8("\x80\x81\xC3")), std::nullopt);
}

}  // namespace
}  // namespace resident::internal
