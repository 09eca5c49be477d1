// The batch engine: many threads, one context, continuous batching.
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "resident/registry.h"
#include "test_support.h"

namespace resident {
namespace {

using namespace std::chrono_literals;

class BatchEngineTest : public ::testing::Test {
   protected:
    void SetUp() override {
        spec_ = testing::small_spec();
        auto m = Registry::global().acquire(spec_);
        ASSERT_TRUE(m.is_ok()) << m.status().to_string();
        model_ = *m;
    }
    std::unique_ptr<BatchEngine> engine() {
        auto e = model_->create_batch_engine(spec_);
        EXPECT_TRUE(e.is_ok()) << e.status().to_string();
        return e.is_ok() ? std::move(e).value() : nullptr;
    }
    static GenerationRequest prompt(std::string text, int max_tokens = 10) {
        GenerationRequest r;
        r.prompt = std::move(text);
        r.sampling.max_tokens = max_tokens;
        return r;
    }

    ModelSpec spec_;
    ModelHandle model_;
};

TEST_F(BatchEngineTest, ServesManyThreadsAndBatchesThemTogether) {
    auto e = engine();
    ASSERT_TRUE(e);
    constexpr int kThreads = 8, kPerThread = 3;
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                auto r =
                    e->submit(prompt("Item number " + std::to_string(t * 10 + i) + " is")).get();
                EXPECT_TRUE(r.is_ok()) << r.status().to_string();
                if (r.is_ok() && r->completion_tokens > 0) ++ok;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok, kThreads * kPerThread);
    const BatchEngineStats s = e->stats();
    EXPECT_EQ(s.completed, kThreads * kPerThread);
    EXPECT_EQ(s.failed, 0);
    EXPECT_GT(s.max_in_flight, 1);  // sequences shared decode calls
    EXPECT_LE(s.max_in_flight, spec_.parallel);
    EXPECT_LT(s.decode_calls, s.generated_tokens);  // fewer calls than tokens: batching
}

TEST_F(BatchEngineTest, BadRowsFailAloneAndTheRestComplete) {
    auto e = engine();
    ASSERT_TRUE(e);
    std::string overlong;
    for (int i = 0; i < 400; ++i) overlong += "word ";
    std::vector<std::future<Result<Generation>>> fs;
    fs.push_back(e->submit(prompt("Good row one")));
    fs.push_back(e->submit(prompt("")));
    fs.push_back(e->submit(prompt("bad \xC3\x28 utf8")));
    fs.push_back(e->submit(prompt(overlong)));
    fs.push_back(e->submit(prompt("Good row two")));
    std::vector<StatusCode> codes;
    for (auto& f : fs) codes.push_back(f.get().status().code());
    EXPECT_EQ(codes, (std::vector<StatusCode>{StatusCode::kOk, StatusCode::kInvalidArgument,
                                              StatusCode::kInvalidArgument,
                                              StatusCode::kInvalidArgument, StatusCode::kOk}));
}

TEST_F(BatchEngineTest, LongPromptsAreFedInChunksBesideShortOnes) {
    spec_.batch_size = 16;  // smaller than the long prompt: it spans several steps
    spec_.ctx_size = 128;
    auto e = engine();
    ASSERT_TRUE(e);
    std::string longer =
        "Here is a list of fruits: apple, banana, cherry, date, elderberry, fig, grape,";
    auto a = e->submit(prompt(longer, 6));
    auto b = e->submit(prompt("Hi", 6));
    auto ra = a.get(), rb = b.get();
    ASSERT_TRUE(ra.is_ok()) << ra.status().to_string();
    ASSERT_TRUE(rb.is_ok()) << rb.status().to_string();
    EXPECT_GT(ra->prompt_tokens, 16);
    EXPECT_EQ(ra->completion_tokens, 6);
}

TEST_F(BatchEngineTest, FullQueueAppliesBackpressure) {
    spec_.parallel = 1;
    spec_.queue_capacity = 1;
    auto e = engine();
    ASSERT_TRUE(e);
    GenerationRequest slow = prompt("Count: 1, 2, 3,", 120);
    slow.sampling.ignore_eos = true;
    auto running = e->submit(slow);  // takes the only slot
    std::this_thread::sleep_for(50ms);
    auto queued = e->try_submit(slow, 200ms);  // fills the queue
    ASSERT_TRUE(queued.has_value());
    auto refused = e->try_submit(slow, 20ms);  // no room: the caller keeps it
    EXPECT_FALSE(refused.has_value());
    EXPECT_TRUE(running.get().is_ok());
    EXPECT_TRUE(queued->get().is_ok());
}

TEST_F(BatchEngineTest, ShutdownCancelsWhatIsQueuedAndNeverHangs) {
    spec_.parallel = 1;
    spec_.queue_capacity = 8;
    auto e = engine();
    ASSERT_TRUE(e);
    GenerationRequest slow = prompt("Count: 1, 2, 3,", 200);
    slow.sampling.ignore_eos = true;
    std::vector<std::future<Result<Generation>>> fs;
    for (int i = 0; i < 4; ++i) fs.push_back(e->submit(slow));
    std::this_thread::sleep_for(30ms);
    e->shutdown();
    int cancelled = 0;
    for (auto& f : fs) {
        auto r = f.get();
        if (!r.is_ok()) {
            EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
            ++cancelled;
        }
    }
    EXPECT_GE(cancelled, 3);
    EXPECT_EQ(e->submit(prompt("late")).get().status().code(), StatusCode::kCancelled);
}

// Waits until the engine has generated at least `tokens` tokens in all.
void wait_for_tokens(const BatchEngine& e, int64_t tokens) {
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (e.stats().generated_tokens < tokens && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(2ms);
    }
    ASSERT_GE(e.stats().generated_tokens, tokens);
}

TEST_F(BatchEngineTest, CancelStopsRunningAndQueuedRowsAndFreesTheirSlots) {
    spec_.parallel = 2;
    spec_.queue_capacity = 8;
    auto e = engine();
    ASSERT_TRUE(e);
    auto token = std::make_shared<CancelToken>();
    GenerationRequest slow = prompt("Count: 1, 2, 3,", 400);
    slow.sampling.ignore_eos = true;
    slow.cancel = token;
    std::vector<std::future<Result<Generation>>> fs;
    for (int i = 0; i < 5; ++i) fs.push_back(e->submit(slow));  // 2 run, 3 wait
    wait_for_tokens(*e, 4);
    token->cancel();
    const int64_t at_cancel = e->stats().generated_tokens;
    for (auto& f : fs) {
        ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
        EXPECT_EQ(f.get().status().code(), StatusCode::kCancelled);
    }
    // Within one decode step: each running row got at most one more token.
    EXPECT_LE(e->stats().generated_tokens, at_cancel + spec_.parallel);
    auto next = e->submit(prompt("The slots are free again:", 4)).get();
    EXPECT_TRUE(next.is_ok()) << next.status().to_string();
    const BatchEngineStats s = e->stats();
    EXPECT_EQ(s.cancelled, 5);
    EXPECT_EQ(s.failed, 5);
    EXPECT_EQ(s.completed, 1);
    EXPECT_LT(s.generated_tokens, 2 * 400);  // the cancelled rows did not run to the end
}

TEST_F(BatchEngineTest, RowsPastTheirDeadlineFailAloneWithDeadlineExceeded) {
    spec_.parallel = 2;
    spec_.ctx_size = 4096;  // room for a row far longer than its deadline allows
    auto e = engine();
    ASSERT_TRUE(e);
    GenerationRequest endless = prompt("Count: 1, 2, 3,", 4000);
    endless.sampling.ignore_eos = true;
    endless.timeout_seconds = 0.3;
    auto late = e->submit(endless);
    auto fine = e->submit(prompt("A short row", 4));
    const auto t0 = std::chrono::steady_clock::now();
    auto r = late.get();
    EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().to_string();
    EXPECT_NE(r.status().message().find("timeout"), std::string::npos) << r.status().message();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
    EXPECT_TRUE(fine.get().is_ok());
    EXPECT_EQ(e->stats().expired, 1);

    GenerationRequest bad = prompt("x");
    bad.timeout_seconds = -1;
    EXPECT_EQ(e->submit(bad).get().status().code(), StatusCode::kInvalidArgument);
}

TEST_F(BatchEngineTest, EnqueueDeliversEachOutcomeToItsCompletionOnce) {
    auto e = engine();
    ASSERT_TRUE(e);
    std::mutex mu;
    std::condition_variable cv;
    std::map<int, int> calls;
    std::map<int, StatusCode> codes;
    for (int i = 0; i < 6; ++i) {
        GenerationRequest r = prompt(i == 3 ? "" : "Row " + std::to_string(i), 3);
        ASSERT_TRUE(e->enqueue(
            std::move(r),
            [&, i](Result<Generation> g) {
                std::lock_guard lock(mu);
                ++calls[i];
                codes[i] = g.status().code();
                cv.notify_all();
            },
            std::nullopt));
    }
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return calls.size() == 6; }));
    for (auto& [i, n] : calls) EXPECT_EQ(n, 1) << i;
    EXPECT_EQ(codes[3], StatusCode::kInvalidArgument);
    EXPECT_EQ(codes[5], StatusCode::kOk);
}

