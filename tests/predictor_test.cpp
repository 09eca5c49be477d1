// Predictors: one context per thread over one shared model.
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "resident/predictor_pool.h"
#include "resident/registry.h"
#include "test_support.h"

namespace resident {
namespace {

class PredictorTest : public ::testing::Test {
   protected:
    void SetUp() override {
        spec_ = testing::small_spec();
        auto m = Registry::global().acquire(spec_);
        ASSERT_TRUE(m.is_ok()) << m.status().to_string();
        model_ = *m;
    }
    Generation generate(const GenerationRequest& req) {
        auto p = model_->create_predictor(spec_);
        EXPECT_TRUE(p.is_ok()) << p.status().to_string();
        auto g = (*p)->generate(req);
        EXPECT_TRUE(g.is_ok()) << g.status().to_string();
        return g.is_ok() ? *g : Generation{};
    }
    static GenerationRequest prompt(std::string text, int max_tokens = 12) {
        GenerationRequest r;
        r.prompt = std::move(text);
        r.sampling.max_tokens = max_tokens;
        return r;
    }

    ModelSpec spec_;
    ModelHandle model_;
};

TEST_F(PredictorTest, GreedyGenerationIsSensibleAndCounted) {
    const Generation g = generate(prompt("The capital of France is", 8));
    EXPECT_NE(g.text.find("Paris"), std::string::npos) << g.text;
    EXPECT_EQ(g.prompt_tokens, 5);
    EXPECT_EQ(g.completion_tokens, 8);
    EXPECT_EQ(g.finish_reason, FinishReason::kLength);
    EXPECT_GT(g.generation_seconds, 0.0);
}

TEST_F(PredictorTest, SamePredictorGivesTheSameAnswerTwice) {
    auto p = model_->create_predictor(spec_);
    ASSERT_TRUE(p.is_ok());
    auto a = (*p)->generate(prompt("Once upon a time"));
    auto b = (*p)->generate(prompt("My favourite colour is"));
    auto c = (*p)->generate(prompt("Once upon a time"));
    ASSERT_TRUE(a.is_ok() && b.is_ok() && c.is_ok());
    EXPECT_EQ(a->text, c->text);  // nothing of the previous request leaks
    EXPECT_NE(a->text, b->text);
}

TEST_F(PredictorTest, ThreadsWithTheirOwnPredictorsDoNotDisturbEachOther) {
    const std::vector<std::string> prompts = {"Once upon a time", "The capital of France is",
                                              "def fibonacci(n):", "My favourite colour is"};
    std::map<std::string, std::string> expected;
    for (const auto& p : prompts) expected[p] = generate(prompt(p)).text;

    PredictorPool pool(model_, spec_);
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (size_t t = 0; t < prompts.size(); ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 3; ++round) {
                const std::string& p = prompts[(t + round) % prompts.size()];
                auto pred = pool.for_this_thread();
                ASSERT_TRUE(pred.is_ok());
                auto g = (*pred)->generate(prompt(p));
                ASSERT_TRUE(g.is_ok()) << g.status().to_string();
                if (g->text != expected[p]) ++mismatches;
            }
            pool.release_this_thread();
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(mismatches, 0);
    EXPECT_EQ(pool.created(), prompts.size());  // one per thread
}

TEST_F(PredictorTest, CheckoutIsBounded) {
    PredictorPool pool(model_, spec_, 2);
    std::atomic<int> concurrent{0}, peak{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 5; ++t) {
        threads.emplace_back([&] {
            auto lease = pool.checkout();
            ASSERT_TRUE(lease.is_ok());
            const int now = ++concurrent;
            peak = std::max(peak.load(), now);
            auto g = (**lease).generate(prompt("Hello", 4));
            EXPECT_TRUE(g.is_ok());
            --concurrent;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_LE(peak, 2);
    EXPECT_LE(pool.created(), 2u);
}

TEST_F(PredictorTest, StopStringsCutTheTextBeforeTheMatch) {
    const Generation free_run = generate(prompt("1, 2, 3, 4,", 16));
    ASSERT_NE(free_run.text.find(" 7"), std::string::npos) << free_run.text;
    GenerationRequest req = prompt("1, 2, 3, 4,", 16);
    req.sampling.stop = {" 7", "never appears"};
    const Generation g = generate(req);
    EXPECT_EQ(g.finish_reason, FinishReason::kStop);
    EXPECT_EQ(g.text, free_run.text.substr(0, free_run.text.find(" 7")));
}

TEST_F(PredictorTest, ContextLimitEndsGeneration) {
    spec_.ctx_size = 24;
    GenerationRequest req = prompt("1, 2, 3, 4,", 100);
    req.sampling.ignore_eos = true;
    const Generation g = generate(req);
    EXPECT_EQ(g.finish_reason, FinishReason::kContext);
    EXPECT_EQ(g.prompt_tokens + g.completion_tokens, 24);
}

TEST_F(PredictorTest, ChatMessagesUseTheModelsTemplate) {
    GenerationRequest chat;
    chat.messages = {{"user", "What is the capital of France?"}};
    chat.system_prompt = "Answer in one word.";
    chat.sampling.max_tokens = 8;
    const Generation g = generate(chat);
    EXPECT_NE(g.text.find("Paris"), std::string::npos) << g.text;
    // The template adds role markers around the two messages.
    EXPECT_GT(g.prompt_tokens, 15);
}

TEST_F(PredictorTest, BadRequestsGetClearErrors) {
    auto p = model_->create_predictor(spec_);
    ASSERT_TRUE(p.is_ok());
    struct Case {
        GenerationRequest req;
        const char* needle;
    };
    std::vector<Case> cases;
    cases.push_back({prompt(""), "prompt is empty"});
    cases.push_back({prompt("bad \xFF\xFE bytes"), "not valid UTF-8"});
    std::string longer;
    for (int i = 0; i < 400; ++i) longer += "word ";
    cases.push_back({prompt(longer), "shorten the prompt or raise"});
    GenerationRequest zero = prompt("hi");
    zero.sampling.max_tokens = 0;
    cases.push_back({zero, "max_tokens"});
    GenerationRequest hot = prompt("hi");
    hot.sampling.temperature = -1;
    cases.push_back({hot, "temperature"});
    GenerationRequest bad_role;
    bad_role.messages = {{"", "hello"}};
    cases.push_back({bad_role, "no role"});
    for (const auto& c : cases) {
        auto g = (*p)->generate(c.req);
        ASSERT_FALSE(g.is_ok()) << c.needle;
        EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(g.status().message().find(c.needle), std::string::npos) << g.status().message();
    }
    // The predictor still works after every rejected request.
    EXPECT_TRUE((*p)->generate(prompt("Hello", 2)).is_ok());
}

TEST_F(PredictorTest, CancelAndDeadlineStopAGenerationBetweenTokens) {
    spec_.ctx_size = 4096;  // room for a row far longer than its deadline allows
    auto p = model_->create_predictor(spec_);
    ASSERT_TRUE(p.is_ok());
    GenerationRequest endless = prompt("Count: 1, 2, 3,", 2000);
    endless.sampling.ignore_eos = true;
    endless.timeout_seconds = 0.2;
    auto r = (*p)->generate(endless);
    EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().to_string();

    endless.timeout_seconds = 0;
    auto token = std::make_shared<CancelToken>();
    endless.cancel = token;
    std::thread canceller([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        token->cancel();
    });
    const auto t0 = std::chrono::steady_clock::now();
    r = (*p)->generate(endless);
    canceller.join();
    EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
    // The predictor serves the next row as usual.
    auto g = (*p)->generate(prompt("The capital of France is", 4));
    EXPECT_TRUE(g.is_ok()) << g.status().to_string();
}

}  // namespace
}  // namespace resident
