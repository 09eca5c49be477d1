// The process memory budget: claims within it, refusals that name the
// setting, waiting claims, and evictors asked before anything is refused.
#include "resident/memory_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

namespace resident {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1ull << 20;

// Sets a budget for one test and restores the automatic one after.
class BudgetTest : public ::testing::Test {
   protected:
    void SetUp() override { set_memory_budget(100 * kMiB, "the test budget"); }
    void TearDown() override { set_memory_budget(0, ""); }
};

TEST(MemorySize, ParsesUnitsAndRejectsGarbage) {
    EXPECT_EQ(*parse_memory_size("8G"), 8ull << 30);
    EXPECT_EQ(*parse_memory_size("512m"), 512 * kMiB);
    EXPECT_EQ(*parse_memory_size("1.5GiB"), 3ull << 29);
    EXPECT_EQ(*parse_memory_size("4096"), 4096u);
    EXPECT_EQ(*parse_memory_size("0.5K"), 512u);
    EXPECT_EQ(*parse_memory_size("16777215T"), 16777215ull << 40);
    EXPECT_EQ(*parse_memory_size("18446744073709551615"), UINT64_MAX);
}

// Sizes that once parsed to 0 (automatic: no budget at all) or to another
// number are refused, and the message names the text and the accepted form.
TEST(MemorySize, RefusesOverflowInfNanSignsHexAndPartsOfAByte) {
    for (const char* bad : {"lots",
                            "",
                            "-1G",
                            "+1G",
                            "8Q",
                            "nan",
                            "inf",
                            "Infinity",
                            "1e30",
                            "1E3",
                            "0x10",
                            "0x10G",
                            " 8G",
                            "8G ",
                            "8 G",
                            "20000000000G",
                            "16777216T",
                            "18446744073709551616",
                            "99999999999999999999999",
                            "0.5",
                            "1.3K",
                            "1.",
                            ".5G",
                            "1,5G",
                            "8GG",
                            "8Gb2"}) {
        auto r = parse_memory_size(bad);
        ASSERT_FALSE(r.is_ok()) << "'" << bad << "' parsed to " << *r;
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"), std::string::npos)
            << r.status().message();
        EXPECT_NE(r.status().message().find("like 8G"), std::string::npos);
    }
}

TEST(MemorySize, AnInvalidEnvironmentValueIsAnErrorNamingTheVariable) {
    set_memory_budget(0, "");
    for (const char* bad : {"inf", "1e30", "lots", "0"}) {
        ::setenv("RESIDENT_MEMORY_BUDGET", bad, 1);
        auto v = memory_budget_from_environment();
        ASSERT_FALSE(v.is_ok()) << bad;
        EXPECT_NE(v.status().message().find("RESIDENT_MEMORY_BUDGET"), std::string::npos);
        // A claim under it fails rather than running without a budget.
        auto r = reserve_memory(1, "a claim");
        ASSERT_FALSE(r.is_ok()) << bad;
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(r.status().message().find("RESIDENT_MEMORY_BUDGET"), std::string::npos);
    }
    ::setenv("RESIDENT_MEMORY_BUDGET", "3G", 1);
    EXPECT_EQ(*memory_budget_from_environment(), 3ull << 30);
    EXPECT_EQ(memory_budget().limit, 3ull << 30);
    EXPECT_EQ(memory_budget().source, "RESIDENT_MEMORY_BUDGET");
    ::unsetenv("RESIDENT_MEMORY_BUDGET");
    EXPECT_EQ(*memory_budget_from_environment(), 0u);
}

TEST_F(BudgetTest, ClaimsFitUntilTheBudgetIsSpentAndComeBackWhenReleased) {
    auto a = reserve_memory(60 * kMiB, "claim a");
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    EXPECT_EQ(memory_budget().used, 60 * kMiB);
    auto b = reserve_memory(60 * kMiB, "claim b");
    ASSERT_FALSE(b.is_ok());
    EXPECT_EQ(b.status().code(), StatusCode::kResourceExhausted);
    const std::string msg = b.status().message();
    EXPECT_NE(msg.find("claim b needs 60.0 MiB"), std::string::npos) << msg;
    EXPECT_NE(msg.find("raise the test budget"), std::string::npos) << msg;
    a = MemoryReservation();  // given back
    EXPECT_EQ(memory_budget().used, 0u);
    EXPECT_TRUE(reserve_memory(60 * kMiB, "claim b").is_ok());
    EXPECT_EQ(memory_budget().used, 0u);  // the temporary reservation was released too
    EXPECT_GE(memory_budget().peak, 60 * kMiB);
}

TEST_F(BudgetTest, APerSpecLimitCapsOneClaimBelowTheProcessBudget) {
    auto r = reserve_memory(20 * kMiB, "a model", 10 * kMiB);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("memory_limit_bytes"), std::string::npos);
}

TEST_F(BudgetTest, AWaitingClaimGoesAheadOnlyWhenMemoryComesBack) {
    auto held = reserve_memory(80 * kMiB, "held");
    ASSERT_TRUE(held.is_ok());
    std::atomic<bool> done{false};
    std::optional<Result<MemoryReservation>> waited;
    std::thread t([&] {
        waited.emplace(reserve_memory(50 * kMiB, "queued load", 0, /*wait=*/true));
        done = true;
    });
    std::this_thread::sleep_for(200ms);
    EXPECT_FALSE(done);  // still queued: 80 + 50 > 100
    *held = MemoryReservation();
    t.join();
    ASSERT_TRUE(waited->is_ok()) << waited->status().to_string();
    EXPECT_EQ(memory_budget().used, 50 * kMiB);
}

TEST_F(BudgetTest, AClaimLargerThanTheWholeBudgetFailsAtOnceEvenWhenItMayWait) {
    const auto start = std::chrono::steady_clock::now();
    auto r = reserve_memory(200 * kMiB, "too big", 0, /*wait=*/true);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);  // not worth a retry
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(BudgetTest, EvictorsAreAskedBeforeAClaimIsRefused) {
    std::optional<MemoryReservation> idle;
    idle.emplace(std::move(reserve_memory(70 * kMiB, "an idle model")).value());
    int calls = 0;
    const int id = add_memory_evictor([&](uint64_t missing) {
        ++calls;
        EXPECT_EQ(missing, 10 * kMiB);
        if (!idle) return false;
        idle.reset();  // frees the idle model
        return true;
    });
    auto r = reserve_memory(40 * kMiB, "a new model");
    remove_memory_evictor(id);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(idle.has_value());
}

}  // namespace
}  // namespace resident
