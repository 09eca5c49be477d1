#include "scheduler/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace resident::internal {
namespace {

using namespace std::chrono_literals;

TEST(BoundedQueue, IsFifo) {
    BoundedQueue<int> q(3);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.push(i));
    EXPECT_EQ(*q.try_pop(), 0);
    EXPECT_EQ(*q.pop(), 1);
    EXPECT_EQ(*q.try_pop(), 2);
    EXPECT_EQ(q.try_pop(), std::nullopt);
}

TEST(BoundedQueue, TimedPushGivesUpWhenFull) {
    BoundedQueue<int> q(1);
    int a = 1, b = 2;
    ASSERT_TRUE(q.push(a));
    EXPECT_FALSE(q.try_push(b, 20ms));
    EXPECT_EQ(b, 2);  // untouched, still the caller's
}

TEST(BoundedQueue, BlockedProducerResumesWhenAConsumerPops) {
    BoundedQueue<int> q(1);
    int first = 1;
    ASSERT_TRUE(q.push(first));
    std::atomic<bool> pushed{false};
    std::thread producer([&] {
        int second = 2;
        EXPECT_TRUE(q.push(second));
        pushed = true;
    });
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(pushed);  // held back: the queue is full
    EXPECT_EQ(*q.pop(), 1);
    producer.join();
    EXPECT_TRUE(pushed);
    EXPECT_EQ(*q.pop(), 2);
}

TEST(BoundedQueue, CloseWakesWaitersAndReturnsTheRest) {
    BoundedQueue<int> q(2);
    int a = 7;
    ASSERT_TRUE(q.push(a));
    std::thread waiter([&] {
        // Pops 7, then waits until close() and gets nothing.
        EXPECT_EQ(*q.pop(), 7);
        EXPECT_EQ(q.pop(), std::nullopt);
    });
    std::this_thread::sleep_for(30ms);
    const auto rest = q.close();
    waiter.join();
    EXPECT_TRUE(rest.empty());
    int b = 8;
    EXPECT_FALSE(q.push(b));
}

}  // namespace
}  // namespace resident::internal