// Rows that share a ~330-token preamble, each with its own question.
std::vector<std::string> preamble_rows(int rounds) {
    std::string preamble = "You answer questions about the following notes. ";
    for (int i = 0; i < 15; ++i) {
        preamble += "Note " + std::to_string(i) + ": the sky was clear and the sea was calm. ";
    }
    const std::vector<std::string> questions = {
        "Question: what was the sky like? Answer:", "Question: what was the sea like? Answer:",
        "Question: how many notes are there? Answer:", "Question: was it raining? Answer:"};
    std::vector<std::string> rows;
    for (int r = 0; r < rounds; ++r) {
        for (const auto& q : questions) rows.push_back(preamble + q);
    }
    return rows;
}

TEST_F(BatchEngineTest, RowsSharingAPreambleDecodeItAboutOncePerSlot) {
    spec_.parallel = 2;
    spec_.ctx_size = 512;
    spec_.determinism = Determinism::kFast;  // reuses token by token
    auto run = [&](bool reuse) {
        spec_.prefix_reuse = reuse;
        auto e = engine();
        std::vector<std::future<Result<Generation>>> fs;
        for (const auto& row : preamble_rows(2)) fs.push_back(e->submit(prompt(row, 4)));
        for (auto& f : fs) {
            auto r = f.get();
            EXPECT_TRUE(r.is_ok()) << r.status().to_string();
        }
        return e->stats();
    };
    const BatchEngineStats with = run(true), without = run(false);
    EXPECT_EQ(without.reused_tokens, 0);
    // 8 rows, 2 slots: the preamble is decoded about once per slot.
    EXPECT_GT(with.reused_tokens, 4 * 300);
    EXPECT_LT(with.prompt_tokens * 3, without.prompt_tokens);
    EXPECT_EQ(with.prompt_tokens + with.reused_tokens, without.prompt_tokens);
}

