// Determinism: a seeded request yields the same text whichever path serves it
// (exact mode), and how often batched mode differs is measured, not assumed.
#include <gtest/gtest.h>

#include <set>

#include "resident/registry.h"
#include "test_support.h"

namespace resident {
namespace {

class DeterminismTest : public ::testing::Test {
   protected:
    void SetUp() override {
        spec_ = testing::small_spec();
        auto m = Registry::global().acquire(spec_);
        ASSERT_TRUE(m.is_ok()) << m.status().to_string();
        model_ = *m;
        const char* starts[] = {"Once upon a time",      "The best way to learn",
                                "In the year 2050",      "My grandmother's recipe",
                                "The ocean is",          "A good friend",
                                "Scientists discovered", "The old house on the hill"};
        for (int i = 0; i < 8; ++i) {
            GenerationRequest r;
            r.prompt = starts[i];
            r.sampling.max_tokens = 24;
            r.sampling.temperature = 0.9f;
            r.row_key = "row-" + std::to_string(i);
            requests_.push_back(r);
        }
    }

    std::vector<std::string> with_predictor() {
        auto p = model_->create_predictor(spec_);
        EXPECT_TRUE(p.is_ok());
        std::vector<std::string> out;
        for (const auto& r : requests_) out.push_back((*p)->generate(r)->text);
        return out;
    }

    std::vector<std::string> with_engine(Determinism mode) {
        ModelSpec s = spec_;
        s.determinism = mode;
        auto e = model_->create_batch_engine(s);
        EXPECT_TRUE(e.is_ok());
        std::vector<std::future<Result<Generation>>> fs;
        for (const auto& r : requests_) fs.push_back((*e)->submit(r));
        std::vector<std::string> out;
        for (auto& f : fs) out.push_back(f.get()->text);
        return out;
    }

    ModelSpec spec_;
    ModelHandle model_;
    std::vector<GenerationRequest> requests_;
};

TEST_F(DeterminismTest, SeededSamplingRepeatsExactly) {
    const auto a = with_predictor();
    const auto b = with_predictor();
    EXPECT_EQ(a, b);
    // Row keys seed different rows differently: prompts alike, texts not.
    GenerationRequest r = requests_[0];
    auto p = model_->create_predictor(spec_);
    std::set<std::string> texts;
    for (int k = 0; k < 4; ++k) {
        r.row_key = "key-" + std::to_string(k);
        texts.insert((*p)->generate(r)->text);
    }
    EXPECT_GT(texts.size(), 1u);
}

TEST_F(DeterminismTest, ExactModeMatchesThePredictorRowForRow) {
    const auto expected = with_predictor();
    EXPECT_EQ(with_engine(Determinism::kExact), expected);
}

TEST_F(DeterminismTest, BatchedModeDifferencesAreMeasured) {
    const auto expected = with_predictor();
    const auto batched = with_engine(Determinism::kBatched);
    int same = 0;
    for (size_t i = 0; i < expected.size(); ++i) same += batched[i] == expected[i];
    RecordProperty("batched_rows_equal_to_predictor", same);
    RecordProperty("rows", static_cast<int>(expected.size()));
    std::printf("batched mode: %d of %zu seeded rows equal the predictor's text\n", same,
                expected.size());
    // Batched runs with the same composition repeat themselves.
    EXPECT_EQ(with_engine(Determinism::kBatched), batched);
}

}  // namespace
}  // namespace resident
