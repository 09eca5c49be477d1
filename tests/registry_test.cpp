// The registry: one load per model per process, shared handles, eviction and
// retry after a failed load.
#include "resident/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "test_support.h"

namespace resident {
namespace {

const ModelStats* find_stats(const std::vector<ModelStats>& all) {
    return all.size() == 1 ? &all[0] : nullptr;
}

TEST(Registry, SixteenConcurrentFirstCallsLoadOnce) {
    Registry registry;
    const ModelSpec spec = testing::small_spec();
    const LoadCounters before = process_load_counters();
    constexpr int kThreads = 16;
    std::vector<ModelHandle> handles(kThreads);
    std::atomic<int> go{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            go.fetch_add(1);
            while (go.load() < kThreads) std::this_thread::yield();  // start together
            auto h = registry.acquire(spec);
            ASSERT_TRUE(h.is_ok()) << h.status().to_string();
            handles[i] = *h;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(registry.total_loads(), 1);
    // The process-wide counter (what the JVM reports per executor) agrees.
    EXPECT_EQ(process_load_counters().loads - before.loads, 1);
    EXPECT_GT(process_load_counters().seconds, before.seconds);
    for (const auto& h : handles) EXPECT_EQ(h.get(), handles[0].get());
    const auto stats = registry.stats();
    ASSERT_NE(find_stats(stats), nullptr);
    EXPECT_EQ(stats[0].handles, kThreads);
    EXPECT_GT(stats[0].loaded_bytes, 50u << 20);
    EXPECT_GT(stats[0].load_seconds, 0.0);
}

TEST(Registry, HandlesAreCountedAndEvictionWaitsForThem) {
    Registry registry;
    const ModelSpec spec = testing::small_spec();
    auto a = registry.acquire(spec);
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    std::weak_ptr<const Model> weak = *a;
    {
        auto b = registry.acquire(spec);
        ASSERT_TRUE(b.is_ok());
        EXPECT_EQ(registry.stats()[0].handles, 2);
    }
    EXPECT_EQ(registry.stats()[0].handles, 1);
    EXPECT_EQ(registry.evict(spec).code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(registry.evict_idle(), 0u);
    a = Result<ModelHandle>(cancelled("dropped"));  // release the handle
    EXPECT_FALSE(weak.expired());                   // still resident in the registry
    EXPECT_TRUE(registry.evict(spec).is_ok());
    EXPECT_TRUE(weak.expired());  // freed: nobody holds it
    EXPECT_FALSE(registry.stats()[0].resident);
    EXPECT_EQ(registry.evict(spec).code(), StatusCode::kNotFound);

    auto again = registry.acquire(spec);
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(registry.total_loads(), 2);  // evicted models load again
}

TEST(Registry, OptionsThatChangeTheWeightsAreSeparateModels) {
    Registry registry;
    ModelSpec spec = testing::small_spec();
    auto a = registry.acquire(spec);
    spec.ctx_size = 512;  // a context option: same resident model
    auto b = registry.acquire(spec);
    spec.use_mmap = false;  // a load option: another copy
    auto c = registry.acquire(spec);
    ASSERT_TRUE(a.is_ok() && b.is_ok() && c.is_ok());
    EXPECT_EQ(a->get(), b->get());
    EXPECT_NE(a->get(), c->get());
    EXPECT_EQ(registry.total_loads(), 2);
}

TEST(Registry, FailedLoadReachesEveryWaiterAndCanBeRetried) {
    Registry registry;
    testing::ScratchDir dir;
    const std::string path = dir.file("model.gguf");
    testing::copy_prefix(testing::model_path(), path, 1 << 20);  // truncated
    ModelSpec spec = testing::small_spec();
    spec.source = path;

    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
            auto h = registry.acquire(spec);
            if (!h.is_ok() && h.status().code() == StatusCode::kDataLoss) ++failures;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures, 8);
    EXPECT_GE(registry.stats()[0].failed_loads, 1);
    EXPECT_EQ(registry.total_loads(), 0);

    std::filesystem::copy_file(testing::model_path(), path,
                               std::filesystem::copy_options::overwrite_existing);
    auto h = registry.acquire(spec);
    ASSERT_TRUE(h.is_ok()) << h.status().to_string();
    EXPECT_EQ(registry.total_loads(), 1);
}

TEST(Registry, ShutdownFreesIdleModelsAndLeavesHeldOnesToTheirHandles) {
    Registry registry;
    const ModelSpec spec = testing::small_spec();
    auto held = registry.acquire(spec);
    ASSERT_TRUE(held.is_ok());
    std::weak_ptr<const Model> weak = *held;
    registry.shutdown();
    EXPECT_FALSE(weak.expired());
    auto predictor = (*held)->create_predictor(spec);  // still usable
    EXPECT_TRUE(predictor.is_ok());
    predictor = Result<std::unique_ptr<Predictor>>(cancelled("dropped"));
    held = Result<ModelHandle>(cancelled("dropped"));
    EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace resident
