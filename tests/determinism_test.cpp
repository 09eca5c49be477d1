// Determinism: by default a seeded row's text is the same whichever path
// serves it and whatever else is in flight, on SmolLM2 (Q4_1) and on Gemma 3
// (Q4_K_M, whose weights the fast mode repacks); how often the fast mode
// differs is measured, not assumed.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "resident/registry.h"
#include "test_support.h"

namespace resident {
namespace {

class DeterminismTest : public ::testing::TestWithParam<const char*> {
   protected:
    void SetUp() override {
        spec_ = testing::small_spec();
        if (std::string(GetParam()) == "gemma") spec_.source = testing::gemma_path();
        const char* starts[] = {"Once upon a time",      "The best way to learn",
                                "In the year 2050",      "My grandmother's recipe",
                                "The ocean is",          "A good friend",
                                "Scientists discovered", "The old house on the hill"};
        for (int i = 0; i < 8; ++i) {
            GenerationRequest r;
            r.prompt = starts[i];
            r.sampling.max_tokens = 32;
            r.sampling.temperature = 0.8f;
            r.row_key = "row-" + std::to_string(i);
            requests_.push_back(r);
        }
    }

    ModelHandle model(Determinism mode) {
        ModelSpec s = spec_;
        s.determinism = mode;
        auto m = Registry::global().acquire(s);
        EXPECT_TRUE(m.is_ok()) << m.status().to_string();
        return m.is_ok() ? *m : nullptr;
    }

    std::vector<std::string> with_predictor(int threads = 0) {
        ModelSpec s = spec_;
        if (threads > 0) s.threads = threads;
        auto p = model(s.determinism)->create_predictor(s);
        EXPECT_TRUE(p.is_ok());
        std::vector<std::string> out;
        for (const auto& r : requests_) out.push_back((*p)->generate(r)->text);
        return out;
    }

    // The rows through one batch engine, `parallel` in flight, submitted in
    // `order` (other rows share each row's decode calls).
    std::vector<std::string> with_engine(Determinism mode, int parallel,
                                         const std::vector<int>& order) {
        ModelSpec s = spec_;
        s.determinism = mode;
        s.parallel = parallel;
        auto e = model(mode)->create_batch_engine(s);
        EXPECT_TRUE(e.is_ok());
        std::vector<std::future<Result<Generation>>> fs(requests_.size());
        for (int i : order) fs[i] = (*e)->submit(requests_[i]);
        std::vector<std::string> out;
        for (auto& f : fs) {
            auto g = f.get();
            EXPECT_TRUE(g.is_ok()) << g.status().to_string();
            out.push_back(g.is_ok() ? g->text : "");
        }
        return out;
    }

    std::vector<int> in_order() const {
        std::vector<int> order(requests_.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
        return order;
    }

    ModelSpec spec_;
    std::vector<GenerationRequest> requests_;
};

TEST_P(DeterminismTest, SeededSamplingRepeatsExactly) {
    const auto a = with_predictor();
    EXPECT_EQ(with_predictor(), a);
    // Row keys seed different rows differently: prompts alike, texts not.
    GenerationRequest r = requests_[0];
    auto p = model(spec_.determinism)->create_predictor(spec_);
    std::set<std::string> texts;
    for (int k = 0; k < 4; ++k) {
        r.row_key = "key-" + std::to_string(k);
        texts.insert((*p)->generate(r)->text);
    }
    EXPECT_GT(texts.size(), 1u);
}

TEST_P(DeterminismTest, DefaultModeMatchesThePredictorWhateverIsInFlight) {
    ASSERT_EQ(spec_.determinism, Determinism::kInvariant);
    const auto expected = with_predictor();
    std::vector<int> reversed = in_order();
    std::reverse(reversed.begin(), reversed.end());
    EXPECT_EQ(with_engine(Determinism::kInvariant, 8, in_order()), expected);
    EXPECT_EQ(with_engine(Determinism::kInvariant, 3, reversed), expected);
    EXPECT_EQ(with_engine(Determinism::kInvariant, 1, in_order()), expected);
    // Mapped weights (what a CPU without AMX runs; AMX ones repack here when
    // the budget allows) keep the promise too.
    spec_.weights = Weights::kShared;
    const auto mapped = with_predictor();
    EXPECT_EQ(with_engine(Determinism::kInvariant, 8, reversed), mapped);
}

TEST_P(DeterminismTest, FastModeDifferencesAreMeasured) {
    spec_.determinism = Determinism::kFast;
    const auto expected = with_predictor();
    const auto fast = with_engine(Determinism::kFast, 8, in_order());
    int same = 0;
    for (size_t i = 0; i < expected.size(); ++i) same += fast[i] == expected[i];
    RecordProperty("fast_rows_equal_to_predictor", same);
    std::printf("%s, fast mode: %d of %zu seeded rows equal the predictor's text\n", GetParam(),
                same, expected.size());
    // Fast mode promises text, not repeatability: which rows share a decode
    // call depends on timing, and the kernels it may pick (CPU_REPACK on
    // AVX2, for one) sum a row differently in another batch. So a second run
    // is recorded beside the first, never asserted equal to it.
    const auto again = with_engine(Determinism::kFast, 8, in_order());
    int repeated = 0;
    for (size_t i = 0; i < fast.size(); ++i) {
        EXPECT_FALSE(fast[i].empty()) << "row " << i;
        repeated += again[i] == fast[i];
    }
    RecordProperty("fast_rows_repeated", repeated);
    std::printf("%s, fast mode: %d of %zu rows repeated in a second engine run\n", GetParam(),
                repeated, fast.size());
}

// Gemma runs in the release build only: under the sanitizers it exercises the
// same Resident code as SmolLM2 (its kernels differ inside llama.cpp) and
// would double the sanitizer builds' longest tests.
#ifdef RESIDENT_SANITIZED
INSTANTIATE_TEST_SUITE_P(Models, DeterminismTest, ::testing::Values("smollm2"),
                         [](const auto& info) { return std::string(info.param); });
#else
INSTANTIATE_TEST_SUITE_P(Models, DeterminismTest, ::testing::Values("smollm2", "gemma"),
                         [](const auto& info) { return std::string(info.param); });
#endif

}  // namespace
}  // namespace resident
