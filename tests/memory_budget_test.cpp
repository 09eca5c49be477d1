// The process memory budget: claims within it, refusals that name the
// setting, waiting claims, and evictors asked before anything is refused.
#include "resident/memory_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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
    for (const char* bad : {"lots", "", "-1G", "8Q", "nan"}) {
        auto r = parse_memory_size(bad);
        ASSERT_FALSE(r.is_ok()) << bad;
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
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