TEST_F(BatchEngineTest, InvariantModeReusesWholeChunksAndKeepsTheTextBitForBit) {
    spec_.parallel = 2;
    spec_.ctx_size = 512;
    spec_.batch_size = 64;  // the chunk: reuse comes in multiples of it
    spec_.determinism = Determinism::kInvariant;
    auto run = [&](bool reuse, BatchEngineStats& stats) {
        spec_.prefix_reuse = reuse;
        auto e = engine();
        std::vector<std::future<Result<Generation>>> fs;
        for (const auto& row : preamble_rows(1)) {
            GenerationRequest r = prompt(row, 8);
            r.sampling.temperature = 0.8f;
            r.row_key = row.substr(row.size() - 30);
            fs.push_back(e->submit(r));
        }
        std::vector<std::string> texts;
        for (auto& f : fs) {
            auto r = f.get();
            EXPECT_TRUE(r.is_ok()) << r.status().to_string();
            texts.push_back(r.is_ok() ? r->text : "");
        }
        stats = e->stats();
        return texts;
    };
    BatchEngineStats with, without;
    EXPECT_EQ(run(true, with), run(false, without));
    EXPECT_GT(with.reused_tokens, 2 * 256);
    EXPECT_EQ(with.reused_tokens % 64, 0);
    EXPECT_EQ(without.reused_tokens, 0);
}

}  // namespace
}  // namespace resident
